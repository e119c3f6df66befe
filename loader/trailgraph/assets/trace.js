// One trace (or the paths of query rows) as a picture: origin on the left, the action on the right,
// laid out by dagre (vendored with its Cytoscape.js adapter). Labels wrap at /, :, | and @ and are
// never cut; every hop prints its number, how it was linked and its evidence, and the same list is
// below the picture (and on paper). Text reaches the DOM through textContent only.
"use strict";
(function () {
  const data = trailgraph.data, el = trailgraph.el;
  const notes = document.getElementById("notes");
  notes.textContent = data.notes.join(" · ");
  // A zero-width space after each separator lets a long ARN wrap there; the text itself is unchanged.
  const breakable = text => String(text).replace(/([/:|@])/g, "$1\u200b");

  const hops = data.edges.filter(e => e.kind === "hop" || e.kind === "copy");
  const number = new Map(hops.map((e, i) => [e, i + 1]));
  function evidenceLine(e) {
    const d = e.details;
    const rule = d.linkedBy || d.rule;
    return (rule ? "linked by " + rule + " (" + (d.confidence || "?") + ")" : "") +
      (d.evidence && d.evidence.length ? "\nevidence:\n" + d.evidence.join("\n") : "");
  }

  const elements = [];
  for (const n of data.nodes) {
    const caption = [n.badge ? n.badge.toUpperCase() : "", n.title, n.subtitle].filter(Boolean).join("\n");
    elements.push({ group: "nodes", classes: n.kind,
                    data: { id: n.key, caption: caption, text: breakable(caption), model: n } });
  }
  data.edges.forEach((e, i) => {
    const caption = (number.has(e) ? "#" + number.get(e) + " " : "") + e.label +
      (number.has(e) ? "\n" + evidenceLine(e) : "");
    elements.push({ group: "edges", classes: e.kind,
                    data: { id: "edge:" + i, source: e.src, target: e.dst, caption: caption.trim(), model: e } });
  });

  const cy = cytoscape({
    container: document.getElementById("graph"),
    elements: elements,
    wheelSensitivity: 0.3,
    autoungrabify: true,
    style: [
      { selector: "node", style: {
          "shape": "round-rectangle", "label": "data(text)", "text-wrap": "wrap", "text-max-width": 220,
          "text-valign": "center", "text-halign": "center", "font-size": 15, "width": "label",
          "height": "label", "padding": 10, "border-width": 1, "border-color": "#6b7a99",
          "color": "#1d2330", "background-color": "#e4ecf7" } },
      { selector: "node.origin", style: { "background-color": "#d8f0d8", "border-width": 2, "border-color": "#2e7d32" } },
      { selector: "node.dead-end", style: { "background-color": "#fde9cf", "border-width": 2, "border-color": "#c05621" } },
      { selector: "node.session", style: { "background-color": "#eef0ff" } },
      { selector: "node.call", style: { "background-color": "#fff3d6", "font-weight": "bold" } },
      { selector: "node.gap", style: { "background-color": "#fde0e0", "border-style": "dashed",
          "border-color": "#c0392b", "color": "#b03a2e" } },
      { selector: "edge", style: {
          "curve-style": "bezier", "target-arrow-shape": "triangle", "width": 1.8,
          "line-color": "#7c8aa5", "target-arrow-color": "#7c8aa5", "label": "data(caption)",
          "text-wrap": "wrap", "font-size": 12, "color": "#374151", "text-background-color": "#ffffff",
          "text-background-opacity": 0.9, "text-background-padding": 2 } },
      { selector: "edge.copy", style: { "line-style": "dotted" } },
      { selector: "edge.gap", style: { "line-style": "dashed", "line-color": "#c0392b", "target-arrow-color": "#c0392b" } },
      { selector: ":selected", style: { "overlay-color": "#f1c40f", "overlay-opacity": 0.35 } },
    ],
  });
  // Dagre ranks every node one step right of what points to it: the origin left, the action right.
  // Edge labels carry the evidence, so ranks are set far enough apart to hold them.
  const layout = cy.layout({ name: "dagre", rankDir: "LR", nodeSep: 40, rankSep: 290, edgeSep: 20,
                             nodeDimensionsIncludeLabels: true, animate: false });
  layout.on("layoutstop", () => {
    cy.fit(undefined, 30);
    if (cy.zoom() > 1.6) { cy.zoom(1.6); cy.center(); }
    document.body.dataset.drawn = "yes";
  });
  layout.run();

  const title = key => cy.getElementById(key).data("model").title;
  const list = document.getElementById("hops");
  for (const e of hops) {
    const d = e.details;
    const li = el("li");
    li.dataset.hop = number.get(e);
    li.append(el("strong", title(e.src) + " → " + title(e.dst)), el("span", " · " + e.label +
      (d.at ? " · at " + d.at : "") + " · linked by " + (d.linkedBy || d.rule || "?") + " (" +
      (d.confidence || "?") + ")"));
    for (const id of d.evidence || []) li.append(" ", el("code", id));
    list.append(li);
  }
  if (!hops.length) list.append(el("li", "no linked hop: the call was made by the principal on the left"));
  for (const e of data.edges.filter(x => x.kind === "gap")) {
    const li = el("li", null, "gap");
    li.append(el("strong", "logs missing for account " + (e.details.account || "unknown")),
              el("span", " · " + (e.details.reason || "the trail ends here")));
    list.append(li);
  }

  const panel = document.getElementById("panel");
  function show(heading, details) {
    panel.replaceChildren(el("h2", heading), trailgraph.pairs(Object.entries(details).map(([k, v]) =>
      [k, Array.isArray(v) ? v.join(", ") : typeof v === "object" && v !== null ? JSON.stringify(v) : v])));
  }
  cy.on("tap", "node", evt => { const n = evt.target.data("model"); show(n.title, n.details); });
  cy.on("tap", "edge", evt => { const e = evt.target.data("model"); show(e.label, e.details); });
  cy.on("dbltap", evt => { if (evt.target === cy) cy.fit(undefined, 30); });
  window.trailgraphTrace = cy;
})();
