"""Turn a blob of bytes into CloudTrail records, or into named problems: never an exception.

Recognised shapes: S3 trail files (`{"Records": [...]}`, gzipped or not), bare JSON arrays, JSON Lines,
single records, EventBridge envelopes (`detail`), LookupEvents output (`CloudTrailEvent` strings),
CloudTrail Lake query results, Google Cloud Logging envelopes (`jsonPayload`) and Panther test cases
(`event`). Digest files and S3 notifications are recognised and skipped with a note.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from trailgraph.sources.blob import Blob

Record = dict[str, Any]
Severity = Literal["rejected", "skipped", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """Something in the input that was not loaded, or loaded with a caveat."""

    source: str
    index: int | None
    severity: Severity
    reason: str

    def where(self) -> str:
        return self.source if self.index is None else f"{self.source} record {self.index}"


@dataclass(frozen=True, slots=True)
class Parsed:
    """A record with where it came from (for problem reports)."""

    source: str
    index: int
    record: Record


def _gunzip(data: bytes) -> tuple[bytes, str | None]:
    """Decompress all gzip members; on damage keep what decompressed and say why."""
    out: list[bytes] = []
    rest = data
    try:
        while rest:
            d = zlib.decompressobj(wbits=31)
            out.append(d.decompress(rest))
            if not d.eof:
                return b"".join(out), "truncated gzip: the file ends before the compressed stream does"
            rest = d.unused_data.lstrip(b"\x00")
    except zlib.error as exc:
        return b"".join(out), f"damaged gzip: {exc}"
    return b"".join(out), None


def _loads(text: bytes) -> tuple[Any, str | None]:
    try:
        return orjson.loads(text), None
    except orjson.JSONDecodeError as exc:
        if "utf-8" in str(exc).lower() or "surrogate" in str(exc).lower():
            try:
                value = orjson.loads(text.decode("utf-8", errors="replace").encode("utf-8"))
            except orjson.JSONDecodeError as exc2:
                return None, f"invalid JSON: {exc2}"
            return value, "non-UTF-8 bytes, replaced with U+FFFD"
        return None, f"invalid JSON: {exc}"


_DIGEST_KEYS = frozenset({"digestStartTime", "digestEndTime", "digestPublicKeyFingerprint"})


def _unwrap(value: Any) -> tuple[list[Any] | None, str | None]:
    """Records inside one JSON value, or (None, reason) when the value is not CloudTrail."""
    if isinstance(value, list):
        return value, None
    if not isinstance(value, dict):
        return None, f"foreign shape: a JSON {type(value).__name__}, not a CloudTrail record or file"
    if isinstance(value.get("Records"), list):
        return value["Records"], None
    if _DIGEST_KEYS & value.keys():
        return None, "skipped: CloudTrail digest file (integrity hashes, no events)"
    if isinstance(value.get("Events"), list):
        return value["Events"], None
    if isinstance(value.get("CloudTrailEvent"), str):
        return [value], None
    for rows_key in ("QueryResultRows", "queryResultRows"):
        rows = value.get(rows_key)
        if isinstance(rows, list):
            return [_lake_row(row) for row in rows], None
    if "eventVersion" in value or "eventID" in value or "eventTime" in value:
        return [value], None
    for envelope in ("detail", "jsonPayload", "event"):
        inner = value.get(envelope)
        if isinstance(inner, dict) and (
            "eventID" in inner or "eventTime" in inner or "userIdentity" in inner
        ):
            return [inner], None
    if value.get("Type") == "Notification" and "Message" in value:
        return None, "skipped: an SNS/SQS delivery notification (names log files, holds no events)"
    keys = ", ".join(sorted(value)[:5])
    return None, f"foreign shape: a JSON object with keys {keys}, not CloudTrail"


def _lake_row(row: Any) -> Any:
    """CloudTrail Lake GetQueryResults rows are lists of one-key dicts; nested values arrive as JSON text."""
    if not isinstance(row, list):
        return row
    merged: dict[str, Any] = {}
    for cell in row:
        if isinstance(cell, dict):
            for k, v in cell.items():
                if isinstance(v, str) and v[:1] in "{[":
                    with contextlib.suppress(orjson.JSONDecodeError):
                        v = orjson.loads(v)
                merged[k] = v
    return merged


def _inner_record(item: Any) -> Any:
    """LookupEvents entries carry the record as a JSON string."""
    if isinstance(item, dict) and isinstance(item.get("CloudTrailEvent"), str):
        try:
            return orjson.loads(item["CloudTrailEvent"])
        except orjson.JSONDecodeError:
            return None
    if isinstance(item, dict) and "eventID" not in item:
        for envelope in ("detail", "jsonPayload", "event"):
            inner = item.get(envelope)
            if isinstance(inner, dict) and "eventID" in inner:
                return inner
    return item


def parse_blob(blob: Blob) -> Iterator[Parsed | Problem]:
    """Every record in the blob, and a Problem for everything that is not one."""
    name = blob.name
    data = blob.data
    if name.rsplit("/", 1)[-1].startswith("CloudTrail-Digest") or "/CloudTrail-Digest/" in name:
        yield Problem(name, None, "skipped", "skipped: CloudTrail digest file (integrity hashes, no events)")
        return
    if data[:2] == b"\x1f\x8b":
        data, damage = _gunzip(data)
        if damage:
            yield Problem(name, None, "rejected", damage)
    elif name.endswith(".gz"):
        yield Problem(name, None, "warning", "named .gz but not gzip-compressed: read as uncompressed text")
    if not data.strip():
        yield Problem(name, None, "rejected", "empty file: no records")
        return
    value, err = _loads(data)
    if err is None or value is not None:
        if err:
            yield Problem(name, None, "warning", err)
        yield from _records_of(name, value, None)
        return
    # Not one JSON document: try JSON Lines, naming each bad line.
    lines = data.splitlines()
    first = next((line for line in lines if line.strip()), b"")
    if len(lines) < 2 or _loads(first)[0] is None:
        yield Problem(name, None, "rejected", err)
        return
    index = 0
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        value, line_err = _loads(line)
        if value is None:
            yield Problem(name, index, "rejected", f"line {lineno}: {line_err}")
            index += 1
            continue
        if line_err:
            yield Problem(name, index, "warning", f"line {lineno}: {line_err}")
        items = list(_records_of(name, value, index))
        if index == 0 and len(items) == 1 and isinstance(items[0], Problem):
            # The first line is not CloudTrail: say it once for the file, not once per line.
            yield Problem(name, None, items[0].severity, f"JSON Lines of another kind: {items[0].reason}")
            return
        for item in items:
            yield item
            index += 1


def _records_of(name: str, value: Any, start: int | None) -> Iterator[Parsed | Problem]:
    """The records of one JSON value; `start` None: the value is the whole file (a problem is the file's)."""
    items, why = _unwrap(value)
    if items is None:
        severity: Severity = "skipped" if why and why.startswith("skipped") else "rejected"
        yield Problem(name, start, severity, why or "foreign shape")
        return
    for offset, item in enumerate(items):
        index = (start or 0) + offset
        record = _inner_record(item)
        if not isinstance(record, dict):
            what = "null" if record is None else type(record).__name__
            yield Problem(name, index, "rejected", f"not a CloudTrail record: a JSON {what}")
            continue
        yield Parsed(name, index, record)
