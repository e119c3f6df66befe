"""Where an embedded load's time goes: wall-clock seconds and microseconds per record, per phase.

    python bench/phases.py /tmp/trailgraph-bench/org-100000-1/AWSLogs [--workers 0]

Wraps the load's phases (parsing, checking, extraction, the store's merges, linking, the whole
transaction) in timers of the CPU time of the thread that runs them (the writer thread's phases overlap
the reading thread's, so wall-clock timers would count the other thread's time too) and runs one load
into a fresh store. Nested phases are inside their callers (merge_nodes is within the transaction).
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trailgraph.load as load_module
import trailgraph.store.embedded as embedded_module
from trailgraph.records import parse_blob
from trailgraph.sources.blob import Blob
from trailgraph.sources.files import expand, iter_file_blobs
from trailgraph.store.embedded import EmbeddedStore

SPENT: defaultdict[str, float] = defaultdict(float)


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[name] += time.thread_time() - started

    return wrapper


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("trail", help="a directory of CloudTrail files")
    ap.add_argument("--workers", type=int, default=0)
    args = ap.parse_args()
    store_cls: Any = EmbeddedStore
    parse_cpu = time.process_time()
    for blob in iter_file_blobs(expand([args.trail])):
        if isinstance(blob, Blob):
            for _item in parse_blob(blob):
                pass
    parse_cpu = time.process_time() - parse_cpu
    for method in ("_merge_nodes", "_merge_edges", "link_facts", "_replace", "_attribute", "digests", "_tx"):
        setattr(store_cls, method, timed(f"store {method.strip('_')}", getattr(store_cls, method)))
    for module, name, label in (
        (embedded_module, "link", "store link (rules)"),
        (load_module, "extract_into", "extract"),
        (load_module, "check", "check"),
    ):
        setattr(module, name, timed(label, getattr(module, name)))
    with tempfile.TemporaryDirectory() as tmp:
        store = EmbeddedStore(Path(tmp) / "phases.db")
        started, cpu = time.perf_counter(), time.process_time()
        summary = load_module.load_blobs(store, iter_file_blobs(expand([args.trail])), workers=args.workers)
        total, cpu = time.perf_counter() - started, time.process_time() - cpu
        store.close()
    records = summary.records
    print(f"{records:,} records ({summary.loaded:,} distinct) in {total:.2f} s: {records / total:,.0f}/s")
    print(f"CPU: load {cpu:.2f} s, parse alone (read + gunzip + JSON, the same files) {parse_cpu:.2f} s")
    print("| phase (CPU of its thread) | s | µs/record |\n|---|---:|---:|")
    for name, seconds in sorted(SPENT.items(), key=lambda kv: -kv[1]):
        print(
            f"| {name.replace('store tx', 'store transaction (all)')} | {seconds:.2f} | "
            f"{seconds / records * 1e6:.1f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
