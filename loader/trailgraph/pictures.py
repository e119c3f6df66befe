"""Pictures of role chains: Graphviz DOT, GraphML and one self-contained interactive HTML file.

Trace answers (`trace.build_trace`) and path-shaped query rows (columns `nodes` and `rels`) are first
turned into one small picture model, so the three formats always show the same graph: origin on the
left, the action on the right, every hop labelled with how it was linked, and gaps where logs run out.

Every string in a picture may come from a CloudTrail record, and session names are chosen by whoever
assumed the role, so nothing is ever pasted into markup: DOT strings are quoted and escaped, GraphML is
written by networkx, and the HTML page embeds the data as JSON (with `<`, `>` and `&` escaped) that its
script draws with `textContent` only. The page fetches nothing: a Content-Security-Policy allows no
source at all besides its own inline script and style, pinned by hash.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
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
    layer: int = 0
    row: int = 0


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


def _short(name: Any) -> str:
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
        title=_short(p.get("arn") or p.get("name") or p.get("id")),
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
    _layout(pic)
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


def has_paths(rows: list[dict[str, Any]]) -> bool:
    """Rows of a path-shaped query carry the walked path as `nodes` and `rels`."""
    return bool(rows) and all(
        isinstance(r.get("nodes"), list) and isinstance(r.get("rels"), list) for r in rows
    )


def _step_node(step: dict[str, Any], kind: str | None = None) -> PNode:
    label = str(step.get("label"))
    if kind is None:
        kind = {"APICall": "call", "Session": "session"}.get(label, "principal")
    title = str(step.get("name")) if label == "APICall" else _short(step.get("name"))
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


def picture_from_rows(rows: list[dict[str, Any]], title: str) -> Picture:
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
    _layout(pic)
    return pic


# ---- layout ----------------------------------------------------------------------------------------


def _layout(pic: Picture) -> None:
    """Columns by longest distance from a source (origin left, action right); rows by first appearance."""
    layer = {k: 0 for k in pic.nodes}
    for _ in range(len(pic.nodes)):
        changed = False
        for e in pic.edges:
            if layer[e.dst] < layer[e.src] + 1 <= len(pic.nodes):
                layer[e.dst] = layer[e.src] + 1
                changed = True
        if not changed:
            break
    rows: dict[int, int] = {}
    for key, node in pic.nodes.items():
        node.layer = layer[key]
        node.row = rows.get(node.layer, 0)
        rows[node.layer] = node.row + 1


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
    """The picture as a networkx graph (string attributes, `layer` and `row` integers)."""
    g = nx.MultiDiGraph(name=pic.title)
    for node in pic.nodes.values():
        attrs = {f"d_{k}": _graphml_value(v) for k, v in node.details.items()}
        g.add_node(
            node.key,
            kind=node.kind,
            title=node.title,
            subtitle=node.subtitle,
            layer=node.layer,
            row=node.row,
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


def json_for_script(payload: Any) -> str:
    """JSON that cannot end its <script> element or open a comment: <, >, & and line separators escaped."""
    text = json.dumps(payload, ensure_ascii=False, sort_keys=False)
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def picture_payload(pic: Picture) -> dict[str, Any]:
    return {
        "title": pic.title,
        "notes": pic.notes,
        "colours": KIND_COLOURS,
        "nodes": [
            {
                "key": n.key,
                "kind": n.kind,
                "title": n.title,
                "subtitle": n.subtitle,
                "badge": n.badge,
                "layer": n.layer,
                "row": n.row,
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
    data = json_for_script(picture_payload(pic))
    csp = f"default-src 'none'; script-src {csp_hash(_SCRIPT)}; style-src {csp_hash(_STYLE)}"
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{html.escape(csp)}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{html.escape(pic.title)} — trailgraph</title>\n"
        f"<style>{_STYLE}</style>\n</head>\n<body>\n"
        '<header><h1 id="title"></h1><p id="notes"></p><div id="legend"></div>'
        '<p class="help">hover: details · click: highlight the chain · wheel: zoom · drag: pan · '
        "double-click: fit · the evidence of every hop is listed below (and printed)</p></header>\n"
        '<svg id="canvas" role="img" aria-label="role chain"></svg>\n'
        '<section id="evidence"><h2>Evidence, hop by hop</h2><ol id="hops"></ol></section>\n'
        '<div id="tip" hidden></div>\n'
        f'<script type="application/json" id="trailgraph-data">{data}</script>\n'
        f"<script>{_SCRIPT}</script>\n</body>\n</html>\n"
    )


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


def render_rows(rows: list[dict[str, Any]], fmt: str, title: str) -> str:
    """Rows of a path-shaped canned query (activity, who-used, chains, key, timeline) as a picture."""
    return render(picture_from_rows(rows, title), fmt)


_STYLE = """
:root { color-scheme: light; }
body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       color: #1d2330; background: #fafbfc; }
header { padding: 10px 16px 4px; border-bottom: 1px solid #e2e6ee; background: #fff; }
h1 { font-size: 16px; margin: 0 0 2px; }
#notes { margin: 0; color: #b03a2e; }
.help { margin: 2px 0 0; color: #6b7280; font-size: 12px; }
html, body { height: 100%; }
body { display: flex; flex-direction: column; overflow: hidden; }
header { flex: none; }
#canvas { display: block; flex: 1 1 auto; min-height: 0; width: 100%; cursor: grab; user-select: none; }
#canvas.dragging { cursor: grabbing; }
.node rect { stroke: #6b7a99; stroke-width: 1; }
.node.gap rect { stroke: #c0392b; stroke-dasharray: 5 3; }
.node.origin rect { stroke: #2e7d32; stroke-width: 2; }
.node.dead-end rect { stroke: #c05621; stroke-width: 2; }
.node.dead-end text.badge { fill: #c05621; }
.node text.title { font-weight: 600; font-size: 12px; fill: #1d2330; }
.node text.sub { font-size: 10px; fill: #4b5563; }
.node text.badge { font-size: 10px; font-weight: 600; fill: #2e7d32; text-transform: uppercase; }
.node.gap text.badge, .node.gap text.title { fill: #b03a2e; }
.node.call text.badge { fill: #9a6700; }
.edge path { fill: none; stroke: #7c8aa5; stroke-width: 1.6; }
.edge polygon.head { fill: #7c8aa5; }
.edge.gap polygon.head, .hot polygon.head { fill: #c0392b; }
.edge.gap path { stroke: #c0392b; stroke-dasharray: 6 4; }
.edge.copy path { stroke-dasharray: 2 3; }
.edge text { font-size: 10px; fill: #374151; }
.edge rect { fill: #fafbfc; opacity: 0.9; }
.dim { opacity: 0.18; }
.hot rect { stroke: #d97706 !important; stroke-width: 3 !important; }
.hot path { stroke: #d97706 !important; stroke-width: 2.6 !important; }
#tip { position: fixed; z-index: 10; max-width: 460px; background: #1f2937; color: #f9fafb; padding: 8px 10px;
       border-radius: 6px; font-size: 12px; pointer-events: none; box-shadow: 0 4px 14px rgba(0,0,0,.25); }
#tip table { border-collapse: collapse; }
#tip td { vertical-align: top; padding: 1px 6px 1px 0; word-break: break-all; }
#tip td.k { color: #9ca3af; white-space: nowrap; word-break: normal; }
#tip .head { font-weight: 600; margin-bottom: 4px; word-break: break-all; }
#legend { margin: 4px 0 0; font-size: 12px; color: #374151; }
#legend span.item { margin-right: 14px; white-space: nowrap; }
#legend span.swatch { display: inline-block; width: 12px; height: 12px; border: 1px solid #6b7a99;
                      border-radius: 3px; vertical-align: -2px; margin-right: 4px; }
#evidence { flex: none; max-height: 32vh; overflow: auto; border-top: 1px solid #e2e6ee; background: #fff;
            padding: 4px 16px 8px; }
#evidence h2 { font-size: 13px; margin: 4px 0; }
#evidence ol { margin: 0; padding-left: 22px; }
#evidence li { margin: 2px 0; }
#evidence code { font-size: 12px; white-space: nowrap; }
@media print {
  html, body { height: auto; }
  body { display: block; overflow: visible; }
  #canvas { height: 60vh; }
  #evidence { max-height: none; overflow: visible; border: 0; }
  #tip, .help { display: none; }
}
"""

_SCRIPT = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("trailgraph-data").textContent);
  var svg = document.getElementById("canvas");
  var NS = svg.namespaceURI;
  var tip = document.getElementById("tip");
  var W = 280, GAPX = 230, GAPY = 56, MAXCH = 38, SUBCH = 48, EDGECH = 34;
  document.getElementById("title").textContent = data.title;
  document.title = data.title + " \\u2014 trailgraph";
  document.getElementById("notes").textContent = data.notes.join(" \\u00b7 ");

  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    if (parent) { parent.appendChild(e); }
    return e;
  }
  // Labels are wrapped, never cut: after a space or /, else : or @, else - . _ , when one is in reach.
  function wrap(s, max) {
    s = String(s); var out = [];
    function breakAt(seps) {
      for (var i = max; i > max / 3; i--) { if (seps.indexOf(s.charAt(i - 1)) >= 0) { return i; } }
      return 0;
    }
    while (s.length > max) {
      var cut = breakAt(" /") || breakAt(":@") || breakAt("-._,") || max;
      out.push(s.slice(0, cut)); s = s.slice(cut);
    }
    out.push(s);
    return out;
  }
  function nodeLines(n) {
    return {title: wrap(n.title, MAXCH), sub: n.subtitle ? wrap(n.subtitle, SUBCH) : []};
  }
  function nodeHeight(n) { var l = nodeLines(n); return 14 + 17 * l.title.length + 14 * l.sub.length; }

  var legend = document.getElementById("legend");
  var kindNames = {origin: "origin", "dead-end": "furthest reached (incomplete)", principal: "principal",
                   session: "session", call: "the action", gap: "logs missing"};
  Object.keys(data.colours).forEach(function (kind) {
    var item = document.createElement("span"); item.className = "item";
    var sw = document.createElement("span");
    sw.className = "swatch"; sw.style.background = data.colours[kind];
    item.appendChild(sw); item.appendChild(document.createTextNode(kindNames[kind] || kind));
    legend.appendChild(item);
  });
  ["\\u2192 hop: how it was linked, rule (confidence)", "\\u21e2 dotted: cross-account copy",
   "\\u21e2 red dashed: logs not loaded"].forEach(function (text) {
    var item = document.createElement("span"); item.className = "item"; item.textContent = text;
    legend.appendChild(item);
  });

  var world = el("g", {id: "world"}, svg);
  var edgeLayer = el("g", {}, world), nodeLayer = el("g", {}, world);

  var pos = {}, byKey = {}, nodeEls = {}, edgeEls = [], hgt = {}, H = 54;
  data.nodes.forEach(function (n) { hgt[n.key] = nodeHeight(n); H = Math.max(H, hgt[n.key]); });
  data.nodes.forEach(function (n) {
    byKey[n.key] = n;
    pos[n.key] = {x: n.layer * (W + GAPX), y: n.row * (H + GAPY)};
  });

  var hops = document.getElementById("hops");
  data.edges.forEach(function (e) {
    var from = byKey[e.src], to = byKey[e.dst], d = e.details || {};
    if (!from || !to) { return; }
    var li = document.createElement("li");
    var parts = [from.title + " \\u2192 " + to.title + ": " + (e.label || e.kind)];
    var rule = d.linkedBy || d.rule;
    if (rule) { parts.push("linked by " + rule + " (" + (d.confidence || "?") + ")"); }
    if (d.at) { parts.push("at " + d.at); }
    if (d.reason) { parts.push(String(d.reason)); }
    li.appendChild(document.createTextNode(parts.join("; ")));
    var ev = Array.isArray(d.evidence) ? d.evidence : [];
    if (ev.length) {
      li.appendChild(document.createTextNode("; evidence: "));
      ev.forEach(function (id, k) {
        if (k) { li.appendChild(document.createTextNode(", ")); }
        var c = document.createElement("code"); c.textContent = String(id); li.appendChild(c);
      });
    }
    hops.appendChild(li);
  });

  function showTip(evt, head, details) {
    while (tip.firstChild) { tip.removeChild(tip.firstChild); }
    var h = document.createElement("div"); h.className = "head"; h.textContent = head; tip.appendChild(h);
    var table = document.createElement("table");
    Object.keys(details || {}).forEach(function (k) {
      var v = details[k], tr = document.createElement("tr");
      var a = document.createElement("td"); a.className = "k"; a.textContent = k;
      var b = document.createElement("td");
      if (Array.isArray(v)) { b.textContent = v.join(", "); }
      else if (v !== null && typeof v === "object") { b.textContent = JSON.stringify(v); }
      else { b.textContent = String(v); }
      tr.appendChild(a); tr.appendChild(b); table.appendChild(tr);
    });
    tip.appendChild(table);
    tip.hidden = false;
    moveTip(evt);
  }
  function moveTip(evt) {
    var x = evt.clientX + 14, y = evt.clientY + 14;
    if (x + tip.offsetWidth > window.innerWidth) { x = Math.max(0, evt.clientX - tip.offsetWidth - 14); }
    if (y + tip.offsetHeight > window.innerHeight) { y = Math.max(0, evt.clientY - tip.offsetHeight - 14); }
    tip.style.left = x + "px"; tip.style.top = y + "px";
  }
  function hideTip() { tip.hidden = true; }

  data.edges.forEach(function (e, i) {
    var a = pos[e.src], b = pos[e.dst];
    if (!a || !b) { return; }
    var g = el("g", {"class": "edge " + e.kind, "data-src": e.src, "data-dst": e.dst}, edgeLayer);
    var x1 = a.x + W, y1 = a.y + hgt[e.src] / 2, x2 = b.x, y2 = b.y + hgt[e.dst] / 2, mx = (x1 + x2) / 2;
    var d = "M" + x1 + "," + y1 + " C" + mx + "," + y1 + " " + mx + "," + y2 + " " + (x2 - 8) + "," + y2;
    el("path", {d: d + " L" + x2 + "," + y2}, g);
    el("polygon", {points: (x2 - 9) + "," + (y2 - 5) + " " + x2 + "," + y2 + " " + (x2 - 9) + "," + (y2 + 5),
                   "class": "head"}, g);
    var lines = wrap(e.label, EDGECH);
    var rule = e.details.linkedBy || e.details.rule;
    if (rule) { lines = lines.concat(wrap(rule + " (" + (e.details.confidence || "?") + ")", EDGECH)); }
    var widest = Math.max.apply(null, lines.map(function (l) { return l.length; }));
    // the label sits 60% along the curve, so labels of a fan-out spread towards their own targets
    var u = 0.6, v = 1 - u;
    var lx = v * v * v * x1 + 3 * v * v * u * mx + 3 * v * u * u * mx + u * u * u * (x2 - 8);
    var ly = v * v * v * y1 + 3 * v * v * u * y1 + 3 * v * u * u * y2 + u * u * u * y2 - 6 * lines.length;
    var bw = Math.max(60, widest * 6 + 12);
    el("rect", {x: lx - bw / 2, y: ly - 10, width: bw, height: 13 * lines.length + 4, rx: 3}, g);
    lines.forEach(function (line, j) {
      var t = el("text", {x: lx, y: ly + j * 13, "text-anchor": "middle"}, g);
      t.textContent = line;
    });
    g.addEventListener("mouseenter", function (evt) { showTip(evt, e.label, e.details); });
    g.addEventListener("mousemove", moveTip);
    g.addEventListener("mouseleave", hideTip);
    edgeEls.push({e: e, g: g});
  });

  data.nodes.forEach(function (n) {
    var p = pos[n.key];
    var g = el("g", {"class": "node " + n.kind, "data-key": n.key,
                     transform: "translate(" + p.x + "," + p.y + ")"}, nodeLayer);
    el("rect", {width: W, height: hgt[n.key], rx: 8, fill: data.colours[n.kind] || "#fff"}, g);
    var lines = nodeLines(n), y = 4;
    lines.title.forEach(function (line) {
      y += 17; var t = el("text", {x: 10, y: y, "class": "title"}, g); t.textContent = line;
    });
    lines.sub.forEach(function (line) {
      y += 14; var t = el("text", {x: 10, y: y, "class": "sub"}, g); t.textContent = line;
    });
    if (n.badge) { var b = el("text", {x: 4, y: -6, "class": "badge"}, g); b.textContent = n.badge; }
    g.addEventListener("mouseenter", function (evt) { showTip(evt, n.title, n.details); });
    g.addEventListener("mousemove", moveTip);
    g.addEventListener("mouseleave", hideTip);
    g.addEventListener("click", function (evt) { evt.stopPropagation(); highlight(n.key); });
    nodeEls[n.key] = g;
  });

  function related(key) {
    var seen = {}; seen[key] = true;
    [["src", "dst"], ["dst", "src"]].forEach(function (dir) {
      var todo = [key];
      while (todo.length) {
        var k = todo.pop();
        data.edges.forEach(function (e) {
          if (e[dir[0]] === k && !seen[e[dir[1]]]) { seen[e[dir[1]]] = true; todo.push(e[dir[1]]); }
        });
      }
    });
    return seen;
  }
  var active = null;
  function highlight(key) {
    active = (active === key) ? null : key;
    var keep = active ? related(active) : null;
    Object.keys(nodeEls).forEach(function (k) {
      nodeEls[k].classList.toggle("dim", !!keep && !keep[k]);
      nodeEls[k].classList.toggle("hot", !!keep && k === active);
    });
    edgeEls.forEach(function (x) {
      var on = !!keep && keep[x.e.src] && keep[x.e.dst];
      x.g.classList.toggle("dim", !!keep && !on);
      x.g.classList.toggle("hot", on);
    });
  }

  var view = {x: 0, y: 0, w: 100, h: 100};
  function apply() { svg.setAttribute("viewBox", [view.x, view.y, view.w, view.h].join(" ")); }
  function fit() {
    var maxX = 0, maxY = 0;
    data.nodes.forEach(function (n) {
      maxX = Math.max(maxX, pos[n.key].x + W);
      maxY = Math.max(maxY, pos[n.key].y + hgt[n.key]);
    });
    var rect = svg.getBoundingClientRect(), pad = 40;
    var w = maxX + 2 * pad, h = maxY + 2 * pad;
    var ratio = (rect.width || 1200) / (rect.height || 700);
    if (w / h < ratio) { w = h * ratio; } else { h = w / ratio; }
    view = {x: -pad - (w - maxX - 2 * pad) / 2, y: -pad - (h - maxY - 2 * pad) / 2, w: w, h: h};
    apply();
  }
  svg.addEventListener("wheel", function (evt) {
    evt.preventDefault();
    var rect = svg.getBoundingClientRect(), k = evt.deltaY < 0 ? 0.85 : 1 / 0.85;
    var px = view.x + (evt.clientX - rect.left) / rect.width * view.w;
    var py = view.y + (evt.clientY - rect.top) / rect.height * view.h;
    view = {x: px - (px - view.x) * k, y: py - (py - view.y) * k, w: view.w * k, h: view.h * k};
    apply();
  }, {passive: false});
  var drag = null;
  svg.addEventListener("mousedown", function (evt) {
    drag = {x: evt.clientX, y: evt.clientY, v: view};
    svg.classList.add("dragging");
  });
  window.addEventListener("mousemove", function (evt) {
    if (!drag) { return; }
    var rect = svg.getBoundingClientRect();
    view = {x: drag.v.x - (evt.clientX - drag.x) * drag.v.w / rect.width,
            y: drag.v.y - (evt.clientY - drag.y) * drag.v.h / rect.height, w: drag.v.w, h: drag.v.h};
    apply();
  });
  window.addEventListener("mouseup", function () { drag = null; svg.classList.remove("dragging"); });
  svg.addEventListener("click", function () { if (active) { highlight(active); } });
  svg.addEventListener("dblclick", fit);
  window.addEventListener("resize", fit);
  fit();
})();
"""
