"""The organisation map: the pure model from canned-query rows, and the page a real Chromium draws.

The browser tests block every network request, read back what Cytoscape drew and compare it with the
model built from the query rows, click an edge, and save screenshots (docs/ holds the committed ones).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SEED, load_paths
from tests.pages import measure, open_offline, simulated_org
from trailgraph.orgmap import TOP_ORIGINS, TOP_ROLES, crossings, fetch_rows, map_model, payload, to_html
from trailgraph.store.base import GraphStore
from trailgraph.store.embedded import EmbeddedStore
from trailgraph.store.neo4j import Neo4jStore
from trailgraph.timelinepic import render_timeline, timeline_model
from trailgraph.twins import map_rows

BOB = "arn:aws:iam::203016562928:user/bob@example.com"
ROLE = "role:776613361644:assume-admin-role-example"
SWITCH_ROLE_CALL = "14fb06e3-5649-4fc3-a274-226ba85c8be6"
HOSTILE = '</script><script>alert(1)</script><img src=x onerror="document.body.dataset.pwned=1">'
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
Row = dict[str, Any]


@pytest.fixture(scope="module")
def seed_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    store = EmbeddedStore(tmp_path_factory.mktemp("map") / "graph.db")
    load_paths(store, SEED)
    yield store
    store.close()


@pytest.fixture(scope="module")
def org_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    """A simulated organisation: 5,000 events, 20 people, one account whose logs are missing (the one
    bench/pictures.py draws by default, and docs/map-org-5000.png shows)."""
    store = simulated_org(tmp_path_factory.mktemp("org"), events=5000, people=20)
    yield store
    store.close()


def _model(store: GraphStore, account: str | None = None, **kw: Any) -> dict[str, Any]:
    return payload(map_model(fetch_rows(store, None, None, account), **kw))


def test_seed_map_is_bob_reaching_the_admin_role_across_accounts(seed_store: EmbeddedStore) -> None:
    model = _model(seed_store)
    assert [(n["kind"], n["label"]) for n in model["nodes"]] == [
        ("person", "bob@example.com"),
        ("account", "account 776613361644"),
        ("role", "assume-admin-role-example"),
    ]
    edge, into = (next(e for e in model["edges"] if e["kind"] == kind) for kind in ("reached", "account"))
    assert (edge["source"], edge["target"]) == (f"origin:{BOB}", ROLE)
    assert (into["source"], into["target"]) == (f"origin:{BOB}", "account:776613361644")
    assert edge["crossAccount"] and not edge["chain"] and into["summary"] == edge["summary"]
    assert edge["via"] == [{"fromRole": None, "name": None, "account": None, "hop": None, "sessions": 1}]
    assert model["nodes"][2]["parent"] == "account:776613361644"  # the role sits in its account's band
    assert edge["summary"] == {
        "count": 1, "first": "2020-09-17T19:04:10Z", "last": "2020-09-17T19:04:10Z",
        "console": 1, "cli": 0, "mfa": 1, "maxDepth": 2, "calls": 2,
    }  # fmt: skip
    (session,) = edge["sessions"]
    assert session["commands"] == [
        "trailgraph activity 'arn:aws:sts::776613361644:assumed-role/assume-admin-role-example/"
        "bob@example.com|2020-09-17T19:04:10Z|console'",
        f"trailgraph trace {SWITCH_ROLE_CALL}",
    ]
    # filters: someone else, or another account, leaves nothing
    assert _model(seed_store, principal="arn:aws:iam::1:user/nobody")["edges"] == []
    assert _model(seed_store, account="111111111111")["edges"] == []
    assert _model(seed_store, account="776613361644")["edges"] == model["edges"]


@pytest.mark.neo4j
def test_both_backends_give_the_same_map(seed_store: EmbeddedStore, neo4j_store: Neo4jStore) -> None:
    load_paths(neo4j_store, SEED)
    assert _model(neo4j_store) == _model(seed_store)


def _chained(rows: list[Row]) -> list[Row]:
    """The seed's map row, and rows as `map` returns them for a second hop (admin -> audit in a third
    account, from a session of the admin role) and for admin sessions whose origin is not loaded."""
    (row,) = copy.deepcopy(rows)
    audit = copy.deepcopy(row)
    audit.update(
        roleArn="arn:aws:iam::333333333333:role/audit", roleName="audit", roleAccount="333333333333",
        fromRole=row["roleArn"], maxDepth=3, sessions=2, console=0, mfa=1, calls=5,
    )  # fmt: skip
    dead = copy.deepcopy(row)
    dead.update(
        originLabel="AccountPrincipal", originId="555555555555|AIDAEXAMPLE", originType="AWSAccount",
        origin="555555555555|AIDAEXAMPLE", complete=False, gapAccount="555555555555",
        gapReason="the caller made AssumeRole from account 555555555555, whose trail is not loaded",
        sessions=3,
    )  # fmt: skip
    return [row, audit, dead]


def test_chains_and_gaps_stand_out(seed_store: EmbeddedStore) -> None:
    rows = _chained(fetch_rows(seed_store, None, None, None))
    model = payload(map_model(rows))
    edges = {(e["source"], e["target"]): e for e in model["edges"]}
    audit, bob = "role:333333333333:audit", f"origin:{BOB}"
    # one edge per (origin, role reached), through a chain or not; the hop itself is an edge of its own
    assert not edges[(bob, ROLE)]["chain"] and edges[(bob, audit)]["chain"]
    assert edges[(bob, audit)]["crossAccount"] and edges[(bob, audit)]["summary"]["maxDepth"] == 3
    assert edges[(bob, audit)]["summary"]["count"] == 2 and edges[(bob, audit)]["summary"]["cli"] == 2
    assert edges[(bob, audit)]["via"] == [
        {"fromRole": rows[0]["roleArn"], "name": "assume-admin-role-example", "account": "776613361644",
         "hop": ROLE, "sessions": 2},
    ]  # fmt: skip
    assert edges[(ROLE, audit)]["kind"] == "hop" and edges[(ROLE, audit)]["summary"]["count"] == 2
    assert edges[(bob, "account:333333333333")]["chain"]
    gap = next(n for n in model["nodes"] if n["kind"] == "gap")
    assert (gap["label"], gap["sessions"], gap["hint"]) == (
        "logs missing for account 555555555555", 3, "trailgraph gaps --account 555555555555",
    )  # fmt: skip
    assert "whose trail is not loaded" in gap["reason"]
    assert edges[("gap:555555555555", ROLE)]["crossAccount"]
    # the admin role's node counts every session it holds (1 from bob, 3 cut off), and so does its band
    by_id = {n["id"]: n for n in model["nodes"]}
    assert (by_id[ROLE]["sessions"], by_id["account:776613361644"]["sessions"]) == (4, 4)
    assert by_id["account:333333333333"]["sessions"] == 2 and by_id[bob]["sessions"] == 3
    # past the busiest origins, the rest fold into one node per kind that lists them (never "+1 more")
    alice = copy.deepcopy(rows[0])
    alice.update(
        origin="arn:aws:iam::203016562928:user/alice", originId="arn:aws:iam::203016562928:user/alice"
    )
    folded = payload(map_model([*rows, alice], top_origins=0))
    (more,) = [n for n in folded["nodes"] if n["kind"] == "person"]
    assert (more["id"], more["label"], more["sessions"]) == ("more:person", "+2 more people", 4)
    assert more["members"] == [{"label": "bob@example.com", "sessions": 3}, {"label": "alice", "sessions": 1}]
    assert any(n["kind"] == "gap" for n in folded["nodes"])  # "logs missing" nodes never fold
    assert {n["id"] for n in payload(map_model([*rows, alice], top_origins=1))["nodes"]} >= {bob, ROLE}
    # --principal keeps what that origin reached, hop after hop
    bobs = payload(map_model(rows, principal=BOB))
    assert sorted(e["id"] for e in bobs["edges"] if e["kind"] != "account") == sorted(
        [f"{bob}->{ROLE}", f"{bob}->{audit}", f"{ROLE}->{audit}"]
    )


def test_map_rows_keep_the_newest_forty_examples_of_a_row_as_its_sessions_arrive() -> None:
    """`map` groups sessions as they stream in and keeps only the newest 40 examples of each row (by
    creation time, newest first, then id; no creation time sorts last), as `collect(...)[..40]` after
    map.cypher's ORDER BY does: 500 sessions of one row, shuffled, some created in the same second
    and some with no creation time, give the examples a full sort gives, and every count."""
    import random

    role = {"label": "Role", "id": "arn:aws:iam::111111111111:role/Admin", "name": "Admin", "account": "1"}
    sessions: list[dict[str, Any]] = [
        {"label": "Session", "id": f"s{i:03d}", "originId": "alice", "depth": i % 4, "mfa": i % 3 == 0,
         "creationDate": None if i % 50 == 7 else f"2020-09-17T10:{i // 20:02d}:00Z"}
        for i in range(500)
    ]  # fmt: skip
    members = [(role, sd, (i % 3, "2020-09-17T11:00:00Z" if i % 3 else None, None), "e1", None, ["alice"])
               for i, sd in enumerate(sessions)]  # fmt: skip
    random.Random(5).shuffle(members)
    (row,) = map_rows(members, {"since": None, "until": None})
    newest = sorted(sessions, key=lambda sd: sd["id"])
    newest.sort(key=lambda sd: sd["creationDate"] or "", reverse=True)
    assert [e["id"] for e in row["examples"]] == [sd["id"] for sd in newest[:40]]
    assert row["examples"][0]["id"] == "s480" and row["examples"][0]["calls"] == 0  # 10:24, lowest id
    assert (row["sessions"], row["mfa"], row["calls"], row["maxDepth"]) == (500, 167, 499, 3)
    assert (row["first"], row["last"]) == ("2020-09-17T10:00:00Z", "2020-09-17T10:24:00Z")


def test_org_map_reads_every_role_session(org_store: EmbeddedStore) -> None:
    """No role is missed: every role with a session is drawn, and every session is counted once on the
    edge from its role to the role's account (the whole graph, read here only to check)."""
    g = org_store.graph()
    with_sessions = {
        dst for src, dst, t in g.edges(keys=True) if t == "SESSION_OF" and g.nodes[dst]["label"] == "Role"
    }
    everything = payload(map_model(fetch_rows(org_store, None, None, None), services=True))
    roles = [n for n in everything["nodes"] if n["kind"] == "role"]
    # one node per role: CloudTrail names a role with its path (role/ci/Deploy) or without (role/Deploy),
    # drawn or listed in its account's "+N more roles"
    drawn = {(n["account"], n["label"]) for n in roles if not n.get("folded")}
    listed = {(n["account"], m["label"]) for n in roles for m in n.get("members", [])}
    names = {(g.nodes[r]["account"], g.nodes[r]["name"]) for r in with_sessions}
    assert drawn | listed == names and not drawn & listed and len(with_sessions) > len(names) > 10
    assert TOP_ROLES <= len(drawn) < TOP_ROLES + 6 and listed  # and a fold of one is drawn as itself
    sessions = sum(1 for src, dst, t in g.edges(keys=True) if t == "SESSION_OF" and dst in with_sessions)
    assert sum(n["sessions"] for n in roles) == sessions
    assert sum(e["summary"]["count"] for e in everything["edges"] if e["kind"] == "account") == sessions
    model = _model(org_store)
    reached = [e for e in model["edges"] if e["kind"] == "reached"]
    origins = [n for n in model["nodes"] if n["kind"] not in ("role", "account")]
    assert sessions > 400 and len(model["nodes"]) < 60  # aggregated: hundreds of sessions, few nodes
    assert len([n for n in origins if n["kind"] != "gap" and not n.get("folded")]) in (
        TOP_ORIGINS,
        TOP_ORIGINS + 1,
    )
    assert any(e["chain"] for e in reached) and any(e["crossAccount"] for e in reached)
    assert any(n["kind"] == "gap" for n in model["nodes"])
    assert any(e["kind"] == "hop" for e in model["edges"])


