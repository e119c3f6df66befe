"""Attacker-chosen strings are stored and shown verbatim, never executed; any bytes parse or are rejected."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import assume_role, call, role_session_identity, user_identity
from tests.lineage_helpers import load_records, trace_one
from trailgraph.extract import Extracted, extract
from trailgraph.records import Parsed, Problem, parse_blob
from trailgraph.sources.blob import Blob
from trailgraph.store.base import GraphStore, StoreError
from trailgraph.store.embedded import EmbeddedStore

HOSTILE = [
    "x'}) MATCH (n) DETACH DELETE n //",
    'bob"; DROP TABLE nodes; --',
    "`) CREATE (:Pwned) //",
    "line1\nline2\r\n\t",
    "<script>alert(1)</script>",
    "名前🙂\u202e\u0000",
    "A" * 10_000,
]


def test_hostile_session_names_are_stored_verbatim_and_execute_nothing(any_store: GraphStore) -> None:
    t = "2024-03-01T10:00:00Z"
    records = []
    actions = []
    for i, name in enumerate(HOSTILE):
        user = user_identity("111111111111", f"u{i}", f"AKIAHOSTILE{i:09d}")
        key = f"ASIAHOSTILE{i:09d}"
        records += assume_role(user, t, "111111111111", "ops", name, key)
        action = call(
            role_session_identity("111111111111", "ops", name, key, t),
            t,
            name=name,
            userAgent=name,
            requestParameters={"bucketName": name},
        )
        records.append(action)
        actions.append((name, action))
    summary = load_records(any_store, records)
    assert summary.rejected == 0 and summary.loaded == len(records)
    nodes, _ = any_store.counts()
    assert "Pwned" not in nodes
    assert nodes["APICall"] == len(records)
    for name, action in actions:
        answer = trace_one(any_store, str(action["eventID"]))
        assert answer["event"]["eventName"] == name
        assert answer["actor"]["name"] == name
        assert answer["complete"], (name[:40], answer["gaps"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_any_bytes_either_parse_or_are_reported(data: bytes) -> None:
    for item in parse_blob(Blob("fuzz.bin", data)):
        assert isinstance(item, Parsed | Problem)
        if isinstance(item, Parsed):
            assert isinstance(extract(item.record), Extracted | str)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
_field = st.sampled_from(
    [
        "eventID",
        "eventTime",
        "userIdentity",
        "eventName",
        "responseElements",
        "requestParameters",
        "recipientAccountId",
        "sharedEventID",
        "additionalEventData",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_field, _json, max_size=9), st.sampled_from(["Records", "flat", "lines"]))
def test_any_json_value_either_extracts_or_is_rejected(record: dict[str, object], shape: str) -> None:
    base = call(user_identity("1", "fuzz"), "2024-03-01T10:00:00Z")
    base.update(record)
    if shape == "Records":
        data = orjson.dumps({"Records": [base, record]})
    elif shape == "flat":
        data = orjson.dumps(base)
    else:
        data = orjson.dumps(base) + b"\n" + orjson.dumps(record)
    for item in parse_blob(Blob("fuzz.json", data)):
        if isinstance(item, Parsed):
            result = extract(item.record)
            assert isinstance(result, Extracted | str)
            if isinstance(result, Extracted):
                json.dumps([list(result.batch.nodes.values()), list(result.batch.edges.values())])


def test_corrupt_embedded_store_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    try:
        EmbeddedStore(path)
    except StoreError as exc:
        assert "not a trailgraph store or is corrupt" in str(exc)
    else:
        raise AssertionError("a corrupt store opened without complaint")


def test_locked_embedded_store_is_a_clear_error(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "g.db"
    EmbeddedStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    store = EmbeddedStore.__new__(EmbeddedStore)
    try:
        store.__init__(path)  # type: ignore[misc]
        load_records(store, [call(user_identity("1", "a"), "2024-03-01T10:00:00Z")])
    except StoreError as exc:
        assert "locked by another trailgraph process" in str(exc)
    else:
        raise AssertionError("a locked store was written without complaint")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
