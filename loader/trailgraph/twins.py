"""The embedded twins of the canned queries: the same rows as the .cypher files, computed with networkx.

Node keys in the graph are `Label:id`; node attributes are the stored properties plus `label` and `id`;
edge keys are the edge type. Each twin documents nothing new: its .cypher file is the specification.

Cypher's semantics are copied where they show in rows: variable-length matches enumerate every
relationship-unique path, `null` sorts last in ascending order, a comparison with `null` (or between
different types) is not true, and aggregates skip `null`.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import networkx as nx

from trailgraph.schema import TRACE_PATH_TYPES
from trailgraph.streamed import NO_LEAVES, Entry, LeafCalls, Rows, made_rows

Row = dict[str, Any]
Twin = Callable[[nx.MultiDiGraph, dict[str, Any]], Sequence[Row]]

_PATH = frozenset(TRACE_PATH_TYPES)


def node_map(g: nx.MultiDiGraph, key: str) -> dict[str, Any]:
    return dict(g.nodes[key])


def path_in_edge(g: nx.MultiDiGraph, key: str) -> tuple[str, dict[str, Any]] | None:
    """The one trace-path edge into a node (the linker keeps it unique), or None at an origin."""
    for src, keyed in g._pred[key].items():  # networkx's own dicts: a view costs more than the walk
        for etype, data in keyed.items():
            if etype in _PATH:
                return src, data
    return None


def walk_back(g: nx.MultiDiGraph, key: str, limit: int = 40) -> tuple[list[str], list[dict[str, Any]]]:
    """Node keys and edges from the origin to `key`, like `(origin)-[:PATH*0..40]->(key)`."""
    keys: list[str] = [key]
    rels: list[dict[str, Any]] = []
    while len(rels) < limit:
        step = path_in_edge(g, keys[-1])
        if step is None:
            break
        keys.append(step[0])
        rels.append(step[1])
    return keys[::-1], rels[::-1]


def _calls_by_event_id(g: nx.MultiDiGraph, event_id: str) -> list[str]:
    """Like the Neo4j index on APICall.eventId: built once per loaded graph, then a dict lookup."""
    index: dict[str, list[str]] | None = g.graph.get("calls_by_event_id")
    if index is None:
        index = {}
        for k, d in g.nodes(data=True):
            if d["label"] == "APICall":
                index.setdefault(d["eventId"], []).append(k)
        for keys in index.values():
            keys.sort()
        g.graph["calls_by_event_id"] = index
    return index.get(event_id, [])


def trace(g: nx.MultiDiGraph, params: dict[str, Any]) -> list[Row]:
    rows = []
    for call in _calls_by_event_id(g, params["eventId"]):
        keys, rels = walk_back(g, call)
        rows.append(
            {
                "callId": g.nodes[call]["id"],
                "nodes": [node_map(g, k) for k in keys],
                "rels": [dict(r) for r in rels],
            }
        )
    return rows


# ---- shared pieces of the canned queries -------------------------------------------------------------


def _first(*values: Any) -> Any:
    """Cypher's coalesce() (a loop: a generator costs a third of a large twin's time)."""
    for v in values:
        if v is not None:
            return v
    return None


def _le(a: Any, b: Any) -> bool:
    """`a <= b` is true in Cypher only for two non-null values of comparable types."""
    if a is None or b is None:
        return False
    if isinstance(a, str) != isinstance(b, str) or isinstance(a, bool) != isinstance(b, bool):
        return False
    try:
        return bool(a <= b)
    except TypeError:
        return False


def in_window(time: Any, params: dict[str, Any]) -> bool:
    """`($since IS NULL OR time >= $since) AND ($until IS NULL OR time <= $until)`."""
    since, until = params.get("since"), params.get("until")
    return (since is None or _le(since, time)) and (until is None or _le(time, until))


def _asc(value: Any) -> tuple[bool, Any]:
    """Sort key of one ORDER BY column in ascending order (nulls last)."""
    return (True, 0) if value is None else (False, value)


def _label(g: nx.MultiDiGraph, key: str) -> str:
    return str(g.nodes[key]["label"])


def _path_in(g: nx.MultiDiGraph, key: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Trace-path edges into `key`, read from networkx's own adjacency dicts (its views cost 3x in bulk)."""
    return [
        (src, etype, data)
        for src, keyed in g._pred[key].items()
        for etype, data in keyed.items()
        if etype in _PATH
    ]


def origin_paths(
    g: nx.MultiDiGraph, key: str, limit: int = 40
) -> list[tuple[list[str], list[dict[str, Any]]]]:
    """Every `(o)-[:PATH*0..limit]->(key)` with no path edge into `o`: node keys and edges, origin first."""
    found: list[tuple[list[str], list[dict[str, Any]]]] = []

    def back(
        node: str, keys: list[str], rels: list[dict[str, Any]], used: frozenset[tuple[str, str, str]]
    ) -> None:
        into = _path_in(g, node)
        if not into:
            found.append((keys[::-1], rels[::-1]))
            return
        if len(rels) >= limit:
            return
        for src, etype, data in into:
            edge = (src, node, etype)
            if edge not in used:
                back(src, [*keys, src], [*rels, data], used | {edge})

    back(key, [key], [], frozenset())
    return found


def forward_paths(
    g: nx.MultiDiGraph, start: str, types: frozenset[str], limit: int, shortest: int = 0
) -> Iterator[tuple[list[str], list[dict[str, Any]]]]:
    """Every `(start)-[:TYPES*shortest..limit]->(n)` path, relationship-unique, as node keys and edges."""
    stack: list[tuple[list[str], list[dict[str, Any]], frozenset[tuple[str, str, str]]]] = [
        ([start], [], frozenset())
    ]
    while stack:
        keys, rels, used = stack.pop()
        if len(rels) >= shortest:
            yield keys, rels
        if len(rels) >= limit:
            continue
        for dst, keyed in g._succ[keys[-1]].items():
            for etype, data in keyed.items():
                edge = (keys[-1], dst, etype)
                if etype in types and edge not in used:
                    stack.append(([*keys, dst], [*rels, data], used | {edge}))