def test_the_order_in_each_column_uncrosses_edges(org_store: EmbeddedStore) -> None:
    """The barycentre order leaves fewer origin -> account edges crossing than the busiest-first order
    it starts from (the drawn picture is measured by bench/pictures.py)."""
    model = payload(map_model(fetch_rows(org_store, None, None, None)))
    by_id = {n["id"]: n for n in model["nodes"]}
    pairs = [(e["source"], e["target"]) for e in model["edges"] if e["kind"] == "account"]
    busiest = {k: i for i, k in enumerate(sorted(by_id, key=lambda k: (-by_id[k]["sessions"], k)))}
    before = crossings([(busiest[a], busiest[b]) for a, b in pairs])
    after = crossings([(by_id[a]["order"], by_id[b]["order"]) for a, b in pairs])
    assert after < 0.8 * before, (after, before)
    for column in ({a for a, _ in pairs}, {b for _, b in pairs}):
        assert sorted(by_id[k]["order"] for k in column) == list(range(len(column)))


# ---- a real browser --------------------------------------------------------------------------------


_DRAWN = """() => {
  const cy = window.trailgraphMap, box = cy.extent();
  return {
    nodes: cy.nodes().map(n => ({id: n.id(), caption: n.data('caption'), x: n.position('x'),
             x1: n.boundingBox().x1, parent: n.isChild() ? n.parent().id() : null,
             inside: n.boundingBox().x1 >= box.x1 - 1 && n.boundingBox().x2 <= box.x2 + 1
                     && n.boundingBox().y1 >= box.y1 - 1 && n.boundingBox().y2 <= box.y2 + 1,
             width: n.width(), visible: n.visible()})),
    edges: cy.edges().map(e => ({source: e.source().id(), target: e.target().id(), classes: e.classes(),
             visible: e.visible()})),
  };
}"""


