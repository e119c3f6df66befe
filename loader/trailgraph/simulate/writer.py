"""The thin, impure end: gzip the delivered files to disk and append truth lines, as the generator streams.

Compression runs in worker threads (zlib releases the GIL) while the main thread keeps generating;
file contents and names are fixed before submission, so threads cannot change the output.
"""

from __future__ import annotations

import gzip
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from .config import SimConfig, SimSummary
from .delivery import Batch, Delivery
from .emitter import Slice
from .engine import Simulation

GZIP_LEVEL = 3
_IN_FLIGHT = 64


def _write_gz(path: Path, records: list[bytes]) -> int:
    data = gzip.compress(b'{"Records":[' + b",".join(records) + b"]}", GZIP_LEVEL, mtime=0)
    path.write_bytes(data)
    return len(data)


class _Writer:
    def __init__(self, out_dir: Path, truth: BinaryIO, pool: ThreadPoolExecutor) -> None:
        self.out_dir, self.truth, self.pool = out_dir, truth, pool
        self.files = self.events = self.distinct = self.bytes = 0
        self._dirs: set[Path] = set()
        self._pending: deque[Future[int]] = deque()

    def write(self, batches: Iterable[Batch]) -> None:
        for b in batches:
            if b.truth:
                self.truth.write(b"\n".join(b.truth) + b"\n")
                self.distinct += len(b.truth)
            path = self.out_dir / b.path
            if path.parent not in self._dirs:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._dirs.add(path.parent)
            self.files += 1
            self.events += len(b.records)
            self._pending.append(self.pool.submit(_write_gz, path, b.records))
            while len(self._pending) > _IN_FLIGHT:
                self.bytes += self._pending.popleft().result()

    def drain(self) -> None:
        while self._pending:
            self.bytes += self._pending.popleft().result()


def simulate(config: SimConfig, out_dir: Path, progress: Callable[[int], None] | None = None) -> SimSummary:
    """Generate the organisation's CloudTrail under `out_dir/AWSLogs/` and its ground truth in `truth.jsonl`.

    `progress`, if given, is called after each 5-minute slot with the distinct events written so far.
    """
    started = time.perf_counter()
    sim = Simulation(config)
    org, w = sim.org, sim.world
    delivery = Delivery(config, org)
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "truth.jsonl").open("wb") as truth, ThreadPoolExecutor(2) as pool:
        writer = _Writer(out_dir, truth, pool)
        last: Slice | None = None
        for last in sim.slices():
            writer.write(delivery.deliver(last))
            if progress is not None:
                progress(writer.distinct)
        if last is not None:  # records held back from the final slot arrive one file later
            writer.write(delivery.deliver(Slice(last.slot + 1, {}, last.generated)))
        writer.drain()
    noise = dict(w.count)
    noise.update(
        late_records=delivery.late_records,
        duplicate_records=delivery.duplicate_records,
        unwritten_events=w.out.unwritten,
        incomplete_truth=w.out.incomplete,
    )
    kinds = {org.management: "management", org.identity: "identity"} | {a: "workload" for a in org.workloads}
    return SimSummary(
        out_dir=out_dir,
        org_id=org.org_id,
        accounts=kinds,
        missing_accounts=tuple(sorted(org.missing)),
        account_trails=tuple(sorted(org.account_trails)),
        files=writer.files,
        events=writer.events,
        distinct_events=writer.distinct,
        bytes=writer.bytes,
        generated_events=w.out.generated,
        seconds=round(time.perf_counter() - started, 3),
        scenarios=dict(sorted(w.stories.items())),
        noise=dict(sorted(noise.items())),
    )
