"""The organisation map: who reached which roles in which accounts, from the canned query `map`.

`fetch_rows` is the thin shell: one run of `map` (queries/map.cypher, or its embedded twin), which reads
every role session with the attribution it keeps, so no role is missed and no path is walked.
`map_model` is pure: those rows (one per role, hop into it and origin) become origins, roles, accounts
and "logs missing for account X" nodes, and edges that add up their sessions, so 2,000 sessions draw as
a few dozen nodes. An edge into a role counts the sessions that hop opened: from the origin for a first
hop, from the role of the issuing session for each further hop of a chain.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from trailgraph.store.base import GraphStore

Row = dict[str, Any]
SESSIONS_LISTED = 40  # per edge; the rest is a count and the command that lists them all


@dataclass
class Edge:
    src: str
    dst: str
    kind: str  # reached (origin, gap or role -> role) | in (role -> its account)
    rows: list[Row] = field(default_factory=list)
    cross_account: bool = False
    chain: bool = False  # a hop of a chain of two or more role hops


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


def fetch_rows(store: GraphStore, since: str | None, until: str | None, account: str | None) -> list[Row]:
    """The `map` query's rows: one per (role, hop into it, origin, first gap), on either backend."""
    return store.run("map", {"since": since, "until": until, "account": account})


def _account_of(arn: Any) -> str | None:
    parts = str(arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() else None


def _role_key(arn: Any) -> tuple[str, str, str]:
    """(node key, name, account) of a role ARN: names are unique within an account, whatever the path."""
    name, account = str(arn).rsplit("/", 1)[-1], _account_of(arn) or "unknown"
    return f"role:{account}:{name}", name, account


def _origin_kind(otype: str) -> str:
    return "service" if otype == "AWSService" else "person" if otype in ("IAMUser", "Root") else "external"


def _origin_group(row: Row) -> tuple[str, str]:
    """(type, where) an origin is grouped under when there are too many to draw one by one: its
    account, or for an external identity its provider (`SAMLUser|okta|alice` -> okta)."""
    otype = str(row.get("originType") or "")
    origin_id = str(row.get("originId") or "")
    provider = origin_id.split("|")[1] if origin_id.count("|") >= 2 else otype
    return otype, _account_of(origin_id) or provider


def _source(model: MapModel, row: Row, grouped: dict[tuple[str, str], int] | None) -> tuple[str, Any]:
    """The node a row's hop starts from, and that node's account (None when it has none)."""
    if row.get("fromRole"):
        key, name, account = _role_key(row["fromRole"])
        model.node(f"account:{account}", "account", f"account {account}")
        return model.node(key, "role", name, account=account), account
    otype = str(row.get("originType") or "")
    if row.get("complete"):
        if grouped is not None:
            group = _origin_group(row)
            name = f"{grouped[group]} {otype} origins · {group[1]}"
            return model.node(f"group:{group[0]}:{group[1]}", _origin_kind(otype), name, type=otype), None
        label = str(row.get("origin") or row.get("originId") or "")
        short = label.split(":", 5)[-1].removeprefix("user/") if label.startswith("arn:") else label
        key = model.node(f"origin:{row.get('originId')}", _origin_kind(otype), short, type=otype, arn=label)
        return key, _account_of(row.get("originId"))
    account = row.get("gapAccount") or "unknown"
    key = model.node(
        f"gap:{account}",
        "gap",
        f"logs missing for account {account}",
        account=account,
        reason=row.get("gapReason"),
        hint=f"trailgraph gaps --account {shlex.quote(account)}" if row.get("gapAccount") else None,
    )
    return key, row.get("gapAccount")


def _kept(row: Row, services: bool, principal: str | None) -> bool:
    if row.get("originType") == "AWSService" and not services:
        return False
    return principal is None or principal in (row.get("originId"), row.get("origin"))


def map_model(
    rows: list[Row],
    *,
    services: bool = False,
    principal: str | None = None,
    title: str = "who reached which roles",
    group_above: int = 30,
) -> MapModel:
    """Origins (or "logs missing" nodes) -> the roles their sessions opened, hop by hop -> the roles'
    accounts; one edge per (from, to) adding up its rows. Over `group_above` origins, origins of one
    type and account (or identity provider) become one node: the filter box and --principal bring
    individuals back."""
    model = MapModel(title)
    kept = [r for r in rows if _kept(r, services, principal)]
    origins = {
        (r.get("originId"), _origin_group(r)) for r in kept if r.get("complete") and not r.get("fromRole")
    }
    grouped: dict[tuple[str, str], int] | None = None
    if len(origins) > group_above:
        grouped = {}
        for _origin_id, group in origins:
            grouped[group] = grouped.get(group, 0) + 1
    onward = {(r.get("originId"), r["fromRole"]) for r in kept if r.get("fromRole")}
    for row in kept:
        src, here = _source(model, row, grouped)
        key, name, account = _role_key(row["roleArn"])
        acct = model.node(f"account:{account}", "account", f"account {account}")
        dst = model.node(key, "role", str(row.get("roleName") or name), account=account)
        edge = model.edge(src, dst, "reached")
        edge.rows.append(row)
        edge.cross_account |= here is not None and here != account
        edge.chain |= bool(row.get("fromRole")) or (row.get("originId"), row["roleArn"]) in onward
        model.edge(dst, acct, "in").rows.append(row)
    for edge in model.edges.values():  # a role, account, origin or gap: the sessions it opened or holds
        count = sum(int(r["sessions"]) for r in edge.rows)
        model.nodes[edge.dst]["sessions"] += count
        if edge.kind == "reached" and not edge.src.startswith("role:"):
            model.nodes[edge.src]["sessions"] += count
    return model


def _session(row: Row, example: Row) -> Row:
    """One session as the side panel lists it, with the commands that show more."""
    commands = [f"trailgraph activity {shlex.quote(str(example['id']))}"]
    if example.get("issuedBy"):
        commands.append(f"trailgraph trace {shlex.quote(str(example['issuedBy']))}")
    return {
        "session": example.get("arn") or example["id"],
        "account": row.get("roleAccount"),
        "created": example.get("created"),
        "calls": example.get("calls") or 0,
        "firstCall": example.get("firstCall"),
        "lastCall": example.get("lastCall"),
        "origin": row.get("origin"),
        "complete": row.get("complete"),
        "console": bool(example.get("console")),
        "mfa": bool(example.get("mfa")),
        "depth": example.get("depth"),
        "commands": commands,
    }


def _summary(rows: list[Row]) -> Row:
    firsts = [str(r["first"]) for r in rows if r.get("first")]
    lasts = [str(r["last"]) for r in rows if r.get("last")]
    sessions = sum(int(r["sessions"]) for r in rows)
    console = sum(int(r["console"]) for r in rows)
    return {
        "count": sessions,
        "first": min(firsts, default=None),
        "last": max(lasts, default=None),
        "console": console,
        "cli": sessions - console,
        "mfa": sum(int(r["mfa"]) for r in rows),
        "maxDepth": max((int(r["maxDepth"]) for r in rows if r.get("maxDepth") is not None), default=0),
        "calls": sum(int(r["calls"]) for r in rows),
    }


def payload(model: MapModel) -> Row:
    """The JSON the page draws: nodes, and edges each with a summary and up to SESSIONS_LISTED sessions."""
    edges = []
    for edge in model.edges.values():
        listed = [_session(row, example) for row in edge.rows for example in row.get("examples") or []]
        listed.sort(key=lambda s: (str(s.get("created") or ""), str(s["session"])), reverse=True)
        edges.append(
            {
                "id": f"{edge.src}->{edge.dst}",
                "source": edge.src,
                "target": edge.dst,
                "kind": edge.kind,
                "crossAccount": edge.cross_account,
                "chain": edge.chain,
                "summary": _summary(edge.rows),
                "sessions": listed[:SESSIONS_LISTED],
                "more": f"trailgraph who-used {shlex.quote(str(edge.rows[0]['roleArn']))}",
            }
        )
    return {"title": model.title, "nodes": list(model.nodes.values()), "edges": edges}


def to_html(model: MapModel) -> str:
    """One offline page: the shared shell with the map's body, style and script (trailgraph.assets)."""
    from trailgraph.htmlpage import render_page

    return render_page("map", model.title, payload(model), layout=True)
