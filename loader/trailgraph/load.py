"""The load pipeline: blobs -> records -> facts -> store, then re-link the groups the batch touched.

Batches are written and linked one at a time (each in one transaction where the store allows), so an
interrupted load leaves a consistent prefix and a re-run completes it (every write is a merge).

A batch is written by one writer thread while the next is parsed and extracted: the store's own work
(SQLite's C code, or waiting on Neo4j) releases the GIL, so the two overlap. Only one batch is ever in
flight, and batches commit in order, so the graph is the one a sequential load gives.

Records are extracted straight into the batch (no per-record batch to merge). With `workers`, blobs are
parsed and extracted in worker processes, one blob per task and a bounded number in flight, while this
process writes: the result is the same graph, because a blob's facts are merged only when none of its
events is already in the batch (otherwise the blob is redone here, record by record, exactly as without
workers).
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult, Pool

from trailgraph.extract import Head, check, extract_into
from trailgraph.facts import GraphBatch
from trailgraph.records import Problem, parse_blob
from trailgraph.sources.blob import Blob
from trailgraph.store.base import GraphStore

BATCH_RECORDS = 20_000
"""Records per batch (one transaction each). Larger batches amortise the per-batch linking; the memory
they hold is about 3 KB per record."""

IN_FLIGHT_RECORDS = 1.5
"""Records handed to the workers ahead of the writer, in batches: enough to keep them busy while it
writes a batch (the window is counted in blobs, from the records per blob seen so far)."""
MAX_IN_FLIGHT_BLOBS = 4096


@dataclass
class LoadSummary:
    """What a load did. Every source (file, object, page) counts once in `sources`; every record read
    once in `records`, which always equals loaded + duplicates + skipped + rejected (`pending` while a
    batch is still being written). A problem with the whole source (not JSON, a digest, damaged gzip)
    counts the source in `files_rejected` / `files_skipped`, not as a record."""

    sources: int = 0
    records: int = 0
    loaded: int = 0
    duplicates: int = 0
    skipped: int = 0
    rejected: int = 0
    files_skipped: int = 0
    files_rejected: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def pending(self) -> int:
        """Records read whose batch is not written yet."""
        return self.records - self.loaded - self.duplicates - self.skipped - self.rejected

    def as_dict(self) -> dict[str, object]:
        return {
            "sources": self.sources,
            "records": self.records,
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "skipped": self.skipped,
            "rejected": self.rejected,
            "files_skipped": self.files_skipped,
            "files_rejected": self.files_rejected,
            "problems": [
                {"source": p.source, "index": p.index, "severity": p.severity, "reason": p.reason}
                for p in self.problems
            ],
        }


class StrictStop(Exception):
    """--strict: the first problem ends the load."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(f"{problem.where()}: {problem.reason}")
        self.problem = problem


def _without(
    blobs: list[Blob], seen: dict[str, tuple[str, str]], stored: set[str]
) -> tuple[GraphBatch, set[str], set[str], list[Problem]]:
    """The batch again, from its blobs, without the events the store already holds with other content
    (kept as first loaded; one problem each). Rare, so it simply re-reads the batch's blobs."""
    batch, slots, shared = GraphBatch(), set[str](), set[str]()
    done: set[str] = set()
    clashed: list[Problem] = []
    for blob in blobs:
        for item in parse_blob(blob):
            if isinstance(item, Problem):
                continue
            head = check(item.record)
            if isinstance(head, str) or head.call_id not in seen or head.call_id in done:
                continue
            done.add(head.call_id)
            if head.call_id in stored:
                clashed.append(conflict(item.source, item.index, head, "the one already stored"))
            else:
                extract_into(item.record, head, batch, slots, shared)
    return batch, slots, shared, clashed


@dataclass
class BlobFacts:
    """One blob parsed and extracted by a worker: its facts merged in record order, first copy wins."""

    records: int = 0
    problems: list[Problem] = field(default_factory=list)
    call_ids: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (digest, where first read)
    duplicates: int = 0
    batch: GraphBatch = field(default_factory=GraphBatch)
    slots: set[str] = field(default_factory=set)
    shared: set[str] = field(default_factory=set)


