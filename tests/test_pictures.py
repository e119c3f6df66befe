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
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from tests.conftest import SEED, load_paths
from trailgraph.pictures import KIND_COLOURS, picture_from_trace, render_picture, render_rows
from trailgraph.store.embedded import EmbeddedStore
from trailgraph.tracing import trace_events

CREATE_USER = "38d0221b-61e0-47d6-9c45-7eb2dc55125b"
BOB = "arn:aws:iam::203016562928:user/bob@example.com"
HOSTILE = '</script><script>alert(1)</script><img src=x onerror="document.body.dataset.pwned=1">\\"\'&'
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")


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
    kinds = [(n.kind, n.layer) for n in pic.nodes.values()]
    assert kinds == [("origin", 0), ("session", 1), ("session", 2), ("call", 3)]
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


def _scripts(page: str) -> list[tuple[str, str]]:
    return re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)


def test_html_is_one_offline_file_with_everything_escaped(seed_answers: list[dict[str, Any]]) -> None:
    page = render_picture(hostile(seed_answers), "html")
    assert "http://" not in page and "https://" not in page
    title = re.search(r"<title>(.*?)</title>", page, re.S)
    assert title is not None and "<" not in title.group(1) and "&lt;/script&gt;" in title.group(1)
    code = "\n".join(body for attrs, body in _scripts(page) if "application/json" not in attrs)
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    assert style is not None
    for part in (
        code,
        style.group(1),
        re.sub(r"<script.*?</script>|<style>.*?</style>|<title>.*?</title>", "", page, flags=re.S),
    ):
        assert not _FETCH.search(part), _FETCH.search(part)
    # exactly the two script elements we wrote: the hostile name opened none
    scripts = _scripts(page)
    assert len(scripts) == 2 and page.count("<script") == 2 and page.count("</script>") == 2
    data_attrs, data = scripts[0]
    assert 'type="application/json"' in data_attrs
    assert "<" not in data and ">" not in data and "&" not in data
    payload = json.loads(data)
    assert any(HOSTILE in n["title"] or n["details"].get("name") == HOSTILE for n in payload["nodes"])
    # the page may run only its own script and style: a CSP pins both by hash and forbids the rest
    csp = html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page).group(1))  # type: ignore[union-attr]
    assert csp.startswith("default-src 'none';")
    for text in (scripts[1][1], style.group(1)):
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert "innerHTML" not in code and "insertAdjacentHTML" not in code and "document.write" not in code


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


def _chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: CI must `apt-get install -y chromium` for the browser tests")
    pytest.skip(f"{CHROMIUM} is not installed (Debian: apt-get install -y chromium)")


def _chromium_run(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(_chromium()), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
        "--window-size=1400,600", *extra, page.as_uri(),
    ]  # fmt: skip
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL
    )


@pytest.mark.browser
def test_chromium_draws_the_seed_trace_and_runs_no_hostile_code(
    seed_answers: list[dict[str, Any]], tmp_path: Path
) -> None:
    page = tmp_path / "seed-trace.html"
    page.write_text(render_picture(seed_answers, "html"), encoding="utf-8")
    dom = _chromium_run(page, tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    nodes = re.findall(r'<g class="node ([a-z-]+)" data-key="[^"]*"[^>]*>(.*?)</g>', dom.stdout, re.S)
    texts = {kind: re.findall(r'<text[^>]*class="title"[^>]*>([^<]*)</text>', body) for kind, body in nodes}
    assert [kind for kind, _body in nodes] == ["origin", "session", "session", "call"]
    titles = [t for kind, _body in nodes for t in texts[kind]]
    assert "bob@example.com" in titles and "CreateUser" in titles
    assert "assume-admin-role-example/" in titles  # wrapped after the slash, see below
    assert dom.stdout.count('class="edge ') == 3
    assert "console-switchrole (strong)" in dom.stdout
    # Wrapped, never cut: the lines of a title put back together are the whole name.
    session = next(body for kind, body in nodes if kind == "session" and "assume-admin" in body)
    lines = re.findall(r'<text[^>]*class="title"[^>]*>([^<]*)</text>', session)
    assert "".join(lines) == "assume-admin-role-example/bob@example.com" and len(lines) == 2, lines
    assert "…" not in "".join(re.findall(r"<text[^>]*>([^<]*)</text>", dom.stdout))
    # The evidence of every hop is on the page itself (and printed), not only in a tooltip.
    hops = re.search(r'<ol id="hops">(.*?)</ol>', dom.stdout, re.S)
    assert hops is not None
    for hop in seed_answers[0]["chain"]:
        for event_id in hop["evidence"]:
            assert f"<code>{event_id}</code>" in hops.group(1)
        assert f"linked by {hop['linkedBy']} ({hop['confidence']})" in hops.group(1)
    assert "@media print" in page.read_text(encoding="utf-8")
    legend = re.search(r'<div id="legend">(.*?)</div>', dom.stdout, re.S)
    assert legend is not None and legend.group(1).count('class="swatch"') == len(KIND_COLOURS)
    assert "cross-account copy" in legend.group(1) and "logs not loaded" in legend.group(1)

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "seed-trace.png"
    shot.unlink(missing_ok=True)
    result = _chromium_run(page, tmp_path / "profile", f"--screenshot={shot}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000

    evil = tmp_path / "hostile.html"
    evil.write_text(render_picture(hostile(seed_answers), "html"), encoding="utf-8")
    dom = _chromium_run(evil, tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "data-pwned" not in dom.stdout
    assert dom.stdout.count("<script") == 2  # none added by the name
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in dom.stdout  # drawn as text
