"""The organisation map: who reached which roles in which accounts, aggregated from canned-query rows.

`map_model` is pure: it turns `who-used` rows (one per session, each with the path from its origin)
and `gaps` rows into a small model of origins, roles, accounts and "logs missing" nodes with
aggregated edges, so 2,000 sessions draw as a few dozen nodes. When sessions keep their attribution
(issue 15) only `fetch_rows` changes. `fetch_rows` is the thin shell: it finds role names in the rows
of `chains`, `gaps` and the newest `find` calls, then asks `who-used` once per role.
"""

from __future__ import annotations

import html
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from trailgraph.store.base import GraphStore

Row = dict[str, Any]
SESSIONS_LISTED = 40  # per edge; the rest is a count and the command that lists them all
_ASSUMED = re.compile(r"^arn:aws[a-z-]*:sts::(\d{12}):assumed-role/([^/]+)/")
_PEOPLE = {"IAMUser", "Root", "SAML", "WebIdentity", "IdentityCenterUser", "ExternalIdentity"}


@dataclass
class Edge:
    src: str
    dst: str
    kind: str  # reached (origin or role -> role) | in (role -> its account, for sessions ending there)
    sessions: list[Row] = field(default_factory=list)
    cross_account: bool = False
    chain: bool = False  # part of a chain of two or more role hops


@dataclass
class MapModel:
    title: str
    nodes: dict[str, Row] = field(default_factory=dict)
    edges: dict[tuple[str, str], Edge] = field(default_factory=dict)

    def node(self, key: str, kind: str, label: str, **details: Any) -> str:
        node = self.nodes.setdefault(key, {"id": key, "kind": kind, "label": label, "sessions": 0})
        node.update({k: v for k, v in details.items() if v is not None})
        return key

    def edge(self, src: str, dst: str, kind: str) -> Edge:
        return self.edges.setdefault((src, dst), Edge(src, dst, kind))


def role_names(rows: Iterable[Row]) -> set[str]:
    """Bare role names behind every assumed-role ARN in the rows' paths and columns."""
    names: set[str] = set()
    for row in rows:
        listed = [x for k in ("sessions", "exampleDeadEnds") if isinstance(row.get(k), list) for x in row[k]]
        texts = [row.get("actor"), row.get("sessionArn"), *listed]
        texts += [n.get("name") for n in row.get("nodes") or []]
        for text in texts:
            match = _ASSUMED.match(str(text or ""))
            if match:
                names.add(match.group(2))
    return names


def fetch_rows(
    store: GraphStore, since: str | None, until: str | None, scan: int
) -> tuple[list[Row], list[Row]]:
    """who-used rows of every role found, and the gaps rows, from canned queries on either backend."""
    window = {"since": since, "until": until}
    finders = store.run(
        "find",
        {
            **dict.fromkeys(("eventName", "source", "principal", "account", "region", "ip", "userAgent")),
            **window,
        }
        | {"error": None, "writeOnly": None, "contains": None, "limit": scan},
    )
    chains = store.run("chains", {"crossAccountOnly": None, "minHops": 1, "account": None, **window})
    gaps = store.run("gaps", {**window, "account": None})
    sessions: dict[str, Row] = {}
    for name in sorted(role_names([*finders, *chains, *gaps])):
        for row in store.run("who-used", {"roleArn": name, **window}):
            sessions.setdefault(f"{row['sessionId']}|{row['origin']}", row)
    return list(sessions.values()), gaps


def _role_of(name: Any) -> tuple[str, str] | None:
    match = _ASSUMED.match(str(name or ""))
    return (match.group(1), match.group(2)) if match else None


