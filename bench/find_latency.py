"""How long `find` takes on a large store: each filter alone, newest 50, median of 3 runs.

    python bench/find_latency.py --events 1000000                       # embedded store
    python bench/find_latency.py --events 200000 --neo4j-uri bolt://127.0.0.1:7689 --neo4j-password ...

Simulates the organisation (seed 1) under /tmp/trailgraph-find-bench and loads it once (the store file is
reused; a Neo4j database is emptied and loaded). Each query goes through `store.run("find", ...)`, the path
the CLI takes: on the embedded store the eventTime index read newest first, on Neo4j find.cypher.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from trailgraph.load import load_blobs
from trailgraph.simulate import SimConfig, simulate
from trailgraph.sources.files import expand, iter_file_blobs
from trailgraph.store.base import GraphStore
from trailgraph.store.embedded import EmbeddedStore
from trailgraph.store.neo4j import Neo4jStore

ROOT = Path("/tmp/trailgraph-find-bench")
NONE: dict[str, Any] = dict.fromkeys(
    ("eventName", "source", "principal", "account", "region", "ip", "userAgent", "error", "writeOnly",
     "contains", "since", "until"),
) | {"limit": 50}  # fmt: skip


def cases(store: GraphStore) -> list[tuple[str, dict[str, Any]]]:
    """One of each filter, with values taken from the newest calls (so each has matches)."""
    newest = store.run("find", {**NONE, "limit": 500})
    person = next(r["origin"] for r in newest if r["originLabel"] == "IAMUser")
    failed = next((r for r in newest if r["errorCode"]), newest[0])
    return [
        ("no filter", {}),
        ("--event-name 'Get*'", {"eventName": "Get.*"}),
        ("--event-name DeleteTrail (rare)", {"eventName": "DeleteTrail"}),
        ("--source kms", {"source": "kms.amazonaws.com"}),
        ("--account", {"account": newest[-1]["account"]}),
        ("--ip", {"ip": newest[-1]["sourceIPAddress"]}),
        ("--user-agent boto3", {"userAgent": "boto3"}),
        ("--error", {"error": "*"}),
        ("--error CODE", {"error": failed["errorCode"] or "AccessDenied"}),
        ("--write-only", {"writeOnly": True}),
        ("--contains (no match: whole scan)", {"contains": "no-such-text-0c1f"}),
        ("--principal (an IAM user)", {"principal": person}),
        ("--since/--until (one hour)", {"since": newest[-1]["time"][:13] + ":00:00Z",
                                        "until": newest[-1]["time"][:13] + ":59:59Z"}),
    ]  # fmt: skip


def timed(store: GraphStore, params: dict[str, Any]) -> tuple[float, int]:
    runs = []
    rows: list[dict[str, Any]] = []
    for _ in range(3):
        started = time.perf_counter()
        rows = list(store.run("find", {**NONE, **params}))
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), len(rows)


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--neo4j-uri")
    parser.add_argument("--neo4j-password", default="trailgraph-test")
    args = parser.parse_args()
    org = ROOT / f"org-{args.events}"
    if not (org / "truth.jsonl").exists():
        simulate(SimConfig(seed=1, events=args.events), org)
    if args.neo4j_uri:
        neo4j = Neo4jStore(args.neo4j_uri, "neo4j", args.neo4j_password, None)
        neo4j.clear()
        store: GraphStore = neo4j
        fresh = True
    else:
        path = ROOT / f"store-{args.events}.db"
        fresh = not path.exists()
        store = EmbeddedStore(path)
    if fresh:
        started = time.monotonic()
        load_blobs(store, iter_file_blobs(expand([str(org / "AWSLogs")])))
        print(f"loaded in {time.monotonic() - started:.0f} s")
    calls = store.event_count()
    print(f"{store.describe()}: {calls:,} events\n")
    print("| find | median of 3 | rows |\n|---|---:|---:|")
    for name, params in cases(store):
        seconds, count = timed(store, params)
        print(f"| {name} | {seconds * 1000:,.0f} ms | {count} |")
    store.close()


if __name__ == "__main__":
    main()
