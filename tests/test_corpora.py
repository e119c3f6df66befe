"""Every corpus written by others loads without a crash, and each identity scenario gets its right origin."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from tests.conftest import CORPORA, load_paths
from tests.lineage_helpers import trace_one
from trailgraph.store.base import GraphStore
from trailgraph.store.embedded import EmbeddedStore

CORPUS_DIRS = sorted(p.name for p in CORPORA.iterdir() if p.is_dir())


@pytest.mark.parametrize("corpus", CORPUS_DIRS)
def test_every_corpus_loads_and_every_record_is_accounted_for(corpus: str, any_store: GraphStore) -> None:
    summary = load_paths(any_store, CORPORA / corpus)
    assert summary.records > 0
    rejected_records = sum(1 for p in summary.problems if p.severity == "rejected" and p.index is not None)
    # each parsed record is loaded, a duplicate, or a rejection with its file and index
    assert summary.loaded + summary.duplicates + rejected_records >= summary.records
    assert all(p.source and p.reason for p in summary.problems)


def _secrets(root: Path) -> set[str]:
    tokens: set[str] = set()
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        for chunk in data.split(b'"sessionToken"')[1:]:
            value = chunk.split(b'"')[1] if b'"' in chunk else b""
            if len(value) > 12 and value != b"HIDDEN_DUE_TO_SECURITY_REASONS":  # AWS's own redaction mark
                tokens.add(value.decode(errors="replace"))
    return tokens


def test_session_tokens_never_reach_the_embedded_store_file(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "g.db")
    load_paths(store, CORPORA)
    store.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    tokens = _secrets(CORPORA)
    assert len(tokens) >= 10
    assert not [t for t in tokens if t.encode() in stored]


def test_session_tokens_never_reach_neo4j(neo4j_store: GraphStore) -> None:
    load_paths(neo4j_store, CORPORA)
    rows = neo4j_store.cypher(  # type: ignore[attr-defined]
        "MATCH (n) RETURN properties(n) AS p UNION ALL MATCH ()-[r]->() RETURN properties(r) AS p", {}
    )
    dumped = orjson.dumps(rows)
    assert not [t for t in _secrets(CORPORA) if t.encode() in dumped]


def test_flaws2_stolen_service_credentials_trace_to_the_service(any_store: GraphStore) -> None:
    load_paths(any_store, CORPORA / "flaws2")
    rows = any_store.run("trace", {"eventId": "_"})
    assert rows == []
    # ListObjects made from an attacker's address with the level1 Lambda's issued key
    graph_calls = _event_ids(any_store, "ListObjects", "level1")
    assert graph_calls
    for event_id in graph_calls:
        answer = trace_one(any_store, event_id)
        assert (answer["origin"]["type"], answer["origin"]["id"]) == ("AWSService", "lambda.amazonaws.com")
        assert answer["origin"]["human"] is False and answer["complete"]
        assert answer["chain"][0]["linkedBy"] == "issued-key"


def _event_ids(store: GraphStore, event_name: str, session_fragment: str) -> list[str]:
    ids = []
    for path in sorted((CORPORA / "flaws2").rglob("*.json.gz")):
        for record in orjson.loads(gzip.decompress(path.read_bytes()))["Records"]:
            if record["eventName"] == event_name and session_fragment in str(
                record["userIdentity"].get("arn")
            ):
                ids.append(record["eventID"])
    return ids


def test_stratus_assume_role_chain_traces_to_the_iam_user(any_store: GraphStore) -> None:
    load_paths(any_store, CORPORA / "stratus-red-team")
    records = orjson.loads(
        (CORPORA / "stratus-red-team" / "aws.credential-access.ec2-get-password-data.json").read_bytes()
    )
    role_calls = [
        r
        for r in records
        if r["userIdentity"]["type"] == "AssumedRole" and r["eventName"] == "GetPasswordData"
    ]
    assert role_calls
    answer = trace_one(any_store, role_calls[0]["eventID"])
    assert answer["origin"]["type"] == "IAMUser" and answer["complete"]
    assert answer["origin"]["id"].endswith(":user/christophe")


def test_stratus_federation_token_traces_to_its_user(any_store: GraphStore) -> None:
    load_paths(any_store, CORPORA / "stratus-red-team")
    found = 0
    for path in sorted((CORPORA / "stratus-red-team").glob("*.json")):
        for record in orjson.loads(path.read_bytes()):
            if record["userIdentity"]["type"] == "FederatedUser":
                answer = trace_one(any_store, record["eventID"])
                assert answer["origin"]["type"] == "IAMUser", answer
                assert (
                    answer["origin"]["id"] == record["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
                )
                found += 1
    assert found


def test_mozilla_cross_account_pair_and_replays(any_store: GraphStore) -> None:
    summary = load_paths(any_store, CORPORA / "mozilla-foxsec")
    # The replays (1c, 4) reuse 1b's eventID with other times and accounts, and the buffer file reuses
    # one eventID for three different calls: conflicts, each reported by file, the first copy kept.
    conflicts = [p for p in summary.problems if "other content than the copy read first" in p.reason]
    assert {(p.source.rsplit("/", 1)[-1], p.index) for p in conflicts} == {
        ("authprof_awscorr1c.txt", 0),
        ("authprof_awscorr4.txt", 0),
        ("authprof_awscorr4.txt", 1),
        ("cloudtrail_buffer1.txt", 1),
        ("cloudtrail_buffer1.txt", 2),
    }
    pair = [
        orjson.loads((CORPORA / "mozilla-foxsec" / f"authprof_awscorr1{x}.txt").read_bytes())["jsonPayload"]
        for x in "ab"
    ]
    target_side = next(r for r in pair if r["userIdentity"]["type"] == "AWSAccount")
    answer = trace_one(any_store, target_side["eventID"])
    assert answer["origin"]["type"] == "IAMUser" and answer["complete"]
    assert answer["chain"][-1]["linkedBy"] == "caller-copy"


def test_elastic_shapes_digest_skipped_and_services(any_store: GraphStore) -> None:
    summary = load_paths(any_store, CORPORA / "elastic")
    assert summary.files_skipped == 1 and summary.skipped == 0 and summary.rejected == 0  # the digest file
    record = orjson.loads((CORPORA / "elastic" / "test-assume-role-aws-service-json.log").read_bytes())
    answer = trace_one(any_store, record["eventID"])
    assert answer["origin"]["type"] == "AWSService" and answer["origin"]["id"] == "ec2.amazonaws.com"
