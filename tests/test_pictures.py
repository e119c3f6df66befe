"""Pictures of a trace: DOT, GraphML and the offline HTML page, which a real Chromium must draw.

Session names are chosen by whoever assumes a role, so every test here also feeds a hostile name
through each format and checks it comes out as text.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import html
import io
import json
import re
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from tests.conftest import SEED, load_paths
from tests.pages import open_offline
from trailgraph.htmlpage import LAYOUT, LIBRARY, asset
from trailgraph.pictures import KIND_COLOURS, picture_from_trace, render_picture, render_rows, short_name
from trailgraph.store.embedded import EmbeddedStore
from trailgraph.tracing import trace_events

CREATE_USER = "38d0221b-61e0-47d6-9c45-7eb2dc55125b"
BOB = "arn:aws:iam::203016562928:user/bob@example.com"
HOSTILE = '</script><script>alert(1)</script><img src=x onerror="document.body.dataset.pwned=1">\\"\'&'
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.fixture(scope="module")
def seed_store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    store = EmbeddedStore(tmp_path_factory.mktemp("pictures") / "graph.db")
    load_paths(store, SEED)
    yield store
    store.close()


@pytest.fixture(scope="module")
def seed_answers(seed_store: EmbeddedStore) -> list[dict[str, Any]]:
    answers, missing = trace_events(seed_store, [CREATE_USER])
    assert not missing
    found: list[dict[str, Any]] = answers
    return found


def hostile(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The seed trace with the role session renamed to an attacker's choice."""
    evil = copy.deepcopy(answers)
    for hop in evil[0]["chain"]:
        for end in (hop["from"], hop["to"]):
            if end.get("type") == "AssumedRole":
                end["name"] = HOSTILE
                end["arn"] = end["id"] = f"arn:aws:sts::776613361644:assumed-role/admin/{HOSTILE}"
    evil[0]["actor"]["arn"] = evil[0]["actor"]["id"] = (
        f"arn:aws:sts::776613361644:assumed-role/admin/{HOSTILE}"
    )
    evil[0]["event"]["eventName"] = HOSTILE
    return evil


def test_the_picture_model_runs_from_origin_to_action(seed_answers: list[dict[str, Any]]) -> None:
    pic = picture_from_trace(seed_answers)
    assert [n.kind for n in pic.nodes.values()] == ["origin", "session", "session", "call"]
    labels = [e.label for e in pic.edges]
    assert labels == ["sign-in session", "AssumeRole (console SwitchRole)", "made the call"]
    assert pic.edges[1].details["linkedBy"] == "console-switchrole"
    assert pic.edges[1].details["confidence"] == "strong"
    assert "70627092-0c9c-4163-9975-42ffcc50a37a" in pic.edges[1].details["evidence"]


def _dot_strings(text: str) -> list[str]:
    """Every double-quoted DOT string, honouring backslash escapes; fails on an unterminated one."""
    found: list[str] = []
    i = 0
    while True:
        start = text.find('"', i)
        if start < 0:
            return found
        j = start + 1
        while text[j] != '"':
            j += 2 if text[j] == "\\" else 1
        found.append(text[start + 1 : j])
        i = j + 1


def test_dot_draws_the_chain_and_quotes_every_string(seed_answers: list[dict[str, Any]]) -> None:
    dot = render_picture(seed_answers, "dot")
    assert dot.startswith("digraph trailgraph {") and dot.rstrip().endswith("}")
    assert "rankdir=LR" in dot
    assert dot.count(" -> ") == 3
    assert "console-switchrole (strong)" in dot and "bob@example.com" in dot and "CreateUser" in dot
    evil = render_picture(hostile(seed_answers), "dot")
    strings = _dot_strings(evil)
    assert any(HOSTILE.replace("\\", "\\\\").replace('"', '\\"') in s for s in strings)
    # outside quoted strings, only DOT syntax remains: no piece of the hostile name leaks out
    unquoted = re.sub(r'"(?:\\.|[^"\\])*"', '""', evil)
    assert "script" not in unquoted and "onerror" not in unquoted


