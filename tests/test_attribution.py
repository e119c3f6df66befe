"""Kept attribution always equals a fresh walk back, and every session's kept calls a fresh count of
its PERFORMED edges: after shuffled loads in small transactions, duplicate deliveries, a load cut short
and run again, on both backends."""

from __future__ import annotations

import gzip
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import CORPORA
from tests.test_evidence_rules import _through_missing_middle
from trailgraph.attribution import CALLS, kept_calls
from trailgraph.facts import GraphBatch
from trailgraph.load import load_blobs
from trailgraph.simulate import SimConfig, simulate
from trailgraph.sources.blob import Blob
from trailgraph.store.base import GraphStore
from trailgraph.store.embedded import EmbeddedStore
from trailgraph.store.neo4j import Neo4jStore
from trailgraph.trace import ATTRIBUTION, attribution
from trailgraph.twins import walk_back

Record = dict[str, Any]


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> list[Record]:
    out = tmp_path_factory.mktemp("org")
    simulate(SimConfig(seed=11, events=2_500, days=1, people=6), out)
    found: list[Record] = []
    for path in sorted((out / "AWSLogs").rglob("*.json.gz")):
        found.extend(orjson.loads(gzip.decompress(path.read_bytes()))["Records"])
    seed = CORPORA / "seed" / "console-switchrole-cross-account.json"
    found.extend(orjson.loads(seed.read_bytes())["Records"])
    for path in sorted((CORPORA / "invictus-aws-dataset").glob("*.json.gz"))[:12]:
        found.extend(orjson.loads(gzip.decompress(path.read_bytes()))["Records"])
    found.extend(_through_missing_middle("alice")[0])
    return found


