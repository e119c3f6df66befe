"""Size of the map and timeline pages and how long Chromium takes to draw them, on a simulated org.

    python bench/pictures.py --events 40000 --people 60     # simulate, load (embedded), map, draw
    python bench/pictures.py --dir /tmp/org --reuse         # an already loaded organisation (graph.db)

Prints sessions aggregated, nodes and edges drawn, the HTML size, the model build time, and the time
from navigation to `body[data-drawn]` (layout done, first frame) in Debian's chromium with every
network request refused (three runs; the first includes a cold start of the page).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from trailgraph.load import load_blobs
from trailgraph.orgmap import fetch_rows, map_model, payload, to_html
from trailgraph.simulate import SimConfig, simulate
from trailgraph.sources.files import expand, iter_file_blobs
from trailgraph.store.embedded import EmbeddedStore


def drawn_in(page: Path, runs: int = 3) -> list[float]:
    from playwright.sync_api import sync_playwright

    times: list[float] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1600, "height": 1000})
        refused: list[str] = []

        def only_the_page(route: Any) -> None:
            if route.request.url == page.as_uri():
                route.continue_()
            else:
                refused.append(route.request.url)
                route.abort()

        tab.route("**/*", only_the_page)
        for _ in range(runs):
            start = time.perf_counter()
            tab.goto(page.as_uri())
            tab.wait_for_selector("body[data-drawn]", state="attached", timeout=120_000)
            times.append(time.perf_counter() - start)
        browser.close()
    if refused:
        raise SystemExit(f"the page asked the network for {refused}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40000)
    parser.add_argument("--people", type=int, default=60)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="use DIR/graph.db as loaded before")
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="tg-pictures-"))
    store = EmbeddedStore(root / "graph.db")
    if not args.reuse:
        summary = simulate(SimConfig(seed=1, events=args.events, people=args.people), root / "sim")
        load_blobs(store, iter_file_blobs(expand([str(summary.out_dir / "AWSLogs")])))
    start = time.perf_counter()
    rows, gaps = fetch_rows(store, None, None, 20000)
    model = map_model(rows, gaps)
    built = time.perf_counter() - start
    page = root / "map.html"
    page.write_text(to_html(model), encoding="utf-8")
    data = payload(model)
    sessions = sum(e["summary"]["count"] for e in data["edges"] if e["kind"] == "in")
    times = drawn_in(page)
    print(f"sessions aggregated: {sessions} (from {len(rows)} who-used rows)")
    print(f"drawn: {len(data['nodes'])} nodes, {len(data['edges'])} edges")
    print(f"html: {page.stat().st_size / 1e6:.2f} MB ({page})")
    print(f"model from the queries: {built:.2f} s")
    print("chromium, navigation to drawn: " + ", ".join(f"{t:.2f} s" for t in times))
    store.close()


if __name__ == "__main__":
    main()
