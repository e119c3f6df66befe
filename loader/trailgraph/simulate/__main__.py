"""`python -m trailgraph.simulate OUT_DIR [--events N ...]`: run the simulator, or time the bare generator.

The project CLI (`trailgraph simulate`) is the front door; this stays for benchmarks without it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import orjson

from .config import HAZARDS, SimConfig
from .engine import Simulation
from .writer import simulate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m trailgraph.simulate", description=__doc__)
    ap.add_argument("out_dir", type=Path, nargs="?")
    for name in ("seed", "accounts", "people", "events", "days", "missing_accounts"):
        ap.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(SimConfig(), name))
    for name in (
        "same_second_collisions",
        "key_reuse",
        "out_of_order",
        "duplicates",
        "clock_edges",
        *HAZARDS,
    ):
        ap.add_argument(f"--no-{name.replace('_', '-')}", dest=name, action="store_false")
    ap.add_argument("--generate-only", action="store_true", help="time the pure generator, write nothing")
    args = vars(ap.parse_args(argv))
    out_dir, only = args.pop("out_dir"), args.pop("generate_only")
    config = SimConfig(**args)
    if only:
        started = time.perf_counter()
        sim = Simulation(config)
        written = sum(sum(len(v) for v in s.groups.values()) for s in sim.slices())
        secs = time.perf_counter() - started
        generated = sim.world.out.generated
        print(
            orjson.dumps(
                {
                    "generated": generated,
                    "written": written,
                    "seconds": round(secs, 3),
                    "events_per_second": round(generated / secs),
                }
            ).decode()
        )
        return 0
    if out_dir is None:
        ap.error("out_dir is required unless --generate-only")
    summary = simulate(config, out_dir)
    rate = round(summary.generated_events / summary.seconds) if summary.seconds else 0
    print(
        orjson.dumps(
            {**dataclasses.asdict(summary), "out_dir": str(out_dir), "events_per_second": rate},
            option=orjson.OPT_INDENT_2,
        ).decode()
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
