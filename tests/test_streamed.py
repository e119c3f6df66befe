"""Long answers made as they are read: their length is known up front, their rows made a chunk at a time,
and nothing between the store and the JSON writer holds them whole."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from trailgraph.streamed import CHUNK, Entry, Leaf, Rows, made_rows
from trailgraph.summary import CallFilter, activity_summary


class _Counted:
    """Leaf records made up from their keys, counting the reads (a store reads one chunk per call)."""

    def __init__(self) -> None:
        self.reads: list[int] = []

    def of(self, node: str) -> Sequence[Leaf]:
        return ()

    def read(self, leaves: list[Leaf]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
        self.reads.append(len(leaves))
        return {leaf.id: ({"id": leaf.id}, {"type": "PERFORMED"}) for leaf in leaves}

    def performed(self, node: str) -> list[tuple[Any, Any]]:
        return []


def _entries(n: int) -> list[Entry]:
    """Every third entry is a graph node's (no leaf), the others leaves."""
    return [(i, None if i % 3 == 0 else Leaf(f"c{i}", f"t{i}", "1", "PERFORMED")) for i in range(n)]


def test_leaf_records_are_read_a_chunk_at_a_time_as_rows_are_taken() -> None:
    leaves, entries = _Counted(), _entries(2 * CHUNK + 7)
    made = made_rows(
        entries, leaves, lambda e, read: {"n": e[0], "id": None if read is None else read[0]["id"]}
    )
    first = next(made)
    assert first == {"n": 0, "id": None} and len(leaves.reads) == 1  # only the first chunk so far
    rest = list(made)
    assert [r["n"] for r in [first, *rest]] == list(range(len(entries)))
    assert all(r["id"] == f"c{r['n']}" for r in rest if r["n"] % 3)
    assert leaves.reads == [
        sum(1 for e in entries[i : i + CHUNK] if e[-1]) for i in range(0, len(entries), CHUNK)
    ]


def test_rows_know_their_length_and_are_made_anew_on_each_reading() -> None:
    made: list[int] = []

    def make() -> Iterator[dict[str, Any]]:
        made.append(1)
        yield from ({"i": i} for i in range(3))

    rows = Rows(3, make)
    assert len(rows) == 3 and rows and not made  # nothing made until read
    assert rows == [{"i": 0}, {"i": 1}, {"i": 2}] and list(rows) == list(rows) and len(made) == 3
    assert rows[1] == {"i": 1} and rows != [{"i": 0}]


def test_no_filter_passes_a_long_answer_on_unmade_and_a_filter_reads_it_once() -> None:
    readings: list[int] = []

    def make() -> Iterator[dict[str, Any]]:
        readings.append(1)
        yield {"kind": "session", "time": "t0"}
        yield {"kind": "call", "time": "t1", "eventName": "GetObject", "readOnly": True}
        yield {"kind": "call", "time": "t2", "eventName": "PutObject", "readOnly": False}

    rows = Rows(3, make)
    assert CallFilter().apply(rows) is rows and not readings
    kept = CallFilter(write_only=True, limit=1).apply(rows, is_call=lambda r: r["kind"] == "call")
    assert [r["time"] for r in kept] == ["t0", "t2"] and len(readings) == 1
    summary = activity_summary(rows)
    assert (summary["calls"], summary["writeCalls"], summary["firstCall"], summary["lastCall"]) == (
        2,
        1,
        "t1",
        "t2",
    )
    assert summary["sessionCount"] == 1 and len(readings) == 2  # one reading each
