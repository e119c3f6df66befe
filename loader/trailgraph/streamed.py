"""Long answers (`activity`, `timeline`) sorted from lean keys and made a chunk of rows at a time.

A principal's calls at organisation scale are hundreds of thousands of rows. Most are leaf calls: no
trace-path edge leaves them (and one enters each node: its performer's PERFORMED, or the COPIED_TO of
the call copied). A store hands those over as `Leaf` tuples (what sorting and filtering read) instead of graph
nodes, and reads each chunk's full records only when its rows are written, so neither the graph nor
the rows are ever held whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, Protocol, overload

Row = dict[str, Any]

CHUNK = 500
"""Rows made per read of the leaves' records: one statement each, a few hundred kilobytes held."""


class Leaf(NamedTuple):
    """A leaf call as an answer reads it before any row is made."""

    id: str
    time: Any
    account: Any
    etype: str
    """The trace-path edge into it: PERFORMED (from its performer), or COPIED_TO (from the call copied)."""

    @property
    def key(self) -> str:
        return f"APICall:{self.id}"


class LeafCalls(Protocol):
    def of(self, node: str) -> Sequence[Leaf]:
        """The leaf calls the node's trace-path edges lead to (none for a node the store did not read)."""
        ...

    def read(self, leaves: list[Leaf]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
        """Each leaf's node (properties, `label`, `id`) and the edge into it (properties, `type`), by id."""
        ...

    def performed(self, node: str) -> list[tuple[Any, Any]]:
        """(eventTime, eventId) of the leaf calls the node PERFORMED (calls also in the graph may be
        among them): a session row without other evidence names its first call."""
        ...


class _NoLeaves:
    """The whole graph holds every call as a node: nothing is left out of it."""

    def of(self, node: str) -> Sequence[Leaf]:
        return ()

    def read(self, leaves: list[Leaf]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
        return {}

    def performed(self, node: str) -> list[tuple[Any, Any]]:
        return []


NO_LEAVES: LeafCalls = _NoLeaves()

READ_BY_REACH = (
    *("arn", "userId", "subject", "onBehalfOfUserId", "name", "type", "kind", "mfa", "link"),
    *("account", "region", "eventTime", "creationDate", "eventId", "eventName", "eventSource"),
    *("sourceIPAddress", "errorCode", "readOnly", "userAgent", "accessKeyId"),
)
"""The node properties `activity` and `timeline` read (their starts, rows and node maps): a store keeps
no other of the nodes it reads for them (a call's linking fields and details are most of its record)."""

EDGES_READ_BY_REACH = ("via", "rule", "confidence", "evidence")
"""The edge properties they read (besides the type): how each step was linked, for the `rels` column."""

Entry = tuple[Any, ...]
"""(sort key, ..., the leaf or None): what a long answer holds of a row until the row is written."""


def made_rows(entries: list[Entry], leaves: LeafCalls, make: Callable[[Entry, Any], Row]) -> Iterator[Row]:
    """Rows from sorted entries, a chunk at a time, with each leaf's records (`make`'s second argument)."""
    for i in range(0, len(entries), CHUNK):
        chunk = entries[i : i + CHUNK]
        read = leaves.read([e[-1] for e in chunk if e[-1] is not None])
        for e in chunk:
            yield make(e, None if e[-1] is None else read[e[-1].id])


class Rows(Sequence[Row]):
    """An answer whose length is known and whose rows are made each time it is iterated. Indexing
    holds the whole answer (pictures and tables draw all of it anyway); JSON output only iterates."""

    def __init__(self, count: int, make: Callable[[], Iterator[Row]]) -> None:
        self._count = count
        self._make = make

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Row]:
        return self._make()

    @overload
    def __getitem__(self, index: int) -> Row: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Row]: ...
    def __getitem__(self, index: int | slice) -> Row | Sequence[Row]:
        return list(self)[index]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"Rows({self._count} rows)"
