"""The organisation map: who reached which roles in which accounts, from the canned query `map`.

`fetch_rows` is the thin shell: one run of `map` (queries/map.cypher, or its embedded twin), which reads
every role session with the attribution it keeps, so no role is missed and no path is walked.
`map_model` is pure: those rows (one per role, hop into it and origin) become two columns people read
left to right: origins (people, external identities, services, "logs missing for account X") and the
roles they reached, inside a band per account. One edge per (origin, role) adds up the sessions of
that role the origin is behind, whether it reached the role directly or through a chain; the hops of a
chain (role to role) are edges too, hidden until asked for, so criss-crossing chains never tangle the
picture. Past the busiest origins and roles the rest fold into "+N more" nodes that list them.
"""

from __future__ import annotations

import shlex
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from trailgraph.store.base import GraphStore

Row = dict[str, Any]
SESSIONS_LISTED = 40  # per edge; the rest is a count and the command that lists them all
TOP_ORIGINS = 12  # origins drawn one by one (and every "logs missing" node); the rest fold by kind
TOP_ROLES = 20  # roles drawn one by one; the rest fold into one node per account
_EXTERNAL = {"SAMLUser": "SAML", "IdentityCenterUser": "Identity Center", "WebIdentityUser": "web identity"}
_PLURAL = {  # what a "+N more" node of origins holds: people and services, external ones by type
    "person": "people",
    "service": "AWS services",
    "SAMLUser": "SAML identities",
    "IdentityCenterUser": "Identity Center users",
    "WebIdentityUser": "web identities",
}


@dataclass
class Edge:
    src: str
    dst: str
    kind: str  # account (origin -> account band) | reached (origin -> role) | hop (role -> role)
    rows: list[Row] = field(default_factory=list)
    cross_account: bool = False  # the role is in another account than the origin or the role before
    chain: bool = False  # some of its sessions were opened from a session of another role


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
    return list(store.run("map", {"since": since, "until": until, "account": account}))


def _account_of(arn: Any) -> str | None:
    parts = str(arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() else None


def _role_key(arn: Any) -> tuple[str, str, str]:
    """(node key, name, account) of a role ARN: names are unique within an account, whatever the path."""
    name, account = str(arn).rsplit("/", 1)[-1], _account_of(arn) or "unknown"
    return f"role:{account}:{name}", name, account


def _origin_kind(otype: str) -> str:
    return "service" if otype == "AWSService" else "person" if otype in ("IAMUser", "Root") else "external"


def _origin(row: Row) -> tuple[str, str, str, Row]:
    """(node key, kind, label, details) of the origin a row's sessions keep, or of the account whose
    missing logs stop their trail."""
    if row.get("complete"):
        otype = str(row.get("originType") or "")
        label, origin_id = str(row.get("origin") or row.get("originId") or ""), str(row.get("originId"))
        short = label.split(":", 5)[-1].removeprefix("user/") if label.startswith("arn:") else label
        if otype in _EXTERNAL and "|" in origin_id:  # the name the provider gave, not a user id
            short = f"{origin_id.rsplit('|', 1)[-1]} ({_EXTERNAL[otype]})"
        details = {"type": otype, "arn": label, "account": _account_of(origin_id)}
        return f"origin:{origin_id}", _origin_kind(otype), short, details
    account = row.get("gapAccount") or "unknown"
    details = {
        "account": account,
        "reason": row.get("gapReason"),
        "hint": f"trailgraph gaps --account {shlex.quote(account)}" if row.get("gapAccount") else None,
    }
    return f"gap:{account}", "gap", f"logs missing for account {account}", details


def _kept(row: Row, services: bool, principal: str | None) -> bool:
    if row.get("originType") == "AWSService" and not services:
        return False
    return principal is None or principal in (row.get("originId"), row.get("origin"))


def _busiest(totals: Counter[str], keep: int) -> set[str]:
    return {key for key, _n in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:keep]}


def _fold_of(key: str, groups: dict[str, str]) -> str:
    """The "+N more" node an origin (by kind, external ones by type) or a role (by account) folds into."""
    return f"more:{groups[key]}" if key in groups else f"more:account:{key.split(':')[1]}"


