"""The load pipeline: blobs -> records -> facts -> store, then re-link the groups the batch touched.

Batches are written and linked one at a time, so an interrupted load leaves a consistent prefix and a
re-run completes it (every write is a merge).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from trailgraph.extract import Extracted, extract
from trailgraph.facts import GraphBatch
from trailgraph.link import link
from trailgraph.records import Parsed, Problem, parse_blob
from trailgraph.sources.blob import Blob
from trailgraph.store.base import GraphStore

BATCH_RECORDS = 5000


@dataclass
class LoadSummary:
    sources: int = 0
    records: int = 0
    loaded: int = 0
    duplicates: int = 0
    skipped: int = 0
    rejected: int = 0
    problems: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "sources": self.sources,
            "records": self.records,
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "skipped": self.skipped,
            "rejected": self.rejected,
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


def _items(blobs: Iterable[Blob | Problem], summary: LoadSummary) -> Iterator[Parsed | Problem]:
    for blob in blobs:
        summary.sources += 1
        if isinstance(blob, Problem):
            yield blob
        else:
            yield from parse_blob(blob)


def relink(store: GraphStore, slots: set[str], shared: set[str]) -> None:
    """Re-decide every derived edge of these groups from what the store now holds."""
    if not slots and not shared:
        return
    decided = link(store.link_facts(slots, shared), slots, shared)
    store.replace_derived(slots | {f"shared:{s}" for s in shared}, decided)


def load_blobs(
    store: GraphStore,
    blobs: Iterable[Blob | Problem],
    *,
    strict: bool = False,
    on_progress: Callable[[LoadSummary], None] | None = None,
    on_problem: Callable[[Problem], None] | None = None,
) -> LoadSummary:
    summary = LoadSummary()
    batch = GraphBatch()
    pending = 0
    slots: set[str] = set()
    shared: set[str] = set()

    def flush() -> None:
        nonlocal batch, pending, slots, shared
        if pending:
            new = store.write(batch)
            summary.loaded += new
            summary.duplicates += pending - new
            relink(store, slots, shared)
            if on_progress:
                on_progress(summary)
        batch, pending, slots, shared = GraphBatch(), 0, set(), set()

    def problem(p: Problem) -> None:
        summary.problems.append(p)
        if p.severity == "skipped":
            summary.skipped += 1
        elif p.severity == "rejected":
            summary.rejected += 1
        if on_problem:
            on_problem(p)
        if strict and p.severity == "rejected":
            flush()
            raise StrictStop(p)

    seen_in_batch: set[str] = set()
    for item in _items(blobs, summary):
        if isinstance(item, Problem):
            problem(item)
            continue
        summary.records += 1
        facts = extract(item.record)
        if not isinstance(facts, Extracted):
            problem(Problem(item.source, item.index, "rejected", facts))
            continue
        call_id = facts.call[1]
        if call_id in seen_in_batch:
            summary.duplicates += 1
            continue
        seen_in_batch.add(call_id)
        batch.merge(facts.batch)
        slots |= facts.slots
        shared |= facts.shared
        pending += 1
        if pending >= BATCH_RECORDS:
            flush()
            seen_in_batch.clear()
    flush()
    return summary
