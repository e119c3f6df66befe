"""The canned queries: each .cypher file and its networkx twin give identical rows on every corpus.

Parameters are drawn from the loaded data (every principal, role, key, session and event id), plus
time windows, account filters and values that match nothing, so a twin that drifts from its Cypher
shows up as a row difference here rather than as two backends telling an investigator two stories.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from tests.builders import assume_role, call, role_session_identity, user_identity
from tests.conftest import CORPORA, SEED, load_paths
from tests.lineage_helpers import load_records
from tests.test_find import FIND_NONE, assert_find_matches_the_files
from trailgraph.facts import GraphBatch, NodeRef
from trailgraph.queries_catalog import DRAW_COLUMN, catalog
from trailgraph.simulate import SimConfig, simulate
from trailgraph.store.base import GraphStore
from trailgraph.store.embedded import EmbeddedStore
from trailgraph.store.neo4j import Neo4jStore
from trailgraph.streamed import CHUNK
from trailgraph.twins import TWINS, GapMember, KeptCalls, gap_rows, run_twin

CORPUS_DIRS = sorted(p.name for p in CORPORA.iterdir() if p.is_dir())
BOB = "arn:aws:iam::203016562928:user/bob@example.com"
CREATE_USER = "38d0221b-61e0-47d6-9c45-7eb2dc55125b"
ROLE = "arn:aws:iam::776613361644:role/assume-admin-role-example"
CONSOLE_KEY = "ASIA3JUODO7W6YEVI655"
Params = dict[str, Any]


@pytest.fixture(autouse=True)
def _quiet_neo4j_notices() -> None:
    """The server's notices (e.g. a property key no node has yet) are expected here, and very long."""
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)


def _nodes(g: nx.MultiDiGraph, label: str) -> list[dict[str, Any]]:
    return [d for _k, d in g.nodes(data=True) if d["label"] == label]