def _check_drawn(tab: Any, model: dict[str, Any]) -> dict[str, Any]:
    """Every node and edge of the model is in the page, as the model says: roles inside their account's
    band, origins in the column on its left; only origin -> account edges drawn until asked for; no
    two nodes or bands overlap and everything is in view."""
    drawn: dict[str, Any] = tab.evaluate(_DRAWN)
    assert sorted(n["id"] for n in drawn["nodes"]) == sorted(n["id"] for n in model["nodes"])
    assert sorted((e["source"], e["target"]) for e in drawn["edges"]) == sorted(
        (e["source"], e["target"]) for e in model["edges"]
    )
    for node in drawn["nodes"]:
        assert node["visible"] and node["inside"] and node["width"] > 20, node
    by_id = {n["id"]: n for n in drawn["nodes"]}
    for node in model["nodes"]:  # full labels, wrapped by the renderer, never cut
        assert node["label"] in by_id[node["id"]]["caption"]
        assert by_id[node["id"]]["parent"] == node.get("parent")
    for edge in model["edges"]:
        (shown,) = [
            d for d in drawn["edges"] if (d["source"], d["target"]) == (edge["source"], edge["target"])
        ]
        assert ("cross" in shown["classes"]) == edge["crossAccount"], edge["id"]
        assert ("chain" in shown["classes"]) == edge["chain"], edge["id"]
        assert shown["visible"] == (edge["kind"] == "account"), edge["id"]
        if edge["kind"] != "hop":  # origins on the left of every band
            band = by_id[edge["target"]]["parent"] or edge["target"]
            assert by_id[edge["source"]]["x"] < by_id[band]["x1"], edge["id"]
    quality = measure(tab)
    assert quality["overlaps"] == 0 and quality["edges"] == sum(
        e["kind"] == "account" for e in model["edges"]
    )
    return quality


