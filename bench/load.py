"""Load rate and peak memory at scale, beside the limit and a naive baseline.

    python bench/load.py --sizes 100000,1000000 [--workers 1] [--repeat 2] [--bulk] [--no-neo4j]

For each size, on a simulated organisation of that many events (`trailgraph.simulate`, kept under
--root and reused), each measurement runs in a fresh child process (peak memory = the largest sum of
RSS over the child and its worker processes, sampled every 0.1 s):

    parse alone        read + gunzip + JSON parse of every file, no graph work (1 process, and the
                       load's process count: the load's own limit)
    embedded           `load_blobs` into a new embedded store
    neo4j              `load_blobs` into an emptied Neo4j (a private server started by this script:
                       the test server is never touched)
    neo4j limit        plain `UNWIND $rows CREATE` of the same nodes and relationships (read from the
                       embedded store), 10,000 rows per statement, under the same constraints/indexes
    neo4j naive        one transaction per event with one MERGE per node and per relationship, the way
                       scripts in the wild load CloudTrail into Neo4j: timed on the first --naive-sample
                       events and extrapolated (events/s is a rate, so the extrapolation is the rate)
    neo4j bulk         (--bulk) `trailgraph.bulk` CSV export of the embedded store + neo4j-admin import
                       + finish (indexes, empty lists); the embedded load's time is not included

Rates are records read per second (`events/s`): every record of every file, duplicates included (the
simulated organisation delivers each event to an organisation trail and most to an account trail, so
about 40% of records are duplicates). The table also says how many distinct events were loaded.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    Neo4jServer,
    bulk_import,
    command_line,
    machine,
    org,
    private_neo4j,
    run_child,
    spread,
    trail,
)

# ---- children ------------------------------------------------------------------------------------------


class RssSampler:
    """Peak of the summed RSS of this process and its descendants (workers), sampled in a thread."""

    def __init__(self, interval: float = 0.1) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._thread.start()

    def _tree(self) -> set[int]:
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                    parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
        tree, frontier = {os.getpid()}, [os.getpid()]
        while frontier:
            pid = frontier.pop()
            for child, parent in parents.items():
                if parent == pid and child not in tree:
                    tree.add(child)
                    frontier.append(child)
        return tree

    def _rss(self, pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, sum(self._rss(pid) for pid in self._tree()))
            self._stop.wait(interval)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return round(self.peak / 1024, 1)


def _blobs(root: Path, budget: float = 0.0) -> Any:
    """The trail's files in load order; with a budget (seconds), only those handed out before it ends."""
    from trailgraph.sources.files import expand, iter_file_blobs

    blobs = iter_file_blobs(expand([str(root)]))
    if budget <= 0:
        return blobs
    deadline = time.perf_counter() + budget
    return (b for b in blobs if time.perf_counter() < deadline)


def _parse_count(data: tuple[str, bytes]) -> int:
    from trailgraph.records import Parsed, parse_blob
    from trailgraph.sources.blob import Blob

    return sum(1 for item in parse_blob(Blob(*data)) if isinstance(item, Parsed))


def child_parse(root: Path, processes: int) -> dict[str, Any]:
    sampler = RssSampler()
    started, cpu = time.perf_counter(), time.process_time()
    if processes <= 1:
        records = sum(_parse_count((b.name, b.data)) for b in _blobs(root))
    else:
        with get_context("forkserver").Pool(processes) as pool:
            records = sum(
                pool.imap_unordered(_parse_count, ((b.name, b.data) for b in _blobs(root)), chunksize=16)
            )
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"records": records, "seconds": seconds, "cpu_s": cpu, "peak_rss_mb": sampler.stop()}