def _account_of(arn: Any) -> str | None:
    parts = str(arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() else None


def _session(row: Row, steps: list[Row]) -> Row:
    """One session as the side panel lists it, with the commands that show more."""
    issued = [n for n in steps if n.get("label") == "APICall"]
    sessions = [n for n in steps if n.get("label") == "Session"]
    via = [str(v) for v in row.get("via") or []]
    console = str(row.get("sessionId") or "").endswith("|console") or any("console" in v.lower() for v in via)
    commands = [f"trailgraph activity {shlex.quote(str(row['sessionId']))}"]
    if issued and issued[-1].get("eventId"):
        commands.append(f"trailgraph trace {shlex.quote(str(issued[-1]['eventId']))}")
    return {
        "session": row.get("sessionArn") or row.get("sessionId"),
        "account": row.get("account"),
        "created": row.get("creationDate"),
        "calls": row.get("calls") or 0,
        "firstCall": row.get("firstCall"),
        "lastCall": row.get("lastCall"),
        "origin": row.get("origin"),
        "via": " → ".join(via),
        "console": console,
        "mfa": any(n.get("mfa") is True for n in sessions),
        "depth": sum(1 for n in sessions if n.get("kind") == "role"),
        "commands": commands,
    }


def _origin_kind(otype: str) -> str:
    return "service" if otype == "AWSService" else "person" if otype in ("IAMUser", "Root") else "external"


def _origin_group(row: Row, first: Row) -> tuple[str, str]:
    """(type, where) an origin is grouped under when there are too many to draw one by one."""
    otype = str(row.get("originType") or "")
    where = _account_of(row.get("origin")) or str(first.get("kind") or "").split(":")[0] or otype
    return otype, str(where)


def _origin(
    model: MapModel, row: Row, first: Row, gaps: dict[str, Row], grouped: dict[tuple[str, str], int] | None
) -> str:
    otype = str(row.get("originType") or "")
    if row.get("complete"):
        label = str(row.get("origin") or "")
        if grouped is not None:
            group = _origin_group(row, first)
            name = f"{grouped[group]} {otype} origins · {group[1]}"
            return model.node(f"group:{group[0]}:{group[1]}", _origin_kind(otype), name, type=otype)
        short = label.split(":", 5)[-1].removeprefix("user/") if label.startswith("arn:") else label
        return model.node(f"origin:{label}", _origin_kind(otype), short, type=otype, arn=label)
    account = str(first.get("account") or _account_of(row.get("origin")) or "unknown")
    gap = gaps.get(account) or {}
    return model.node(
        f"gap:{account}",
        "gap",
        f"logs missing for account {account}",
        account=account,
        gapCalls=gap.get("calls"),
        gapSessions=gap.get("sessions"),
        hint=gap.get("hint"),
    )


def _kept(row: Row, services: bool, principal: str | None, account: str | None) -> bool:
    steps = row.get("nodes") or []
    if not steps or (row.get("originType") == "AWSService" and not services):
        return False
    if principal is not None and principal not in {row.get("origin"), *(n.get("id") for n in steps)}:
        return False
    return account is None or account in {n.get("account") for n in steps if n.get("label") == "Session"}


def map_model(
    rows: list[Row],
    gaps: list[Row],
    *,
    services: bool = False,
    principal: str | None = None,
    account: str | None = None,
    title: str = "who reached which roles",
    group_above: int = 30,
) -> MapModel:
    """Origins -> the roles their sessions reached, hop by hop -> the last role's account; one edge per
    (from, to) with its sessions. Over `group_above` origins, origins of one type and account (or
    identity provider) become one node: the filter box and --principal bring individuals back."""
    model = MapModel(title)
    missing: dict[str, Row] = {}
    for gap in gaps:
        key = str(gap.get("account") or "unknown")
        seen = missing.setdefault(key, {"calls": 0, "sessions": 0, "hint": gap.get("hint")})
        seen["calls"] += int(gap.get("calls") or 0)
        seen["sessions"] += int(gap.get("sessions") or 0)
    kept = [r for r in rows if _kept(r, services, principal, account)]
    origins = {(r.get("origin"), _origin_group(r, r["nodes"][0])) for r in kept if r.get("complete")}
    grouped: dict[tuple[str, str], int] | None = None
    if len(origins) > group_above:
        grouped = {}
        for _origin_id, group in origins:
            grouped[group] = grouped.get(group, 0) + 1
    for row in sorted(kept, key=lambda r: (str(r.get("creationDate") or ""), str(r.get("sessionId")))):
        steps = list(row["nodes"])
        roles = [r for r in (_role_of(n.get("name")) for n in steps if n.get("kind") == "role") if r]
        if not roles:
            continue
        src = _origin(model, row, steps[0], missing, grouped)
        session = _session(row, steps)
        here = model.nodes[src].get("account") or _account_of(row.get("origin"))
        for hop, (role_account, name) in enumerate(roles):
            acct = model.node(f"account:{role_account}", "account", f"account {role_account}")
            dst = model.node(f"role:{role_account}:{name}", "role", name, account=role_account)
            edge = model.edge(src, dst, "reached")
            edge.sessions.append(session)
            edge.cross_account |= here is not None and here != role_account
            edge.chain |= len(roles) > 1
            if hop == len(roles) - 1:
                model.nodes[dst]["sessions"] += 1
                model.nodes[acct]["sessions"] += 1
                model.edge(dst, acct, "in").sessions.append(session)
            src, here = dst, role_account
    for node in model.nodes.values():
        if node["kind"] in ("person", "external", "service", "gap"):
            node["sessions"] = sum(len(e.sessions) for e in model.edges.values() if e.src == node["id"])
    return model


def _summary(sessions: list[Row]) -> Row:
    times = sorted(str(s["created"]) for s in sessions if s.get("created"))
    return {
        "count": len(sessions),
        "first": times[0] if times else None,
        "last": times[-1] if times else None,
        "console": sum(1 for s in sessions if s["console"]),
        "cli": sum(1 for s in sessions if not s["console"]),
        "mfa": sum(1 for s in sessions if s["mfa"]),
        "maxDepth": max((s["depth"] for s in sessions), default=0),
        "calls": sum(int(s["calls"]) for s in sessions),
    }


def payload(model: MapModel) -> Row:
    """The JSON the page draws: nodes, and edges each with a summary and up to SESSIONS_LISTED sessions."""
    edges = []
    for edge in model.edges.values():
        latest = sorted(edge.sessions, key=lambda s: str(s.get("created") or ""), reverse=True)
        edges.append(
            {
                "id": f"{edge.src}->{edge.dst}",
                "source": edge.src,
                "target": edge.dst,
                "kind": edge.kind,
                "crossAccount": edge.cross_account,
                "chain": edge.chain,
                "summary": _summary(edge.sessions),
                "sessions": latest[:SESSIONS_LISTED],
            }
        )
    return {"title": model.title, "nodes": list(model.nodes.values()), "edges": edges}


def asset(name: str) -> str:
    """A file shipped in trailgraph/assets (package data)."""
    return (resources.files("trailgraph") / "assets" / name).read_text(encoding="utf-8")


def to_html(model: MapModel) -> str:
    """One offline page: the vendored Cytoscape.js and its dagre layout, our script and style, the model
    as escaped JSON; a Content-Security-Policy pins each inline part by hash and allows nothing else."""
    from trailgraph.pictures import csp_hash, json_for_script

    library, layout = asset("cytoscape.min.js"), asset("cytoscape-dagre.min.js")
    script, style = asset("map.js"), asset("map.css")
    scripts = " ".join(csp_hash(text) for text in (library, layout, script))
    csp = f"default-src 'none'; script-src {scripts}; style-src {csp_hash(style)}"
    parts = {
        "csp": html.escape(csp),
        "title": html.escape(model.title),
        "style": style,
        "data": json_for_script(payload(model)),
        "library": library,
        "layout": layout,
        "script": script,
    }
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m.group(1)], asset("map.html"))
