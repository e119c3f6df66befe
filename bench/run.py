"""Every benchmark table, from one command.

    python bench/run.py                                  # 100k and 1M events: load, then latency
    python bench/run.py --sizes 100000 --large 10000000  # and the 10M rows that fit in an afternoon

For `--sizes`: bench/load.py (parse alone, embedded, Neo4j, the UNWIND CREATE limit, the naive
baseline, the neo4j-admin bulk path), then bench/latency.py on the same organisations.

For `--large` sizes, where a full transactional Neo4j load and the whole graph in networkx do not fit:
parse alone, the embedded load (peak memory), the transactional Neo4j load for its first
`--neo4j-budget` seconds (its rate), the bulk path, and latency of `trace` (embedded, indexed walk) and
of every canned query on Neo4j.

Each step's own command line is printed before its tables, so any row can be re-run on its own.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def step(script: str, *args: str) -> None:
    command = [sys.executable, str(HERE / script), *args]
    print(f"\n## {script} {' '.join(args)}", flush=True)
    done = subprocess.run(command, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{script} failed with exit status {done.returncode}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100000,1000000", help="full measurements at these sizes")
    ap.add_argument("--large", default="", help="the measurements that fit, at these sizes (10000000)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each load measurement")
    ap.add_argument("--neo4j-budget", type=float, default=600, help="--large: seconds of Neo4j load")
    ap.add_argument("--no-neo4j", action="store_true", help="embedded only")
    args = ap.parse_args(argv)
    neo = ["--no-neo4j"] if args.no_neo4j else []
    if args.sizes:
        step("load.py", "--sizes", args.sizes, "--repeat", str(args.repeat), "--bulk", *neo)
        step("latency.py", "--sizes", args.sizes, *neo)
    if args.large:
        budget = ["--neo4j-budget", str(args.neo4j_budget)]
        only = ["--only", "parse,embedded,neo4j,bulk"]
        step("load.py", "--sizes", args.large, "--repeat", "1", "--bulk", *only, *budget, *neo)
        step("latency.py", "--sizes", args.large, "--no-embedded-queries", *neo)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
