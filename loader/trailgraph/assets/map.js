// The organisation map page: draws the model embedded as JSON with Cytoscape.js (vendored next to
// this file, with the dagre layout). Every string came from CloudTrail, so text reaches the DOM through textContent only.
"use strict";
(function () {
  const data = trailgraph.data, el = trailgraph.el;
  const COLUMN = { person: 0, external: 0, service: 0, gap: 0, role: 1, account: 3 };
  const FILL = { person: "#d8f0d8", external: "#e2f3f7", service: "#ececec", role: "#e4ecf7",
                 account: "#fff3d6", gap: "#fde0e0" };


  const sessions = data.edges.filter(e => e.kind === "reached")
    .reduce((n, e) => n + e.summary.count, 0);
  document.getElementById("counts").textContent =
    data.nodes.length + " nodes · " + data.edges.length + " edges · " + sessions + " session hops drawn";

  const elements = [];
  for (const n of data.nodes) {
    const caption = n.kind === "gap"
      ? n.label + "\n" + n.sessions + (n.sessions === 1 ? " session" : " sessions") + " cut off"
      : n.label + (n.kind === "role" ? "\n" + n.account : "") + "\n" + n.sessions +
        (n.sessions === 1 ? " session" : " sessions");
    const node = { id: n.id, kind: n.kind, caption: caption, model: n };
    if (n.parent) node.parent = n.parent;
    elements.push({ group: "nodes", data: node, classes: n.kind });
  }
  for (const e of data.edges) {
    const s = e.summary;
    const caption = s.count + (s.count === 1 ? " session" : " sessions");
    const classes = [e.kind, e.crossAccount ? "cross" : "", e.chain ? "chain" : ""].join(" ").trim();
    elements.push({ group: "edges", data: { id: e.id, source: e.source, target: e.target,
                    caption: caption, width: Math.min(2 + Math.log2(1 + s.count), 9), model: e },
                    classes: classes });
  }

  const cy = cytoscape({
    container: document.getElementById("graph"),
    elements: elements,
    wheelSensitivity: 0.3,
    style: [
      { selector: "node", style: {
          "shape": "round-rectangle", "label": "data(caption)", "text-wrap": "wrap",
          "text-max-width": 220, "text-valign": "center", "text-halign": "center",
          "font-size": 12, "width": "label", "height": "label", "padding": 8,
          "border-width": 1, "border-color": "#7a8599", "color": "#1d2433" } },
      ...Object.keys(FILL).map(k => ({ selector: "node." + k, style: { "background-color": FILL[k] } })),
      { selector: "node.gap", style: { "border-style": "dashed", "border-color": "#c0392b" } },
      { selector: "edge", style: {
          "curve-style": "bezier", "target-arrow-shape": "triangle", "width": "data(width)",
          "line-color": "#8a94a6", "target-arrow-color": "#8a94a6", "label": "data(caption)",
          "font-size": 11, "text-background-color": "#ffffff", "text-background-opacity": 0.85,
          "text-background-padding": 2 } },
      { selector: "node.account", style: { "font-weight": "bold" } },
      { selector: "edge.in", style: { "line-style": "dotted", "width": 1.2, "label": "" } },
      { selector: "edge.chain", style: { "line-style": "dashed", "line-color": "#6c3fb5",
          "target-arrow-color": "#6c3fb5" } },
      { selector: "edge.cross", style: { "line-color": "#c0392b", "target-arrow-color": "#c0392b" } },
      { selector: ".faded", style: { "opacity": 0.12 } },
      { selector: ":selected", style: { "overlay-color": "#f1c40f", "overlay-opacity": 0.35 } },
    ],
  });

  // Dagre (a layered layout, vendored with its Cytoscape adapter) keeps the order a trace reads in:
  // origins on the left, each hop one step right, accounts on the right.
  const layout = cy.layout({ name: "dagre", rankDir: "LR", nodeSep: 8, rankSep: 120, edgeSep: 6,
                             nodeDimensionsIncludeLabels: true, animate: false });
  layout.on("layoutstop", () => {
    cy.fit(undefined, 24);
    document.body.dataset.drawn = "yes";
  });
  layout.run();

  const panel = document.getElementById("panel");
  function row(dl, term, value) {
    if (value === undefined || value === null || value === "") return;
    dl.append(el("dt", term), el("dd", value));
  }
  function showEdges(title, edges) {
    panel.replaceChildren(el("h2", title));
    for (const e of edges) {
      const s = e.summary;
      const box = el("section");
      box.dataset.edge = e.id;
      const name = id => cy.getElementById(id).data("model").label;
      box.append(el("h3", name(e.source) + " → " + name(e.target)));
      const dl = el("dl");
      row(dl, "sessions", s.count);
      row(dl, "first", s.first);
      row(dl, "last", s.last);
      row(dl, "console / CLI", s.console + " / " + s.cli);
      row(dl, "with MFA", s.mfa);
      row(dl, "deepest chain", s.maxDepth + " hop(s) from the origin");
      row(dl, "calls", s.calls);
      if (e.crossAccount) row(dl, "crosses", "an account boundary");
      box.append(dl);
      const list = el("ol", null, "sessions");
      for (const x of e.sessions) {
        const li = el("li");
        li.append(el("strong", x.session), el("div", (x.created || "") + " · " + x.calls + " calls · " +
          (x.console ? "console" : "CLI/API") + (x.mfa ? " · MFA" : "") + " · depth " + x.depth +
          (x.complete ? "" : " · origin unknown (logs missing)")));
        for (const c of x.commands) li.append(el("code", c));
        list.append(li);
      }
      box.append(list);
      if (s.count > e.sessions.length) {
        box.append(el("p", (s.count - e.sessions.length) + " more, with every session of the role:", "hint"),
                   el("code", e.more));
      }
      panel.append(box);
    }
  }
  cy.on("tap", "edge", evt => showEdges("edge", [evt.target.data("model")]));
  cy.on("tap", "node", evt => {
    const n = evt.target.data("model");
    showEdges(n.label, evt.target.connectedEdges().map(x => x.data("model")));
    if (n.kind === "gap") {
      panel.children[0].after(trailgraph.pairs([["why", n.reason], ["see", n.hint]]));
    }
  });
  cy.on("dbltap", evt => { if (evt.target === cy) cy.fit(undefined, 24); });

  document.getElementById("filter").addEventListener("input", evt => {
    const text = evt.target.value.trim().toLowerCase();
    cy.elements().removeClass("faded");
    if (!text) return;
    const hit = cy.nodes().filter(n => String(n.data("caption")).toLowerCase().includes(text));
    const keep = hit.union(hit.predecessors()).union(hit.successors());
    cy.elements().not(keep).addClass("faded");
  });

  window.trailgraphMap = cy;
})();