def map_model(
    rows: list[Row],
    *,
    services: bool = False,
    principal: str | None = None,
    title: str = "who reached which roles",
    top_origins: int = TOP_ORIGINS,
    top_roles: int = TOP_ROLES,
) -> MapModel:
    """Origins -> the roles they reached (in their accounts' bands), one edge per (origin, role); role
    -> role hops as edges of their own. Past the `top_origins` busiest origins (every "logs missing"
    node stays) and the `top_roles` busiest roles, the rest fold into one "+N more" node per kind of
    origin and per account, which lists them: the filter box and --principal bring one back."""
    model = MapModel(title)
    kept = [r for r in rows if _kept(r, services, principal)]
    origins, roles, groups = Counter[str](), Counter[str](), {}
    for row in kept:
        key, kind, _label, details = _origin(row)
        groups[key] = str(details.get("type") or kind) if kind == "external" else kind
        origins[key] += int(row["sessions"])
        roles[_role_key(row["roleArn"])[0]] += int(row["sessions"])
    shown = _busiest(Counter({k: n for k, n in origins.items() if not k.startswith("gap:")}), top_origins)
    shown |= {k for k in origins if k.startswith("gap:")} | _busiest(roles, top_roles)
    folds = Counter(_fold_of(k, groups) for k in (*origins, *roles) if k not in shown)
    shown |= {k for k in (*origins, *roles) if folds[_fold_of(k, groups)] == 1}  # never "+1 more"

    def origin_node(row: Row) -> tuple[str, str | None]:
        key, kind, label, details = _origin(row)
        if key in shown:
            return model.node(key, kind, label, **details), details["account"]
        fold = model.node(_fold_of(key, groups), kind, "", folded=True)
        model.nodes[fold].setdefault("members", {})[label] = origins[key]
        return fold, details["account"]

    def role_node(arn: Any, name: Any = None) -> str:
        key, short, account = _role_key(arn)
        band = model.node(f"account:{account}", "account", f"account {account}")
        if key in shown:
            return model.node(key, "role", str(name or short), account=account, parent=band)
        fold = model.node(f"more:{band}", "role", "", account=account, parent=band, folded=True)
        model.nodes[fold].setdefault("members", {})[str(name or short)] = roles[key]
        return fold

    for row in kept:
        src, here = origin_node(row)
        dst = role_node(row["roleArn"], row.get("roleName"))
        account, before = model.nodes[dst]["account"], _account_of(row.get("fromRole"))
        for edge in (model.edge(src, dst, "reached"), model.edge(src, model.nodes[dst]["parent"], "account")):
            edge.rows.append(row)
            edge.chain |= bool(row.get("fromRole"))
            edge.cross_account |= here not in (None, account) or before not in (None, account)
        if row.get("fromRole") and _role_key(row["fromRole"])[0] in roles:
            hop_src = role_node(row["fromRole"])
            if hop_src != dst:
                hop = model.edge(hop_src, dst, "hop")
                hop.rows.append(row)
                hop.chain, hop.cross_account = True, hop.cross_account or before != account
    for edge in model.edges.values():  # an origin, role or account: the role sessions it opened or holds
        if edge.kind == "reached":
            count = sum(int(r["sessions"]) for r in edge.rows)
            for key in (edge.src, edge.dst, model.nodes[edge.dst]["parent"]):
                model.nodes[key]["sessions"] += count
    for node in model.nodes.values():
        if node.get("folded"):
            members = sorted(node["members"].items(), key=lambda kv: (-kv[1], kv[0]))
            node["members"] = [{"label": label, "sessions": n} for label, n in members]
            group = node["id"].removeprefix("more:")
            name = _PLURAL.get(group, "roles" if node["kind"] == "role" else "external identities")
            node["label"] = f"+{len(members)} more {name}"
    _order(model)
    return model


def crossings(edges: list[tuple[int, int]]) -> int:
    """How many pairs of edges between two columns cross, given each end's place in its column."""
    return sum(
        1
        for i, (a, b) in enumerate(edges)
        for c, d in edges[i + 1 :]
        if (a - c) * (b - d) < 0  # edges sharing an end never cross
    )


