"""Pictures of role chains: Graphviz DOT, GraphML and one self-contained interactive HTML file.

Trace answers (`trace.build_trace`) and path-shaped query rows (columns `nodes` and `rels`) are first
turned into one small picture model, so the three formats always show the same graph: origin on the
left, the action on the right, every hop labelled with how it was linked, and gaps where logs run out.

Every string in a picture may come from a CloudTrail record, and session names are chosen by whoever
assumed the role, so nothing is ever pasted into markup: DOT strings are quoted and escaped, GraphML is
written by networkx, and the HTML page (the shared shell of `htmlpage`, with the vendored Cytoscape.js
and dagre laying it out) embeds the data as escaped JSON that its script draws with `textContent` and
canvas labels only. The page fetches nothing: a Content-Security-Policy allows no source at all besides
its own inline scripts and style, pinned by hash.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

FORMATS = ("dot", "graphml", "html")

KIND_COLOURS = {
    "origin": "#d8f0d8",
    "dead-end": "#fde9cf",
    "principal": "#e4ecf7",
    "session": "#eef0ff",
    "call": "#fff3d6",
    "gap": "#fde0e0",
}


@dataclass
class PNode:
    key: str
    kind: str  # origin | dead-end (the furthest point reached) | principal | session | call | gap
    title: str
    subtitle: str
    details: dict[str, Any] = field(default_factory=dict)
    badge: str = ""


@dataclass
class PEdge:
    src: str
    dst: str
    label: str
    kind: str = "hop"  # hop | performed | copy | gap
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Picture:
    title: str
    nodes: dict[str, PNode] = field(default_factory=dict)
    edges: list[PEdge] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def node(self, node: PNode) -> str:
        existing = self.nodes.get(node.key)
        if existing is None:
            self.nodes[node.key] = node
        elif node.kind in ("origin", "dead-end"):
            existing.kind, existing.badge = node.kind, node.badge or existing.badge
            existing.details.update({k: v for k, v in node.details.items() if v is not None})
        return node.key

    def edge(self, edge: PEdge) -> None:
        if not any(e.src == edge.src and e.dst == edge.dst and e.label == edge.label for e in self.edges):
            self.edges.append(edge)


def short_name(name: Any) -> str:
    """`arn:aws:sts::1:assumed-role/admin/bob` -> `admin/bob`: what a person recognises."""
    text = "" if name is None else str(name)
    if text.startswith("arn:"):
        text = text.split(":", 5)[-1]
        for prefix in ("assumed-role/", "user/", "role/", "federated-user/"):
            if text.startswith(prefix):
                return text[len(prefix) :]
    return text


def _clean(details: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in details.items() if v is not None and v != [] and v != ""}


# ---- from trace answers ----------------------------------------------------------------------------


def _principal_key(p: dict[str, Any]) -> str:
    return "|".join(str(p.get(k) or "") for k in ("type", "id", "accessKeyId", "creationDate"))


def _principal_node(p: dict[str, Any], kind: str = "principal") -> PNode:
    ptype = str(p.get("type") or "")
    is_session = ptype in ("AssumedRole", "FederatedUser", "IAMUserSession", "RootSession", "AssumedRoot")
    sub = " · ".join(str(x) for x in (ptype, p.get("account")) if x)
    return PNode(
        key=_principal_key(p),
        kind=kind if kind in ("origin", "dead-end") else ("session" if is_session else "principal"),
        title=short_name(p.get("arn") or p.get("name") or p.get("id")),
        subtitle=sub,
        details=_clean(dict(p)),
    )


def picture_from_trace(answers: list[dict[str, Any]]) -> Picture:
    """One picture for one or more trace answers; principals shared by several answers are drawn once."""
    names = ", ".join(str(a["event"].get("eventName")) for a in answers[:3])
    pic = Picture(title=f"trace: {names}{' …' if len(answers) > 3 else ''}")
    for answer in answers:
        event = answer["event"]
        chain = answer.get("chain") or []
        call_key = f"APICall|{event.get('account')}|{event.get('eventId')}"
        hops = [h for h in chain if (h.get("to") or {}).get("type") != "APICall"]
        copies = [h for h in chain if (h.get("to") or {}).get("type") == "APICall"]
        first = hops[0]["from"] if hops else answer["actor"]
        origin = answer.get("origin") or {}
        origin_node = _principal_node(first, "origin" if answer.get("complete") else "dead-end")
        origin_node.details.update(
            _clean(
                {"origin": origin.get("id"), "human": origin.get("human"), "complete": answer.get("complete")}
            )
        )
        origin_node.badge = _origin_badge(origin.get("human"), bool(answer.get("complete")))
        previous = pic.node(origin_node)
        for hop in hops:
            target = pic.node(_principal_node(hop["to"]))
            pic.edge(_hop_edge(previous, target, hop))
            previous = target
        pic.node(
            PNode(
                key=call_key,
                kind="call",
                title=str(event.get("eventName")),
                subtitle=" · ".join(str(x) for x in (event.get("account"), event.get("eventTime")) if x),
                details=_clean(dict(event)),
                badge="action",
            )
        )
        if copies:
            pic.edge(_hop_edge(previous, call_key, copies[-1], kind="copy"))
        else:
            pic.edge(PEdge(previous, call_key, "made the call", "performed", {"at": event.get("eventTime")}))
        for gap in answer.get("gaps") or []:
            gap_key = f"gap|{origin_node.key}|{gap.get('account')}"
            pic.node(
                PNode(
                    key=gap_key,
                    kind="gap",
                    title=f"logs missing: {gap.get('account') or 'unknown account'}",
                    subtitle="the trail ends here",
                    details=_clean(dict(gap)),
                    badge="gap",
                )
            )
            pic.edge(PEdge(gap_key, origin_node.key, "not loaded", "gap", _clean(dict(gap))))
        if not answer.get("complete"):
            pic.notes.append(f"{event.get('eventName')} {event.get('eventId')}: incomplete, see the red gap")
    return pic


def _origin_badge(human: Any, complete: bool) -> str:
    if not complete:
        return "furthest reached · incomplete"
    return {True: "origin · a person", False: "origin · not a person"}.get(human, "origin")


def _hop_edge(src: str, dst: str, hop: dict[str, Any], kind: str = "hop") -> PEdge:
    return PEdge(
        src,
        dst,
        str(hop.get("via") or ""),
        kind,
        _clean(
            {
                "via": hop.get("via"),
                "at": hop.get("at"),
                "linkedBy": hop.get("linkedBy"),
                "confidence": hop.get("confidence"),
                "evidence": list(hop.get("evidence") or []),
            }
        ),
    )


# ---- from query rows -------------------------------------------------------------------------------


def has_paths(rows: Sequence[dict[str, Any]]) -> bool:
    """Rows of a path-shaped query carry the walked path as `nodes` and `rels`."""
    return bool(rows) and all(
        isinstance(r.get("nodes"), list) and isinstance(r.get("rels"), list) for r in rows
    )


def _step_node(step: dict[str, Any], kind: str | None = None) -> PNode:
    label = str(step.get("label"))
    if kind is None:
        kind = {"APICall": "call", "Session": "session"}.get(label, "principal")
    title = str(step.get("name")) if label == "APICall" else short_name(step.get("name"))
    sub = " · ".join(str(x) for x in (step.get("kind") or label, step.get("account"), step.get("time")) if x)
    details = _clean({k: v for k, v in step.items() if k != "key"})
    return PNode(key=str(step.get("key")), kind=kind, title=title, subtitle=sub, details=details)


_HUMAN_TYPES = {
    "IAMUser": True,
    "Root": True,
    "SAMLUser": True,
    "IdentityCenterUser": True,
    "AWSService": False,
}


def picture_from_rows(rows: Iterable[dict[str, Any]], title: str) -> Picture:
    """The union of the rows' paths; an origin the rows call incomplete gets a red gap before it."""
    pic = Picture(title=title)
    for row in rows:
        steps: list[dict[str, Any]] = row["nodes"]
        rels: list[dict[str, Any]] = row["rels"]
        if not steps:
            continue
        origin_like = "complete" in row
        first_kind = "origin" if row.get("complete") is not False else "dead-end"
        nodes = [_step_node(s, first_kind if i == 0 and origin_like else None) for i, s in enumerate(steps)]
        if origin_like:
            human = _HUMAN_TYPES.get(str(row.get("originType")))
            nodes[0].badge = _origin_badge(human, bool(row.get("complete")))
        keys = [pic.node(n) for n in nodes]
        for a, b, rel in zip(keys, keys[1:], rels, strict=False):
            kind = {"PERFORMED": "performed", "COPIED_TO": "copy"}.get(str(rel.get("type")), "hop")
            label = "made the call" if rel.get("type") == "PERFORMED" else str(rel.get("via"))
            pic.edge(PEdge(a, b, label, kind, _clean(dict(rel))))
        if row.get("complete") is False:
            first = steps[0]
            gap_key = f"gap|{keys[0]}"
            reason = (
                f"no issuing STS event is loaded (link: {first.get('link')})"
                if first.get("label") == "Session"
                else "the caller's own account logs are not loaded"
                if first.get("label") == "AccountPrincipal"
                else "CloudTrail recorded no identity"
            )
            gap = {"account": first.get("account"), "reason": reason}
            pic.node(
                PNode(
                    gap_key,
                    "gap",
                    f"logs missing: {first.get('account') or 'unknown'}",
                    "the trail ends here",
                    _clean(gap),
                    badge="gap",
                )
            )
            pic.edge(PEdge(gap_key, keys[0], "not loaded", "gap", _clean(gap)))
    return pic


