"""`activity --format html`: one lane per session, calls as marks on a shared time axis.

`timeline_model` is pure: activity rows (session rows and call rows, each naming its session) become
lanes (which role, which account, how the session was reached, how deep) and marks (call, time,
write or read, error, the `trailgraph trace` command). The page draws them with the same vendored
Cytoscape.js as the map: positions are the data (time across, lane down), so no layout is computed.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from typing import Any

Row = dict[str, Any]
_ASSUMED = re.compile(r"^arn:aws[a-z-]*:sts::\d{12}:assumed-role/([^/]+)/(.+)$")


def _who(arn: Any) -> str:
    """`assumed-role/admin/bob` -> `role admin (as bob)`; a user's own session -> its name."""
    text = str(arn or "")
    match = _ASSUMED.match(text)
    if match:
        return f"role {match.group(1)} (as {match.group(2)})"
    return text.split(":", 5)[-1].removeprefix("user/") if text.startswith("arn:") else text


def timeline_model(rows: Iterable[Row], title: str) -> Row:
    lanes: dict[str, Row] = {}
    marks: list[Row] = []
    for row in rows:
        own = row.get("sessionId") is None  # a call made with the principal's own long-term keys
        sid = f"own:{row.get('principal')}" if own else str(row["sessionId"])
        lane = lanes.setdefault(
            sid,
            {"id": sid, "who": _who(row.get("principal" if own else "sessionArn")),
             "account": row.get("account"), "via": "its own keys" if own else None,
             "depth": row.get("depth"), "start": row.get("time"), "calls": 0, "writes": 0, "errors": 0},
        )  # fmt: skip
        if row.get("kind") == "session":
            lane.update(via=row.get("via"), account=row.get("account"), start=row.get("time"))
            continue
        write = row.get("readOnly") is False
        error = row.get("errorCode")
        copy = row.get("via") == "cross-account copy"  # the same call, recorded in a second account
        lane["calls"] += not copy
        lane["writes"] += write
        lane["errors"] += error is not None
        marks.append(
            {
                "id": str(row.get("id")),
                "lane": sid,
                "time": row.get("time"),
                "eventName": row.get("eventName"),
                "source": row.get("eventSource"),
                "account": row.get("account"),
                "write": write,
                "readOnly": row.get("readOnly"),
                "error": error,
                "copy": copy,
                "command": f"trailgraph trace {shlex.quote(str(row.get('eventId')))}",
            }
        )
    ordered = sorted(lanes.values(), key=lambda x: (str(x["start"] or ""), x["id"]))
    return {"title": title, "lanes": ordered, "marks": marks}


def to_html(model: Row) -> str:
    from trailgraph.htmlpage import render_page

    return render_page("timeline", str(model["title"]), model, layout=False)


def render_timeline(rows: Iterable[Row], title: str) -> str:
    return to_html(timeline_model(rows, title))
