"""An organisation simulator that writes CloudTrail with known ground truth.

`simulate(SimConfig(...), out_dir)` writes S3-shaped log files under `out_dir/AWSLogs/` and, in
`out_dir/truth.jsonl`, the origin a correct tracer must report for every distinct event written.
`Simulation(config).slices()` is the pure generator underneath (no I/O), for benchmarks and tests.
"""

from .config import SimConfig, SimSummary
from .engine import Simulation
from .writer import simulate

__all__ = ["SimConfig", "SimSummary", "Simulation", "simulate"]
