"""Row filters and the ten-second summary of `activity`, over the canned queries' rows. Pure.

The filters only drop call rows (a session stays as the context of what was done in it), so the
summary of the filtered rows counts exactly the call rows `--calls` and `--format json` show.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

Row = dict[str, Any]


def glob_regex(glob: str) -> str:
    """`Get*Data`, `Describe?` -> the regular expression find.cypher takes (`*` any text, `?` one char);
    each other character literal, escaped so Java and Python read it alike."""
    return "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in glob)


@dataclass(frozen=True, slots=True)
class CallFilter:
    event_name: str | None = None
    write_only: bool = False
    errors: bool = False
    limit: int | None = None

    def keep(self, row: Row) -> bool:
        if self.event_name is not None and not re.fullmatch(
            f"(?i){glob_regex(self.event_name)}", str(row.get("eventName") or "")
        ):
            return False
        if self.write_only and row.get("readOnly") is not False:
            return False
        return not (self.errors and row.get("errorCode") is None)

    def apply(self, rows: Sequence[Row], *, is_call: Any = lambda r: True) -> Sequence[Row]:
        """Rows kept: every non-call row, the call rows that pass, and of those the newest `limit`. With
        nothing to filter, the rows as they are (a long answer stays unmade until written)."""
        if self == CallFilter():
            return rows
        kept = [r for r in rows if not is_call(r) or self.keep(r)]
        if self.limit is None:
            return kept
        calls = [i for i, r in enumerate(kept) if is_call(r)]
        newest = sorted(calls, key=lambda i: (kept[i].get("time") or "", i), reverse=True)
        chosen = set(newest[: self.limit])
        return [r for i, r in enumerate(kept) if i in chosen or not is_call(r)]


def _role_of(arn: Any) -> str:
    """`...:assumed-role/admin/bob` -> `role admin`; a user's or root's ARN -> `user bob`, `root`."""
    text = str(arn or "?")
    tail = text.split(":", 5)[-1]
    if tail.startswith("assumed-role/"):
        return f"role {tail.split('/')[1]}"
    if tail.startswith("user/"):
        return f"user {tail.rsplit('/', 1)[-1]}"
    if tail.startswith("federated-user/"):
        return f"federated {tail.rsplit('/', 1)[-1]}"
    return tail


def _ranked(counter: Counter[Any]) -> list[dict[str, Any]]:
    return [{"value": v, "count": n} for v, n in sorted(counter.items(), key=lambda x: (-x[1], str(x[0])))]


def _widen(span: list[Any], time: Any) -> None:
    """Keep [earliest, latest] of the times seen (an empty time counts as none)."""
    if time:
        span[:] = [min(span[0], time), max(span[1], time)] if span else [time, time]


def _ends(span: list[Any]) -> dict[str, Any]:
    return {"first": span[0], "last": span[1]} if span else {"first": None, "last": None}


def activity_summary(rows: Iterable[Row]) -> dict[str, Any]:
    """What an investigator reads first: sessions by account and role, calls by name, writes, errors,
    source IPs and user agents (counts over exactly these rows, read once: none is held)."""
    groups: dict[tuple[Any, str], dict[str, Any]] = {}
    by_name: dict[str, dict[str, Any]] = {}
    errors: Counter[Any] = Counter()
    ips: Counter[Any] = Counter()
    agents: Counter[Any] = Counter()
    span: list[Any] = []  # the first and last call time
    for r in rows:
        if r.get("kind") == "session":
            role = _role_of(r.get("sessionArn"))
            group = groups.setdefault(
                (r.get("account"), role),
                {"account": r.get("account"), "role": role, "sessions": 0, "span": [], "via": Counter()},
            )
            group["sessions"] += 1
            _widen(group["span"], r.get("time"))
            how = r.get("via") if not r.get("linkedBy") else f"{r.get('via')} ({r['linkedBy']})"
            group["via"][how] += 1
        elif r.get("kind") == "call":
            entry = by_name.setdefault(
                str(r.get("eventName")),
                {"eventName": r.get("eventName"), "calls": 0, "writes": 0, "errors": 0},
            )
            entry["calls"] += 1
            entry["writes"] += r.get("readOnly") is False
            entry["errors"] += r.get("errorCode") is not None
            if r.get("errorCode") is not None:
                errors[r["errorCode"]] += 1
            ips[r.get("sourceIPAddress") or "-"] += 1
            agents[r.get("userAgent") or "-"] += 1
            _widen(span, r.get("time"))
    sessions = [
        {"account": g["account"], "role": g["role"], "sessions": g["sessions"], **_ends(g["span"]),
         "reachedVia": _ranked(g["via"])}
        for g in groups.values()
    ]  # fmt: skip
    sessions.sort(key=lambda s: (str(s["account"]), s["role"]))
    named = by_name.values()
    return {
        "sessions": sessions,
        "sessionCount": sum(s["sessions"] for s in sessions),
        "calls": sum(e["calls"] for e in named),
        **{f"{k}Call": v for k, v in _ends(span).items()},
        "writeCalls": sum(e["writes"] for e in named),
        "errorCalls": sum(e["errors"] for e in named),
        "byEventName": sorted(named, key=lambda e: (-e["calls"], str(e["eventName"]))),
        "errors": _ranked(errors),
        "sourceIPs": _ranked(ips),
        "userAgents": _ranked(agents),
    }