def _order(model: MapModel, sweeps: int = 12) -> None:
    """Each node's place in its column (`order`), so that few origin -> account edges cross: the
    barycentre heuristic (a node goes to the mean place of its neighbours in the other column), swept
    both ways, keeping the best order seen. Roles follow, inside their band, by the mean place of the
    origins that reached them; a "+N more" node goes last."""
    pairs = [(e.src, e.dst) for e in model.edges.values() if e.kind == "account"]
    left = sorted({a for a, _ in pairs}, key=lambda k: (-model.nodes[k]["sessions"], k))
    right = sorted({b for _, b in pairs}, key=lambda k: (-model.nodes[k]["sessions"], k))

    def mean(column: list[str], key: str, side: int) -> float:
        place = {k: i for i, k in enumerate(column)}
        near = [place[p[side]] for p in pairs if p[1 - side] == key]
        return sum(near) / len(near)

    best: tuple[int, list[str], list[str]] | None = None
    for sweep in range(sweeps):
        if sweep % 2:
            left = sorted(left, key=lambda k: mean(right, k, 1))
        else:
            right = sorted(right, key=lambda k: mean(left, k, 0))
        at_l, at_r = {k: i for i, k in enumerate(left)}, {k: i for i, k in enumerate(right)}
        count = crossings([(at_l[a], at_r[b]) for a, b in pairs])
        if best is None or count < best[0]:
            best = (count, left, right)
    if best is None:
        return
    _, left, right = best
    place = {k: i for i, k in enumerate(left)}
    reached: dict[str, list[int]] = {}
    for edge in model.edges.values():
        if edge.kind == "reached":
            reached.setdefault(edge.dst, []).append(place[edge.src])
    for column in (left, right):
        for i, key in enumerate(column):
            model.nodes[key]["order"] = i
    roles = [n for n in model.nodes.values() if n["kind"] == "role"]
    roles.sort(key=lambda n: (bool(n.get("folded")), sum(reached[n["id"]]) / len(reached[n["id"]]), n["id"]))
    for i, node in enumerate(roles):
        node["order"] = i


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


def _via(model: MapModel, edge: Edge) -> list[Row]:
    """How an origin's sessions of a role were opened: directly, or from a session of which role."""
    counts = Counter[Any]()
    for row in edge.rows:
        counts[row.get("fromRole")] += int(row["sessions"])
    via = []
    for arn, n in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0] or ""))):
        key, name, account = _role_key(arn) if arn else (None, None, None)
        hop = next((s for s in (key, f"more:account:{account}") if (s, edge.dst) in model.edges), None)
        via.append({"fromRole": arn, "name": name, "account": account, "hop": hop, "sessions": n})
    return via


def payload(model: MapModel) -> Row:
    """The JSON the page draws: nodes, and edges each with a summary and up to SESSIONS_LISTED sessions
    (an edge to a role also says which roles its chains came through)."""
    edges = []
    for edge in model.edges.values():
        examples = [] if edge.kind == "account" else edge.rows  # an account's are listed under its roles
        listed = [_session(row, example) for row in examples for example in row.get("examples") or []]
        listed.sort(key=lambda s: (str(s.get("created") or ""), str(s["session"])), reverse=True)
        roles = sorted({str(row["roleArn"]) for row in edge.rows})
        edges.append(
            {
                "id": f"{edge.src}->{edge.dst}",
                "source": edge.src,
                "target": edge.dst,
                "kind": edge.kind,
                "crossAccount": edge.cross_account,
                "chain": edge.chain,
                "summary": _summary(edge.rows),
                **({"via": _via(model, edge)} if edge.kind == "reached" else {}),
                "sessions": listed[:SESSIONS_LISTED],
                "more": [f"trailgraph who-used {shlex.quote(arn)}" for arn in roles[:5]],
            }
        )
    return {"title": model.title, "nodes": list(model.nodes.values()), "edges": edges}


def to_html(model: MapModel) -> str:
    """One offline page: the shared shell with the map's body, style and script (trailgraph.assets)."""
    from trailgraph.htmlpage import render_page

    return render_page("map", model.title, payload(model), layout=False)