def step_map(g: nx.MultiDiGraph, key: str) -> dict[str, Any]:
    """The compact node map of the .cypher files' `nodes` column."""
    return node_step(key, g.nodes[key])


def node_step(key: str, d: dict[str, Any]) -> dict[str, Any]:
    """`step_map` of a node read outside the graph (a leaf call)."""
    return {
        "key": key,
        "label": d["label"],
        "id": d["id"],
        "name": _first(d.get("arn"), d.get("userId"), d.get("subject"), d.get("eventName"), d["id"]),
        "kind": _first(d.get("kind"), d.get("type"), d.get("eventSource")),
        "account": d.get("account"),
        "time": _first(d.get("eventTime"), d.get("creationDate")),
        "accessKeyId": d.get("accessKeyId"),
        "eventId": d.get("eventId"),
        "mfa": d.get("mfa"),
        "link": d.get("link"),
        "errorCode": d.get("errorCode"),
    }


def rel_map(rel: dict[str, Any]) -> dict[str, Any]:
    """The compact edge map of the .cypher files' `rels` column."""
    evidence = rel.get("evidence")
    return {
        "type": rel["type"],
        "via": _first(rel.get("via"), rel["type"]),
        "rule": rel.get("rule"),
        "confidence": rel.get("confidence"),
        "evidence": list(evidence) if evidence is not None else [],
    }


_LeafStep = tuple[str, dict[str, Any], dict[str, Any]] | None
"""A leaf call ending a row's path: its key, node and the edge into it (streamed.Leaf, as read)."""


_KEPT_MAPS = 10_000
"""At most this many node maps kept for the rows still to come (a few megabytes)."""


class _Paths:
    """The `nodes` and `rels` columns, each node's and edge's map made once: the rows of a long answer
    share them (every row repeats its path's first steps), so memory grows with the graph read, not
    with rows times path length."""

    def __init__(self, g: nx.MultiDiGraph) -> None:
        self.g = g
        self.steps: dict[str, dict[str, Any]] = {}
        self.rels: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}  # edge kept: id stays its own

    def columns(self, keys: list[str], rels: list[dict[str, Any]], leaf: _LeafStep = None) -> dict[str, Any]:
        """The columns of a path; a leaf call after it is mapped for its own row only (none repeats it)."""
        if len(self.steps) > _KEPT_MAPS:  # a long answer's rows are written as they are made
            self.steps.clear()
            self.rels.clear()
        for k in keys:
            if k not in self.steps:
                self.steps[k] = step_map(self.g, k)
        for r in rels:
            if id(r) not in self.rels:
                self.rels[id(r)] = (r, rel_map(r))
        nodes, maps = [self.steps[k] for k in keys], [self.rels[id(r)][1] for r in rels]
        if leaf is not None:
            nodes.append(node_step(*leaf[:2]))
            maps.append(rel_map(leaf[2]))
        return {"nodes": nodes, "rels": maps}


def display_name(d: dict[str, Any]) -> Any:
    """`coalesce(o.arn, o.userId, o.subject, o.id)`: how a principal is named in rows."""
    return _first(d.get("arn"), d.get("userId"), d.get("subject"), d["id"])


def _origin_columns(g: nx.MultiDiGraph, key: str, with_label: bool = True) -> dict[str, Any]:
    d = g.nodes[key]
    label = d["label"]
    kind = {"Service": "AWSService", "AccountPrincipal": "AWSAccount"}.get(label, label)
    if label == "ExternalIdentity":
        kind = d.get("type")
    if label in ("IAMUser", "Root", "Service"):
        complete: bool | None = True
    elif label == "ExternalIdentity":
        complete = None if d.get("type") is None else d.get("type") != "Unknown"
    else:
        complete = False
    cols: dict[str, Any] = {"origin": display_name(d)}
    if with_label:
        cols.update(originLabel=label, originType=kind)
    cols["complete"] = complete
    return cols


def _starts(g: nx.MultiDiGraph, principal: Any, *, users_first: bool = True) -> list[str]:
    """The start nodes of activity, find and timeline (the union subquery at the top of each file).
    With `users_first` (activity, find) sessions are named by ARN only when no user or root has that
    ARN: an IAM user's own sessions carry its ARN, and are reached from the user anyway."""
    found: set[str] = set()
    user_ids: set[Any] = set()
    by_arn = not users_first or not (g.has_node(f"IAMUser:{principal}") or g.has_node(f"Root:{principal}"))
    for key, d in g.nodes(data=True):
        label = d["label"]
        if label in ("IAMUser", "Root", "Service") and d["id"] == principal:
            found.add(key)
        elif label == "ExternalIdentity":
            if principal in (d["id"], d.get("subject"), d.get("userId")):
                found.add(key)
                if d.get("userId") is not None:
                    user_ids.add(d["userId"])
        elif label == "Session":
            if d.get("onBehalfOfUserId") is not None and d.get("onBehalfOfUserId") == principal:
                found.add(key)
            if d["id"] == principal or (by_arn and d.get("arn") == principal):
                found.add(key)
    if user_ids:
        found.update(
            k
            for k, d in g.nodes(data=True)
            if d["label"] == "Session" and d.get("onBehalfOfUserId") in user_ids
        )
    if isinstance(principal, str) and g.has_node(f"AccessKey:{principal}"):
        holders = g.out_edges(f"AccessKey:{principal}", keys=True)
        found.update(dst for _s, dst, etype in holders if etype == "KEY_OF")
    return sorted(found)


