"""The organisation map laid out by ELK (elkjs, the Eclipse Layout Kernel) instead of our column order.

Not part of trailgraph: the page is rendered with elkjs and its Cytoscape.js adapter inlined, and with
map.js's column stacking swapped for an ELK `layered` layout (direction RIGHT, account bands as
compound nodes holding their roles, INCLUDE_CHILDREN, origins in the FIRST layer and bands in the
LAST, LAYER_SWEEP crossing minimisation), then measured in Chromium like bench/pictures.py (the same
tests/pages.py `measure`). The stores are the ones bench/pictures.py leaves in --dir:

    python bench/pictures.py --events 5000 --people 20 --dir /tmp/org20   # ours; also 2500/10, 24000/60
    mkdir /tmp/elk && cd /tmp/elk && npm pack elkjs@0.12.1 cytoscape-elk@2.3.0 && for f in *.tgz; do \\
      tar -xzf $f && mv package ${f%.tgz}; done && cd -
    python bench/elk_compare.py --elk /tmp/elk /tmp/org10 /tmp/org20 /tmp/org60 --seeds 1-4

Each variant (VARIANTS, each with every seed) prints the page size, navigation-to-drawn times (three
runs for the first seed), the drawing's crossings (and those its columns' order leaves, the count
orgmap's docstrings and tests use), overlaps and fitted zoom.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.pages import chromium_tab, measure, open_offline
from trailgraph import htmlpage
from trailgraph.orgmap import crossings, fetch_rows, map_model, payload
from trailgraph.store.embedded import EmbeddedStore

STACKING = ("  // Stack each column in the model's order", "  layout.run();\n")
ELK_LAYOUT = """  const layout = cy.layout({
    name: "elk", fit: true, padding: 16, animate: false, nodeDimensionsIncludeLabels: true,
    eles: cy.nodes().union(cy.edges(".account")),  // the edges drawn: origin -> account band
    nodeLayoutOptions: n => n.isParent()
      ? { "elk.padding": "[top=30,left=6,bottom=6,right=6]", "elk.spacing.nodeNode": 6,
          "elk.layered.layering.layerConstraint": "LAST" }
      : n.isChild() ? {} : { "elk.layered.layering.layerConstraint": "FIRST" },
    elk: OPTIONS,
  });
  layout.on("layoutstop", () => { document.body.dataset.drawn = "yes"; });
  layout.run();
"""
BASE = {
    "algorithm": "layered",
    "elk.direction": "RIGHT",
    "elk.hierarchyHandling": "INCLUDE_CHILDREN",
    "elk.layered.crossingMinimization.strategy": "LAYER_SWEEP",
    "elk.spacing.nodeNode": 6,
    "elk.layered.spacing.nodeNodeBetweenLayers": 300,
}
THOROUGH = {
    "elk.layered.mergeEdges": True,  # an account band's edges share one port, as they share its box
    "elk.layered.thoroughness": 100,
    "elk.layered.crossingMinimization.greedySwitch.type": "TWO_SIDED",
    "elk.layered.crossingMinimization.greedySwitchHierarchical.type": "TWO_SIDED",
}
VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},  # a port per edge, thoroughness 7, Brandes-Koepf placement
    "merged, thorough": THOROUGH,
    "merged, thorough, linear": {**THOROUGH, "elk.layered.nodePlacement.strategy": "LINEAR_SEGMENTS"},
    "merged, thorough, balanced": {**THOROUGH, "elk.layered.nodePlacement.bk.fixedAlignment": "BALANCED"},
}
_Y = "() => Object.fromEntries(window.trailgraphMap.nodes().map(n => [n.id(), n.position('y')]))"


def in_order(model: dict[str, Any], y: dict[str, float]) -> int:
    """The crossings the columns' order leaves (top to bottom as drawn), counted like orgmap's."""
    pairs = [(e["source"], e["target"]) for e in model["edges"] if e["kind"] == "account"]
    columns = [sorted({p[side] for p in pairs}, key=lambda k: y[k]) for side in (0, 1)]
    place = {k: i for column in columns for i, k in enumerate(column)}
    return crossings([(place[a], place[b]) for a, b in pairs])


def elk_page(model: dict[str, Any], packages: Path, options: dict[str, Any]) -> str:
    """The map page with ELK in place of the column stacking (htmlpage's assets swapped for the call)."""
    real, layout = htmlpage.asset, htmlpage.LAYOUT
    script = real("map.js")
    start, end = script.index(STACKING[0]), script.index(STACKING[1]) + len(STACKING[1])
    script = script[:start] + ELK_LAYOUT.replace("OPTIONS", json.dumps(options)) + script[end:]
    bundle = ";\n".join(  # one script: elkjs sets window.ELK, the adapter registers the "elk" layout
        (packages / f).read_text(encoding="utf-8")
        for f in ("elkjs-0.12.1/lib/elk.bundled.js", "cytoscape-elk-2.3.0/dist/cytoscape-elk.js")
    )

    def asset(name: str) -> str:
        return {"map.js": script, "elk": bundle}.get(name) or real(name)

    htmlpage.asset, htmlpage.LAYOUT = asset, "elk"  # the page's CSP hashes each script it inlines
    try:
        return htmlpage.render_page("map", model["title"], model, layout=True)
    finally:
        htmlpage.asset, htmlpage.LAYOUT = real, layout


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("dirs", type=Path, nargs="+", help="folders bench/pictures.py left (graph.db)")
    parser.add_argument("--elk", type=Path, required=True, help="the unpacked npm packages")
    parser.add_argument("--seeds", default="1", help="ELK random seeds, e.g. 1-6")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    low, _, high = args.seeds.partition("-")
    seeds = range(int(low), int(high or low) + 1)
    with chromium_tab() as tab:
        for folder in args.dirs:
            store = EmbeddedStore(folder / "graph.db")
            model = payload(map_model(fetch_rows(store, None, None, None)))
            store.close()
            for name, extra in VARIANTS.items():
                for seed in seeds:
                    page = folder / f"elk-{name.replace(', ', '-').replace(' ', '-')}-{seed}.html"
                    options = {**BASE, **extra, "elk.randomSeed": seed}
                    page.write_text(elk_page(model, args.elk, options), encoding="utf-8")
                    times = []
                    for _ in range(args.runs if seed == seeds[0] else 1):
                        start = time.perf_counter()
                        problems = open_offline(tab, page)
                        times.append(time.perf_counter() - start)
                        if problems:
                            raise SystemExit(f"{page}: {problems}")
                    q, ordered = measure(tab), in_order(model, tab.evaluate(_Y))
                    tab.screenshot(path=str(page.with_suffix(".png")))
                    print(
                        f"{folder.name} | {name} | seed {seed} | {page.stat().st_size / 1e6:.2f} MB | "
                        + ", ".join(f"{t:.2f} s" for t in times)
                        + f" | {q['crossings']} crossings ({ordered} in the columns' order) | "
                        f"{q['overlaps']} overlaps | zoom {q['zoom']:.2f} (labels {13 * q['zoom']:.2f} px) | "
                        f"{q['width']} x {q['height']} px",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
