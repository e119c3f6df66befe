"""Row filters and the ten-second summary of `activity`, over the canned queries' rows. Pure.

The filters only drop call rows (a session stays as the context of what was done in it), so the
summary of the filtered rows counts exactly the call rows `--calls` and `--format json` show.
"""

from __future__ import annotations

import re
from collections import Counter
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

    def apply(self, rows: list[Row], *, is_call: Any = lambda r: True) -> list[Row]:
        """Rows kept: every non-call row, the call rows that pass, and of those the newest `limit`."""
        calls = [i for i, r in enumerate(rows) if is_call(r) and self.keep(r)]
        if self.limit is not None:
            newest = sorted(calls, key=lambda i: (rows[i].get("time") or "", i), reverse=True)
            calls = sorted(newest[: self.limit])
        chosen = set(calls)
        return [r for i, r in enumerate(rows) if i in chosen or not is_call(r)]


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


def activity_summary(rows: list[Row]) -> dict[str, Any]:
    """What an investigator reads first: sessions by account and role, calls by name, writes, errors,
    source IPs and user agents (counts over exactly these rows)."""
    calls = [r for r in rows if r.get("kind") == "call"]
    groups: dict[tuple[Any, str], dict[str, Any]] = {}
    for r in rows:
        if r.get("kind") != "session":
            continue
        group = groups.setdefault(
            (r.get("account"), _role_of(r.get("sessionArn"))),
            {"account": r.get("account"), "role": _role_of(r.get("sessionArn")), "sessions": 0, "times": []},
        )
        group["sessions"] += 1
        group["times"].append(r.get("time"))
        how = r.get("via") if not r.get("linkedBy") else f"{r.get('via')} ({r['linkedBy']})"
        group.setdefault("reachedVia", Counter())[how] += 1
    sessions = []
    for group in groups.values():
        times = sorted(t for t in group.pop("times") if t)
        via = group.pop("reachedVia")
        sessions.append(
            {**group, "first": times[0] if times else None, "last": times[-1] if times else None,
             "reachedVia": _ranked(via)}
        )  # fmt: skip
    sessions.sort(key=lambda s: (str(s["account"]), s["role"]))
    by_name: dict[str, dict[str, Any]] = {}
    for r in calls:
        entry = by_name.setdefault(
            str(r.get("eventName")), {"eventName": r.get("eventName"), "calls": 0, "writes": 0, "errors": 0}
        )
        entry["calls"] += 1
        entry["writes"] += r.get("readOnly") is False
        entry["errors"] += r.get("errorCode") is not None
    times = sorted(r["time"] for r in calls if r.get("time"))
    return {
        "sessions": sessions,
        "sessionCount": sum(s["sessions"] for s in sessions),
        "calls": len(calls),
        "firstCall": times[0] if times else None,
        "lastCall": times[-1] if times else None,
        "writeCalls": sum(r.get("readOnly") is False for r in calls),
        "errorCalls": sum(r.get("errorCode") is not None for r in calls),
        "byEventName": sorted(by_name.values(), key=lambda e: (-e["calls"], str(e["eventName"]))),
        "errors": _ranked(Counter(r["errorCode"] for r in calls if r.get("errorCode") is not None)),
        "sourceIPs": _ranked(Counter(r.get("sourceIPAddress") or "-" for r in calls)),
        "userAgents": _ranked(Counter(r.get("userAgent") or "-" for r in calls)),
    }