def _where(g: nx.MultiDiGraph, keys: Iterable[str], label: str) -> list[str]:
    return [k for k in keys if _label(g, k) == label]


# ---- the twins -------------------------------------------------------------------------------------


def _made(g: nx.MultiDiGraph, key: str) -> list[str]:
    """`(key)-[:PERFORMED]->(c:APICall)`: the calls a principal made."""
    return [c for c, keyed in g._succ[key].items() if "PERFORMED" in keyed and _label(g, c) == "APICall"]


def _first_call(g: nx.MultiDiGraph, key: str, leaves: LeafCalls) -> Any:
    """`COLLECT { MATCH (n)-[:PERFORMED]->(x:APICall) RETURN x.eventId ORDER BY x.eventTime, x.eventId
    LIMIT 1 }[0]`: the eventId of the earliest call a session made."""
    made = [(g.nodes[c].get("eventTime"), g.nodes[c].get("eventId")) for c in _made(g, key)]
    made += leaves.performed(key)
    return min(made, key=lambda c: (_asc(c[0]), _asc(c[1])))[1] if made else None


def _wanted(time: Any, account: Any, params: dict[str, Any]) -> bool:
    """activity's and timeline's WHERE on a row's node: in the window and, if one is asked, the account."""
    return in_window(time, params) and (params.get("account") is None or account == params["account"])


def activity(g: nx.MultiDiGraph, params: dict[str, Any], leaves: LeafCalls = NO_LEAVES) -> Rows:
    """Sorted from lean entries; a leaf call's row is the path to the node before it and one edge more."""
    entries: list[Entry] = []
    for start in _starts(g, params.get("principal")):
        principal = display_name(g.nodes[start])
        first = _asc(principal)
        for keys, rels in forward_paths(g, start, _PATH, 40):
            n = g.nodes[keys[-1]]
            depth = len(_where(g, keys, "Session"))
            if len(rels) < 40:
                entries.extend(
                    ((*first, *_asc(leaf.time), depth, True, leaf.id), principal, keys, rels, leaf)
                    for leaf in leaves.of(keys[-1])
                    if _wanted(leaf.time, leaf.account, params)
                )
            if n["label"] not in ("Session", "APICall"):
                continue
            time = n.get("eventTime") if n["label"] == "APICall" else n.get("creationDate")
            if _wanted(time, n.get("account"), params):
                sort = (*first, *_asc(time), depth, n["label"] == "APICall", n["id"])
                entries.append((sort, principal, keys, rels, None))
    entries.sort(key=lambda e: e[0])
    paths = _Paths(g)

    def row(entry: Entry, read: Any) -> Row:
        _sort, principal, keys, rels, leaf = entry
        n, r = (read[0], read[1]) if leaf else (g.nodes[keys[-1]], rels[-1] if rels else None)
        sessions = [g.nodes[k] for k in _where(g, keys, "Session")]
        last = sessions[-1] if sessions else {}
        event_id = _first(
            n.get("eventId"),
            next((g.nodes[k].get("eventId") for k in reversed(_where(g, keys, "APICall"))), None),
            next(iter(r.get("evidence") or []), None) if r is not None else None,
        )
        if event_id is None and not leaf:
            event_id = _first_call(g, keys[-1], leaves)
        return {
            "principal": principal,
            "kind": "call" if n["label"] == "APICall" else "session",
            "time": n.get("eventTime") if n["label"] == "APICall" else n.get("creationDate"),
            "depth": len(sessions),
            "id": n["id"],
            "eventId": event_id,
            "eventName": n.get("eventName"),
            "eventSource": n.get("eventSource"),
            "account": n.get("account"),
            "region": n.get("region"),
            "sourceIPAddress": n.get("sourceIPAddress"),
            "errorCode": n.get("errorCode"),
            "readOnly": n.get("readOnly"),
            "userAgent": n.get("userAgent"),
            "sessionId": last.get("id"),
            "sessionArn": last.get("arn"),
            "accessKeyId": _first(n.get("accessKeyId"), last.get("accessKeyId")),
            "via": None if r is None else _first(r.get("via"), r["type"]),
            "linkedBy": None if r is None else r.get("rule"),
            "confidence": None if r is None else r.get("confidence"),
            **paths.columns(keys, rels, (leaf.key, *read) if leaf else None),
        }

    return Rows(len(entries), lambda: made_rows(entries, leaves, row))


def who_used(g: nx.MultiDiGraph, params: dict[str, Any]) -> list[Row]:
    role_arn = params.get("roleArn")
    rows: list[Row] = []
    for role, d in g.nodes(data=True):
        if d["label"] != "Role" or (d["id"] != role_arn and d.get("name") != role_arn):
            continue
        for s, _dst, etype in g.in_edges(role, keys=True):
            if etype != "SESSION_OF" or _label(g, s) != "Session":
                continue
            sd = g.nodes[s]
            calls, first_call, last_call = call_span(
                sd, (g.nodes[c].get("eventTime") for c in _made(g, s)), params
            )
            if not in_session_window(sd, calls, params):
                continue
            for keys, rels in origin_paths(g, s):
                rows.append(
                    {
                        "roleArn": d["id"],
                        "sessionId": sd["id"],
                        "sessionArn": sd.get("arn"),
                        "sessionName": sd.get("name"),
                        "account": sd.get("account"),
                        "accessKeyId": sd.get("accessKeyId"),
                        "creationDate": sd.get("creationDate"),
                        "link": sd.get("link"),
                        "sourceIdentity": sd.get("sourceIdentity"),
                        "onBehalfOfUserId": sd.get("onBehalfOfUserId"),
                        "calls": calls,
                        "firstCall": first_call,
                        "lastCall": last_call,
                        **_origin_columns(g, keys[0]),
                        "via": [_first(r.get("via"), r["type"]) for r in rels if r["type"] != "PERFORMED"],
                        "nodes": [step_map(g, k) for k in keys],
                        "rels": [rel_map(x) for x in rels],
                    }
                )
    rows.sort(key=lambda r: (_asc(r["roleArn"]), _asc(r["creationDate"]), r["sessionId"], _asc(r["origin"])))
    return rows