def _timed_load(store: Any, blobs: Any, workers: int) -> dict[str, Any]:
    """`load_blobs` into a ready store, timed, with the peak memory of this process tree; closes it."""
    from trailgraph.load import load_blobs

    sampler = RssSampler()
    started, cpu = time.perf_counter(), time.process_time()
    summary = load_blobs(store, blobs, workers=workers)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    store.close()
    return {
        "records": summary.records,
        "loaded": summary.loaded,
        "seconds": seconds,
        "cpu_s": cpu,
        "peak_rss_mb": sampler.stop(),
    }


def child_embedded(root: Path, db: Path, workers: int) -> dict[str, Any]:
    from trailgraph.store.embedded import EmbeddedStore

    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    out = _timed_load(EmbeddedStore(db), _blobs(root), workers)
    return {**out, "db_mb": round(db.stat().st_size / 2**20, 1)}


def _neo4j(uri: str) -> Any:
    import logging

    from trailgraph.store.neo4j import Neo4jStore

    logging.getLogger("neo4j").setLevel(logging.ERROR)
    return Neo4jStore(uri, "neo4j", os.environ["BENCH_NEO4J_PASSWORD"], None)


def child_neo4j(root: Path, uri: str, workers: int, budget: float) -> dict[str, Any]:
    store = _neo4j(uri)
    store.clear()
    store.ensure_schema()
    return _timed_load(store, _blobs(root, budget), workers)


def child_limit(db: Path, uri: str) -> dict[str, Any]:
    """Plain UNWIND CREATE of the embedded store's nodes and relationships."""
    from trailgraph.schema import KEY
    from trailgraph.store.embedded import EmbeddedStore

    emb = EmbeddedStore(db)
    store = _neo4j(uri)
    store.clear()
    store.ensure_schema()
    sampler = RssSampler()
    started = time.perf_counter()
    nodes = edges = 0
    for (label,) in emb.db.execute("SELECT DISTINCT label FROM nodes").fetchall():
        create = f"UNWIND $rows AS row CREATE (n:{label}) SET n = row.props"
        rows: list[dict[str, Any]] = []
        for node_id, props in emb.db.execute("SELECT id, props FROM nodes WHERE label = ?", (label,)):
            rows.append({"props": {KEY: node_id, **orjson.loads(props)}})
            nodes += 1
            if len(rows) == 10_000:
                store.write_query(create, {"rows": rows})
                rows = []
        if rows:
            store.write_query(create, {"rows": rows})
    groups = emb.db.execute("SELECT DISTINCT type, src_label, dst_label FROM edges").fetchall()
    for t, sl, dl in groups:
        query = (
            f"UNWIND $rows AS row MATCH (a:{sl} {{{KEY}: row.s}}) MATCH (b:{dl} {{{KEY}: row.d}}) "
            f"CREATE (a)-[r:{t}]->(b) SET r = row.props"
        )
        rows = []
        for s, d, props in emb.db.execute(
            "SELECT src, dst, props FROM edges WHERE type = ? AND src_label = ? AND dst_label = ?",
            (t, sl, dl),
        ):
            rows.append({"s": s, "d": d, "props": orjson.loads(props)})
            edges += 1
            if len(rows) == 10_000:
                store.write_query(query, {"rows": rows})
                rows = []
        if rows:
            store.write_query(query, {"rows": rows})
    seconds = time.perf_counter() - started
    return {"nodes": nodes, "edges": edges, "seconds": seconds, "peak_rss_mb": sampler.stop()}