def extract_blob(blob: Blob, earlier: dict[str, tuple[str, str]] | None = None) -> BlobFacts:
    """The worker's task (module level, so it pickles by name). `earlier`: events another source read
    first holds (id -> (digest, where)), counted as duplicates or conflicts instead of extracted."""
    out = BlobFacts()
    seen = out.call_ids
    for item in parse_blob(blob):
        if isinstance(item, Problem):
            out.records += item.index is not None and item.severity != "warning"
            out.problems.append(item)
            continue
        out.records += 1
        head = check(item.record)
        if isinstance(head, str):
            out.problems.append(Problem(item.source, item.index, "rejected", head))
            continue
        first = seen.get(head.call_id) or (earlier.get(head.call_id) if earlier else None)
        if first is not None:
            if first[0] == head.digest:
                out.duplicates += 1
            else:
                out.problems.append(conflict(item.source, item.index, head, first[1]))
            continue
        seen[head.call_id] = (head.digest, f"{item.source} record {item.index}")
        extract_into(item.record, head, out.batch, out.slots, out.shared)
    return out


def conflict(source: str, index: int | None, head: Head, first: str) -> Problem:
    return Problem(
        source,
        index,
        "rejected",
        f"eventID {head.event_id} (account {head.account}) has other content than the copy read "
        f"first ({first}): kept the first",
    )


def _start_pool(workers: int) -> Pool:
    # forkserver: workers do not inherit this process's store connection, driver or threads.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["trailgraph.load"])
    return ctx.Pool(workers)


def default_workers() -> int:
    """Extraction processes worth starting for a large load: one per core beyond the writer's."""
    return max(0, min(4, (os.cpu_count() or 1) - 1))