def chained(d: dict[str, Any]) -> bool:
    """Whether the kept attribution allows a session to be issued by another session's call: only at
    depth 2 or more, or at depth 1 behind a session (chains.cypher's first WHERE)."""
    depth = d.get("depth")
    return isinstance(depth, int) and (depth >= 2 or (depth == 1 and d.get("originLabel") == "Session"))


def _issuer(g: nx.MultiDiGraph, session: str) -> tuple[str, str] | None:
    """`(p:Session)-[:PERFORMED]->(c:APICall)-[:ISSUED]->(session)`: (p, c), or None."""
    for call, keyed in g._pred[session].items():
        if "ISSUED" in keyed and _label(g, call) == "APICall":
            for src, types in g._pred[call].items():
                if "PERFORMED" in types and _label(g, src) == "Session":
                    return str(src), str(call)
    return None


ChainLinks = dict[str, tuple[str, Any]]
"""A chained session's key -> (the key of the session whose call issued it, that call's eventTime)."""


def chain_links(g: nx.MultiDiGraph) -> tuple[ChainLinks, dict[str, Any]]:
    """The chain structure of `g`: every chained session's link, and the accounts of the sessions."""
    links: ChainLinks = {}
    accounts: dict[str, Any] = {}
    for s, d in g.nodes(data=True):
        if d.get("label") == "Session" and chained(d) and (found := _issuer(g, s)) is not None:
            parent, call = found
            links[s] = (parent, g.nodes[call].get("eventTime"))
            accounts[s], accounts[parent] = d.get("account"), g.nodes[parent].get("account")
    return links, accounts


def _int_at_least(value: int, bound: Any) -> bool:
    return isinstance(bound, int) and not isinstance(bound, bool) and value >= bound


def _kept_chains(
    links: ChainLinks, accounts: dict[str, Any], params: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """Every chain chains.cypher keeps, as (-hops, first time, first id, last id, first, last), sorted."""
    min_hops = _first(params.get("minHops"), 1)
    cross_only = bool(_first(params.get("crossAccountOnly"), False))
    account = params.get("account")
    kept: list[tuple[Any, ...]] = []
    for last in set(links) - {parent for parent, _at in links.values()}:
        chain, times = [last], []
        while chain[-1] in links and len(chain) <= 40:
            parent, at = links[chain[-1]]
            chain.append(parent)
            times.append(at)
        chain.reverse()
        times.reverse()
        on = [accounts.get(s) for s in chain]
        cross = any(a is not None and b is not None and a != b for a, b in pairwise(on))
        if not _int_at_least(len(times), min_hops) or (cross_only and not cross):
            continue
        if not any(in_window(time, params) for time in times):
            continue
        if account is not None and account not in on:
            continue
        first = chain[0]
        kept.append(
            (-len(times), _asc(times[0]), first.partition(":")[2], last.partition(":")[2], first, last)
        )
    kept.sort()  # (start, end) names one chain: the origin, last in the Cypher ORDER BY, never decides
    return kept


def _not_a_count(limit: Any) -> bool:
    """A `limit` the query keeps nothing for (Cypher's LIMIT refuses it)."""
    return limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0)


def chain_ends(links: ChainLinks, accounts: dict[str, Any], params: dict[str, Any]) -> list[tuple[str, str]]:
    """The (first, last) sessions of each chain chains.cypher keeps, in its order, at most `limit`:
    decided on the chain structure alone (who issued whom, when, in which account), before any row
    is built, so a store can read the details of the chains shown only."""
    limit = params.get("limit")
    if _not_a_count(limit):
        return []
    return [(k[-2], k[-1]) for k in _kept_chains(links, accounts, params)[:limit]]


def chains_settled(links: ChainLinks, accounts: dict[str, Any], params: dict[str, Any], hops: int) -> bool:
    """Whether `chain_ends` is final once `links` holds the chains of every last session that could have
    `hops` hops or more: when `limit` chains have that many, no unread chain can enter the answer."""
    limit = params.get("limit")
    if limit is None:
        return False  # every chain is in the answer
    if _not_a_count(limit):
        return True  # none is
    return sum(1 for k in _kept_chains(links, accounts, params) if -k[0] >= hops) >= int(limit)


