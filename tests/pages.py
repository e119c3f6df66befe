"""trailgraph's offline pages in a real Chromium, and the simulated organisation they draw.

Shared by the browser tests (tests/test_map.py, tests/test_pictures.py) and bench/pictures.py, so the
benchmark measures exactly what the tests check: the page opened from disk with every other request
refused, and drawn when `body[data-drawn]` appears (layout done).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trailgraph.load import load_blobs
from trailgraph.simulate import SimConfig, simulate
from trailgraph.sources.files import expand, iter_file_blobs
from trailgraph.store.embedded import EmbeddedStore

CHROMIUM = Path("/usr/bin/chromium")


def simulated_org(root: Path, events: int, people: int) -> EmbeddedStore:
    """A simulated organisation (seed 1) loaded into root/graph.db; reused if already there."""
    db = root / "graph.db"
    fresh = not db.exists()
    store = EmbeddedStore(db)
    if fresh:
        summary = simulate(SimConfig(seed=1, events=events, people=people), root / "sim")
        load_blobs(store, iter_file_blobs(expand([str(summary.out_dir / "AWSLogs")])))
    return store


def missing_chromium() -> str | None:
    """Why the browser cannot run here, or None. Under CI that is a failure, never a skip."""
    if CHROMIUM.exists():
        return None
    return f"{CHROMIUM} is missing: `apt-get install -y chromium` for the browser tests" + (
        " (required under CI)" if os.environ.get("CI") else ""
    )


@contextmanager
def chromium_tab() -> Iterator[Any]:
    """One Playwright page in Debian's chromium (1600x1000 at 1.5x, for screenshots people can read)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"], timeout=60_000)
        try:
            yield browser.new_page(viewport={"width": 1600, "height": 1000}, device_scale_factor=1.5)
        finally:
            browser.close()


def open_offline(tab: Any, path: Path, timeout_ms: int = 120_000) -> list[str]:
    """Open the page with every request but the page itself refused and wait until it is drawn;
    returns the refused requests and the page's errors (an empty list when all is well)."""
    refused: list[str] = []
    tab.unroute("**/*")

    def only_the_page(route: Any) -> None:
        if route.request.url == path.as_uri():
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    tab.route("**/*", only_the_page)
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.goto(path.as_uri())
    tab.wait_for_selector("body[data-drawn]", state="attached", timeout=timeout_ms)
    return refused + errors


# Readability of a drawn graph, from the positions Cytoscape gave: edges as straight segments between
# their endpoints (how `bezier` draws a single edge), nodes as their boxes with labels.
MEASURE = """(name) => {
  const cy = window[name];
  const edges = cy.edges(':visible')
    .map(e => [e.source().id(), e.target().id(), e.sourceEndpoint(), e.targetEndpoint()]);
  const cross = (p, q, r, s) => {
    const d = (a, b, c) => Math.sign((b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x));
    return d(p, q, r) * d(p, q, s) < 0 && d(r, s, p) * d(r, s, q) < 0;
  };
  let crossings = 0;
  for (let i = 0; i < edges.length; i++) for (let j = i + 1; j < edges.length; j++) {
    const [a, b, p, q] = edges[i], [c, d, r, s] = edges[j];
    if (a === c || a === d || b === c || b === d) continue;
    if (cross(p, q, r, s)) crossings++;
  }
  const boxes = cy.nodes(':visible').filter(n => !n.isParent()).map(n => [n, n.boundingBox()]);
  let overlaps = 0;
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i][1], b = boxes[j][1];
    if (a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2) overlaps++;
  }
  const parents = cy.nodes(':visible').filter(n => n.isParent()).map(n => n.boundingBox());
  for (let i = 0; i < parents.length; i++) for (let j = i + 1; j < parents.length; j++) {
    const a = parents[i], b = parents[j];
    if (a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2) overlaps++;
  }
  const box = cy.elements(':visible').boundingBox();
  return {nodes: cy.nodes(':visible').length, edges: edges.length, crossings: crossings,
          overlaps: overlaps, zoom: cy.zoom(), width: Math.round(box.w), height: Math.round(box.h)};
}"""


def measure(tab: Any, name: str = "trailgraphMap") -> dict[str, Any]:
    """Edge crossings, node overlaps (boxes, and account bands) and the fitted zoom of a drawn page."""
    result: dict[str, Any] = tab.evaluate(MEASURE, name)
    return result
