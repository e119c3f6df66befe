"""Where generated records go: serialised at once and bucketed by 5-minute slot, account and region.

Serialising on emit keeps memory to bytes (a slot's worth plus sessions still running), which is what
lets ten million events stream through. Records of missing accounts are counted and dropped here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from .timefmt import SLOT

Emitted = tuple[int, bytes, bytes]  # (epoch second, record JSON, truth line JSON)
Group = tuple[str, str]  # (recipient account, region)


@dataclass(frozen=True, slots=True)
class Truth:
    """The origin a correct tracer reports for an event, pre-serialised as the end of a truth line."""

    type: str
    id: str
    complete: bool
    tail: bytes
    issuer: str | None = None

    @classmethod
    def of(cls, type_: str, id_: str, complete: bool, issuer: str | None = None) -> Truth:
        """`issuer`: the eventID (role account's copy) of the STS call that really issued the actor's
        session, so an answer naming the right person through the wrong issuance still counts as wrong."""
        line: dict[str, object] = {"origin": {"type": type_, "id": id_}, "complete": complete}
        if issuer is not None:
            line["issuer"] = issuer
        return cls(type_, id_, complete, orjson.dumps(line)[1:], issuer)

    def issued_by(self, event_id: str) -> Truth:
        return Truth.of(self.type, self.id, self.complete, event_id)


@dataclass(frozen=True, slots=True)
class Slice:
    """Every written event whose eventTime falls in one 5-minute slot (epoch // 300)."""

    slot: int
    groups: dict[Group, list[Emitted]]
    generated: int  # events generated so far, missing accounts included


class Emitter:
    __slots__ = ("_buckets", "_missing", "generated", "incomplete", "unwritten")

    MISSING_REGION = "ap-northeast-3"
    """A region no trail covers here: STS calls sent to its endpoint are never written."""

    def __init__(self, missing: frozenset[str]) -> None:
        self._missing = missing
        self._buckets: dict[int, dict[Group, list[Emitted]]] = {}
        self.generated = 0
        self.unwritten = 0
        self.incomplete = 0

    def emit(self, ts: int, account: str, region: str, record: dict[str, Any], truth: Truth) -> None:
        self.generated += 1
        if account in self._missing or region == self.MISSING_REGION:
            self.unwritten += 1
            return
        if not truth.complete:
            self.incomplete += 1
        line = (
            b'{"eventId":"'
            + record["eventID"].encode()
            + b'","account":"'
            + account.encode()
            + b'",'
            + truth.tail
        )
        slot = ts // SLOT
        bucket = self._buckets.get(slot)
        if bucket is None:
            bucket = self._buckets[slot] = {}
        items = bucket.get((account, region))
        if items is None:
            items = bucket[(account, region)] = []
        items.append((ts, orjson.dumps(record), line))

    def take(self, slot: int) -> Slice:
        return Slice(slot, self._buckets.pop(slot, {}), self.generated)

    def last_slot(self) -> int | None:
        return max(self._buckets) if self._buckets else None