def chains(g: nx.MultiDiGraph, params: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for first, last in chain_ends(*chain_links(g), params):
        okeys, orels = walk_back(g, last, 120)
        keys, rels = okeys[okeys.index(first) :], orels[okeys.index(first) :]
        sessions = [g.nodes[k] for k in _where(g, keys, "Session")]
        calls = [g.nodes[k] for k in _where(g, keys, "APICall")]
        issued = [r for r in rels if r["type"] == "ISSUED"]
        accounts = [s.get("account") for s in sessions]
        rows.append(
            {
                "hops": len(issued),
                "crossAccount": any(
                    a is not None and b is not None and a != b for a, b in pairwise(accounts)
                ),
                "accounts": accounts,
                "sessions": [_first(s.get("arn"), s["id"]) for s in sessions],
                "sessionIds": [s["id"] for s in sessions],
                "calls": [c.get("eventId") for c in calls],
                "via": [_first(r.get("via"), r["type"]) for r in issued],
                "linkedBy": [r.get("rule") for r in issued],
                "confidence": [r.get("confidence") for r in issued],
                "firstAt": calls[0].get("eventTime"),
                "lastAt": calls[-1].get("eventTime"),
                "startSession": g.nodes[first]["id"],
                "endSession": g.nodes[last]["id"],
                **_origin_columns(g, okeys[0]),
                "nodes": [step_map(g, k) for k in okeys],
                "rels": [rel_map(x) for x in orels],
            }
        )
    return rows


def key(g: nx.MultiDiGraph, params: dict[str, Any]) -> list[Row]:
    key_id = params.get("accessKeyId")
    node = f"AccessKey:{key_id}"
    if not isinstance(key_id, str) or not g.has_node(node):
        return []
    rows: list[Row] = []
    for _k, holder, etype in g.out_edges(node, keys=True):
        if etype != "KEY_OF":
            continue
        h = g.nodes[holder]
        calls = [
            g.nodes[c]
            for _h, c, t, data in g.out_edges(holder, keys=True, data=True)
            if t == "PERFORMED"
            and _label(g, c) == "APICall"
            and data.get("accessKeyId") == key_id
            and in_window(g.nodes[c].get("eventTime"), params)
        ]
        for keys, rels in origin_paths(g, holder):
            for c in calls or [{}]:
                rows.append(
                    {
                        "accessKeyId": key_id,
                        "keyKind": g.nodes[node].get("kind"),
                        "holderLabel": h["label"],
                        "holderId": h["id"],
                        "holder": _first(h.get("arn"), h["id"]),
                        "created": h.get("creationDate"),
                        "expires": h.get("expiration"),
                        "link": h.get("link"),
                        **_origin_columns(g, keys[0]),
                        "callId": c.get("id"),
                        "eventId": c.get("eventId"),
                        "eventTime": c.get("eventTime"),
                        "eventName": c.get("eventName"),
                        "eventSource": c.get("eventSource"),
                        "account": c.get("account"),
                        "region": c.get("region"),
                        "sourceIPAddress": c.get("sourceIPAddress"),
                        "errorCode": c.get("errorCode"),
                        "nodes": [step_map(g, k) for k in keys],
                        "rels": [rel_map(x) for x in rels],
                    }
                )
    rows.sort(
        key=lambda r: (
            _asc(r["created"]),
            r["holderId"],
            _asc(r["origin"]),
            _asc(r["eventTime"]),
            _asc(r["callId"]),
        )
    )
    return rows


_GAP_HINTS = {
    "cross-account caller": "load the CloudTrail of the caller account",
    "no identity": "CloudTrail recorded no usable identity; nothing to load",
}
_SESSION_HINT = "load the CloudTrail (with STS events, all regions) of the account that issued the session"


def _seen_first(first: dict[Any, Any], value: Any, time: Any) -> None:
    """Keep `value`'s earliest time (`WITH value, min(time) AS t`; a null time only while nothing else)."""
    if value is not None and (
        value not in first or (time is not None and (first[value] is None or time < first[value]))
    ):
        first[value] = time


def _earliest(first: dict[Any, Any]) -> list[Any]:
    """`... RETURN value ORDER BY t, value LIMIT 5` over `_seen_first`'s times."""
    return heapq.nsmallest(5, first, key=lambda v: (_asc(first[v]), v))


def dead_ends(g: nx.MultiDiGraph) -> list[str]:
    """Where walks back stop (gaps.cypher's first subquery): cross-account callers, callers with no
    identity, and sessions with no link (kept depth 0)."""
    return sorted(
        k
        for k, d in g.nodes(data=True)
        if d.get("label") == "AccountPrincipal"
        or (d.get("label") == "ExternalIdentity" and d.get("type") == "Unknown")
        or (d.get("label") == "Session" and d.get("depth") == 0 and d.get("complete") is False)
    )


def behind(g: nx.MultiDiGraph, origin: str) -> list[str]:
    """The origin itself and the sessions its BEHIND edges point to (the kept attribution)."""
    return [
        origin,
        *(s for s, keyed in g._succ[origin].items() if "BEHIND" in keyed and _label(g, s) == "Session"),
    ]


def calls_of(g: nx.MultiDiGraph, principal: str) -> list[str]:
    """`(principal)-[:PERFORMED]->(:APICall)-[:COPIED_TO*0..1]->(x:APICall)`: its calls and their copies."""
    out = []
    for call in _made(g, principal):
        out.append(call)
        out.extend(c for c, k in g._succ[call].items() if "COPIED_TO" in k and _label(g, c) == "APICall")
    return out


@dataclass(frozen=True)
class KeptCalls:
    """A session's own calls as it keeps them (`attribution.kept_calls`: how many, the first and last
    time), standing in `gap_rows` for each of them when there is no window. Disjoint from every other
    member (a call has one trace-path edge in, so one performer); their copies are members of their own.
    A store reads them one by one (`gap_rows`' `read`) only if one may be among its group's examples."""

    session: str
    count: int
    first: Any
    last: Any


GapMember = tuple[str, dict[str, Any], str | KeptCalls, Any, Any]
"""A session or call behind a dead end: (the dead end's key, its properties, the member's key (or a
session's `KeptCalls`), its time (eventTime, a session's creationDate, or the first kept call's time), its
eventId)."""


def gap_members(g: nx.MultiDiGraph) -> Iterator[GapMember]:
    """gaps.cypher's rows before it groups them: each dead end's sessions, their calls and the copies."""
    for dead in dead_ends(g):
        o = g.nodes[dead]
        for s in behind(g, dead):
            for x in [s, *calls_of(g, s)]:
                d = g.nodes[x]
                if d["label"] == "APICall":
                    yield dead, o, x, d.get("eventTime"), d.get("eventId")
                elif d["label"] == "Session":
                    yield dead, o, x, d.get("creationDate"), None


def _gap_kind(o: dict[str, Any]) -> tuple[Any, str]:
    """A dead end's missing account and reason."""
    if o["label"] == "AccountPrincipal":
        return o.get("account"), "cross-account caller"
    if o["label"] == "Session":
        return o.get("account"), _first(o.get("link"), "missing")
    return o.get("provider"), "no identity"


def gaps(g: nx.MultiDiGraph, params: dict[str, Any]) -> list[Row]:
    return gap_rows(gap_members(g), params)


def gap_rows(
    members: Iterable[GapMember],
    params: dict[str, Any],
    read: Callable[[str], Iterable[tuple[Any, Any]]] = lambda _s: (),
) -> list[Row]:
    """gaps.cypher's grouping, whoever read the members (the whole graph, or a store's indexed reads).
    `read` gives a session's calls as (eventTime, eventId), for `KeptCalls` members."""
    account = params.get("account")
    kinds: dict[str, tuple[Any, str, Any]] = {}
    groups: dict[tuple[Any, str], _GapGroup] = {}
    for dead, o, x, time, event_id in members:
        if not in_window(time, params):
            continue
        if dead not in kinds:
            kinds[dead] = (*_gap_kind(o), _first(o.get("arn"), o["id"]))
        missing, reason, name = kinds[dead]
        if account is not None and missing != account:
            continue
        group = groups.setdefault((missing, reason), _GapGroup())
        group.dead_ends.add(dead)
        if isinstance(x, KeptCalls):
            group.kept.append(x)
            group.times += [t for t in (x.first, x.last) if t is not None]
        elif x.startswith("APICall:"):
            group.calls.add(x)
            if time is not None:
                group.times.append(time)
        else:
            group.sessions.add(x)
        _seen_first(group.call_at, event_id, time)
        _seen_first(group.dead_at, name, time)
    rows: list[Row] = [
        {
            "account": missing,
            "reason": reason,
            "deadEnds": len(group.dead_ends),
            "calls": len(group.calls) + sum(k.count for k in group.kept),
            "sessions": len(group.sessions),
            "firstSeen": min(group.times) if group.times else None,
            "lastSeen": max(group.times) if group.times else None,
            "exampleCalls": group.example_calls(read),
            "exampleDeadEnds": _earliest(group.dead_at),
            "hint": _GAP_HINTS.get(reason, _SESSION_HINT),
        }
        for (missing, reason), group in groups.items()
    ]
    rows.sort(key=lambda r: (-r["calls"], -r["sessions"], _asc(r["account"]), r["reason"]))
    return rows


class _GapGroup:
    """One row of `gaps` as its members arrive."""

    def __init__(self) -> None:
        self.dead_ends: set[str] = set()
        self.calls: set[str] = set()
        self.sessions: set[str] = set()
        self.kept: list[KeptCalls] = []
        self.times: list[Any] = []
        self.call_at: dict[Any, Any] = {}
        self.dead_at: dict[Any, Any] = {}

    def example_calls(self, read: Callable[[str], Iterable[tuple[Any, Any]]]) -> list[Any]:
        """The five earliest calls, reading a kept session's calls only while its first could be among
        them: none of its calls is earlier than its first."""
        for kept in sorted(self.kept, key=lambda k: _asc(k.first)):
            earliest = _earliest(self.call_at)
            if len(earliest) == 5 and _asc(kept.first) > _asc(self.call_at[earliest[-1]]):
                break
            for time, event_id in read(kept.session):
                _seen_first(self.call_at, event_id, time)
        return _earliest(self.call_at)


_CALL_FIELDS = (
    *("eventName", "eventSource", "account", "region", "sourceIPAddress", "userAgent", "errorCode"),
    *("readOnly", "accessKeyId"),
)


def _call_fields(c: dict[str, Any]) -> dict[str, Any]:
    """The call's own columns of timeline.cypher and find.cypher, in their order."""
    return {k: c.get(k) for k in _CALL_FIELDS}


def timeline(g: nx.MultiDiGraph, params: dict[str, Any], leaves: LeafCalls = NO_LEAVES) -> Rows:
    """Sorted from lean entries; a leaf call's paths back are the node's before it, one edge longer."""
    calls: set[str] = set()
    before: set[str] = set()  # nodes reached short of the depth limit: their leaves are reached too
    for start in _starts(g, params.get("principal"), users_first=False):
        for keys, rels in forward_paths(g, start, _PATH, 40):
            c = g.nodes[keys[-1]]
            if len(rels) < 40:
                before.add(keys[-1])
            if c["label"] == "APICall" and _wanted(c.get("eventTime"), c.get("account"), params):
                calls.add(keys[-1])
    entries: list[Entry] = []
    for call in calls:
        c = g.nodes[call]
        for keys, rels in origin_paths(g, call):
            origin = display_name(g.nodes[keys[0]])
            entries.append(((*_asc(c.get("eventTime")), c["id"], *_asc(origin)), keys, rels, None))
    for node in before:
        made = [leaf for leaf in leaves.of(node) if _wanted(leaf.time, leaf.account, params)]
        for keys, rels in origin_paths(g, node, 39) if made else []:
            origin = display_name(g.nodes[keys[0]])
            entries.extend(((*_asc(leaf.time), leaf.id, *_asc(origin)), keys, rels, leaf) for leaf in made)
    entries.sort(key=lambda e: e[0])
    paths = _Paths(g)

    def row(entry: Entry, read: Any) -> Row:
        _sort, keys, rels, leaf = entry
        c = read[0] if leaf else g.nodes[keys[-1]]
        principals = [g.nodes[k] for k in keys if _label(g, k) != "APICall"]
        actor = principals[-1] if principals else {}
        sessions = [g.nodes[k] for k in _where(g, keys, "Session")]
        session = sessions[-1] if sessions else {}
        return {
            "time": c.get("eventTime"),
            "callId": c["id"],
            "eventId": c.get("eventId"),
            **_call_fields(c),
            "actor": display_name(actor) if actor else None,
            "sessionId": session.get("id"),
            "sessionName": session.get("name"),
            "sessionCreated": session.get("creationDate"),
            **_origin_columns(g, keys[0], with_label=False),
            **paths.columns(keys, rels, (leaf.key, *read) if leaf else None),
        }

    return Rows(len(entries), lambda: made_rows(entries, leaves, row))


def find_match(c: dict[str, Any], params: dict[str, Any]) -> bool:
    """find.cypher's WHERE on the call's own fields."""
    p = params.get
    if not in_window(c.get("eventTime"), {"since": _first(p("since"), ""), "until": _first(p("until"), "~")}):
        return False
    name, ua, error, text = p("eventName"), p("userAgent"), p("error"), p("contains")
    if name is not None and not (
        isinstance(c.get("eventName"), str) and re.fullmatch(f"(?i){name}", c["eventName"])
    ):
        return False
    for param, prop in (("source", "eventSource"), ("account", "account"), ("region", "region")):
        if p(param) is not None and c.get(prop) != p(param):
            return False
    if p("ip") is not None and c.get("sourceIPAddress") != p("ip"):
        return False
    if ua is not None and not (isinstance(c.get("userAgent"), str) and ua.lower() in c["userAgent"].lower()):
        return False
    if error is not None and not (
        (error == "*" and c.get("errorCode") is not None) or c.get("errorCode") == error
    ):
        return False
    if p("writeOnly") and c.get("readOnly") is not False:
        return False
    return text is None or any(
        isinstance(c.get(f), str) and text in c[f] for f in ("requestParameters", "responseElements")
    )


def find_candidates(g: nx.MultiDiGraph, calls: Iterable[str], params: dict[str, Any]) -> list[str]:
    """The calls among `calls` that find.cypher keeps, newest first, at most `limit` of them."""
    starts = set(_starts(g, params["principal"])) if params.get("principal") is not None else None
    kept: list[str] = []
    for key in calls:
        if not find_match(g.nodes[key], params):
            continue
        if starts is not None and not any(k in starts for keys, _rels in origin_paths(g, key) for k in keys):
            continue
        kept.append(key)
    kept.sort(key=lambda k: (g.nodes[k]["eventTime"], g.nodes[k]["id"]), reverse=True)
    return kept[: _first(params.get("limit"), 50)]


def find(g: nx.MultiDiGraph, params: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    calls = [k for k, d in g.nodes(data=True) if d["label"] == "APICall"]
    for call in find_candidates(g, calls, params):
        c = g.nodes[call]
        for keys, rels in origin_paths(g, call):
            principals = [g.nodes[k] for k in keys if _label(g, k) != "APICall"]
            rows.append(
                {
                    "eventId": c.get("eventId"),
                    "time": c.get("eventTime"),
                    **_call_fields(c),
                    "actor": display_name(principals[-1]) if principals else None,
                    **_origin_columns(g, keys[0]),
                    "callId": c["id"],
                    "nodes": [step_map(g, k) for k in keys],
                    "rels": [rel_map(x) for x in rels],
                }
            )
    rows.sort(key=lambda r: _asc(r["origin"]))
    rows.sort(key=lambda r: (r["time"], r["callId"]), reverse=True)
    return rows


def _issuing(g: nx.MultiDiGraph, session: str) -> tuple[Any, Any]:
    """`min(issuing.eventId)` and `min(from.id)`: the call that issued the session, and the role of
    the session that made that call (directly or through its cross-account copy)."""
    event_ids, from_roles = [], []
    for call, etype in ((src, t) for src, keyed in g._pred[session].items() for t in keyed):
        if etype != "ISSUED" or _label(g, call) != "APICall":
            continue
        event_ids.append(g.nodes[call].get("eventId"))
        callers = [call, *(c for c, keyed in g._pred[call].items() if "COPIED_TO" in keyed)]
        for made in callers:
            if _label(g, made) != "APICall":
                continue
            for prev, keyed in g._pred[made].items():
                if "PERFORMED" in keyed and _label(g, prev) == "Session":
                    from_roles += [
                        g.nodes[r]["id"] for r, k in g._succ[prev].items()
                        if "SESSION_OF" in k and _label(g, r) == "Role"
                    ]  # fmt: skip
    return _min(event_ids), _min(from_roles)


def _min(values: Iterable[Any]) -> Any:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def kept_text(value: Any) -> Any:
    """`CASE WHEN x <> '' THEN x END`: a gap kept as "" (none) reads as null."""
    return value if isinstance(value, str) and value != "" else None


CallSpan = tuple[Any, Any, Any]
"""A session's calls in the window: how many, the first and the last eventTime."""
MapMember = tuple[dict[str, Any], dict[str, Any], CallSpan, Any, Any, list[Any]]
"""A role session as `map` reads it: (the role's properties, the session's, its `call_span`, the
issuing call's eventId, the role whose session made that call, the names of the origins its BEHIND
edges come from, or [None])."""


def windowless(params: dict[str, Any]) -> bool:
    return params.get("since") is None and params.get("until") is None


def counts_calls(sd: dict[str, Any], params: dict[str, Any]) -> bool:
    """Whether `call_span` reads this session's calls."""
    return not windowless(params) or not isinstance(sd.get("callCount"), int)


def call_span(sd: dict[str, Any], times: Iterable[Any], params: dict[str, Any]) -> CallSpan:
    """map.cypher's calls, firstCall and lastCall: the session's kept calls (`attribution.kept_calls`)
    when there is no window (`times` is then not read), else (or for a session loaded before sessions
    kept their calls) its calls' eventTimes in the window."""
    if not counts_calls(sd, params):
        return sd.get("callCount"), kept_text(sd.get("firstCall")), kept_text(sd.get("lastCall"))
    inside = [t for t in times if in_window(t, params)]
    present = [t for t in inside if t is not None]
    return len(inside), _min(present), _max(present)


def in_session_window(sd: dict[str, Any], calls: Any, params: dict[str, Any]) -> bool:
    """map.cypher's and who-used.cypher's `WHERE calls > 0 OR <creationDate in the window>`."""
    return (isinstance(calls, int) and calls > 0) or in_window(sd.get("creationDate"), params)


def map_members(g: nx.MultiDiGraph, params: dict[str, Any]) -> Iterator[MapMember]:
    """map.cypher's rows before it groups them: every session of every role (of the account)."""
    account = params.get("account")
    for role, d in g.nodes(data=True):
        if d.get("label") != "Role" or (account is not None and d.get("account") != account):
            continue
        for s, keyed in g._pred[role].items():
            if "SESSION_OF" not in keyed or _label(g, s) != "Session":
                continue
            times = (g.nodes[c].get("eventTime") for c in _made(g, s))
            origins = [display_name(g.nodes[o]) for o, k in g._pred[s].items() if "BEHIND" in k]
            yield d, g.nodes[s], call_span(g.nodes[s], times, params), *_issuing(g, s), origins or [None]


def org_map(g: nx.MultiDiGraph, params: dict[str, Any]) -> list[Row]:
    return map_rows(map_members(g, params), params)


_EXAMPLES = 40


class _MapGroup:
    """One row of `map` as its sessions arrive: counts, extremes and the newest examples (bounded)."""

    def __init__(self) -> None:
        self.sessions = self.console = self.mfa = self.calls = 0
        self.max_depth: Any = None
        self.first: Any = None
        self.last: Any = None
        self.examples: list[Row] = []

    def add(self, sd: dict[str, Any], member: Row) -> None:
        self.sessions += 1
        self.console += sd.get("console") is True
        self.mfa += sd.get("mfa") is True
        self.calls += member["calls"] or 0  # sum() skips null
        self.max_depth = _max([self.max_depth, sd.get("depth")])
        self.first = _min([self.first, member["created"]])
        self.last = _max([self.last, member["created"]])
        self.examples.append(member)
        if len(self.examples) > 2 * _EXAMPLES:
            self._keep_newest()

    def _keep_newest(self) -> None:
        """`ORDER BY coalesce(s.creationDate, '') DESC, s.id` then `collect(...)[..40]`."""
        self.examples.sort(key=lambda m: m["id"])
        self.examples.sort(key=lambda m: _first(m["created"], ""), reverse=True)
        del self.examples[_EXAMPLES:]

    def row(self) -> Row:
        self._keep_newest()
        return {
            "sessions": self.sessions, "console": self.console, "mfa": self.mfa, "calls": self.calls,
            "maxDepth": self.max_depth, "first": self.first, "last": self.last,
            "examples": self.examples,
        }  # fmt: skip


def map_rows(members: Iterable[MapMember], params: dict[str, Any]) -> list[Row]:
    """map.cypher's grouping, whoever read the members; its memory grows with the rows, not the sessions."""
    groups: dict[tuple[Any, ...], _MapGroup] = {}
    for d, sd, (calls, first_call, last_call), issued_by, from_role, origins in members:
        if not in_session_window(sd, calls, params):
            continue
        member = {
            "id": sd["id"], "arn": sd.get("arn"), "created": sd.get("creationDate"), "calls": calls,
            "firstCall": first_call, "lastCall": last_call, "console": sd.get("console") is True,
            "mfa": sd.get("mfa") is True, "depth": sd.get("depth"), "issuedBy": issued_by,
        }  # fmt: skip
        origin_id, gap, why = (
            sd.get("originId"),
            kept_text(sd.get("gapAccount")),
            kept_text(sd.get("gapReason")),
        )
        for name in origins:
            group = (
                d["id"], d.get("name"), d.get("account"), from_role, sd.get("originLabel"), origin_id,
                sd.get("originType"), _first(name, origin_id), sd.get("complete"), gap, why,
            )  # fmt: skip
            groups.setdefault(group, _MapGroup()).add(sd, member)
    rows = []
    for group, members_of in groups.items():
        role_arn, name, role_account, from_role, label, origin_id, otype, origin, complete, gap, why = group
        rows.append(
            {
                "roleArn": role_arn, "roleName": name, "roleAccount": role_account, "fromRole": from_role,
                "originLabel": label, "originId": origin_id, "originType": otype, "origin": origin,
                "complete": complete, "gapAccount": gap, "gapReason": why, **members_of.row(),
            }
        )  # fmt: skip
    order = ("roleArn", "fromRole", "originLabel", "originId", "originType", "origin", "complete")
    rows.sort(key=lambda r: tuple(_asc(r[k]) for k in (*order, "gapAccount", "gapReason")))
    return rows


def _max(values: Iterable[Any]) -> Any:
    present = [v for v in values if v is not None]
    return max(present) if present else None


TWINS: dict[str, Twin] = {
    "find": find,
    "trace": trace,
    "activity": activity,
    "who-used": who_used,
    "chains": chains,
    "key": key,
    "gaps": gaps,
    "timeline": timeline,
    "map": org_map,
}


def run_twin(g: nx.MultiDiGraph, name: str, params: dict[str, Any]) -> Sequence[Row]:
    return TWINS[name](g, params)