def _windows(g: nx.MultiDiGraph) -> list[Params]:
    """No window, an open-ended one on each side of the median call time, and one that is one second."""
    times = sorted(d["eventTime"] for d in _nodes(g, "APICall"))
    if not times:
        return [{"since": None, "until": None}]
    mid = times[len(times) // 2]
    return [
        {"since": None, "until": None},
        {"since": mid, "until": None},
        {"since": None, "until": mid},
        {"since": mid, "until": mid},
    ]


CHAINS_ALL: Params = {"crossAccountOnly": None, "minHops": None, "account": None, "limit": None}


def param_sets(g: nx.MultiDiGraph) -> list[tuple[str, Params]]:
    """Every canned query with parameters drawn from the graph."""
    windows = _windows(g)
    accounts = [*sorted({str(d["id"]) for d in _nodes(g, "Account")})[:3], "000000000000"]
    principals: set[str] = set()
    for label in ("IAMUser", "Root", "Service", "AccessKey"):
        principals |= {d["id"] for d in _nodes(g, label)}
    for d in _nodes(g, "ExternalIdentity"):
        principals |= {v for v in (d["id"], d.get("subject"), d.get("userId")) if v}
    sessions: set[str] = {str(d["id"]) for d in _nodes(g, "Session")}
    sessions |= {str(d["arn"]) for d in _nodes(g, "Session") if d.get("arn")}
    sets: list[tuple[str, Params]] = []
    for principal in [*sorted(principals), "no-such-principal"]:
        for w in windows:
            sets.append(("activity", {"principal": principal, **w, "account": None}))
            sets.append(("timeline", {"principal": principal, **w, "account": None}))
        for account in accounts[:2]:
            sets.append(
                ("activity", {"principal": principal, "since": None, "until": None, "account": account})
            )
    for session in sorted(sessions):
        for w in windows[:2]:
            sets.append(("timeline", {"principal": session, **w, "account": None}))
        sets.append(
            ("timeline", {"principal": session, "since": None, "until": None, "account": accounts[0]})
        )
    roles = {d["id"] for d in _nodes(g, "Role")} | {d["name"] for d in _nodes(g, "Role") if d.get("name")}
    for role in [*sorted(roles), "no-such-role"]:
        for w in windows:
            sets.append(("who-used", {"roleArn": role, **w}))
    for key in [*sorted(d["id"] for d in _nodes(g, "AccessKey")), "AKIANOSUCHKEY"]:
        for w in windows:
            sets.append(("key", {"accessKeyId": key, **w}))
    chain_filters: list[tuple[bool | None, int | None, str | None]] = [
        (None, None, None),
        (True, None, None),
        (False, 2, None),
        (None, 1, accounts[0]),
    ]
    for w in windows:
        for gap_account in [None, *accounts]:
            sets.append(("gaps", {**w, "account": gap_account}))
            sets.append(("map", {**w, "account": gap_account}))
        for cross, hops, chain_account in chain_filters:
            sets.append(
                ("chains", {"crossAccountOnly": cross, "minHops": hops, **w, "account": chain_account})
            )
        for limit in (1, 2, 3):
            sets.append(("chains", {**CHAINS_ALL, **w, "limit": limit}))
    for event_id in [*sorted({d["eventId"] for d in _nodes(g, "APICall")}), "no-such-event"]:
        sets.append(("trace", {"eventId": event_id}))
    sets += [("find", p) for p in find_params(g, windows, accounts, sorted(principals | sessions))]
    return sets


def _some(values: set[Any], n: int = 3) -> list[Any]:
    return sorted(v for v in values if v is not None)[:n]


def _quoted_value(text: Any) -> str | None:
    """A value inside a stored JSON field, as `--contains` would be given it."""
    found = re.findall(r'":"([^"\\]{3,40})"', text) if isinstance(text, str) else []
    return found[0] if found else None


def find_params(
    g: nx.MultiDiGraph, windows: list[Params], accounts: list[str], who: list[str]
) -> list[Params]:
    """find by every filter, alone and combined, with values drawn from the calls (and ones that miss)."""
    calls = _nodes(g, "APICall")
    names = _some({c.get("eventName") for c in calls}, 4)
    agents = _some({c.get("userAgent") for c in calls}, 2)
    contained = _some({_quoted_value(c.get("requestParameters")) for c in calls}, 2)
    contained += _some({_quoted_value(c.get("responseElements")) for c in calls}, 1)
    sets: list[Params] = [{}, {"limit": 1}, {"limit": 7}, {"writeOnly": True}, {"writeOnly": False}]
    sets += [{"eventName": n} for n in [*names, "no-such-event"]]
    sets += [{"eventName": n[:3] + ".*"} for n in names[:2]] + [{"eventName": "get.*"}]
    sets += [{"source": v} for v in _some({c.get("eventSource") for c in calls}, 2)]
    sets += [{"account": a} for a in accounts]
    sets += [{"region": v} for v in _some({c.get("region") for c in calls}, 2)]
    sets += [{"ip": v} for v in _some({c.get("sourceIPAddress") for c in calls}, 2)]
    sets += [{"userAgent": a[:12].upper()} for a in agents] + [{"userAgent": "no-such-agent"}]
    sets += [{"error": "*"}] + [{"error": e} for e in _some({c.get("errorCode") for c in calls}, 2)]
    sets += [{"contains": t} for t in [*contained, "no-such-text-9f3c"]]
    sets += [{"since": w["since"], "until": w["until"]} for w in windows[1:]]
    sets += [{"principal": p, "limit": 20} for p in [*who[:: max(1, len(who) // 8)], "no-such-principal"]]
    if names and who:
        sets.append({"principal": who[0], "eventName": names[0] + "|" + names[-1], "writeOnly": None})
    if accounts:
        sets.append({"error": "*", "account": accounts[0], "since": windows[-1]["since"], "limit": 3})
    return [{**FIND_NONE, **s} for s in sets]


def assert_same_rows(embedded: EmbeddedStore, neo4j: Neo4jStore) -> dict[str, int]:
    """Run every parameter set on both engines; return how many non-empty answers each query gave."""
    differences: list[str] = []
    answered: dict[str, int] = dict.fromkeys(TWINS, 0)
    for name, params in param_sets(embedded.graph()):
        twin, cypher = embedded.run(name, params), neo4j.run(name, params)
        if run_twin(embedded.graph(), name, params) != twin:
            differences.append(f"{name} {params}: the indexed read differs from the twin on the whole graph")
        if twin != cypher:
            first = next((i for i, (a, b) in enumerate(zip(twin, cypher, strict=False)) if a != b), None)
            detail = (
                ""
                if first is None
                else f"; row {first}: {str(twin[first])[:500]} != {str(cypher[first])[:500]}"
            )
            differences.append(f"{name} {params}: {len(twin)} twin rows, {len(cypher)} Cypher rows{detail}")
        answered[name] += bool(twin)
    assert not differences, "\n".join(differences[:5]) + f"\n({len(differences)} differences)"
    return answered


@pytest.mark.neo4j
@pytest.mark.parametrize("corpus", CORPUS_DIRS)
def test_every_query_gives_identical_rows_on_both_engines(
    corpus: str, embedded_store: EmbeddedStore, neo4j_store: Neo4jStore
) -> None:
    load_paths(embedded_store, CORPORA / corpus)
    load_paths(neo4j_store, CORPORA / corpus)
    answered = assert_same_rows(embedded_store, neo4j_store)
    assert_find_matches_the_files(embedded_store, CORPORA / corpus)  # and so Neo4j's, equal above
    if _nodes(embedded_store.graph(), "APICall"):
        assert answered["trace"] and answered["activity"] and answered["timeline"] and answered["key"]
        assert answered["find"] > 10


@pytest.mark.neo4j
def test_chains_gaps_and_map_of_an_organisation_read_by_parts_answer_as_the_whole_graph(
    tmp_path: Path, embedded_store: EmbeddedStore, neo4j_store: Neo4jStore
) -> None:
    """The embedded store reads `chains` deepest level first and stops once the limit is settled,
    `gaps` and `map` without a graph (`map` keeping only the newest examples of each row as sessions
    arrive), and `activity` and `timeline` with leaf calls kept lean and read a chunk at a time: on an
    organisation with chains of several depths (and its traps), every limit and filter must give the
    whole graph's answer and Neo4j's."""
    simulate(SimConfig(seed=3, events=12_000, days=2, people=12), tmp_path / "org")
    load_paths(embedded_store, tmp_path / "org" / "AWSLogs")
    load_paths(neo4j_store, tmp_path / "org" / "AWSLogs")
    g = embedded_store.graph()
    depths = {d.get("depth") for d in _nodes(g, "Session")}
    assert {0, 1, 2, 3} <= depths, depths  # dead ends, and chains ending at more than one level
    windows = _windows(g)
    accounts = sorted({str(d["id"]) for d in _nodes(g, "Account")})
    differences = []
    for w in (windows[0], windows[1]):
        for limit in (0, 1, 2, 3, 5, 8, 13, 40, None):
            for filters in ({}, {"minHops": 2}, {"crossAccountOnly": True}, {"account": accounts[-1]}):
                params = {**CHAINS_ALL, **w, **filters, "limit": limit}
                whole, read = run_twin(g, "chains", params), embedded_store.run("chains", params)
                if not whole == read == neo4j_store.run("chains", params):
                    differences.append(f"chains {params}")
        for account in (None, *accounts):
            params = {**w, "account": account}
            whole, read = run_twin(g, "gaps", params), embedded_store.run("gaps", params)
            if not whole == read == neo4j_store.run("gaps", params):
                differences.append(f"gaps {params}")
            whole, read = run_twin(g, "map", params), embedded_store.run("map", params)
            if not whole == read == neo4j_store.run("map", {**params, "draw": False}):
                differences.append(f"map {params}")
    principals = sorted(str(d["id"]) for d in _nodes(g, "IAMUser"))
    principals += [str(d["subject"]) for d in _nodes(g, "ExternalIdentity") if d.get("subject")][:3]
    principals += [str(d["id"]) for d in _nodes(g, "Session")][:2]
    for principal in principals:
        for w in (windows[0], windows[1]):
            for account in (None, accounts[0]):
                params = {"principal": principal, **w, "account": account}
                for name in ("activity", "timeline"):
                    whole, read = run_twin(g, name, params), embedded_store.run(name, params)
                    if not whole == read == neo4j_store.run(name, params):
                        differences.append(f"{name} {params}")
    assert not differences, differences
    longest = max(len(embedded_store.run("timeline", {"principal": p, **NO_WINDOW})) for p in principals)
    assert longest > CHUNK  # the leaves' records are read over more than one chunk
    assert max(r["sessions"] for r in embedded_store.run("map", {**windows[0], "account": None})) > 20
    assert embedded_store.run("gaps", {**windows[0], "account": None})
    assert len(embedded_store.run("chains", {**CHAINS_ALL, **windows[0]})) > 40
    # `gaps` with no window counted sessions by their kept calls, found copies of them, and read the
    # calls of some (those that could hold an example) but not all
    kept = [x for *_d, x, _t, _e in embedded_store.gap_members(NO_WINDOW) if isinstance(x, KeptCalls)]
    sessions = {str(d["id"]): d for d in _nodes(g, "Session")}
    shared = {k.session: sessions[k.session.partition(":")[2]].get("sharedCalls") for k in kept}
    copying = [s for s in shared if embedded_store._copies([s])]
    assert copying and all(shared[s] for s in copying)  # sessions with copies kept calls with a sharedEventID
    assert any(n == 0 for n in shared.values())  # others kept none: their copies are not looked for
    sessions_read: list[str] = []
    calls_of = embedded_store.performed_calls

    def reading(node: str) -> list[tuple[Any, Any]]:
        sessions_read.append(node)
        return calls_of(node)

    embedded_store.performed_calls = reading  # type: ignore[method-assign]
    params = {**NO_WINDOW, "account": None}
    assert embedded_store.run("gaps", params) == run_twin(g, "gaps", params)
    assert 0 < len(sessions_read) < len(kept)


@pytest.mark.neo4j
def test_a_chain_behind_a_dead_end_outranks_a_deeper_one_of_as_many_hops(
    embedded_store: EmbeddedStore, neo4j_store: Neo4jStore
) -> None:
    """Two chains of two hops: one starts at a session whose issuing call is not loaded (kept depth 0,
    so its last session is at depth 2), the other behind alice (its last at depth 3). The first is
    earlier, so `--limit 1` answers it: a store that stopped reading levels once it held one chain of
    two hops (at depth 3) would answer alice's."""
    alice = user_identity("111111111111", "alice", key="AKIAALICEEXAMPLE0001")
    orphan = role_session_identity(
        "222222222222", "ops", "orphan", "ASIAORPHANEXAMPLE001", "2024-03-01T08:00:00Z"
    )
    records: list[dict[str, Any]] = []

    def hop(caller: dict[str, Any], at: str, role: str) -> dict[str, Any]:
        key = f"ASIACHAIN{role.upper():0>11}"
        records.extend(assume_role(caller, at, "222222222222", role, "s", key))
        return role_session_identity("222222222222", role, "s", key, at)

    hop(
        hop(hop(alice, "2024-03-01T10:00:00Z", "a1"), "2024-03-01T10:05:00Z", "a2"),
        "2024-03-01T10:10:00Z",
        "a3",
    )
    hop(hop(orphan, "2024-03-01T09:00:00Z", "d1"), "2024-03-01T09:05:00Z", "d2")
    stores: tuple[GraphStore, GraphStore] = (embedded_store, neo4j_store)
    for store in stores:
        load_records(store, records)
    depth = {d.get("arn"): d.get("depth") for d in _nodes(embedded_store.graph(), "Session")}
    assert depth["arn:aws:sts::222222222222:assumed-role/d2/s"] == 2
    assert depth["arn:aws:sts::222222222222:assumed-role/a3/s"] == 3
    for store in stores:
        ends = [c["sessions"][-1] for c in store.run("chains", {**CHAINS_ALL, **NO_WINDOW, "limit": 1})]
        assert ends == ["arn:aws:sts::222222222222:assumed-role/d2/s"], store.backend
    assert_same_rows(embedded_store, neo4j_store)


def story() -> list[dict[str, Any]]:
    """A two-hop cross-account chain, an Identity Center session, an orphan session and a hostile name."""
    alice = user_identity("111111111111", "alice", key="AKIAALICEEXAMPLE0001")
    records = assume_role(
        alice, "2024-03-01T10:00:00Z", "222222222222", "hop1", "alice", "ASIAHOP1EXAMPLE00001"
    )
    hop1 = role_session_identity(
        "222222222222", "hop1", "alice", "ASIAHOP1EXAMPLE00001", "2024-03-01T10:00:00Z"
    )
    records += assume_role(
        hop1, "2024-03-01T10:05:00Z", "333333333333", "hop2", "alice2", "ASIAHOP2EXAMPLE00001"
    )
    hop2 = role_session_identity(
        "333333333333", "hop2", "alice2", "ASIAHOP2EXAMPLE00001", "2024-03-01T10:05:00Z"
    )
    records.append(call(hop2, "2024-03-01T10:06:00Z", "CreateUser", "iam.amazonaws.com"))
    records.append(call(alice, "2024-03-01T09:00:00Z", "ListUsers", "iam.amazonaws.com"))
    sso = role_session_identity(
        "444444444444",
        "AWSReservedSSO_Admin_0123456789abcdef",
        "carol@example.com",
        "ASIACAROLEXAMPLE0001",
        "2024-03-02T08:00:00Z",
        onBehalfOf={"userId": "93f4c8a2-carol", "identityStoreArn": "arn:aws:identitystore::1"},
    )
    records.append(call(sso, "2024-03-02T08:01:00Z", "GetObject"))
    orphan = role_session_identity(
        "555555555555", "ops", "<script>alert(1)</script>", "ASIAORPHANEXAMPLE001", "2024-03-03T00:00:00Z"
    )
    records.append(call(orphan, "2024-03-03T00:01:00Z", "DeleteTrail", "cloudtrail.amazonaws.com"))
    return records


@pytest.mark.neo4j
def test_a_multi_hop_story_answers_alike_and_right(
    embedded_store: EmbeddedStore, neo4j_store: Neo4jStore
) -> None:
    records = story()
    load_records(embedded_store, records)
    load_records(neo4j_store, records)
    assert_same_rows(embedded_store, neo4j_store)
    stores: tuple[GraphStore, GraphStore] = (embedded_store, neo4j_store)
    for store in stores:
        chains = store.run(
            "chains",
            {"crossAccountOnly": True, "minHops": None, "since": None, "until": None, "account": None},
        )
        assert [(c["hops"], c["accounts"], c["origin"]) for c in chains] == [
            (1, ["222222222222", "333333333333"], "arn:aws:iam::111111111111:user/alice")
        ]  # alice's own AssumeRole is no session-to-session hop: she is the chain's origin
        activity = store.run(
            "activity", {"principal": "AKIAALICEEXAMPLE0001", "since": None, "until": None, "account": None}
        )
        create = next(r for r in activity if r["eventName"] == "CreateUser")
        assert create["depth"] == 2 and create["account"] == "333333333333"
        assert next(r["eventName"] for r in activity if r["kind"] == "call") == "ListUsers"
        carol = store.run(
            "activity", {"principal": "carol@example.com", "since": None, "until": None, "account": None}
        )
        assert [r["eventName"] for r in carol if r["kind"] == "call"] == ["GetObject"]
        by_id = store.run(
            "timeline", {"principal": "93f4c8a2-carol", "since": None, "until": None, "account": None}
        )
        assert [r["eventName"] for r in by_id] == ["GetObject"]
        gaps = store.run("gaps", {"since": None, "until": None, "account": "555555555555"})
        assert [(g["reason"], g["calls"], g["sessions"]) for g in gaps] == [("missing", 1, 1)]
        late = store.run(
            "activity",
            {
                "principal": "arn:aws:iam::111111111111:user/alice",
                "since": "2024-03-01T10:05:30Z",
                "until": None,
                "account": None,
            },
        )
        assert [r["eventName"] for r in late] == ["CreateUser"]


@pytest.fixture
def seeded(any_store: GraphStore) -> GraphStore:
    load_paths(any_store, SEED)
    return any_store


NO_WINDOW: Params = {"since": None, "until": None}


def test_seed_activity_of_bob_lists_createuser_and_the_sessions_behind_it(seeded: GraphStore) -> None:
    rows = seeded.run("activity", {"principal": BOB, **NO_WINDOW, "account": None})
    create = [r for r in rows if r["eventId"] == CREATE_USER]
    assert len(create) == 1 and create[0]["eventName"] == "CreateUser" and create[0]["depth"] == 2
    assert create[0]["accessKeyId"] == CONSOLE_KEY
    sessions = {r["id"]: r for r in rows if r["kind"] == "session"}
    assert create[0]["sessionId"] in sessions
    assert sessions[create[0]["sessionId"]]["linkedBy"] == "console-switchrole"
    user_session = next(r for r in rows if r["kind"] == "session" and r["depth"] == 1)
    assert user_session["sessionArn"] == BOB and user_session["via"] == "sign-in session"
    path = [n["label"] for n in create[0]["nodes"]]
    assert path == ["IAMUser", "Session", "APICall", "Session", "APICall"]
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)


def test_seed_answers_to_the_other_questions(seeded: GraphStore) -> None:
    who = seeded.run("who-used", {"roleArn": ROLE, **NO_WINDOW})
    assert {r["origin"] for r in who} == {BOB} and all(r["complete"] for r in who)
    assert seeded.run("who-used", {"roleArn": "assume-admin-role-example", **NO_WINDOW}) == who
    key = seeded.run("key", {"accessKeyId": CONSOLE_KEY, **NO_WINDOW})
    assert [(r["eventId"], r["origin"], r["holderLabel"]) for r in key] == [(CREATE_USER, BOB, "Session")]
    chains = seeded.run("chains", {"crossAccountOnly": True, "minHops": None, **NO_WINDOW, "account": None})
    assert chains and all(c["hops"] == 1 and c["crossAccount"] for c in chains)
    assert seeded.run("chains", {"crossAccountOnly": None, "minHops": 2, **NO_WINDOW, "account": None}) == []
    assert seeded.run("gaps", {**NO_WINDOW, "account": None}) == []
    timeline = seeded.run("timeline", {"principal": BOB, **NO_WINDOW, "account": None})
    assert [r["eventName"] for r in timeline][-1] == "CreateUser"
    assert len({r["callId"] for r in timeline}) == len(timeline) == 4
    after = seeded.run(
        "timeline", {"principal": BOB, "since": "2020-09-17T19:05:00Z", "until": None, "account": None}
    )
    assert [r["eventId"] for r in after] == [CREATE_USER]
    assert (
        seeded.run(
            "activity", {"principal": BOB, "since": "2021-01-01T00:00:00Z", "until": None, "account": None}
        )
        == []
    )


# ---- the .cypher files themselves -------------------------------------------------------------------

_PARAM_USE = re.compile(r"\$(\w+)")
_EXAMPLE = re.compile(r":param\s+(\w+)\s*=>\s*(.+?)\s*(?=:param\s|$)")


def _body(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("//"))


def example_params(text: str) -> dict[str, str]:
    """The `:param name => value` lines of a header's `// example:`, value as Cypher source."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("// example:"))
    block = " ".join(line[2:].strip() for line in lines[start:] if line.startswith("//")).removeprefix(
        "example:"
    )
    return dict(_EXAMPLE.findall(block.strip()))


def test_every_cypher_file_documents_itself_and_has_a_twin() -> None:
    queries = catalog()
    expected = {"trace", "activity", "who-used", "chains", "key", "gaps", "timeline", "find", "map"}
    assert expected <= set(queries)
    assert set(queries) == set(TWINS)
    for name, query in queries.items():
        assert query.purpose and query.returns, name
        used = set(_PARAM_USE.findall(_body(query.text)))
        assert used == set(query.params), (
            f"{name}: header params {sorted(query.params)} != used {sorted(used)}"
        )
        assert all("(example:" in d for d in query.params.values()), name
        assert set(example_params(query.text)) == used, name
        assert re.search(r"\bORDER BY\b", _body(query.text)), f"{name} has no deterministic order"
        assert "apoc." not in query.text.lower(), name


@pytest.mark.neo4j
def test_every_cypher_file_runs_verbatim_in_neo4j_with_its_example(neo4j_store: Neo4jStore) -> None:
    load_paths(neo4j_store, SEED)
    for name, query in catalog().items():
        params: Params = {}
        for param, source in example_params(query.text).items():
            params[param] = neo4j_store.cypher(f"RETURN {source} AS v", {})[0]["v"]
        rows = neo4j_store.cypher(query.text, params)
        if name != "gaps":  # the seed has no gap
            assert rows, f"{name} example {params} found nothing on the seed"
        for row in rows:
            assert DRAW_COLUMN in row, name
        assert [{k: v for k, v in r.items() if k != DRAW_COLUMN} for r in rows] == neo4j_store.run(
            name, params
        )


def test_the_example_parser_reads_every_param_line() -> None:
    text = "// name: x\n// example: :param a => 'x y'\n//   :param b => null\n//   :param c => 2\nRETURN 1"
    assert example_params(text) == {"a": "'x y'", "b": "null", "c": "2"}


def test_twins_answer_nothing_for_values_of_the_wrong_type(tmp_path: Path) -> None:
    """Cypher's comparisons with mismatched types are not true; the twins must not raise instead."""
    store = EmbeddedStore(tmp_path / "g.db")
    try:
        load_paths(store, SEED)
        assert store.run("activity", {"principal": 5, "since": 3, "until": None, "account": None}) == []
        assert store.run("activity", {"principal": BOB, "since": 3, "until": None, "account": None}) == []
        assert store.run("key", {"accessKeyId": 7, "since": None, "until": None}) == []
        assert (
            store.run(
                "chains",
                {"crossAccountOnly": None, "minHops": "1", "since": None, "until": None, "account": None},
            )
            == []
        )
    finally:
        store.close()


def _leaves_and_inner_calls() -> GraphBatch:
    """ann's AssumeRole x issued session s1. s1 made a leaf call, a call copied to another account and
    the AssumeRole that issued s2 there. s3, opened with no evidence, made 600 leaf calls: its row's
    eventId is its earliest call's, and the leaves' records take two chunks."""
    b = GraphBatch()
    acct, other = "111111111111", "222222222222"
    ann = b.node("IAMUser", f"arn:aws:iam::{acct}:user/ann", name="ann", account=acct)

    def made(session: NodeRef, call_id: str, time: str, account: str = acct, **props: Any) -> NodeRef:
        c = b.node("APICall", call_id, eventId=f"e-{call_id}", eventTime=time, account=account, **props)
        b.edge("PERFORMED", session, c, accessKeyId="ASIAEXAMPLE")
        return c

    def session(name: str, created: str, account: str = acct) -> NodeRef:
        arn = f"arn:aws:sts::{account}:assumed-role/ops/{name}"
        return b.node("Session", name, arn=arn, account=account, creationDate=created)

    s1, s2, s3 = (
        session("s1", "2024-05-01T10:00:00Z"),
        session("s2", "2024-05-01T11:00:00Z", other),
        session("s3", "2024-05-02T09:00:00Z"),
    )
    x = made(ann, "x", "2024-05-01T09:59:59Z", eventName="AssumeRole")
    b.edge("ISSUED", x, s1, via="AssumeRole", rule="returned-key", confidence="high")
    made(s1, "leaf", "2024-05-01T10:05:00Z", eventName="ListBuckets")
    copied = made(s1, "orig", "2024-05-01T10:06:00Z", eventName="PutObject", sharedEventId="sh-1")
    copy = b.node("APICall", "copy", eventId="e-orig", eventTime="2024-05-01T10:06:00Z", account=other)
    b.edge("COPIED_TO", copied, copy, via="same sharedEventID")
    issuing = made(s1, "issue", "2024-05-01T10:59:59Z", eventName="AssumeRole")
    b.edge("ISSUED", issuing, s2, via="AssumeRole", rule="returned-key", confidence="high")
    made(s2, "leaf2", "2024-05-01T11:30:00Z", other, eventName="GetObject", errorCode="AccessDenied")
    b.edge("OPENED", ann, s3)
    for i in range(600):
        made(s3, f"many-{i:03d}", f"2024-05-02T09:{i // 60:02d}:{i % 60:02d}Z", eventName="Describe")
    return b


@pytest.mark.neo4j
def test_leaf_calls_read_in_chunks_answer_as_the_whole_graph(
    embedded_store: EmbeddedStore, neo4j_store: Neo4jStore
) -> None:
    """The embedded `activity` and `timeline` keep as leaves only calls no trace-path edge leaves: a
    copied call and an issuing call stay graph nodes, the copy is a leaf of the call copied. Every row,
    in order, must be the whole graph's and Neo4j's, the leaves' records read over two chunks."""
    for store in (embedded_store, neo4j_store):
        store.write(_leaves_and_inner_calls())
    g = embedded_store.graph()
    ann = "arn:aws:iam::111111111111:user/ann"
    for principal in (ann, "s1", "s2", "s3"):
        for window in (NO_WINDOW, {"since": "2024-05-01T10:05:00Z", "until": "2024-05-02T09:05:00Z"}):
            for account in (None, "222222222222"):
                params = {"principal": principal, **window, "account": account}
                for name in ("activity", "timeline"):
                    read = embedded_store.run(name, params)
                    assert run_twin(g, name, params) == read == neo4j_store.run(name, params), (name, params)
    rows = embedded_store.run("activity", {"principal": ann, **NO_WINDOW, "account": None})
    assert len(rows) == 1 + 1 + 4 + 2 + 1 + 600  # x, s1, its calls, the copy; s2, its call; s3, its calls
    s3 = next(r for r in rows if r["id"] == "s3")
    assert s3["eventId"] == "e-many-000"
    timeline = embedded_store.run("timeline", {"principal": ann, **NO_WINDOW})
    assert [r["callId"] for r in timeline][:4] == ["x", "leaf", "copy", "orig"]  # one second: by callId


def test_gap_rows_count_kept_calls_as_their_calls_and_read_them_only_for_examples() -> None:
    """A session's kept calls (count, first and last time) stand for its calls: the row equals the one
    its calls give, and its calls are read only when its first call could be among the five earliest
    (a first equal to the fifth's time is read: its eventId may sort first)."""
    dead: dict[str, Any] = {"label": "AccountPrincipal", "id": "111111111111", "account": "111111111111"}
    key = "AccountPrincipal:111111111111"
    at = "2024-01-01T00:00:{:02d}Z".format
    calls: dict[str, list[tuple[Any, Any]]] = {
        "Session:a": [(at(5), "a1"), (at(9), "a2")],
        "Session:b": [(at(1), "b1"), (at(2), "b2"), (None, "b3")],
        "Session:c": [(at(4), "c0"), (at(30), "c1")],
        "Session:d": [(at(31), "d1")],
    }
    own: list[GapMember] = [
        (key, dead, f"APICall:{e}", t, e) for t, e in ((at(3), "x1"), (at(4), "x2"), (at(4), "x3"))
    ]
    one_by_one = own + [(key, dead, f"APICall:{e}", t, e) for made in calls.values() for t, e in made]
    kept = list(own)
    for session, made in calls.items():
        times = [t for t, _e in made if t is not None]
        kept.append((key, dead, KeptCalls(session, len(made), min(times), max(times)), min(times), None))
    read: list[str] = []

    def calls_of(session: str) -> list[tuple[Any, Any]]:
        read.append(session)
        return calls[session]

    expected = gap_rows(one_by_one, NO_WINDOW)
    assert expected[0]["exampleCalls"] == ["b1", "b2", "x1", "c0", "x2"]
    assert gap_rows(kept, NO_WINDOW, calls_of) == expected
    # b is read (fewer than five known), then the fifth is x3 at 00:04: c (first at 00:04) is read and
    # gives c0, a (00:05) and d are not
    assert read == ["Session:b", "Session:c"]