# ---- formats ---------------------------------------------------------------------------------------


def _dot_string(text: Any) -> str:
    """A DOT quoted string: backslashes and quotes escaped, newlines as DOT's \\n."""
    value = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + value.replace("\r", "").replace("\n", "\\n") + '"'


def _detail_text(details: dict[str, Any]) -> str:
    return "\n".join(
        f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else _graphml_value(v)}"
        for k, v in details.items()
    )


def _dot_label(node: PNode) -> str:
    return "\n".join(x for x in (node.badge.upper(), node.title, node.subtitle) if x)


def to_dot(pic: Picture) -> str:
    lines = [
        "digraph trailgraph {",
        f"  graph [rankdir=LR, fontname=Helvetica, labelloc=t, label={_dot_string(pic.title)}];",
        '  node [shape=box, style="rounded,filled", fontname=Helvetica, fontsize=11];',
        "  edge [fontname=Helvetica, fontsize=9];",
    ]
    for node in pic.nodes.values():
        attrs = [
            f"label={_dot_string(_dot_label(node))}",
            f"tooltip={_dot_string(_detail_text(node.details))}",
            f'fillcolor="{KIND_COLOURS[node.kind]}"',
        ]
        if node.kind == "gap":
            attrs.append('color="#c0392b", style="rounded,filled,dashed"')
        lines.append(f"  {_dot_string(node.key)} [{', '.join(attrs)}];")
    for e in pic.edges:
        text = e.label
        if e.details.get("linkedBy"):
            text += f"\n{e.details['linkedBy']} ({e.details.get('confidence') or '?'})"
        elif e.details.get("rule"):
            text += f"\n{e.details['rule']} ({e.details.get('confidence') or '?'})"
        attrs = [f"label={_dot_string(text)}", f"tooltip={_dot_string(_detail_text(e.details))}"]
        if e.kind == "gap":
            attrs.append('style=dashed, color="#c0392b"')
        lines.append(f"  {_dot_string(e.src)} -> {_dot_string(e.dst)} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _graphml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def to_graph(pic: Picture) -> nx.MultiDiGraph:
    """The picture as a networkx graph (string attributes)."""
    g = nx.MultiDiGraph(name=pic.title)
    for node in pic.nodes.values():
        attrs = {f"d_{k}": _graphml_value(v) for k, v in node.details.items()}
        g.add_node(
            node.key,
            kind=node.kind,
            title=node.title,
            subtitle=node.subtitle,
            **attrs,
        )
    for e in pic.edges:
        attrs = {f"d_{k}": _graphml_value(v) for k, v in e.details.items()}
        g.add_edge(e.src, e.dst, kind=e.kind, label=e.label, **attrs)
    return g


def to_graphml(pic: Picture) -> str:
    buffer = io.BytesIO()
    nx.write_graphml(to_graph(pic), buffer, encoding="utf-8", prettyprint=True)
    return buffer.getvalue().decode("utf-8")


def picture_payload(pic: Picture) -> dict[str, Any]:
    return {
        "title": pic.title,
        "notes": pic.notes,
        "nodes": [
            {
                "key": n.key,
                "kind": n.kind,
                "title": n.title,
                "subtitle": n.subtitle,
                "badge": n.badge,
                "details": n.details,
            }
            for n in pic.nodes.values()
        ],
        "edges": [
            {"src": e.src, "dst": e.dst, "label": e.label, "kind": e.kind, "details": e.details}
            for e in pic.edges
        ],
    }


def to_html(pic: Picture) -> str:
    """One offline page (trailgraph.assets trace.*), laid out by the vendored Cytoscape.js + dagre."""
    from trailgraph.htmlpage import render_page

    return render_page("trace", pic.title, picture_payload(pic), layout=True)


def render(pic: Picture, fmt: str) -> str:
    if fmt == "dot":
        return to_dot(pic)
    if fmt == "graphml":
        return to_graphml(pic)
    if fmt == "html":
        return to_html(pic)
    raise ValueError(f"unknown picture format {fmt!r}; one of {', '.join(FORMATS)}")


def render_picture(answers: list[dict[str, Any]], fmt: str) -> str:
    """Trace answers (as `trailgraph trace --format json` prints them) as dot, graphml or html text."""
    return render(picture_from_trace(answers), fmt)


def render_rows(rows: Iterable[dict[str, Any]], fmt: str, title: str) -> str:
    """Rows of a path-shaped canned query (activity, who-used, chains, key, timeline) as a picture."""
    return render(picture_from_rows(rows, title), fmt)
