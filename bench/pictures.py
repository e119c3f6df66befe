"""Size of the map page and how long Chromium takes to draw it, on a simulated org; and docs/ pictures.

    python bench/pictures.py --events 20000 --people 60    # simulate, load (embedded), map, draw
    python bench/pictures.py --dir /tmp/org                 # reuse DIR/graph.db if it is there
    python bench/pictures.py --docs docs                    # and redraw docs/*.png (seed, 5,000-event org)

Prints the role sessions aggregated, nodes and edges drawn, the HTML size, the time to run the `map`
query and build the model, the time from navigation to `body[data-drawn]` (layout done) in Debian's
chromium with every network request refused (three runs; the first includes a cold start), and how
readable the drawing is: edge crossings and node overlaps from the drawn positions, and the zoom that
fits it in the window (tests/pages.py `measure`).
The browser side is tests/pages.py, the same code the Chromium tests use.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.pages import chromium_tab, measure, open_offline, simulated_org
from trailgraph.orgmap import fetch_rows, map_model, payload, to_html
from trailgraph.pictures import render_picture
from trailgraph.store.embedded import EmbeddedStore
from trailgraph.timelinepic import render_timeline
from trailgraph.tracing import trace_events

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "examples" / "seed" / "console-switchrole-cross-account.json"
BOB = "arn:aws:iam::203016562928:user/bob@example.com"
CREATE_USER = "38d0221b-61e0-47d6-9c45-7eb2dc55125b"


def drawn_in(tab: Any, page: Path, runs: int = 3) -> list[float]:
    times: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        problems = open_offline(tab, page)
        times.append(time.perf_counter() - start)
        if problems:
            raise SystemExit(f"{page}: {problems}")
    return times


def click(tab: Any, script: str, arg: Any = None) -> None:
    """A real mouse click where `script` says an element is drawn (page coordinates)."""
    at = tab.evaluate(script, arg)
    tab.mouse.click(at[0], at[1])


_EDGE_AT = """(id) => { const p = window.trailgraphMap.getElementById(id).renderedMidpoint();
  const r = document.getElementById('graph').getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }"""
_MARK_AT = """(id) => {
  const n = window.trailgraphTimeline.nodes('.mark').filter(n => n.data('model').id === id)[0];
  const p = n.renderedPosition(), r = document.getElementById('graph').getBoundingClientRect();
  return [r.left + p.x, r.top + p.y]; }"""
_HOP_AT = """() => { const e = window.trailgraphTrace.edges().filter(e => e.data('model').kind === 'hop')[1];
  const p = e.renderedMidpoint(), r = document.getElementById('graph').getBoundingClientRect();
  return [r.left + p.x, r.top + p.y]; }"""


def seed_pictures(tab: Any, out: Path, work: Path) -> None:
    """docs/map-seed.png, docs/activity-bob.png and docs/trace-seed.png, each with its panel open."""
    from trailgraph.load import load_blobs
    from trailgraph.sources.files import expand, iter_file_blobs

    store = EmbeddedStore(work / "seed.db")
    load_blobs(store, iter_file_blobs(expand([str(SEED)])))
    pages = {
        "map-seed": to_html(map_model(fetch_rows(store, None, None, None))),
        "activity-bob": render_timeline(
            store.run("activity", {"principal": BOB, "since": None, "until": None, "account": None}),
            f"activity of {BOB}",
        ),
        "trace-seed": render_picture(trace_events(store, [CREATE_USER])[0], "html"),
    }
    clicks = {
        "map-seed": (_EDGE_AT, f"origin:{BOB}->account:776613361644"),
        "activity-bob": (_MARK_AT, f"776613361644:{CREATE_USER}"),
        "trace-seed": (_HOP_AT, None),
    }
    for name, text in pages.items():
        page = work / f"{name}.html"
        page.write_text(text, encoding="utf-8")
        drawn_in(tab, page, runs=1)
        click(tab, *clicks[name])
        tab.screenshot(path=str(out / f"{name}.png"))
        print(f"wrote {out / f'{name}.png'} ({page.stat().st_size / 1e3:.0f} kB of HTML)")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--people", type=int, default=60)
    parser.add_argument("--dir", type=Path, default=None, help="keep the organisation here (reused)")
    parser.add_argument("--docs", type=Path, default=None, help="also redraw the pictures in this folder")
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="tg-pictures-"))
    root.mkdir(parents=True, exist_ok=True)
    store = simulated_org(root, args.events, args.people)
    start = time.perf_counter()
    rows = fetch_rows(store, None, None, None)
    model = map_model(rows)
    built = time.perf_counter() - start
    page = root / "map.html"
    page.write_text(to_html(model), encoding="utf-8")
    data = payload(model)
    drawn = sum(r["sessions"] for r in rows if r.get("originType") != "AWSService")
    with chromium_tab() as tab:
        times = drawn_in(tab, page)
        quality = measure(tab)
        if args.docs is not None:
            tab.screenshot(path=str(args.docs / f"map-org-{args.events}.png"))
            print(f"wrote {args.docs / f'map-org-{args.events}.png'}")
            seed_pictures(tab, args.docs, root)
    print(f"role sessions: {sum(r['sessions'] for r in rows)} ({drawn} drawn; AWS services left out)")
    kinds = Counter(e["kind"] for e in data["edges"])
    print(
        f"model: {len(data['nodes'])} nodes, {len(data['edges'])} edges from {len(rows)} map rows ("
        + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        + ")"
    )
    print(f"html: {page.stat().st_size / 1e6:.2f} MB ({page})")
    print(f"map query + model: {built:.2f} s")
    print("chromium, navigation to drawn: " + ", ".join(f"{t:.2f} s" for t in times))
    print(
        f"as drawn: {quality['nodes']} nodes, {quality['edges']} edges shown, {quality['crossings']} "
        f"crossings, {quality['overlaps']} overlaps, fitted zoom {quality['zoom']:.2f} "
        f"({quality['width']} x {quality['height']} px of drawing)"
    )
    store.close()


if __name__ == "__main__":
    main()