def test_graphml_reads_back_into_networkx(seed_answers: list[dict[str, Any]]) -> None:
    text = render_picture(hostile(seed_answers), "graphml")
    g = nx.read_graphml(io.StringIO(text))
    assert g.number_of_nodes() == 4 and g.number_of_edges() == 3
    kinds = sorted(d["kind"] for _n, d in g.nodes(data=True))
    assert kinds == ["call", "origin", "session", "session"]
    assert any(
        HOSTILE in str(d.get("title")) or HOSTILE in str(d.get("d_name")) for _n, d in g.nodes(data=True)
    )
    edge = next(d for _a, _b, d in g.edges(data=True) if d.get("d_linkedBy") == "console-switchrole")
    assert json.loads(edge["d_evidence"])[0] == "14fb06e3-5649-4fc3-a274-226ba85c8be6"


_FETCH = re.compile(r"""(?:\bsrc\s*=|\bhref\s*=|url\s*\(|@import|https?:|//[a-z0-9.-]+\.[a-z]{2,}/)""", re.I)
VENDORED = {asset(LIBRARY), asset(LAYOUT)}


def _scripts(page: str) -> list[tuple[str, str]]:
    return re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)


def test_html_is_one_offline_file_with_everything_escaped(seed_answers: list[dict[str, Any]]) -> None:
    page = render_picture(hostile(seed_answers), "html")
    title = re.search(r"<title>(.*?)</title>", page, re.S)
    assert title is not None and "<" not in title.group(1) and "&lt;/script&gt;" in title.group(1)
    scripts = _scripts(page)
    # exactly the five script elements we wrote (data, Cytoscape.js, dagre, page.js, trace.js): the
    # hostile name opened none
    assert len(scripts) == 5 and page.count("<script") == 5 and page.count("</script>") == 5
    code = [body for attrs, body in scripts[1:]]
    assert set(code[:2]) == VENDORED and code[2:] == [asset("page.js"), asset("trace.js")]
    style = re.search(r"<style[^>]*>(.*?)</style>", page, re.S)
    assert style is not None and style.group(1) == asset("page.css") + asset("trace.css")
    markup = re.sub(r"<script.*?</script>|<style.*?</style>|<title>.*?</title>", "", page, flags=re.S)
    for part in (*code[2:], style.group(1), markup):  # ours fetch nothing; the library is pinned below
        assert not _FETCH.search(part), _FETCH.search(part)
    data_attrs, data = scripts[0]
    assert 'type="application/json"' in data_attrs
    assert "<" not in data and ">" not in data and "&" not in data
    payload = json.loads(data)
    assert any(HOSTILE in n["title"] or n["details"].get("name") == HOSTILE for n in payload["nodes"])
    # the page may run only its own scripts and style: a CSP pins each by hash and forbids the rest
    csp = html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page).group(1))  # type: ignore[union-attr]
    assert csp.startswith("default-src 'none';") and "connect-src" not in csp
    for text in (*code, style.group(1)):
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    ours = "\n".join(code[2:])
    assert "innerHTML" not in ours and "insertAdjacentHTML" not in ours and "document.write" not in ours


def test_query_rows_draw_too(seed_store: EmbeddedStore) -> None:
    rows = seed_store.run("activity", {"principal": BOB, "since": None, "until": None, "account": None})
    dot = render_rows(rows, "dot", "activity of bob")
    # user -> sign-in session -> AssumeRole (-> its role-account copy) -> the role session -> 2 calls
    assert dot.count(" -> ") == 6 and "CreateUser" in dot
    g = nx.read_graphml(io.StringIO(render_rows(rows, "graphml", "activity")))
    assert g.number_of_nodes() == 7
    page = render_rows(rows, "html", "activity of <b>bob</b>")
    assert "<title>activity of &lt;b&gt;bob&lt;/b&gt; — trailgraph</title>" in page
    who = seed_store.run("who-used", {"roleArn": "assume-admin-role-example", "since": None, "until": None})
    assert "ORIGIN · A PERSON\\nbob@example.com" in render_rows(who, "dot", "who used the admin role")


# ---- a real browser --------------------------------------------------------------------------------

_DRAWN = """() => {
  const cy = window.trailgraphTrace, box = cy.extent();
  return {
    nodes: cy.nodes().map(n => ({id: n.id(), kind: n.classes()[0], caption: n.data('caption'),
             lines: n._private.rscratch.labelWrapCachedLines, wrap: n.style('text-wrap'),
             x: n.position('x'), width: n.width(),
             inside: n.boundingBox().x1 >= box.x1 - 1 && n.boundingBox().x2 <= box.x2 + 1})),
    edges: cy.edges().map(e => ({id: e.id(), source: e.source().id(), target: e.target().id(),
             kind: e.classes()[0], caption: e.data('caption')})),
  };
}"""


