// activity as a picture: one lane per session, calls as marks at their time. Drawn with the vendored
// Cytoscape.js (zoom, pan, picking); positions come from the data, so no layout runs. Every string came
// from CloudTrail: text reaches the DOM through textContent only.
"use strict";
(function () {
  const data = trailgraph.data, el = trailgraph.el;
  // Calls in order, not to scale: one step per distinct second, so a burst after hours of quiet is
  // still readable; the ticks above print the real times.
  const LABEL_W = 440, LANE_H = 70;
  const seconds = [...new Set(data.marks.map(m => m.time).concat(data.lanes.map(l => l.start))
    .filter(Boolean))].sort();
  const STEP = Math.max(26, Math.min(110, 1100 / Math.max(1, seconds.length)));
  const slot = new Map(seconds.map((t, i) => [t, i]));
  const x = t => LABEL_W + (slot.has(t) ? slot.get(t) : 0) * STEP;

  document.getElementById("counts").textContent = data.lanes.length + " sessions · " + data.marks.length +
    " calls · " + data.marks.filter(m => m.write).length + " writes · " +
    data.marks.filter(m => m.error).length + " errors";

  const elements = [];
  data.lanes.forEach((lane, i) => {
    const y = i * LANE_H;
    const caption = lane.who + "\n" + "account " + (lane.account || "?") + " · depth " + lane.depth +
      "\n" + "reached by " + (lane.via || "?") + " · " + lane.calls + " calls";
    elements.push({ group: "nodes", data: { id: "lane:" + lane.id, caption: caption, model: lane },
                    position: { x: LABEL_W - 20, y: y }, classes: "lane", locked: true });
    const mine = data.marks.filter(m => m.lane === lane.id).map(m => m.time);
    const first = [lane.start].concat(mine).filter(Boolean).sort()[0];
    const last = [lane.start].concat(mine).filter(Boolean).sort().slice(-1)[0];
    if (first) {
      elements.push({ group: "nodes", data: { id: "start:" + lane.id }, position: { x: x(first), y: y },
                      classes: "end", locked: true });
      elements.push({ group: "nodes", data: { id: "stop:" + lane.id }, position: { x: x(last) + 1, y: y },
                      classes: "end", locked: true });
      elements.push({ group: "edges", data: { id: "span:" + lane.id, source: "start:" + lane.id,
                      target: "stop:" + lane.id }, classes: "span" });
    }
  });
  const laneY = new Map(data.lanes.map((l, i) => [l.id, i * LANE_H]));
  data.marks.forEach((m, i) => {
    const kind = m.error ? "error" : m.write ? "write" : "read";
    elements.push({ group: "nodes", data: { id: "call:" + i + ":" + m.id, model: m,
                    caption: kind === "read" && data.marks.length > 60 ? "" : m.eventName },
                    position: { x: x(m.time), y: laneY.get(m.lane) }, classes: "mark " + kind + (m.copy ? " copy" : ""),
                    locked: true });
  });
  const every = Math.max(Math.ceil(190 / STEP), Math.ceil(seconds.length / 8));
  seconds.forEach((t, i) => {
    if (i % every !== 0) return;
    elements.push({ group: "nodes", data: { id: "tick:" + i, caption: t }, classes: "tick", locked: true,
                    position: { x: x(t), y: -LANE_H * 0.8 } });
  });

  const cy = cytoscape({
    container: document.getElementById("graph"), elements: elements, layout: { name: "preset" },
    wheelSensitivity: 0.3, autoungrabify: true,
    style: [
      { selector: "node.lane", style: { "shape": "round-rectangle", "label": "data(caption)",
          "text-wrap": "wrap", "text-max-width": 400, "text-halign": "left", "text-valign": "center",
          "width": 6, "height": 44, "background-color": "#4b6fa8", "font-size": 13, "color": "#1d2433" } },
      { selector: "node.end", style: { "width": 1, "height": 1, "opacity": 0 } },
      { selector: "edge.span", style: { "width": 4, "line-color": "#cfd8e6", "curve-style": "straight" } },
      { selector: "node.mark", style: { "width": 11, "height": 11, "background-color": "#6b7a90",
          "label": "data(caption)", "font-size": 11, "text-valign": "top", "text-margin-y": -3 } },
      { selector: "node.write", style: { "background-color": "#e67e22", "width": 15, "height": 15 } },
      { selector: "node.error", style: { "background-color": "#c0392b", "border-width": 2,
          "border-color": "#7b1f16", "width": 15, "height": 15, "color": "#7b1f16" } },
      { selector: "node.copy", style: { "background-color": "#ffffff", "border-width": 2,
          "border-color": "#6b7a90" } },
      { selector: "node.tick", style: { "shape": "rectangle", "width": 1, "height": 12,
          "background-color": "#8a94a6", "label": "data(caption)", "font-size": 11, "text-valign": "top" } },
      { selector: ":selected", style: { "overlay-color": "#f1c40f", "overlay-opacity": 0.4 } },
    ],
  });
  // Fit the width; many lanes scroll (drag or wheel) instead of shrinking past reading size.
  cy.fit(undefined, 20);
  if (cy.zoom() < 0.8) {
    const box = cy.elements().boundingBox();
    cy.zoom(Math.max(0.8, Math.min(1.2, (cy.width() - 40) / box.w)));
    cy.pan({ x: 20 - box.x1 * cy.zoom(), y: 20 - box.y1 * cy.zoom() });
  }
  document.body.dataset.drawn = "yes";

  const panel = document.getElementById("panel");
  function show(title, pairs, command) {
    panel.replaceChildren(el("h2", title), trailgraph.pairs(pairs));
    if (command) panel.append(el("code", command));
  }
  cy.on("tap", "node.mark", evt => {
    const m = evt.target.data("model");
    show(m.eventName, [["time", m.time], ["service", m.source], ["account", m.account],
      ["write", m.readOnly === false ? "yes" : m.readOnly === true ? "no (read only)" : "not recorded"], ["error", m.error], ["copy", m.copy ? "cross-account copy" : ""]],
      m.command);
  });
  cy.on("tap", "node.lane", evt => {
    const l = evt.target.data("model");
    show(l.who, [["session", l.id], ["account", l.account], ["reached by", l.via], ["depth", l.depth],
      ["started", l.start], ["calls", l.calls], ["writes", l.writes], ["errors", l.errors]],
      l.id.startsWith("own:") ? "" : "trailgraph activity '" + l.id.replace(/'/g, "'\\''") + "' --calls");
  });
  window.trailgraphTimeline = cy;
})();
