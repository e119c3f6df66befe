"""What keeping attribution costs the embedded load: the same files loaded by this checkout and by the
commit before kept attribution, alternated, in fresh child processes.

    python bench/attribution_cost.py [--events 100000] [--pairs 5] [--before 4342574^]

The earlier loader is `git archive`d into a temporary folder and put first on PYTHONPATH (the load
child, `bench/load.py --child embedded`, is the same script for both). Reported per side: the median
wall seconds and the median CPU seconds (user + system of the child, its writer thread included). On a
shared machine CPU seconds are the fairer figure: the wall clock also counts other people's work.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, command_line, machine, org, trail


def load_once(files: Path, db: Path, pythonpath: str) -> tuple[float, float, dict[str, float]]:
    """Wall and CPU seconds of one embedded load child, and what it printed."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "load.py"), "--child", "embedded", str(files), str(db), "0"],
        env={**os.environ, "PYTHONPATH": pythonpath},
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, orjson.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--before", default="4342574^", help="the commit before kept attribution")
    ap.add_argument("--root", type=Path, default=Path("/tmp/trailgraph-bench"))
    args = ap.parse_args(argv)
    print(f"$ {command_line()}\n# {machine()}")
    files = trail(org(args.root, args.events))
    sides: dict[str, list[tuple[float, float, dict[str, float]]]] = {"before": [], "now": []}
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "archive", args.before, "loader"], cwd=REPO, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        paths = {"before": str(Path(tmp) / "loader"), "now": str(REPO / "loader")}
        for _ in range(args.pairs):
            for side in sides:
                sides[side].append(load_once(files, Path(tmp) / f"{side}.db", paths[side]))
    print(f"\n| {args.events:,} events, embedded load | wall s (median) | CPU s (median) | store MB | runs |")
    print("|---|---:|---:|---:|---:|")
    for side, runs in sides.items():
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        label = f"before kept attribution ({args.before})" if side == "before" else "now (kept attribution)"
        print(f"| {label} | {wall:,.1f} | {cpu:,.1f} | {runs[0][2]['db_mb']:,.1f} | {len(runs)} |")
    cpu_before = statistics.median(r[1] for r in sides["before"])
    cpu_now = statistics.median(r[1] for r in sides["now"])
    print(f"\nCPU cost of keeping attribution: {100 * (cpu_now / cpu_before - 1):+.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