def _shot(tab: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / name
    shot.unlink(missing_ok=True)
    tab.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


@pytest.mark.browser
def test_chromium_draws_the_seed_map_and_lists_an_edges_sessions(
    seed_store: EmbeddedStore, tab: Any, tmp_path: Path
) -> None:
    built = map_model(fetch_rows(seed_store, None, None, None))
    model = payload(built)
    page = tmp_path / "map.html"
    page.write_text(to_html(built), encoding="utf-8")
    assert open_offline(tab, page) == []
    _check_drawn(tab, model)
    # a real click on the middle of the edge bob -> the admin role's account lists the role he reached
    # there (its edge now drawn) and the session with its commands
    _click_edge(tab, f"origin:{BOB}->account:776613361644")
    panel = tab.inner_text("#panel")
    assert "bob@example.com → assume-admin-role-example" in panel and "reached\ndirectly: 1 session" in panel
    assert "assumed-role/assume-admin-role-example/bob@example.com" in panel
    assert f"trailgraph trace {SWITCH_ROLE_CALL}" in panel and "trailgraph activity '" in panel
    assert "console / CLI\n1 / 0" in panel and "with MFA\n1" in panel and "an account boundary" in panel
    assert _shown(tab) == [f"origin:{BOB}->{ROLE}"]  # in place of the edge into the account
    _shot(tab, "map-seed.png")


_AT = """(id) => { const e = window.trailgraphMap.getElementById(id);
  const p = e.isEdge() ? e.renderedMidpoint() : e.renderedPosition();
  const r = document.getElementById('graph').getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }"""


def _click_edge(tab: Any, element: str) -> None:
    """A real mouse click on the middle of an edge (or on a node)."""
    at = tab.evaluate(_AT, element)
    tab.mouse.click(at[0], at[1])


def _shown(tab: Any) -> list[str]:
    """The edges drawn and not faded, read at the next frame: Cytoscape's `:visible` can lag a class
    change made by the click just before (the screen shows it at the next frame too)."""
    ids: list[str] = tab.evaluate(
        "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => "
        "done(window.trailgraphMap.edges(':visible').not('.faded').map(e => e.id())))))"
    )
    return ids


@pytest.mark.browser
def test_chromium_draws_the_simulated_org_map(org_store: EmbeddedStore, tab: Any, tmp_path: Path) -> None:
    built = map_model(fetch_rows(org_store, None, None, None))
    page = tmp_path / "org.html"
    page.write_text(to_html(built), encoding="utf-8")
    assert open_offline(tab, page) == []
    model = payload(built)
    quality = _check_drawn(tab, model)
    assert quality["zoom"] * 13 >= 9, quality  # labels (13 px) still at least 9 px on screen, fitted
    _shot(tab, "map-org-5000.png")
    # a chain: click its origin (a real click: its edges to each role appear), then the edge into the
    # role it reached through another role: the hops its sessions took are drawn, back to the origin
    edge = next(e for e in model["edges"] if any(v["hop"] for v in e.get("via", [])))
    _click_edge(tab, edge["source"])
    assert edge["id"] in _shown(tab) and all(
        e.startswith(edge["source"] + "->role:") or e.startswith(edge["source"] + "->more:")
        for e in _shown(tab)
    )
    tab.evaluate("(id) => window.trailgraphMap.getElementById(id).emit('tap')", edge["id"])
    hop = next(v["hop"] for v in edge["via"] if v["hop"])
    assert {edge["id"], f"{hop}->{edge['target']}", f"{edge['source']}->{hop}"} <= set(_shown(tab))
    assert "from a session of " in tab.inner_text("#panel")
    tab.check("#hops")  # every hop from role to role, over the picture
    tab.mouse.click(
        5, tab.evaluate("() => document.getElementById('graph').getBoundingClientRect().bottom") - 5
    )
    hops = sorted(e["id"] for e in model["edges"] if e["kind"] == "hop")
    assert sorted(i for i in _shown(tab) if i.startswith("role:") or i.startswith("more:account")) == hops
    tab.uncheck("#hops")
    tab.fill("#filter", "logs missing")
    faded = tab.evaluate("() => window.trailgraphMap.nodes('.faded').length")
    kept = tab.evaluate("() => window.trailgraphMap.nodes().not('.faded').map(n => n.id())")
    assert faded > 0 and any(k.startswith("gap:") for k in kept)
    folded = next(n for n in model["nodes"] if n["id"] == "more:person")  # the filter finds who is folded
    tab.fill("#filter", folded["members"][-1]["label"])
    kept = tab.evaluate("() => window.trailgraphMap.nodes().not('.faded').map(n => n.id())")
    assert "more:person" in kept


@pytest.mark.browser
def test_a_hostile_role_session_name_stays_text_in_the_map(
    seed_store: EmbeddedStore, tab: Any, tmp_path: Path
) -> None:
    evil = copy.deepcopy(fetch_rows(seed_store, None, None, None))
    for row in evil:
        row["origin"] = row["originId"] = f"arn:aws:iam::203016562928:user/{HOSTILE}"
        row["roleName"] = HOSTILE
        for example in row["examples"]:
            example["arn"] = f"arn:aws:sts::776613361644:assumed-role/admin/{HOSTILE}"
    built = map_model(evil, title=HOSTILE)
    text = to_html(built)
    assert text.count("<script") == 4 and text.count("</script>") == 4
    data = re.search(r'<script type="application/json" id="trailgraph-data">(.*?)</script>', text, re.S)
    assert data is not None and "<" not in data.group(1) and ">" not in data.group(1)
    assert HOSTILE in json.loads(data.group(1))["title"]
    assert "http://" not in text.split("<script>")[0] and "https://" not in text.split("<script>")[0]
    page = tmp_path / "evil.html"
    page.write_text(text, encoding="utf-8")
    assert open_offline(tab, page) == []
    assert tab.evaluate("() => document.body.dataset.pwned") is None
    assert tab.evaluate("() => document.scripts.length") == 4
    assert HOSTILE in tab.inner_text("#title")
    captions = tab.evaluate("() => window.trailgraphMap.nodes().map(n => n.data('caption'))")
    assert sum(HOSTILE in c for c in captions) == 2  # the origin and the role, as text


# ---- activity as a timeline ------------------------------------------------------------------------


def _activity(store: GraphStore, principal: str) -> list[Row]:
    return list(
        store.run("activity", {"principal": principal, "since": None, "until": None, "account": None})
    )


def test_bobs_timeline_has_a_lane_per_session_and_a_mark_per_call(seed_store: EmbeddedStore) -> None:
    model = timeline_model(_activity(seed_store, BOB), "bob")
    assert [(lane["who"], lane["account"], lane["via"], lane["calls"]) for lane in model["lanes"]] == [
        ("bob@example.com", "203016562928", "sign-in session", 1),  # AssumeRole; its copy is no second call
        ("role assume-admin-role-example (as bob@example.com)", "776613361644",
         "AssumeRole (console SwitchRole)", 2),
    ]  # fmt: skip
    assert [(m["eventName"], m["copy"]) for m in model["marks"]] == [
        ("AssumeRole", False), ("AssumeRole", True), ("SwitchRole", False), ("CreateUser", False),
    ]  # fmt: skip
    assert model["marks"][-1]["command"] == "trailgraph trace 38d0221b-61e0-47d6-9c45-7eb2dc55125b"


def test_calls_with_a_users_own_keys_share_one_lane() -> None:
    rows = [
        {"kind": "call", "principal": "arn:aws:iam::1:user/a", "sessionId": None, "id": f"c{i}", "time": t,
         "eventName": n, "readOnly": ro, "errorCode": err, "eventId": f"e{i}", "depth": 0, "account": "1"}
        for i, (t, n, ro, err) in enumerate(
            [("2024-01-01T00:00:00Z", "ListUsers", True, None), ("2024-01-01T00:00:05Z", "DeleteUser", False,
             "AccessDenied")]
        )
    ]  # fmt: skip
    model = timeline_model(rows, "a")
    (lane,) = model["lanes"]
    assert (lane["who"], lane["via"], lane["calls"], lane["writes"], lane["errors"]) == (
        "a",
        "its own keys",
        2,
        1,
        1,
    )
    assert [(m["write"], m["error"]) for m in model["marks"]] == [(False, None), (True, "AccessDenied")]


@pytest.mark.browser
def test_chromium_draws_bobs_timeline(seed_store: EmbeddedStore, tab: Any, tmp_path: Path) -> None:
    rows = _activity(seed_store, BOB)
    model = timeline_model(rows, f"activity of {BOB}")
    page = tmp_path / "bob.html"
    page.write_text(render_timeline(rows, f"activity of {BOB}"), encoding="utf-8")
    assert open_offline(tab, page) == []
    drawn = tab.evaluate(
        """() => { const cy = window.trailgraphTimeline;
          return {
            lanes: cy.nodes('.lane').map(n => [n.data('model').id, n.position('y'), n.data('caption')]),
            marks: cy.nodes('.mark').map(n => [n.data('model').id, n.position('x'), n.position('y'),
                                               n.classes()]) }; }"""
    )
    lanes = {lane_id: y for lane_id, y, _caption in drawn["lanes"]}
    assert list(lanes) == [lane["id"] for lane in model["lanes"]]
    assert all("account " in caption and "reached by " in caption for *_x, caption in drawn["lanes"])
    by_call = {row["id"]: row for row in rows if row["kind"] == "call"}
    assert sorted(m[0] for m in drawn["marks"]) == sorted(by_call)
    for call_id, _x, y, classes in drawn["marks"]:  # each call sits on its session's lane
        assert y == lanes[by_call[call_id]["sessionId"]]
        assert ("copy" in classes) == (by_call[call_id]["via"] == "cross-account copy")
    xs = {call_id: x for call_id, x, _y, _c in drawn["marks"]}
    assert (
        xs["776613361644:70627092-0c9c-4163-9975-42ffcc50a37a"]
        < xs["776613361644:38d0221b-61e0-47d6-9c45-7eb2dc55125b"]
    )
    at = tab.evaluate(
        """(id) => {
          const n = window.trailgraphTimeline.nodes('.mark').filter(n => n.data('model').id === id)[0];
          const p = n.renderedPosition(), r = document.getElementById('graph').getBoundingClientRect();
          return [r.left + p.x, r.top + p.y]; }""",
        "776613361644:38d0221b-61e0-47d6-9c45-7eb2dc55125b",
    )
    tab.mouse.click(at[0], at[1])
    panel = tab.inner_text("#panel")
    assert "trailgraph trace 38d0221b-61e0-47d6-9c45-7eb2dc55125b" in panel
    assert "write\nnot recorded" in panel  # the seed's CreateUser record has no readOnly: not "no"
    _shot(tab, "activity-bob.png")


@pytest.mark.browser
def test_a_hostile_session_name_stays_text_in_the_timeline(
    seed_store: EmbeddedStore, tab: Any, tmp_path: Path
) -> None:
    rows = copy.deepcopy(_activity(seed_store, BOB))
    for row in rows:
        row["sessionArn"] = f"arn:aws:sts::776613361644:assumed-role/admin/{HOSTILE}"
        row["eventName"] = HOSTILE
    text = render_timeline(rows, HOSTILE)
    assert text.count("<script") == 4 and text.count("</script>") == 4
    page = tmp_path / "evil.html"
    page.write_text(text, encoding="utf-8")
    assert open_offline(tab, page) == []
    assert tab.evaluate("() => document.body.dataset.pwned") is None
    assert tab.evaluate("() => document.scripts.length") == 4
    assert HOSTILE in tab.inner_text("#title")