def _shot(tab: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / name
    shot.unlink(missing_ok=True)
    tab.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


@pytest.mark.browser
def test_chromium_draws_the_seed_trace_as_its_rows_say(
    seed_store: EmbeddedStore, seed_answers: list[dict[str, Any]], tab: Any, tmp_path: Path
) -> None:
    page = tmp_path / "seed-trace.html"
    page.write_text(render_picture(seed_answers, "html"), encoding="utf-8")
    assert open_offline(tab, page) == []
    drawn = tab.evaluate(_DRAWN)
    (row,) = seed_store.run("trace", {"eventId": CREATE_USER})
    # The principals of the trace row, left to right, then the call; each hop an edge pointing right.
    principals = [n for n in row["nodes"] if n["label"] != "APICall"]
    nodes = sorted(drawn["nodes"], key=lambda n: n["x"])
    assert [n["kind"] for n in nodes] == ["origin", "session", "session", "call"]
    assert len(nodes) == len(principals) + 1
    for node, step in zip(nodes, [*principals, row["nodes"][-1]], strict=True):
        name = step.get("eventName") if step["label"] == "APICall" else step.get("arn") or step["id"]
        assert short_name(name) in node["caption"], (node, step)
    x = {n["id"]: n["x"] for n in drawn["nodes"]}
    assert len(drawn["edges"]) == sum(1 for r in row["rels"] if r["type"] != "PERFORMED") + 1
    for edge in drawn["edges"]:
        assert x[edge["source"]] < x[edge["target"]], edge  # origin on the left
    # Every linked hop prints its rule, confidence and every evidence event id on the picture.
    captions = "\n".join(e["caption"] for e in drawn["edges"])
    for rel in row["rels"]:
        if rel["type"] == "ISSUED":
            assert f"linked by {rel['rule']} ({rel['confidence']})" in captions
            assert all(event_id in captions for event_id in rel["evidence"])
    # Wrapped, never cut: each label's drawn lines put back together are the whole caption.
    for node in drawn["nodes"]:
        assert node["wrap"] == "wrap" and node["inside"] and node["width"] > 40, node
        assert "".join(node["lines"]).replace("\u200b", "") == node["caption"].replace("\n", ""), node
    session = next(n for n in drawn["nodes"] if "assume-admin-role-example/bob@example.com" in n["caption"])
    assert len(session["lines"]) > session["caption"].count("\n") + 1  # the long name was wrapped
    # The evidence of every hop is listed on the page itself (and printed), not only on a click.
    hops = tab.inner_text("#hops")
    for hop in seed_answers[0]["chain"]:
        assert all(event_id in hops for event_id in hop["evidence"])
        assert f"linked by {hop['linkedBy']} ({hop['confidence']})" in hops
    assert "@media print" in page.read_text(encoding="utf-8")
    legend = tab.inner_text("#legend")
    assert tab.locator("#legend .swatch").count() == len(KIND_COLOURS)
    assert "cross-account copy" in legend and "logs not loaded" in legend
    _shot(tab, "seed-trace.png")
    # a real click on the SwitchRole hop lists all its details
    at = tab.evaluate(
        """() => { const e = window.trailgraphTrace.edges().filter(e => e.data('model').kind === 'hop')[1];
                   const p = e.renderedMidpoint();
                   const r = document.getElementById('graph').getBoundingClientRect();
                   return [r.left + p.x, r.top + p.y]; }"""
    )
    tab.mouse.click(at[0], at[1])
    assert "console-switchrole" in tab.inner_text("#panel")


@pytest.mark.browser
def test_a_hostile_session_name_stays_text_in_the_trace(
    seed_answers: list[dict[str, Any]], tab: Any, tmp_path: Path
) -> None:
    evil = tmp_path / "hostile.html"
    evil.write_text(render_picture(hostile(seed_answers), "html"), encoding="utf-8")
    assert open_offline(tab, evil) == []
    assert tab.evaluate("() => document.body.dataset.pwned") is None
    assert tab.evaluate("() => document.scripts.length") == 5  # none added by the name
    assert HOSTILE in tab.inner_text("#title") and HOSTILE in tab.inner_text("#hops")
    captions = tab.evaluate("() => window.trailgraphTrace.nodes().map(n => n.data('caption'))")
    assert any(HOSTILE in c for c in captions)