def child_naive(root: Path, uri: str, sample: int) -> dict[str, Any]:
    """One transaction per event, one MERGE statement per fact, no linking."""
    from trailgraph.extract import Extracted, extract
    from trailgraph.records import Parsed, parse_blob
    from trailgraph.schema import KEY

    store = _neo4j(uri)
    store.clear()
    store.ensure_schema()
    records: list[dict[str, Any]] = []
    for blob in _blobs(root):
        records += [i.record for i in parse_blob(blob) if isinstance(i, Parsed)]
        if len(records) >= sample:
            break
    records = records[:sample]

    def one(tx: Any, facts: Extracted) -> None:
        for (label, node_id), props in facts.batch.nodes.items():
            tx.run(f"MERGE (n:{label} {{{KEY}: $id}}) SET n += $props", id=node_id, props=props).consume()
        for (t, (sl, s), (dl, d)), props in facts.batch.edges.items():
            tx.run(
                f"MATCH (a:{sl} {{{KEY}: $s}}) MATCH (b:{dl} {{{KEY}: $d}}) "
                f"MERGE (a)-[r:{t}]->(b) SET r += $props",
                s=s,
                d=d,
                props=props,
            ).consume()

    started = time.perf_counter()
    with store.driver.session() as session:
        for record in records:
            facts = extract(record)
            if isinstance(facts, Extracted):
                session.execute_write(one, facts)
    seconds = time.perf_counter() - started
    return {"records": len(records), "seconds": seconds}


def child_bulk(db: Path, home: Path, bolt: int, http: int, heap: str, pagecache: str) -> dict[str, Any]:
    from trailgraph.bulk import export_csv, finish
    from trailgraph.store.embedded import EmbeddedStore

    out = db.parent / "csv"
    emb = EmbeddedStore(db)
    started = time.perf_counter()
    exported = export_csv(emb, out)
    export_s = time.perf_counter() - started
    emb.close()
    server = Neo4jServer(home, bolt, http, heap, pagecache, pid=int(os.environ["BENCH_NEO4J_PID"]))
    server.stop()
    started = time.perf_counter()
    done = server.admin(*exported.admin_args(), heap=heap)
    import_s = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stdout[-3000:] + done.stderr[-3000:])
    server.start()
    started = time.perf_counter()
    fixed = finish(_neo4j(server.uri), out)
    finish_s = time.perf_counter() - started
    csv_mb = round(sum(p.stat().st_size for p in out.iterdir()) / 2**20, 1)
    shutil.rmtree(out)  # 10 GB at 10M events, and the database now holds it
    return {
        "export_s": export_s,
        "import_s": import_s,
        "finish_s": finish_s,
        "nodes": exported.node_count,
        "edges": exported.relationship_count,
        "empty_lists": fixed,
        "csv_mb": csv_mb,
        "pid": server.pid,
    }


def child_main(args: argparse.Namespace) -> int:
    mode, rest = args.child[0], args.child[1:]
    if mode == "parse":
        out = child_parse(Path(rest[0]), int(rest[1]))
    elif mode == "embedded":
        out = child_embedded(Path(rest[0]), Path(rest[1]), int(rest[2]))
    elif mode == "neo4j":
        out = child_neo4j(Path(rest[0]), rest[1], int(rest[2]), float(rest[3]) if len(rest) > 3 else 0.0)
    elif mode == "limit":
        out = child_limit(Path(rest[0]), rest[1])
    elif mode == "naive":
        out = child_naive(Path(rest[0]), rest[1], int(rest[2]))
    elif mode == "bulk":
        out = child_bulk(Path(rest[0]), Path(rest[1]), int(rest[2]), int(rest[3]), rest[4], rest[5])
    else:
        raise SystemExit(f"unknown child mode {mode}")
    print(orjson.dumps(out).decode())
    return 0


# ---- the benchmark ----------------------------------------------------------------------------------------


def _rate(records: float, seconds: float) -> float:
    return records / seconds if seconds else 0.0


Row = tuple[str, str, str, str]
ROWS = ("parse", "embedded", "neo4j", "limit", "naive", "bulk")


