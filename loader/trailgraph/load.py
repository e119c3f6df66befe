"""The load pipeline: blobs -> records -> facts -> store, then re-link the groups the batch touched.

Batches are written and linked one at a time (each in one transaction where the store allows), so an
interrupted load leaves a consistent prefix and a re-run completes it (every write is a merge).

This thread reads, parses and checks records (eventID, time, identity, content digest) into a batch;
one writer thread then asks the store which of the batch's events it already holds, extracts facts of
the others only, and writes them while this thread reads the next batch. A record the store already
holds with the same content (a re-delivered copy, a re-run) costs its parse and digest, nothing more; one
held with other content is reported, the stored copy kept. Only one batch is ever in flight, and batches
commit in order, so the graph is the one a sequential load gives, whatever the batch size.

With `workers`, blobs are parsed and extracted in worker processes, one blob per task and a bounded
number in flight: a blob's facts are taken whole when the store holds none of its events and none is
already in the batch, otherwise it is redone record by record, so the graph is the same as without
workers.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult, Pool

from trailgraph.extract import Head, check, extract_into
from trailgraph.facts import GraphBatch
from trailgraph.records import Problem, Record, parse_blob
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


@dataclass(frozen=True, slots=True)
class _Record:
    """A record to load, checked: the first copy of its event in its batch."""

    source: str
    index: int
    record: Record
    head: Head


Pending = list[_Record | tuple[Blob, BlobFacts]]
"""A batch before extraction, in read order: records, and (with workers) blobs extracted whole."""


def write_pending(
    store: GraphStore, pending: Pending, seen: dict[str, tuple[str, str]]
) -> tuple[int, list[Problem]]:
    """The writer's task: drop what the store already holds, extract the rest, write it. Returns how many
    events were new and the records held with other content (a problem each, the stored copy kept)."""
    stored = store.digests(list(seen))
    batch, slots, shared = GraphBatch(), set[str](), set[str]()
    clashed: list[Problem] = []

    def one(source: str, index: int, record: Record, head: Head) -> None:
        if head.call_id in stored:
            digest = stored[head.call_id]
            if digest == head.digest:
                return  # held as it is: a re-delivered copy, or a re-run
            if digest:
                clashed.append(conflict(source, index, head, "the one already stored"))
                return
            # held without a digest (written by an early trailgraph): merged again, as before
        extract_into(record, head, batch, slots, shared)

    for item in pending:
        if isinstance(item, _Record):
            one(item.source, item.index, item.record, item.head)
            continue
        blob, facts = item
        if stored.keys().isdisjoint(facts.call_ids):
            batch.absorb(facts.batch)
            slots.update(facts.slots)
            shared.update(facts.shared)
            continue
        done: set[str] = set()  # the blob again, first copies only (the worker counted the others)
        for parsed in parse_blob(blob):
            if isinstance(parsed, Problem):
                continue
            head = check(parsed.record)
            if isinstance(head, str) or head.call_id not in facts.call_ids or head.call_id in done:
                continue
            done.add(head.call_id)
            one(parsed.source, parsed.index, parsed.record, head)
    new = store.ingest(batch, slots, shared) if batch.nodes else 0
    return new, clashed


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
    with (
        _collect_per_batch() as collect,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="trailgraph-writer") as writer,
    ):
        return _load(store, blobs, writer, collect, strict, on_progress, on_problem, workers, batch_records)


COLLECT_OBJECTS = 1_000_000
"""Objects allocated (and not freed) since the last collection that make a load collect cyclic garbage."""


@contextmanager
def _collect_per_batch() -> Iterator[Callable[[], None]]:
    """Python's cyclic garbage collector between batches, when a million objects have piled up, instead
    of every few hundred allocations. A load holds a batch of parsed records and the store's caches alive,
    which the automatic collector traverses again and again (a quarter of the load's CPU time at 100k
    events), while a load makes almost no cycles (their objects are freed as soon as they are dropped,
    which the count follows). What survives a collection is frozen, so no object is traversed twice;
    everything is unfrozen when the load ends."""
    enabled, freeze = gc.isenabled(), gc.get_freeze_count() == 0

    def collect() -> None:
        if gc.get_count()[0] >= COLLECT_OBJECTS:
            gc.collect()
            if freeze:
                gc.freeze()

    gc.disable()
    try:
        yield collect
    finally:
        if freeze:
            gc.unfreeze()
        if enabled:
            gc.enable()


def _load(
    store: GraphStore,
    blobs: Iterable[Blob | Problem],
    writer: ThreadPoolExecutor,
    collect: Callable[[], None],
    strict: bool,
    on_progress: Callable[[LoadSummary], None] | None,
    on_problem: Callable[[Problem], None] | None,
    workers: int,
    batch_records: int,
) -> LoadSummary:
    summary = LoadSummary()
    pending: Pending = []
    count = 0  # events in `pending` (first copies in the batch)
    seen: dict[str, tuple[str, str]] = {}  # the batch's events: id -> (digest, where first read)
    writing: tuple[Future[tuple[int, list[Problem]]], int] | None = None
    files_with_problems: dict[str, set[str]] = {"skipped": set(), "rejected": set()}
    progress_every = 2_000

    def settle() -> None:
        """Wait for the batch being written (its error, if any, is raised here) and count it."""
        nonlocal writing
        if writing is not None:
            (future, events), writing = writing, None
            new, clashed = future.result()
            collect()
            summary.loaded += new
            summary.duplicates += events - new - len(clashed)
            for p in clashed:
                problem(p)
            if on_progress:
                on_progress(summary)

    def flush(wait: bool = False) -> None:
        nonlocal pending, count, seen, writing
        settle()
        if count:
            writing = (writer.submit(write_pending, store, pending, seen), count)
        pending, count, seen = [], 0, {}
        if wait or strict:  # --strict: a conflict with the store stops the load before the next batch
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
        nonlocal count
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
            pending.append(_Record(item.source, item.index, item.record, head))
            count += 1
            if count >= batch_records:
                flush()

    def facts_of(blob: Blob, facts: BlobFacts) -> None:
        """A worker's blob: taken whole, unless that could differ from `records_of` (then redone)."""
        nonlocal count
        if (strict and any(p.severity == "rejected" for p in facts.problems)) or not seen.keys().isdisjoint(
            facts.call_ids
        ):
            records_of(blob)
            return
        for p in facts.problems:
            problem(p)
        summary.records += facts.records
        summary.duplicates += facts.duplicates
        pending.append((blob, facts))
        seen.update(facts.call_ids)
        count += len(facts.call_ids)
        if count >= batch_records:
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
