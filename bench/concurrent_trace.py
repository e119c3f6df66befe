"""Many investigators at once: N clients tracing against Neo4j for S seconds; throughput and latency.

    python bench/concurrent_trace.py --clients 8 --seconds 60 --events 20000

Loads a simulated organisation into the Neo4j at NEO4J_URI (default: the local test server, started if
needed; the database is emptied first), then every client traces random events in a loop. Errors are
counted, never hidden; every answer is checked against the embedded store's answer for the same id.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.neo4j_server import ensure_neo4j
from trailgraph.load import load_blobs
from trailgraph.simulate import SimConfig, simulate
from trailgraph.sources.files import expand, iter_file_blobs
from trailgraph.store.embedded import EmbeddedStore
from trailgraph.store.neo4j import Neo4jStore
from trailgraph.tracing import trace_events


def run(
    clients: int, seconds: float, store: Neo4jStore, ids: list[str], expected: dict[str, Any]
) -> tuple[list[float], int, int]:
    latencies: list[float] = []
    errors = 0
    wrong = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        nonlocal errors, wrong
        rng = random.Random(n)
        mine: list[float] = []
        bad = fail = 0
        while time.monotonic() < stop:
            event_id = rng.choice(ids)
            t0 = time.perf_counter()
            try:
                answers, _ = trace_events(store, [event_id])
            except Exception:  # counted and reported: a load test must not hide failures
                fail += 1
                continue
            mine.append(time.perf_counter() - t0)
            if orjson.dumps(answers, option=orjson.OPT_SORT_KEYS) != expected[event_id]:
                bad += 1
        with lock:
            latencies.extend(mine)
            errors += fail
            wrong += bad

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors, wrong


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--wipe-ok", action="store_true", help="allow emptying the database NEO4J_URI names")
    args = ap.parse_args()
    console = Console()
    if os.environ.get("NEO4J_URI") and not args.wipe_ok:
        console.print(
            "NEO4J_URI is set: this benchmark empties that database; pass --wipe-ok if that is fine"
        )
        return 2
    out = Path(tempfile.mkdtemp(prefix="trailgraph-concurrent-"))
    simulate(SimConfig(seed=5, events=args.events), out)
    uri, user, password = ensure_neo4j()
    store = Neo4jStore(uri, user, password, None)
    store.clear()
    load_blobs(store, iter_file_blobs(expand([str(out / "AWSLogs")])))
    embedded = EmbeddedStore(out / "ref.db")
    load_blobs(embedded, iter_file_blobs(expand([str(out / "AWSLogs")])))
    ids = sorted({orjson.loads(line)["eventId"] for line in (out / "truth.jsonl").read_bytes().splitlines()})
    sample = random.Random(1).sample(ids, min(2000, len(ids)))
    expected = {i: orjson.dumps(trace_events(embedded, [i])[0], option=orjson.OPT_SORT_KEYS) for i in sample}
    latencies, errors, wrong = run(args.clients, args.seconds, store, sample, expected)
    ms = sorted(x * 1000 for x in latencies)
    table = Table(
        "clients",
        "seconds",
        "traces",
        "traces/s",
        "median ms",
        "p99 ms",
        "errors",
        "wrong answers",
        title=f"concurrent trace on Neo4j ({len(ids):,} events loaded)",
    )
    table.add_row(
        str(args.clients),
        f"{args.seconds:.0f}",
        f"{len(ms):,}",
        f"{len(ms) / args.seconds:,.0f}",
        f"{statistics.median(ms):.1f}",
        f"{ms[int(len(ms) * 0.99) - 1]:.1f}",
        str(errors),
        str(wrong),
    )
    console.print(table)
    console.print(
        f"command: python bench/concurrent_trace.py --clients {args.clients} --seconds {args.seconds:g} "
        f"--events {args.events}"
    )
    return 1 if errors or wrong else 0


if __name__ == "__main__":
    sys.exit(main())