def measure(
    rows: list[Row], name: str, script: str, child: list[str], times: int, basis: int | None = None
) -> dict[str, Any]:
    """Run a child measurement `times` times; add its row (rate and peak memory as median (min-max))."""
    outs = [run_child([script, "--child", *child]).output for _ in range(times)]
    records = basis or int(outs[0].get("records", 0))
    rates = [_rate(records, float(o["seconds"])) for o in outs]
    peaks = [float(o.get("peak_rss_mb", 0) or 0) for o in outs]
    note = ""
    if "loaded" in outs[0]:
        note = f"{records:,} records, {int(outs[0]['loaded']):,} distinct events"
    if "cpu_s" in outs[0]:  # this process's CPU (workers and the Neo4j server not included)
        cpu = f"CPU {float(outs[-1]['cpu_s']):,.1f} s in {float(outs[-1]['seconds']):,.1f} s"
        note = f"{note}; {cpu}" if note else cpu
    rows.append((name, spread(rates), spread(peaks, "{:,.0f} MB") if any(peaks) else "-", note))
    print(f"  {name}: {rows[-1][1]} events/s {rows[-1][3]}", file=sys.stderr)
    return outs[-1]


def verdicts(rates: dict[str, float], cpu: dict[str, float]) -> list[str]:
    """Issue 16's load targets that one size's rows can decide (the 10M ones need their own run), and
    the embedded load's CPU time against parse alone's (steadier than wall-clock on a shared machine)."""
    out = []
    if cpu.get("embedded") and cpu.get("parse"):
        out.append(f"embedded: {cpu['embedded'] / cpu['parse']:.1f}x the CPU time of parse alone")
    parse, embedded, neo4j, limit = (rates.get(k) for k in ("parse", "embedded", "neo4j", "limit"))
    if embedded:
        met = "met" if embedded >= 50_000 else "not met"
        out.append(f"embedded >= 50,000 events/s: {embedded:,.0f}: {met}")
    if embedded and parse:
        x = parse / embedded
        out.append(f"embedded within 3x the time of parse alone: {x:.1f}x: {'met' if x <= 3 else 'not met'}")
    if neo4j and parse:
        out.append(f"neo4j: {parse / neo4j:.1f}x the time of parse alone")
    if neo4j and limit:
        x = neo4j / limit
        out.append(f"neo4j >= 0.8x the UNWIND CREATE limit: {x:.2f}x: {'met' if x >= 0.8 else 'not met'}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100000,1000000", help="simulated events, comma-separated")
    ap.add_argument("--workers", type=int, default=0, help="extra extraction processes for the loads")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each load measurement")
    ap.add_argument("--naive-sample", type=int, default=20_000)
    ap.add_argument("--root", type=Path, default=Path("/tmp/trailgraph-bench"))
    ap.add_argument("--no-neo4j", action="store_true")
    ap.add_argument("--bulk", action="store_true", help="also time CSV export + neo4j-admin import")
    ap.add_argument(
        "--only",
        default=",".join(ROWS),
        help=f"measurements to run, comma-separated from {','.join(ROWS)} (default: all)",
    )
    ap.add_argument(
        "--neo4j-budget",
        type=float,
        default=0.0,
        help="stop the transactional Neo4j load after this many seconds and report its rate so far",
    )
    ap.add_argument("--neo4j-heap", default="2g")
    ap.add_argument("--neo4j-pagecache", default="2g")
    ap.add_argument("--bolt-port", type=int, default=7697)
    ap.add_argument("--http-port", type=int, default=7484)
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child_main(args)

    print(f"$ {command_line()}")
    print(f"# {machine()}")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    only = set(args.only.split(","))
    if unknown := only - set(ROWS):
        ap.error(f"--only: unknown measurement(s) {', '.join(sorted(unknown))}")
    args.root.mkdir(parents=True, exist_ok=True)
    script = str(Path(__file__).resolve())
    server_ctx = None
    server: Neo4jServer | None = None
    if not args.no_neo4j:
        server_ctx = private_neo4j(
            args.root / "neo4j", args.bolt_port, args.http_port, args.neo4j_heap, args.neo4j_pagecache
        )
        server = server_ctx.__enter__()
        os.environ["BENCH_NEO4J_PASSWORD"] = server.credentials[2]
        print(
            f"# Neo4j: private server {server.uri}, heap {args.neo4j_heap}, page cache {args.neo4j_pagecache}"
        )
    try:
        for size in sizes:
            started = time.perf_counter()
            org_dir = org(args.root, size)
            took = time.perf_counter() - started
            print(f"\n# {size:,} simulated events in {org_dir} (simulated in {took:.0f} s)")
            root = trail(org_dir)
            db = org_dir / "embedded.db"
            rows: list[Row] = []

            parse = measure(rows, "parse alone, 1 process", script, ["parse", str(root), "1"], args.repeat)
            records = int(parse["records"])
            rates = {"parse": _rate(records, float(parse["seconds"]))}
            cpu = {"parse": float(parse["cpu_s"])}
            processes = max(1, args.workers + 1)
            if processes > 1:
                child = ["parse", str(root), str(processes)]
                measure(rows, f"parse alone, {processes} processes", script, child, args.repeat)
            if "embedded" in only or not db.exists():
                child = ["embedded", str(root), str(db), str(args.workers)]
                out = measure(rows, f"embedded (workers={args.workers})", script, child, args.repeat)
                rates["embedded"] = _rate(records, float(out["seconds"]))
                cpu["embedded"] = float(out["cpu_s"])
            if server is not None:
                uri = server.uri
                if "neo4j" in only:
                    child = ["neo4j", str(root), uri, str(args.workers), str(args.neo4j_budget)]
                    name = f"neo4j (workers={args.workers})"
                    if args.neo4j_budget:
                        name += f", first {args.neo4j_budget:.0f} s"
                    out = measure(rows, name, script, child, args.repeat)
                    rates["neo4j"] = _rate(int(out["records"]), float(out["seconds"]))
            if server is not None and "limit" in only:
                child = ["limit", str(db), uri]
                limit = measure(rows, "neo4j limit: UNWIND CREATE", script, child, 1, records)
                rates["limit"] = _rate(records, float(limit["seconds"]))
                rows[-1] = (
                    *rows[-1][:3],
                    f"{int(limit['nodes']):,} nodes, {int(limit['edges']):,} relationships",
                )
            if server is not None and "naive" in only:
                naive = run_child([script, "--child", "naive", str(root), uri, str(args.naive_sample)])
                n_rate = _rate(float(naive.output["records"]), float(naive.output["seconds"]))
                sample = int(naive.output["records"])
                hours = records / n_rate / 3600
                rows.append(
                    (
                        "neo4j naive: 1 tx/event, MERGE",
                        f"{n_rate:,.0f}",
                        "-",
                        f"first {sample:,} events; {hours:,.1f} h for all",
                    )
                )
            if server is not None and args.bulk and "bulk" in only:
                bulk = bulk_import(server, db)
                parts = {k: float(bulk[k]) for k in ("export_s", "import_s", "finish_s")}
                total = sum(parts.values())
                note = (
                    f"export {parts['export_s']:.0f} s, import {parts['import_s']:.0f} s, "
                    f"finish {parts['finish_s']:.0f} s; {bulk['csv_mb']} MB CSV"
                )
                rows.append(
                    (
                        "neo4j bulk: export + neo4j-admin + finish",
                        f"{_rate(records, total):,.0f}",
                        "-",
                        note,
                    )
                )
            width = max(len(r[0]) for r in rows)
            print(f"\n| {size:,} events ({records:,} records) | events/s | peak memory | |")
            print("|---|---:|---:|---|")
            for name, rate, peak, note in rows:
                print(f"| {name:<{width}} | {rate} | {peak} | {note} |")
            print(f"\n{machine()}, at the end")
            for line in verdicts(rates, cpu):
                print(f"- {line}")
            sys.stdout.flush()
    finally:
        if server_ctx is not None:
            server_ctx.__exit__(None, None, None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
