"""Neo4j Browser as the investigation workbench.

The end-to-end tests drive the real Neo4j Browser (served by the test server) in Debian's headless
Chromium through Playwright: they log in through the form and rely on the server's post-connect command
for the style and the guide, run the seed trace and every canned query from the guide's own buttons,
read the drawn SVG, and load both files cross-origin from browser/serve.py as docker-compose does. The
other tests keep the guide, the style sheet and the two setups' wiring from drifting apart.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SEED, load_paths
from trailgraph import workbench
from trailgraph.queries_catalog import catalog
from trailgraph.schema import EDGE_TYPES, NODE_LABELS
from trailgraph.store.neo4j import Neo4jStore

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
CREATE_USER = "38d0221b-61e0-47d6-9c45-7eb2dc55125b"
UI_TIMEOUT_MS = 30_000
ASSETS = (workbench.STYLE_FILE, workbench.GUIDE_FILE)


def _grass() -> dict[str, dict[str, str]]:
    return workbench.parse_grass(workbench.read_style())


# ---- the files and the wiring ----------------------------------------------------------------------


def test_committed_guide_is_generated_from_the_queries() -> None:
    committed = (ROOT / "browser" / workbench.GUIDE_FILE).read_text(encoding="utf-8")
    assert committed == workbench.render_guide(), (
        "browser/guide.html is stale: run `trailgraph browser --write-guide browser/guide.html`"
    )


def test_guide_offers_every_canned_query_with_runnable_example_params() -> None:
    guide = workbench.render_guide()
    assert guide.count("<slide>") == 3 + len(catalog())
    for query in catalog().values():
        params = dict(workbench.example_params(query))
        assert set(params) == set(query.params), f"{query.name}: example and declared params differ"
        assert workbench.params_command(list(params.items())).replace(">", "&gt;") in guide
        assert workbench.query_body(query).replace("<", "&lt;").replace(">", "&gt;") in guide
    assert f"RETURN '{CREATE_USER}' AS eventId," in guide  # with $draw since main's d2c6264


def test_style_gives_every_label_and_edge_type_a_rule_the_browser_can_read() -> None:
    grass = _grass()
    for label in NODE_LABELS:
        rule = grass[f"node.{label}"]
        assert re.fullmatch(r"#[0-9A-F]{6}", rule["color"]), label
        assert rule["caption"] and rule["diameter"].endswith("px"), label
    for edge in EDGE_TYPES:
        assert grass[f"relationship.{edge}"]["caption"], edge
    for derived in ("ISSUED", "OPENED", "COPIED_TO"):
        assert grass[f"relationship.{derived}"]["caption"] == "{rule} {confidence}"
    assert all(p in grass["node.Session"]["caption"] for p in ("{role}", "{name}", "{account}"))
    assert all(p in grass["node.Role"]["caption"] for p in ("{name}", "{account}"))
    kinds = ["IAMUser", "Root", "ExternalIdentity", "Role", "Session", "AccessKey", "APICall", "Service"]
    colours = [grass[f"node.{label}"]["color"] for label in kinds]
    assert len(set(colours)) == len(colours), "humans, roles, sessions, keys, calls, services: a colour each"
    assert grass["node.IAMUser"]["caption"] == "{name}"
    assert grass["node.APICall"]["caption"] == "{eventName} {eventTime}"


def test_both_setups_apply_the_same_style_and_guide_on_connect() -> None:
    script = (ROOT / "tools" / "neo4j" / "neo4j.sh").read_text(encoding="utf-8")
    assert 'local assets="http://127.0.0.1:$HTTP_PORT' + workbench.LOCAL_ASSETS_PATH + '"' in script
    wired = (
        "browser.post_connect_cmd=style \\`trailgraph-style{} $sheet\\`; clear; "
        "guide $assets/${BROWSER_ASSETS[1]}"
    )
    assert wired in script
    assert f"BROWSER_ASSETS=({workbench.STYLE_FILE} {workbench.GUIDE_FILE})" in script
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert workbench.compose_post_connect_line() in compose, (
        "docker-compose.yml does not carry the current style: run `python -m trailgraph.workbench`"
    )
    inline = workbench.post_connect_cmd("http://x")
    assert inline.startswith(f"style {workbench.STYLE_MARKER} ") and inline.endswith(
        "`; clear; guide http://x/guide.html"
    )
    style = inline.split(workbench.STYLE_MARKER, 1)[1].split("`;", 1)[0]
    assert workbench.parse_grass(style) == _grass(), "Browser reads the inline sheet as the file"
    assert "./browser:/srv/trailgraph:ro" in compose


def test_neo4j_sh_puts_the_same_inline_style_in_the_server_config() -> None:
    """neo4j.sh's tr/sed makes of the style what post_connect_cmd expects (the e2e test checks both)."""
    import subprocess

    sheet = subprocess.run(
        [
            "bash",
            "-c",
            "tr -s '[:space:]' ' ' <\"$1\" | sed 's/^ //; s/ $//'",
            "_",
            str(ROOT / "browser" / "trailgraph.grass"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert sheet == workbench.one_line(workbench.read_style())


def test_browser_url_fills_in_the_connection_but_never_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEO4J_HTTP_PORT", raising=False)
    bench = workbench.workbench_for("neo4j://db.example:7687", username="alice", database="cloudtrail")
    assert bench.browser_url == (
        "http://db.example:7474/browser/?dbms=neo4j%3A%2F%2Falice%40db.example%3A7687&db=cloudtrail"
    )
    secure = workbench.workbench_for("neo4j+s://abc.databases.neo4j.io", browser_url="https://b.example/")
    assert secure.browser_url.startswith("https://b.example/?dbms=neo4j%2Bs%3A%2F%2Fneo4j%40abc.databases")
    assert workbench.http_base_for("bolt+s://h:7687", http_port=7473) == "https://h:7473"


def test_compose_asset_server_serves_the_files_to_browser_from_another_origin(tmp_path: Path) -> None:
    """browser/serve.py is the docker-compose `workbench` service: Browser on :7474 fetches from it."""
    sys.path.insert(0, str(ROOT / "browser"))
    try:
        import serve
    finally:
        sys.path.pop(0)
    server: ThreadingHTTPServer = serve.make_server("127.0.0.1", 0, ROOT / "browser")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        request = urllib.request.Request(
            f"{base}/{workbench.STYLE_FILE}", headers={"Origin": "http://localhost:7474"}
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            assert reply.headers["Access-Control-Allow-Origin"] == "*"
            assert reply.read().decode() == workbench.read_style()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/serve.py", timeout=10)
        assert refused.value.code == 404
    finally:
        server.shutdown()
        server.server_close()


# ---- the real Browser --------------------------------------------------------------------------------


def _chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: CI must `apt-get install -y chromium` for the browser tests")
    pytest.skip(f"{CHROMIUM} is not installed (Debian: apt-get install -y chromium)")


@pytest.fixture
def seeded(neo4j_store: Neo4jStore) -> Neo4jStore:
    load_paths(neo4j_store, SEED)
    return neo4j_store


@pytest.fixture
def page() -> Iterator[Any]:
    chromium = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("playwright is missing: it is a test dependency (pip install -e '.[test]')")
        pytest.skip("playwright is not installed (pip install playwright; never `playwright install`)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS, timeout=60_000)
        try:
            tab = browser.new_page(viewport={"width": 1600, "height": 1000}, device_scale_factor=1.5)
            tab.set_default_timeout(UI_TIMEOUT_MS)
            yield tab
        finally:
            browser.close()


_NODES = """() => [...document.querySelectorAll('svg g.node')].map(g => ({
    fill: g.querySelector('circle.b-outline').getAttribute('fill'),
    caption: [...g.querySelectorAll('text.caption')].map(t => t.textContent.trim()).join(' '),
    at: g.getAttribute('transform')}))"""
_VIEW = """() => [...document.querySelectorAll('svg g')].map(g => g.getAttribute('transform')).join('|')"""


def _when_still(page: Any, script: str, bound_s: float = 15) -> Any:
    """What `script` reads once two reads 300 ms apart agree: the force layout and zoom animate."""
    deadline = time.monotonic() + bound_s
    seen = page.evaluate(script)
    while time.monotonic() < deadline:
        page.wait_for_timeout(300)
        again = page.evaluate(script)
        if again == seen:
            break
        seen = again
    return seen


def _connect(page: Any, bench: workbench.Workbench, uri: str, password: str) -> None:
    """Log in through Browser's form (pre-filled from the URL) and wait for the post-connect guide."""
    page.goto(bench.browser_url, timeout=60_000)
    address = page.get_by_test_id("boltaddress")
    address.wait_for()
    assert address.input_value() == uri.split("://", 1)[1]
    page.locator("input[type=password]").fill(password)
    page.get_by_test_id("connect").click()
    page.get_by_text("Who really did this?", exact=True).wait_for()


def _command(page: Any, command: str) -> None:
    page.get_by_test_id("activeEditor").click()
    page.keyboard.insert_text(command)  # typed keys would get Monaco's auto-closed quotes
    page.keyboard.press("Enter")


@pytest.mark.neo4j
@pytest.mark.browser
@pytest.mark.timeout(240)
def test_browser_draws_the_seed_chain_with_the_trailgraph_style(
    seeded: Neo4jStore, neo4j_credentials: tuple[str, str, str], page: Any
) -> None:
    uri, user, password = neo4j_credentials
    bench = workbench.workbench_for(uri, username=user)
    configured = workbench.server_post_connect_cmd(uri, user, password)
    assert configured == workbench.post_connect_cmd(bench.http_base + workbench.LOCAL_ASSETS_PATH), (
        f"the server at {uri} does not apply the trailgraph style and guide on connect ({configured!r}): "
        "it was started before tools/neo4j/neo4j.sh configured Browser; restart it (neo4j.sh stop; start)"
    )
    served_at = workbench.asset_urls(bench.http_base + workbench.LOCAL_ASSETS_PATH)
    for url, name in zip(served_at, ASSETS, strict=True):
        with urllib.request.urlopen(url, timeout=10) as served:
            assert served.read() == (ROOT / "browser" / name).read_bytes(), (
                f"{url} is not the current browser/{name}: the server packs browser/ at start; restart it"
            )

    _connect(page, bench, uri, password)
    page.wait_for_timeout(1000)  # a style frame, were one left, would be there by now
    assert page.get_by_text("text-color-internal").count() == 0, "the style sheet was dumped as a frame"
    page.get_by_test_id("guideNextSlide").click()
    page.get_by_text("The seed investigation: who created a user?").wait_for()
    runnable = page.locator("pre.runnable")
    runnable.nth(0).locator("i").first.click()  # :param eventId => '...'
    page.get_by_text(f'"eventId": "{CREATE_USER}"').wait_for()
    runnable.nth(1).locator("i").first.click()  # the trace query

    page.locator("svg g.node").nth(4).wait_for()
    nodes: list[dict[str, str]] = _when_still(page, _NODES)
    grass = _grass()

    def drawn(label: str, caption: str) -> bool:
        return any(
            n["fill"].upper() == grass[f"node.{label}"]["color"] and caption in " ".join(n["caption"].split())
            for n in nodes
        )

    assert len(nodes) == 5, nodes  # bob, his console session, AssumeRole, the role session, CreateUser
    assert drawn("IAMUser", "bob@example.com"), nodes
    assert drawn("Session", "iamuser bob@example.com 203016562928"), nodes
    assert drawn("Session", "role assume-admin-role-example bob@example.com 776613361644"), nodes
    assert not any("…" in n["caption"] for n in nodes), nodes
    assert drawn("APICall", "AssumeRole"), nodes
    assert drawn("APICall", "CreateUser 2020-09-17T19:05:08Z"), nodes
    edges = page.locator("svg g.relationship text").all_text_contents()
    assert "console-switchrole strong" in edges, edges  # ISSUED, captioned {rule} {confidence}
    assert "named-in-record exact" in edges, edges  # OPENED
    assert not any("…" in e for e in edges), edges

    page.get_by_label("Collapse the node properties display").click()  # the overview panel
    _when_still(page, _VIEW, bound_s=5)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "browser-seed-trace.png"
    shot.unlink(missing_ok=True)
    page.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_trailgraph_browser_prints_the_url_and_opens_nothing_without_a_display(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    monkeypatch.delenv("NEO4J_HTTP_PORT", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    out, err = io.StringIO(), io.StringIO()
    code = workbench.run(
        neo4j_uri="bolt://127.0.0.1:1",
        username="neo4j",
        password=None,
        database=None,
        browser_url=None,
        open_window=True,
        out=out,
        err=err,
    )
    assert code == 0
    assert out.getvalue() == "http://127.0.0.1:7474/browser/?dbms=bolt%3A%2F%2Fneo4j%40127.0.0.1%3A1\n"
    assert "No graphical web browser here" in err.getvalue()


def test_write_guide_writes_the_rendered_guide(tmp_path: Path) -> None:
    target = tmp_path / "guide.html"
    workbench.write_guide(target)
    assert target.read_text(encoding="utf-8") == workbench.render_guide()


def test_trailgraph_browser_command_prints_the_url_and_writes_the_guide(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from trailgraph.cli import main

    assert "browser" in main.commands, "`trailgraph browser` is not wired into cli.py (see workbench.run)"
    env = {"NEO4J_PASSWORD": None, "NEO4J_HTTP_PORT": None, "DISPLAY": None, "WAYLAND_DISPLAY": None}
    result = CliRunner().invoke(main, ["browser", "--no-open", "--neo4j-uri", "bolt://127.0.0.1:1"], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout == "http://127.0.0.1:7474/browser/?dbms=bolt%3A%2F%2Fneo4j%40127.0.0.1%3A1\n"
    guide = tmp_path / "guide.html"
    result = CliRunner().invoke(main, ["browser", "--write-guide", str(guide)])
    assert result.exit_code == 0, result.output
    assert guide.read_text(encoding="utf-8") == workbench.render_guide()


@pytest.mark.neo4j
@pytest.mark.browser
@pytest.mark.timeout(300)
def test_every_canned_query_runs_from_its_guide_slide(
    seeded: Neo4jStore, neo4j_credentials: tuple[str, str, str], page: Any
) -> None:
    """Each query slide's two buttons (example parameters, then the query) work in the real Browser."""
    uri, user, password = neo4j_credentials
    _connect(page, workbench.workbench_for(uri, username=user), uri, password)
    next_slide = page.get_by_test_id("guideNextSlide")
    next_slide.click()
    next_slide.click()  # past the introduction and the seed walk-through, to the query index
    frames = page.get_by_test_id("frame")
    drawn = {}
    for query in catalog().values():
        next_slide.click()
        page.get_by_test_id("guidesDrawer").get_by_role("heading", name=query.name, exact=True).wait_for()
        _command(page, ":clear")
        runnable = page.locator("pre.runnable")
        runnable.nth(0).locator("i").first.click()
        frames.first.get_by_text("Successfully set your parameters").wait_for()
        runnable.nth(1).locator("i").first.click()
        frames.nth(1).wait_for()  # the query's frame, now the newest
        result = frames.first
        outcome = result.locator("svg g.node").or_(result.get_by_text("(no changes, no records)"))
        outcome.or_(result.get_by_text(re.compile(r"Neo\.\w+Error"))).first.wait_for()
        assert result.get_by_text(re.compile(r"Neo\.\w+Error")).count() == 0, result.inner_text()
        drawn[query.name] = result.locator("svg g.node").count()
    assert drawn["trace"] == 5 and drawn["activity"] > 5, drawn  # the seed: bob's chain, bob's actions


@pytest.mark.neo4j
@pytest.mark.browser
@pytest.mark.timeout(240)
def test_browser_takes_style_and_guide_from_the_compose_asset_service(
    neo4j_credentials: tuple[str, str, str], page: Any
) -> None:
    """docker-compose's wiring without Docker: Browser fetches both files cross-origin from serve.py."""
    uri, user, password = neo4j_credentials
    sys.path.insert(0, str(ROOT / "browser"))
    try:
        import serve
    finally:
        sys.path.pop(0)
    server: ThreadingHTTPServer = serve.make_server("127.0.0.1", 0, ROOT / "browser")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        style, guide = workbench.asset_urls(f"http://localhost:{server.server_address[1]}")
        _connect(page, workbench.workbench_for(uri, username=user), uri, password)
        _command(page, ":style reset")
        page.get_by_text("No styles yet").wait_for()
        _command(page, f":style {style}")
        frame = page.get_by_test_id("frame").filter(has_text=f":style {style}")
        frame.get_by_text("node.IAMUser {").wait_for()
        assert frame.get_by_text("InvalidGrassError").count() == 0
        _command(page, f":guide {guide}")
        page.get_by_test_id("guidesDrawer").get_by_text("Who really did this?", exact=True).wait_for()
        assert page.get_by_text("Remote guide error").count() == 0
    finally:
        server.shutdown()
        server.server_close()