def load_blobs(
    store: GraphStore,
    blobs: Iterable[Blob | Problem],
    *,
    strict: bool = False,
    on_progress: Callable[[LoadSummary], None] | None = None,
    on_problem: Callable[[Problem], None] | None = None,
    workers: int = 0,
    batch_records: int = BATCH_RECORDS,
) -> LoadSummary:
    """Load every blob; `workers` > 0 parses and extracts in that many processes (same graph)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="trailgraph-writer") as writer:
        return _load(store, blobs, writer, strict, on_progress, on_problem, workers, batch_records)


def _load(
    store: GraphStore,
    blobs: Iterable[Blob | Problem],
    writer: ThreadPoolExecutor,
    strict: bool,
    on_progress: Callable[[LoadSummary], None] | None,
    on_problem: Callable[[Problem], None] | None,
    workers: int,
    batch_records: int,
) -> LoadSummary:
    summary = LoadSummary()
    batch = GraphBatch()
    pending = 0
    slots: set[str] = set()
    shared: set[str] = set()
    seen: dict[str, tuple[str, str]] = {}  # the batch's events: id -> (digest, where first read)
    blobs_in_batch: list[Blob] = []
    writing: tuple[Future[int], int] | None = None
    files_with_problems: dict[str, set[str]] = {"skipped": set(), "rejected": set()}
    progress_every = 2_000

    def settle() -> None:
        """Wait for the batch being written (its error, if any, is raised here) and count it."""
        nonlocal writing
        if writing is not None:
            (future, records), writing = writing, None
            new = future.result()
            summary.loaded += new
            summary.duplicates += records - new
            if on_progress:
                on_progress(summary)

    def flush(wait: bool = False) -> None:
        nonlocal batch, pending, slots, shared, writing
        settle()
        clashed: list[Problem] = []
        if pending:
            stored = store.digests(list(seen))
            clashes = {c for c, d in stored.items() if d and d != seen[c][0]}
            if clashes:
                batch, slots, shared, clashed = _without(blobs_in_batch, seen, clashes)
                pending -= len(clashed)
            writing = (writer.submit(store.ingest, batch, slots, shared), pending)
        batch, pending, slots, shared = GraphBatch(), 0, set(), set()
        seen.clear()
        blobs_in_batch.clear()
        for p in clashed:
            problem(p)
        if wait:
            settle()

    def problem(p: Problem) -> None:
        """Count a problem: a record's (it was counted as read) or a whole source's (counted once)."""
        summary.problems.append(p)
        if p.severity == "warning":
            pass
        elif p.index is not None:
            summary.skipped += p.severity == "skipped"
            summary.rejected += p.severity == "rejected"
        elif p.source not in files_with_problems[p.severity]:
            files_with_problems[p.severity].add(p.source)
            summary.files_skipped += p.severity == "skipped"
            summary.files_rejected += p.severity == "rejected"
        if on_problem:
            on_problem(p)
        if strict and p.severity == "rejected":
            flush(wait=True)
            raise StrictStop(p)

    def records_of(blob: Blob) -> None:
        """One blob, record by record, in this process."""
        nonlocal pending
        blobs_in_batch.append(blob)
        for item in parse_blob(blob):
            if isinstance(item, Problem):
                summary.records += item.index is not None and item.severity != "warning"
                problem(item)
                continue
            summary.records += 1
            if on_progress and summary.records % progress_every == 0:
                on_progress(summary)
            head = check(item.record)
            if isinstance(head, str):
                problem(Problem(item.source, item.index, "rejected", head))
                continue
            first = seen.get(head.call_id)
            if first is not None:
                if first[0] == head.digest:
                    summary.duplicates += 1
                else:
                    problem(conflict(item.source, item.index, head, first[1]))
                continue
            seen[head.call_id] = (head.digest, f"{item.source} record {item.index}")
            extract_into(item.record, head, batch, slots, shared)
            pending += 1
            if pending >= batch_records:
                flush()
                blobs_in_batch.append(blob)

    def facts_of(blob: Blob, facts: BlobFacts) -> None:
        """A worker's blob: merged whole, unless that could differ from `records_of` (then redone)."""
        nonlocal pending
        if (strict and any(p.severity == "rejected" for p in facts.problems)) or not seen.keys().isdisjoint(
            facts.call_ids
        ):
            records_of(blob)
            return
        blobs_in_batch.append(blob)
        for p in facts.problems:
            problem(p)
        summary.records += facts.records
        summary.duplicates += facts.duplicates
        batch.absorb(facts.batch)
        slots.update(facts.slots)
        shared.update(facts.shared)
        seen.update(facts.call_ids)
        pending += len(facts.call_ids)
        if pending >= batch_records:
            flush()

    if workers <= 0:
        try:
            for blob in blobs:
                summary.sources += 1
                if isinstance(blob, Problem):
                    problem(blob)
                else:
                    records_of(blob)
                if on_progress:
                    on_progress(summary)
        except KeyboardInterrupt:
            settle()  # the batch being written commits: count it, so "how far it got" is true
            raise
        flush(wait=True)
        return summary

    pool = _start_pool(workers)
    try:
        queue: deque[tuple[Blob | Problem, AsyncResult[BlobFacts] | None]] = deque()
        source: Iterator[Blob | Problem] = iter(blobs)
        done_blobs = done_records = 0
        exhausted = False
        while True:
            per_blob = done_records / done_blobs if done_blobs else 100.0
            window = max(
                2 * workers,
                min(MAX_IN_FLIGHT_BLOBS, int(IN_FLIGHT_RECORDS * batch_records / max(per_blob, 1.0))),
            )
            while not exhausted and len(queue) < window:
                nxt = next(source, None)
                if nxt is None:
                    exhausted = True
                    break
                task = None if isinstance(nxt, Problem) else pool.apply_async(extract_blob, (nxt,))
                queue.append((nxt, task))
            if not queue:
                break
            item, task = queue.popleft()
            summary.sources += 1
            if task is None:
                assert isinstance(item, Problem)
                problem(item)
            else:
                assert isinstance(item, Blob)
                facts = task.get()
                done_blobs += 1
                done_records += facts.records
                facts_of(item, facts)
            if on_progress:
                on_progress(summary)
        flush(wait=True)
        pool.close()
    except KeyboardInterrupt:
        pool.terminate()
        settle()
        raise
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
    return summary