def _load(store: GraphStore, records: list[Record], rng: random.Random) -> None:
    """Shuffled into blobs of random sizes, some records twice, written 40 records a transaction; a first
    load is cut short at a random point (as an interrupted load) and the whole is loaded again."""
    shuffled = records + rng.sample(records, len(records) // 10)
    rng.shuffle(shuffled)
    blobs, i = [], 0
    while i < len(shuffled):
        n = rng.randint(1, 60)
        blobs.append(Blob(f"part-{i}.json", orjson.dumps({"Records": shuffled[i : i + n]})))
        i += n
    cut = rng.randint(1, len(blobs) - 1)
    load_blobs(store, blobs[:cut], batch_records=40)
    load_blobs(store, blobs, batch_records=40)


def _fresh_embedded(store: EmbeddedStore) -> dict[str, dict[str, Any]]:
    g = store.graph()
    fresh = {}
    for key, data in g.nodes(data=True):
        if data["label"] == "Session":
            keys, _rels = walk_back(g, key)
            calls = [c for _s, c, t in g.out_edges(key, keys=True) if t == "PERFORMED"]
            fresh[data["id"]] = {
                **attribution([dict(g.nodes[k]) for k in keys]),
                **kept_calls(
                    (g.nodes[c]["eventTime"], g.nodes[c].get("sharedEventId"))
                    for c in calls
                    if g.nodes[c].get("label") == "APICall"
                ),
            }
    return fresh


def _kept_embedded(store: EmbeddedStore) -> tuple[dict[str, dict[str, Any]], set[tuple[str, str, str]]]:
    g = store.graph()
    kept = {d["id"]: d for _k, d in g.nodes(data=True) if d["label"] == "Session"}
    behind = {
        (g.nodes[s]["label"], g.nodes[s]["id"], g.nodes[d]["id"])
        for s, d, t in g.edges(keys=True)
        if t == "BEHIND"
    }
    return kept, behind


_FRESH = (
    "MATCH (s:Session) MATCH p = (o)-[:OPENED|PERFORMED|ISSUED|COPIED_TO*0..40]->(s) "
    "WHERE NOT EXISTS { MATCH ()-[:OPENED|PERFORMED|ISSUED|COPIED_TO]->(o) } "
    "RETURN s.id AS id, properties(s) AS kept, [n IN nodes(p) | n {.*, label: labels(n)[0]}] AS nodes, "
    "[(s)-[:PERFORMED]->(c:APICall) | [c.eventTime, c.sharedEventId]] AS times"
)


def _neo4j(store: Neo4jStore) -> tuple[dict[str, Any], dict[str, Any], set[tuple[str, str, str]]]:
    fresh, kept = {}, {}
    for row in store.cypher(_FRESH, {}):
        fresh[row["id"]] = {**attribution(row["nodes"]), **kept_calls(row["times"])}
        kept[row["id"]] = row["kept"]
    behind = {
        (r["label"], r["origin"], r["session"])
        for r in store.cypher(
            "MATCH (o)-[:BEHIND]->(s:Session) RETURN labels(o)[0] AS label, o.id AS origin, s.id AS session",
            {},
        )
    }
    return fresh, kept, behind


def _assert_kept(
    fresh: dict[str, dict[str, Any]], kept: dict[str, dict[str, Any]], behind: set[tuple[str, str, str]]
) -> None:
    assert fresh and set(fresh) == set(kept)
    for sid, want in fresh.items():
        got = {k: kept[sid].get(k) for k in (*ATTRIBUTION, *CALLS)}
        assert got == {k: "" if want[k] is None else want[k] for k in (*ATTRIBUTION, *CALLS)}, sid
    assert any(w["callCount"] > 1 for w in fresh.values()) and any(
        w["callCount"] == 0 for w in fresh.values()
    )
    expected = {(w["originLabel"], w["originId"], sid) for sid, w in fresh.items() if w["originId"] != sid}
    assert behind == expected


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kept_attribution_equals_a_fresh_walk_embedded(
    records: list[Record], tmp_path: Path, seed: int
) -> None:
    store = EmbeddedStore(tmp_path / "g.db")
    _load(store, records, random.Random(seed))
    kept, behind = _kept_embedded(store)
    _assert_kept(_fresh_embedded(store), kept, behind)
    complete = [k for k in kept.values() if k["complete"]]
    assert complete and any(k["depth"] >= 2 for k in complete)  # chains are kept, not only single hops


def _opened_after(records: list[Record], tmp_path: Path, *earlier: str) -> EmbeddedStore:
    """A store loaded, made as an earlier trailgraph wrote it (`earlier` SQL), closed and opened again."""
    path = tmp_path / "earlier.db"
    store = EmbeddedStore(path)
    load_blobs(store, [Blob("all.json", orjson.dumps({"Records": records}))])
    for statement in earlier:
        store.db.execute(statement)
    store.close()
    return EmbeddedStore(path)


def test_a_store_written_before_kept_attribution_and_calls_gets_them_when_opened(
    records: list[Record], tmp_path: Path
) -> None:
    removed = ", ".join(f"'$.{k}'" for k in (*ATTRIBUTION, *CALLS))
    reopened = _opened_after(
        records,
        tmp_path,
        f"UPDATE nodes SET props = json_remove(props, {removed}) WHERE label = 'Session'",
        "DELETE FROM edges WHERE type = 'BEHIND'",
        "PRAGMA user_version = 2",  # before sessions kept their calls
    )
    kept, behind = _kept_embedded(reopened)
    _assert_kept(_fresh_embedded(reopened), kept, behind)
    assert behind  # the BEHIND edges were written again


def test_a_store_written_before_shared_calls_gets_them_when_opened(
    records: list[Record], tmp_path: Path
) -> None:
    reopened = _opened_after(
        records,
        tmp_path,
        "UPDATE nodes SET props = json_remove(props, '$.sharedCalls') WHERE label = 'Session'",
        "PRAGMA user_version = 3",  # sessions kept their calls, not yet sharedCalls
    )
    kept, behind = _kept_embedded(reopened)
    _assert_kept(_fresh_embedded(reopened), kept, behind)
    assert any(k["sharedCalls"] for k in kept.values())


@pytest.mark.neo4j
@pytest.mark.parametrize("seed", [1, 2])
def test_kept_attribution_equals_a_fresh_walk_neo4j(
    records: list[Record], neo4j_store: Neo4jStore, seed: int
) -> None:
    _load(neo4j_store, records, random.Random(seed))
    fresh, kept, behind = _neo4j(neo4j_store)
    _assert_kept(fresh, kept, behind)


def test_bob_is_one_hop_from_everything_he_did(any_store: GraphStore) -> None:
    seed = CORPORA / "seed" / "console-switchrole-cross-account.json"
    load_blobs(any_store, [Blob("seed.json", seed.read_bytes())])
    if isinstance(any_store, Neo4jStore):
        rows = any_store.cypher(
            "MATCH (:IAMUser {name: 'bob@example.com'})-[:BEHIND]->(s:Session)-[:PERFORMED]->(c:APICall) "
            "RETURN c.eventName AS name ORDER BY name",
            {},
        )
        names = [r["name"] for r in rows]
    else:
        assert isinstance(any_store, EmbeddedStore)
        g = any_store.graph()
        bob = "IAMUser:arn:aws:iam::203016562928:user/bob@example.com"
        sessions = [d for _s, d, t in g.out_edges(bob, keys=True) if t == "BEHIND"]
        names = sorted(
            g.nodes[c]["eventName"]
            for s in sessions
            for _s, c, t in g.out_edges(s, keys=True)
            if t == "PERFORMED"
        )
    assert names == ["AssumeRole", "CreateUser", "SwitchRole"]


def test_kept_calls_count_each_call_once_whatever_writes_it(any_store: GraphStore) -> None:
    """Kept calls on hand-written batches: a call new to the store adds to its session's count, the
    same batch written again adds nothing, and an edge into a call the store already holds (from
    another session) is counted by a recount of that session, not skipped. Calls with a sharedEventID
    are counted apart (`sharedCalls`), both ways."""

    def batch(session: str, *calls: tuple[str, str]) -> GraphBatch:
        b = GraphBatch()
        s = b.node("Session", session, arn=f"arn:aws:sts::111111111111:assumed-role/r/{session}")
        for call_id, at in calls:
            shared = f"shared-{call_id}" if call_id.endswith("s") else None
            b.edge(
                "PERFORMED",
                s,
                b.node("APICall", call_id, eventId=call_id, eventTime=at, sharedEventId=shared),
            )
        return b

    first = batch("a", ("c1s", "2020-09-17T10:00:05Z"), ("c2", "2020-09-17T10:00:01Z"))
    any_store.write(first)
    any_store.write(first)
    any_store.write(batch("a", ("c3s", "2020-09-17T11:00:00Z")))
    any_store.write(batch("b", ("c1s", "2020-09-17T10:00:05Z")))
    any_store.write(batch("idle"))
    got = {
        r["id"]: {k: r["props"].get(k) for k in CALLS}
        for r in (
            any_store.cypher("MATCH (s:Session) RETURN s.id AS id, properties(s) AS props", {})
            if isinstance(any_store, Neo4jStore)
            else [{"id": d["id"], "props": d} for d in _sessions(any_store)]
        )
    }
    assert got == {
        "a": {
            "callCount": 3,
            "firstCall": "2020-09-17T10:00:01Z",
            "lastCall": "2020-09-17T11:00:00Z",
            "sharedCalls": 2,
        },
        "b": {
            "callCount": 1,
            "firstCall": "2020-09-17T10:00:05Z",
            "lastCall": "2020-09-17T10:00:05Z",
            "sharedCalls": 1,
        },
        "idle": {"callCount": 0, "firstCall": "", "lastCall": "", "sharedCalls": 0},
    }


def _sessions(store: GraphStore) -> list[dict[str, Any]]:
    assert isinstance(store, EmbeddedStore)
    return [d for _k, d in store.graph().nodes(data=True) if d["label"] == "Session"]


def test_sessions_without_kept_calls_have_them_counted_by_the_queries(any_store: GraphStore) -> None:
    """A Neo4j database loaded before sessions kept their calls (an embedded store gets them when
    opened): `map` and `who-used` count such a session's calls instead of reading null, so their
    answers are the same with the kept calls and without."""
    seed = CORPORA / "seed" / "console-switchrole-cross-account.json"
    load_blobs(any_store, [Blob("seed.json", seed.read_bytes())])
    role = "arn:aws:iam::776613361644:role/assume-admin-role-example"
    asked: list[tuple[str, dict[str, Any]]] = [
        ("map", {"since": None, "until": None, "account": None}),
        ("who-used", {"roleArn": role}),
    ]
    kept = [any_store.run(name, params) for name, params in asked]
    assert any(r["calls"] > 0 for r in kept[1])
    if isinstance(any_store, Neo4jStore):
        any_store.write_query("MATCH (s:Session) REMOVE s.callCount, s.firstCall, s.lastCall", {})
    else:
        assert isinstance(any_store, EmbeddedStore)
        removed = ", ".join(f"'$.{k}'" for k in CALLS)
        any_store.db.execute(
            f"UPDATE nodes SET props = json_remove(props, {removed}) WHERE label = 'Session'"
        )
    assert [any_store.run(name, params) for name, params in asked] == kept
