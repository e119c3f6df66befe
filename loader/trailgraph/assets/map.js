// The organisation map page: draws the model embedded as JSON with Cytoscape.js (vendored next to
// this file; no layout library: the model orders the two columns). Two columns read left to right: origins, and the accounts they reached as bands holding
// the roles; the model gives each node its place in its column (ordered so few edges cross), this
// file only stacks them. Every string came from CloudTrail, so text reaches the DOM through
// textContent only.
"use strict";
(function () {
  const data = trailgraph.data, el = trailgraph.el;
  const FILL = { person: "#d8f0d8", external: "#e2f3f7", service: "#ececec", role: "#e4ecf7",
                 account: "#fff8e6", gap: "#fde0e0" };
  const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");
  const byKind = kind => data.edges.filter(e => e.kind === kind);
  const sessions = byKind("account").reduce((n, e) => n + e.summary.count, 0);
  const count = kind => data.nodes.filter(n => n.kind === kind).length;
  const origins = data.nodes.length - count("role") - count("account");
  document.getElementById("counts").textContent = plural(origins, "origin") + " → " +
    plural(count("role"), "role") + " in " + plural(count("account"), "account") + " · " +
    plural(sessions, "role session");

  const elements = [];
  for (const n of data.nodes) {
    const caption = n.kind === "gap" ? n.label + "\n" + plural(n.sessions, "session") + " cut off"
      : n.kind === "account" ? n.label + " · " + plural(n.sessions, "session")
      : n.label + " · " + n.sessions;
    const node = { id: n.id, caption: caption, model: n,
                   search: [caption, ...(n.members || []).map(m => m.label)].join("\n").toLowerCase() };
    if (n.parent) node.parent = n.parent;
    elements.push({ group: "nodes", data: node, classes: n.kind + (n.folded ? " folded" : "") });
  }
  const labelled = byKind("account").length <= 40;  // past that, width carries the count, a click the rest
  for (const e of data.edges) {
    const s = e.summary;
    const classes = [e.kind, e.crossAccount ? "cross" : "", e.chain ? "chain" : ""].join(" ").trim();
    elements.push({ group: "edges", data: { id: e.id, source: e.source, target: e.target,
                    caption: labelled || e.kind !== "account" ? String(s.count) : "",
                    width: Math.min(1 + Math.log2(1 + s.count), 7), model: e },
                    classes: classes });
  }

  const cy = cytoscape({
    container: document.getElementById("graph"),
    elements: elements,
    wheelSensitivity: 0.3,
    style: [
      { selector: "node", style: {
          "shape": "round-rectangle", "label": "data(caption)", "text-wrap": "wrap",
          "text-max-width": 300, "text-valign": "center", "text-halign": "center",
          "font-size": 13, "width": "label", "height": "label", "padding": 5,
          "border-width": 1, "border-color": "#7a8599", "color": "#1d2433" } },
      ...Object.keys(FILL).map(k => ({ selector: "node." + k, style: { "background-color": FILL[k] } })),
      { selector: "node.gap", style: { "border-style": "dashed", "border-color": "#c0392b" } },
      { selector: "node.folded", style: { "border-style": "dashed", "font-style": "italic" } },
      { selector: "node.account", style: { "font-weight": "bold", "text-valign": "top",
          "text-margin-y": -3, "padding": 6, "border-color": "#c9a227", "shape": "rectangle" } },
      { selector: "edge", style: {
          "curve-style": "bezier", "target-arrow-shape": "triangle", "arrow-scale": 0.8,
          "width": "data(width)", "line-color": "#8a94a6", "target-arrow-color": "#8a94a6",
          "opacity": 0.7, "label": "data(caption)", "font-size": 11,
          "text-background-color": "#ffffff", "text-background-opacity": 0.85,
          "text-background-padding": 1 } },
      { selector: "edge.chain", style: { "line-style": "dashed", "line-color": "#6c3fb5",
          "target-arrow-color": "#6c3fb5" } },
      { selector: "edge.cross", style: { "line-color": "#c0392b", "target-arrow-color": "#c0392b" } },
      { selector: "edge.reached, edge.hop", style: { "display": "none", "opacity": 0.9 } },
      { selector: "edge.hop", style: { "curve-style": "unbundled-bezier", "control-point-distances": -80,
          "line-style": "dotted", "width": 3 } },
      { selector: "edge.shown", style: { "display": "element" } },
      { selector: ".faded", style: { "opacity": 0.1 } },
      { selector: ":selected", style: { "overlay-color": "#f1c40f", "overlay-opacity": 0.35 } },
    ],
  });

  // Stack each column in the model's order: origins on the left, account bands (their roles inside)
  // on the right, both centred on the same line.
  const GAP = 6, BAND_GAP = 8, HEADER = 30;
  const left = cy.nodes().filter(n => !n.isParent() && !n.isChild())
    .sort((a, b) => a.data("model").order - b.data("model").order);
  const bands = cy.nodes(":parent").sort((a, b) => a.data("model").order - b.data("model").order);
  const positions = {};
  let y = 0;
  const width = Math.max(0, ...left.map(n => n.outerWidth()));
  left.forEach(n => { positions[n.id()] = { x: 0, y: y + n.outerHeight() / 2 }; y += n.outerHeight() + GAP; });
  const leftHeight = y;
  y = 0;
  const roleWidth = Math.max(0, ...cy.nodes(":child").map(n => n.outerWidth()));
  const x = width / 2 + 300 + roleWidth / 2;
  bands.forEach(band => {
    y += HEADER;
    band.children().sort((a, b) => a.data("model").order - b.data("model").order).forEach(n => {
      positions[n.id()] = { x: x, y: y + n.outerHeight() / 2 };
      y += n.outerHeight() + GAP;
    });
    y += BAND_GAP;
  });
  const shift = (y - leftHeight) / 2;
  left.forEach(n => { positions[n.id()].y += shift; });
  const layout = cy.layout({ name: "preset", positions: n => positions[n.id()], fit: true, padding: 16,
                              animate: false });
  layout.on("layoutstop", () => { document.body.dataset.drawn = "yes"; });
  layout.run();

  // Clicks: a node or an edge shows its own edges (to each role, and a chain's hops) over the rest,
  // faded; the panel lists the sessions with the commands that show each.
  const panel = document.getElementById("panel");
  const toggles = { reached: document.getElementById("roles"), hop: document.getElementById("hops") };
  function reset() {
    cy.elements().removeClass("faded");
    cy.edges().removeClass("shown");
    for (const kind of Object.keys(toggles)) if (toggles[kind].checked) cy.edges("." + kind).addClass("shown");
  }
  function focus(elements) {
    reset();
    const keep = elements.union(elements.connectedNodes()).union(elements.connectedNodes().parents());
    elements.addClass("shown");
    cy.elements().not(keep).addClass("faded");
    // an origin's edge into an account gives way to its edges to the roles there
    elements.filter(".reached.shown").forEach(e => {
      cy.getElementById(e.source().id() + "->" + e.target().parent().id()).addClass("faded");
    });
  }
  function hopsOf(e, seen) {  // the hops into a role that an origin's sessions took, back to the origin
    let hops = cy.collection();
    for (const v of e.data("model").via || []) {
      if (!v.hop || seen.has(v.hop)) continue;
      seen.add(v.hop);
      hops = hops.union(cy.getElementById(v.hop + "->" + e.target().id()));
      const before = cy.getElementById(e.source().id() + "->" + v.hop);
      if (before.nonempty()) hops = hops.union(before).union(hopsOf(before, seen));
    }
    return hops;
  }
  const name = id => {  // a role's name says its account: ReadOnly is in most of them
    const m = cy.getElementById(id).data("model");
    return m.kind === "role" ? m.label + " (" + m.account + ")" : m.label;
  };
  function row(dl, term, value) {
    if (value === undefined || value === null || value === "") return;
    dl.append(el("dt", term), el("dd", value));
  }
  function section(e, sessionsToo) {
    const s = e.summary, box = el("section");
    box.dataset.edge = e.id;
    box.append(el("h3", sessionsToo ? name(e.source) + " → " + name(e.target) : "every role there"));
    const dl = el("dl");
    row(dl, "sessions", s.count);
    row(dl, "first", s.first);
    row(dl, "last", s.last);
    row(dl, "console / CLI", s.console + " / " + s.cli);
    row(dl, "with MFA", s.mfa);
    row(dl, "deepest chain", s.maxDepth + " hop(s) from the origin");
    row(dl, "calls", s.calls);
    if (e.crossAccount) row(dl, "crosses", "an account boundary");
    for (const v of e.via || []) {
      row(dl, "reached", (v.fromRole ? "from a session of " + v.name + " (" + v.account + ")" : "directly") +
          ": " + plural(v.sessions, "session"));
    }
    box.append(dl);
    if (!sessionsToo) return box;  // listed under each role below
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
      box.append(el("p", (s.count - e.sessions.length) + " more, with every session of the role:", "hint"));
      for (const c of e.more) box.append(el("code", c));
    }
    return box;
  }
  function show(title, edges, before) {
    const many = edges.length > 1;
    panel.replaceChildren(el("h2", title), ...(before || []),
                          ...edges.map(e => section(e.data("model"), !many || !e.hasClass("account"))));
  }
  cy.on("tap", "edge", evt => {
    const e = evt.target, m = e.data("model");
    if (m.kind === "account") {  // an origin into an account: each role it reached there
      const roles = e.source().edgesTo(e.target().children());
      focus(roles.union(e));
      show(name(m.source) + " → " + name(m.target), [e, ...roles]);
    } else {
      focus(e.union(m.kind === "reached" ? hopsOf(e, new Set()) : cy.collection()));
      show((m.kind === "hop" ? "a hop: " : "how ") + name(m.source) + " reached " + name(m.target), [e]);
    }
  });
  cy.on("tap", "node", evt => {
    const n = evt.target, m = n.data("model");
    const edges = m.kind === "account" ? n.children().incomers("edge.reached")
      : m.kind === "role" ? n.connectedEdges() : n.connectedEdges(".reached");
    focus(edges.union(n));
    const before = [];
    if (m.kind === "gap") before.push(trailgraph.pairs([["why", m.reason], ["see", m.hint]]));
    if (m.members) {
      const list = el("ol");
      for (const x of m.members) list.append(el("li", x.label + " · " + plural(x.sessions, "session")));
      before.push(el("p", "folded here, busiest first (the filter box finds each):", "hint"), list);
    }
    show(m.label, edges.toArray(), before);
  });
  cy.on("tap", evt => { if (evt.target === cy) { reset(); cy.$(":selected").unselect(); } });
  cy.on("dbltap", evt => { if (evt.target === cy) cy.fit(undefined, 16); });
  for (const box of Object.values(toggles)) box.addEventListener("change", reset);

  document.getElementById("filter").addEventListener("input", evt => {
    const text = evt.target.value.trim().toLowerCase();
    reset();
    if (!text) return;
    const hit = cy.nodes().filter(n => n.data("search").includes(text));
    const near = hit.union(hit.children()).union(hit.neighborhood());
    cy.elements().not(near.union(near.parents())).addClass("faded");
  });

  window.trailgraphMap = cy;
})();
