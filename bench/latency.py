"""Query latency on both backends, and how it grows with the trail.

    python bench/latency.py --sizes 100000,1000000 [--samples 300] [--query-samples 10]

For each size, on the simulated organisation `bench/load.py` uses (built and loaded into the embedded
store if missing), the same graph is put into a private Neo4j server with `trailgraph.bulk` (CSV export
+ neo4j-admin import + finish: bench/load.py shows it is the graph a transactional load gives), and
every canned query of `trailgraph.queries_catalog.catalog()` is run with parameters drawn from the data
(seeded): event ids for `trace`, IAM users for `activity` and `timeline`, roles for `who-used`, access
keys for `key`, all accounts (null) for `chains` and `gaps`.

Embedded `trace` is measured cold (a new store object: open the file, then the first trace, which reads
the call and walks its path with indexed reads) and warm (more traces on that object); every other
query reads only the part of the store its answer needs (`EmbeddedStore.run`), never the whole graph.
Neo4j rows are warm (the first query of each kind is reported separately) and leave out the Browser
path column, as the CLI does. Every time is the median and p99 of wall-clock milliseconds, client
included; `rows` is the median answer size, so a time that grows with its answer shows as such.
An embedded query runs under an address-space cap (`--memory-cap-gb`): one that needs more is reported
as such instead of taking the machine down.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import neo4j

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import bulk_import, command_line, machine, org, percentile, private_neo4j, run_child, trail

from trailgraph.queries_catalog import DRAW_COLUMN, catalog, cypher_text
from trailgraph.store.embedded import EmbeddedStore
from trailgraph.store.neo4j import Neo4jStore
from trailgraph.tracing import trace_events

logging.getLogger("neo4j").setLevel(logging.ERROR)


def draw(db: EmbeddedStore, label: str, k: int, rng: random.Random, column: str = "id") -> list[str]:
    if column == "id":
        values = [v for (v,) in db.db.execute("SELECT id FROM nodes WHERE label = ?", (label,))]
    else:
        values = [
            v
            for (v,) in db.db.execute(
                f"SELECT json_extract(props, '$.{column}') FROM nodes WHERE label = ?", (label,)
            )
            if v is not None
        ]
    values.sort()
    return rng.sample(values, min(k, len(values)))


CLI_DEFAULTS = {"chains": {"limit": 50}, "find": {"limit": 50}}
"""What the CLI passes when nothing is given (`chains --limit 0` asks for every chain)."""


def param_sets(db: EmbeddedStore, samples: int, seed: int) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    sets: dict[str, list[dict[str, Any]]] = {}
    draws = {
        "trace": ("eventId", draw(db, "APICall", samples, rng, "eventId")),
        "activity": ("principal", draw(db, "IAMUser", samples, rng)),
        "timeline": ("principal", draw(db, "IAMUser", samples, rng)),
        "who-used": ("roleArn", draw(db, "Role", samples, rng)),
        "key": ("accessKeyId", draw(db, "AccessKey", samples, rng)),
    }
    for name, query in catalog().items():
        blank = dict.fromkeys(query.params)
        if name in draws:
            param, values = draws[name]
            sets[name] = [{**blank, param: v} for v in values]
        else:  # a whole-trail summary, as the CLI asks it (its default limit): the same, asked again
            sets[name] = [{**blank, **CLI_DEFAULTS.get(name, {})}] * samples
    return sets


def ms(seconds: float) -> float:
    return seconds * 1000


def stats(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):,.1f} / {percentile(values, 99):,.1f}"


def timed(fn: Any, *args: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn(*args)
    return ms(time.perf_counter() - started), out


def answered(store: EmbeddedStore, name: str, params: dict[str, Any]) -> int:
    """Every row of the answer made (a long answer's rows are made as they are read): how many."""
    return sum(1 for _row in store.run(name, params))


def embedded_latency(
    db_path: Path, sets: dict[str, list[dict[str, Any]]], limit_s: float, cap_gb: float
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ids = [p["eventId"] for p in sets["trace"]]
    cold = []
    for event_id in ids[:20]:
        started = time.perf_counter()
        store = EmbeddedStore(db_path)
        trace_events(store, [event_id])
        cold.append(ms(time.perf_counter() - started))
        store.close()
    out["trace cold (open + first trace)"] = cold
    store = EmbeddedStore(db_path)
    out["trace warm (indexed walk)"] = [timed(trace_events, store, [e])[0] for e in ids]
    for name, params in sets.items():
        if name == "trace":
            continue
        times: list[Any] = []
        sizes: list[float] = []
        budget = time.perf_counter() + limit_s
        for p in params:
            try:
                with memory_cap(cap_gb):
                    took, rows = timed(answered, store, name, p)
            except Exception as exc:  # a cap hit shows as MemoryError, or as a library's own error
                times = [f"stopped under the {cap_gb:g} GB cap: {type(exc).__name__}"]
                break
            times.append(took)
            sizes.append(rows)
            if time.perf_counter() > budget:
                break
        out[name] = times
        out[name + " rows"] = sizes
    store.close()
    return out


@contextmanager
def memory_cap(gb: float) -> Iterator[None]:
    """This process's address space capped at `gb` (soft limit) for the block."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (int(gb * 2**30), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


_COMMANDS = {  # query -> (CLI command, the parameter given as its argument)
    "trace": ("trace", "eventId"),
    "activity": ("activity", "principal"),
    "timeline": ("timeline", "principal"),
    "who-used": ("who-used", "roleArn"),
    "key": ("key", "accessKeyId"),
    "chains": ("chains", None),
    "gaps": ("gaps", None),
    "find": ("find", None),
    "map": ("map", None),
}


def cli_memory(db_path: Path, sets: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Peak RSS (MB) of one `trailgraph` process per query, answer written as JSON to /dev/null:
    what an investigator's command costs, interpreter and imports included (GNU time's %M)."""
    out: dict[str, Any] = {}
    for name, (command, param) in _COMMANDS.items():
        if name not in sets or not sets[name]:
            continue
        arg = [] if param is None else [str(sets[name][0][param])]
        proc = subprocess.run(
            [
                "/usr/bin/time",
                "-f",
                "%M",
                sys.executable,
                "-m",
                "trailgraph",
                command,
                *arg,
                "--store",
                str(db_path),
                "--format",
                "json",
                "-o",
                os.devnull,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        out[name] = float(proc.stderr.strip().splitlines()[-1]) / 1024
    return out


def neo4j_latency(store: Neo4jStore, sets: dict[str, list[dict[str, Any]]], limit_s: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ids = [p["eventId"] for p in sets["trace"]]
    out["trace first (cold caches)"] = [timed(trace_events, store, [ids[0]])[0]]
    out["trace"] = [timed(trace_events, store, [e])[0] for e in ids]
    for name, params in sets.items():
        if name == "trace":
            continue
        text = cypher_text(name)
        times: list[float] = []
        sizes: list[float] = []
        budget = time.perf_counter() + limit_s
        for p in params:
            started = time.perf_counter()
            try:
                with store.driver.session(default_access_mode=neo4j.READ_ACCESS) as session:
                    rows = [
                        r.data()
                        for r in session.run(neo4j.Query(text, timeout=limit_s), {**p, "draw": False})
                    ]
                    for row in rows:
                        row.pop(DRAW_COLUMN, None)
            except neo4j.exceptions.Neo4jError as exc:
                out[name + " (error)"] = [f"{type(exc).__name__}: {str(exc)[:80]}"]
                break
            times.append(ms(time.perf_counter() - started))
            sizes.append(len(rows))
            if time.perf_counter() > budget:
                break
        out[name] = times
        out[name + " rows"] = sizes
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--samples", type=int, default=300, help="event ids traced per backend")
    ap.add_argument("--query-samples", type=int, default=10, help="parameter sets per other query")
    ap.add_argument("--seconds", type=float, default=300, help="time budget (and timeout) per query")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--root", type=Path, default=Path("/tmp/trailgraph-bench"))
    ap.add_argument("--no-neo4j", action="store_true")
    ap.add_argument("--no-embedded-queries", action="store_true", help="embedded: trace only (no graph)")
    ap.add_argument("--only", default="", help="only these canned queries, comma-separated (trace always)")
    ap.add_argument("--memory", action="store_true", help="also the peak RSS of one CLI process per query")
    ap.add_argument(
        "--memory-cap-gb", type=float, default=8.0, help="address-space cap of each embedded query run"
    )
    ap.add_argument(
        "--reuse-neo4j",
        action="store_true",
        help="keep the private server's data and skip the bulk import when it already holds the store's "
        "graph (same node and edge counts: a previous run's import of the same size)",
    )
    ap.add_argument("--neo4j-heap", default="2g")
    ap.add_argument("--neo4j-pagecache", default="2g")
    ap.add_argument("--bolt-port", type=int, default=7697)
    ap.add_argument("--http-port", type=int, default=7484)
    args = ap.parse_args(argv)
    print(f"$ {command_line()}")
    print(f"# {machine()}")
    load_script = str(Path(__file__).resolve().parent / "load.py")
    results: dict[int, dict[str, dict[str, Any]]] = {}
    ctx = (
        None
        if args.no_neo4j
        else private_neo4j(
            args.root / "neo4j",
            args.bolt_port,
            args.http_port,
            args.neo4j_heap,
            args.neo4j_pagecache,
            keep_data=args.reuse_neo4j,
        )
    )
    server = ctx.__enter__() if ctx is not None else None
    try:
        for size in [int(s) for s in args.sizes.split(",") if s]:
            org_dir = org(args.root, size)
            db = org_dir / "embedded.db"
            if not db.exists():
                run_child([load_script, "--child", "embedded", str(trail(org_dir)), str(db), "1"])
            store = EmbeddedStore(db)
            sets = param_sets(store, args.samples, args.seed)
            if args.only:
                wanted = {"trace", *args.only.split(",")}
                sets = {name: values for name, values in sets.items() if name in wanted}
            for name in sets:
                if name != "trace":
                    sets[name] = sets[name][: args.query_samples]
            counts = store.counts()
            calls = counts[0].get("APICall", 0)
            store.close()
            print(f"\n# {size:,} simulated events: {calls:,} APICall nodes ({db})", file=sys.stderr)
            results[size] = {}
            sets_e = {"trace": sets["trace"]} if args.no_embedded_queries else sets
            results[size]["embedded"] = embedded_latency(db, sets_e, args.seconds, args.memory_cap_gb)
            if args.memory:
                peaks = cli_memory(db, sets)
                print(f"\n| {size:,} events, embedded, one CLI process | peak RSS MB |\n|---|---:|")
                for name, mb in peaks.items():
                    print(f"| {name} | {mb:,.0f} |")
            if server is not None:
                neo = Neo4jStore(*server.credentials, None)
                if not (args.reuse_neo4j and neo.counts() == counts):
                    neo.close()
                    bulk_import(server, db)
                    neo = Neo4jStore(*server.credentials, None)
                results[size]["neo4j"] = neo4j_latency(neo, sets, args.seconds)
                neo.close()
            for backend, rows in results[size].items():
                print(f"\n| {size:,} events, {backend} | median / p99 ms | runs | rows (median) |")
                print("|---|---:|---:|---:|")
                for name, values in rows.items():
                    answers = rows.get(name + " rows")
                    size_text = f"{statistics.median(answers):,.0f}" if answers else ""
                    if name.endswith(" rows"):
                        continue
                    if values and isinstance(values[0], str):
                        print(f"| {name} | {values[0]} | | |")
                    else:
                        print(f"| {name} | {stats(values)} | {len(values)} | {size_text} |")
            sys.stdout.flush()
    finally:
        if ctx is not None:
            ctx.__exit__(None, None, None)
    sizes = sorted(results)
    if len(sizes) > 1:
        first, last = sizes[0], sizes[-1]
        print(f"\n| median ms | {' | '.join(f'{s:,}' for s in sizes)} | x ({last:,} / {first:,}) |")
        print("|---|" + "---:|" * (len(sizes) + 1))
        for backend in ("embedded", "neo4j"):
            names = [n for n in results[first].get(backend, {}) if not n.endswith(("(error)", " rows"))]
            for name in names:
                meds = []
                for s in sizes:
                    values = results[s].get(backend, {}).get(name) or []
                    measured = [v for v in values if isinstance(v, float)]
                    meds.append(statistics.median(measured) if measured else float("nan"))
                ratio = meds[-1] / meds[0] if meds[0] else float("nan")
                print(f"| {backend}: {name} | {' | '.join(f'{m:,.1f}' for m in meds)} | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
