"""The evidence rules against what real trails contain (records cut from the corpora), on both backends.

Each test names the trap it guards: a wrong person is worse than no answer, so where the logs do not
prove an origin the trace must stop and say why.
"""

from __future__ import annotations

import copy
import gzip
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.builders import assume_role, call, role_session_identity, user_identity
from tests.conftest import CORPORA
from tests.lineage_helpers import load_records, trace_one
from trailgraph.load import load_blobs
from trailgraph.sources.blob import Blob
from trailgraph.store.base import GraphStore
from trailgraph.tracing import trace_events

Record = dict[str, Any]
INVICTUS = CORPORA / "invictus-aws-dataset"
ALL_GAPS = {"since": None, "until": None, "account": None}


@cache
def _invictus() -> tuple[Record, ...]:
    out: list[Record] = []
    for path in sorted(INVICTUS.glob("*.json.gz")):
        out.extend(orjson.loads(gzip.decompress(path.read_bytes()))["Records"])
    return tuple(out)


def invictus() -> list[Record]:
    return copy.deepcopy(list(_invictus()))


def _key(record: Record) -> str | None:
    creds = (record.get("responseElements") or {}).get("credentials") or {}
    key = creds.get("accessKeyId")
    return key if isinstance(key, str) else None


def _double_assume(records: list[Record]) -> tuple[Record, Record, list[Record]]:
    """A real SDK double AssumeRole (same role, session name and second, two keys): the issuance whose
    key is used, its unused twin, and the calls made with the used key."""
    by_slot: dict[tuple[str, str], list[Record]] = {}
    for r in records:
        if r["eventName"] == "AssumeRole" and _key(r) and r["userIdentity"].get("type") == "IAMUser":
            rp = r["requestParameters"]
            by_slot.setdefault((rp["roleArn"] + "/" + rp["roleSessionName"], r["eventTime"]), []).append(r)
    for pair in by_slot.values():
        if len(pair) != 2:
            continue
        for used, twin in (pair, pair[::-1]):
            uses = [r for r in records if r["userIdentity"].get("accessKeyId") == _key(used)]
            if uses and not any(r["userIdentity"].get("accessKeyId") == _key(twin) for r in records):
                return used, twin, uses
    raise AssertionError("the invictus trail holds SDK double AssumeRoles")


def test_real_double_assume_links_by_key(any_store: GraphStore) -> None:
    records = invictus()
    used, _twin, uses = _double_assume(records)
    load_records(any_store, records)
    answer = trace_one(any_store, uses[0]["eventID"])
    assert answer["complete"] is True
    assert answer["origin"]["id"] == used["userIdentity"]["arn"]
    assert answer["chain"][-1]["linkedBy"] == "issued-key"
    assert answer["chain"][-1]["evidence"] == [used["eventID"]]


def test_removed_issuance_stops_instead_of_taking_its_same_second_twin(any_store: GraphStore) -> None:
    """Ablation: the used key's AssumeRole is missing (say, its region's logs). The twin in the same
    second returned another key, so it is no evidence: the trace stops and names the account."""
    records = invictus()
    used, twin, uses = _double_assume(records)
    load_records(any_store, [r for r in records if r["eventID"] != used["eventID"]])
    answer = trace_one(any_store, uses[0]["eventID"])
    assert answer["complete"] is False
    assert answer["origin"]["type"] == "Unknown"
    assert not any(twin["eventID"] in hop["evidence"] for hop in answer["chain"])
    (gap,) = answer["gaps"]
    assert gap["account"] == used["recipientAccountId"]
    assert "is not loaded" in gap["reason"]
    assert uses[0]["userIdentity"]["accessKeyId"] in gap["reason"]


def test_removed_issuance_with_twin_by_another_person_never_names_that_person(any_store: GraphStore) -> None:
    records = invictus()
    used, twin, uses = _double_assume(records)
    mallory = user_identity(used["recipientAccountId"], "mallory", "AKIAMALLORY00000001")
    twin["userIdentity"] = mallory
    load_records(any_store, [r for r in records if r["eventID"] != used["eventID"]])
    for use in uses:
        answer = trace_one(any_store, use["eventID"])
        assert answer["complete"] is False
        assert "mallory" not in orjson.dumps(answer).decode()


def test_denied_assume_role_issues_nothing(any_store: GraphStore) -> None:
    records = invictus()
    denied = next(r for r in records if r["eventName"] == "AssumeRole" and r.get("errorCode"))
    assert not denied.get("responseElements")
    # Give the denied call the shape of a success that collides with a real slot: same role, session
    # name and second as a used issuance, and credentials echoed back (a forged or malformed record).
    used, twin, uses = _double_assume(records)
    denied.update(
        eventTime=used["eventTime"],
        requestParameters=copy.deepcopy(used["requestParameters"]),
        responseElements=copy.deepcopy(used["responseElements"]),
    )
    denied["responseElements"]["credentials"]["accessKeyId"] = "ASIADENIEDCOLLISION1"
    keep = [r for r in records if r["eventID"] not in (used["eventID"], twin["eventID"])]
    load_records(any_store, keep)
    answer = trace_one(any_store, uses[0]["eventID"])
    assert answer["complete"] is False
    assert all(denied["eventID"] not in hop["evidence"] for hop in answer["chain"])
    assert "no STS event issuing" in answer["gaps"][0]["reason"]


def test_console_credentials_link_only_with_console_evidence(any_store: GraphStore) -> None:
    ident, prod, t0 = "111111111111", "333333333333", "2024-03-01T10:00:00Z"
    alice = user_identity(ident, "alice", "AKIAALICE0000000001")
    issue = assume_role(alice, t0, prod, "admin", "alice", "ASIARETURNED0000001")
    sdk = call(
        role_session_identity(prod, "admin", "alice", "ASIAOTHERSDKKEY0001", t0), "2024-03-01T10:05:00Z"
    )
    console = call(
        role_session_identity(prod, "admin", "alice", "ASIACONSOLEMINTED01", t0),
        "2024-03-01T10:06:00Z",
        sessionCredentialFromConsole="true",
        userAgent="AWS Internal",
    )
    load_records(any_store, [*issue, sdk, console])
    stopped = trace_one(any_store, sdk["eventID"])
    assert stopped["complete"] is False and "ASIAOTHERSDKKEY0001" in stopped["gaps"][0]["reason"]
    linked = trace_one(any_store, console["eventID"])
    assert linked["origin"]["id"] == alice["arn"] and linked["complete"] is True
    hop = linked["chain"][-1]
    assert (hop["linkedBy"], hop["confidence"]) == ("console-credentials", "strong")


def test_failed_console_login_is_an_attempt_not_a_person(any_store: GraphStore) -> None:
    lines = (CORPORA / "elastic" / "test-console-login-json.log").read_bytes().splitlines()
    records = [orjson.loads(line) for line in lines if line.strip()]
    failed = [r for r in records if (r.get("responseElements") or {}).get("ConsoleLogin") == "Failure"]
    assert failed
    load_records(any_store, records)
    answers, missing = trace_events(any_store, sorted({r["eventID"] for r in failed}))
    assert not missing and len(answers) == len(failed)  # the doc snippets share one eventID
    for answer in answers:
        assert answer["complete"] is False
        assert answer["origin"]["human"] is None and answer["origin"]["type"] == "Unknown"
        assert answer["event"]["outcome"] == "Failure"
        assert "failed sign-in" in answer["gaps"][0]["reason"]


def test_hidden_user_name_is_never_a_user(any_store: GraphStore) -> None:
    hidden = call(
        {
            "type": "IAMUser",
            "principalId": "",
            "accountId": "111111111111",
            "accessKeyId": "",
            "userName": "HIDDEN_DUE_TO_SECURITY_REASONS",
        },
        "2024-03-01T10:00:00Z",
        "ConsoleLogin",
        "signin.amazonaws.com",
        responseElements={"ConsoleLogin": "Failure"},
        errorMessage="No username found in supplied account",
        eventType="AwsConsoleSignIn",
    )
    load_records(any_store, [hidden])
    answer = trace_one(any_store, hidden["eventID"])
    assert answer["complete"] is False and answer["origin"]["human"] is None
    nodes, _edges = any_store.counts()
    assert nodes.get("IAMUser", 0) == 0


def test_invoked_by_only_identity_is_the_service(any_store: GraphStore) -> None:
    records = invictus()
    service_events = [r for r in records if "type" not in r["userIdentity"]]
    assert service_events and all(r["userIdentity"].get("invokedBy") for r in service_events)
    load_records(any_store, records)
    for record in service_events[:5]:
        answer = trace_one(any_store, record["eventID"])
        origin = answer["origin"]
        assert (origin["type"], origin["id"]) == ("AWSService", record["userIdentity"]["invokedBy"])
        assert answer["complete"] is True and answer["gaps"] == []
    assert any_store.run("gaps", ALL_GAPS) == []


def test_keyless_service_linked_session_decided_when_every_candidate_is_that_service(
    any_store: GraphStore,
) -> None:
    records = invictus()
    keyless = [
        r
        for r in records
        if r["userIdentity"].get("type") == "AssumedRole"
        and not r["userIdentity"].get("accessKeyId")
        and "AWSServiceRoleForRDS" in r["userIdentity"]["arn"]
    ]
    assert keyless
    load_records(any_store, records)
    for record in keyless:
        created = record["userIdentity"]["sessionContext"]["attributes"]["creationDate"]
        candidates = {
            r["eventID"]
            for r in records
            if r["eventName"] == "AssumeRole"
            and r["eventTime"] == created
            and "AWSServiceRoleForRDS" in (r.get("requestParameters") or {}).get("roleArn", "")
        }
        answer = trace_one(any_store, record["eventID"])
        assert answer["origin"] == {
            "type": "AWSService",
            "id": "rds.amazonaws.com",
            "arn": None,
            "name": "rds.amazonaws.com",
            "account": None,
            "human": False,
        }
        hop = answer["chain"][-1]
        assert hop["linkedBy"] == "same-service" and set(hop["evidence"]) == candidates
        assert len(candidates) >= 1


def test_keyless_session_with_people_as_candidates_stops(any_store: GraphStore) -> None:
    dev, t0 = "222222222222", "2024-03-01T10:00:00Z"
    alice = user_identity(dev, "alice", "AKIAALICE0000000001")
    carol = user_identity(dev, "carol", "AKIACAROL0000000001")
    issues = assume_role(alice, t0, dev, "ops", "s", "ASIAALICEOPS000001")
    issues += assume_role(carol, t0, dev, "ops", "s", "ASIACAROLOPS000001")
    ui = role_session_identity(dev, "ops", "s", "", t0)
    del ui["accessKeyId"]
    use = call(ui, "2024-03-01T10:01:00Z")
    load_records(any_store, [*issues, use])
    answer = trace_one(any_store, use["eventID"])
    assert answer["complete"] is False and answer["origin"]["type"] == "Unknown"


def test_anonymous_caller_is_anonymous_not_a_missing_account(any_store: GraphStore) -> None:
    path = next(
        p
        for p in sorted((CORPORA / "flaws2").rglob("*.json.gz"))
        if b"ANONYMOUS" in gzip.decompress(p.read_bytes())
    )
    records = orjson.loads(gzip.decompress(Path(path).read_bytes()))["Records"]
    anonymous = [r for r in records if r["userIdentity"].get("accountId") == "ANONYMOUS_PRINCIPAL"]
    load_records(any_store, anonymous)
    for record in anonymous:
        answer = trace_one(any_store, record["eventID"])
        assert answer["origin"]["type"] == "Anonymous"
        assert answer["complete"] is True and answer["gaps"] == []
    assert any_store.run("gaps", ALL_GAPS) == []


@pytest.mark.parametrize("order", ["issuer-first", "issuer-last"])
def test_console_switchrole_still_links_in_any_order(any_store: GraphStore, order: str) -> None:
    seed = orjson.loads((CORPORA / "seed" / "console-switchrole-cross-account.json").read_bytes())["Records"]
    load_records(any_store, seed if order == "issuer-first" else seed[::-1])
    answer = trace_one(any_store, "38d0221b-61e0-47d6-9c45-7eb2dc55125b")
    assert answer["origin"]["id"] == "arn:aws:iam::203016562928:user/bob@example.com"
    assert answer["chain"][-1]["linkedBy"] == "console-switchrole"


@pytest.mark.parametrize("together", [True, False], ids=["one-load", "two-loads"])
def test_same_event_id_with_other_content_is_reported_and_the_first_kept(
    any_store: GraphStore, together: bool
) -> None:
    alice = user_identity("111111111111", "alice", "AKIAALICE0000000001")
    first = call(alice, "2024-03-01T10:00:00Z", "DeleteTrail", "cloudtrail.amazonaws.com")
    forged = copy.deepcopy(first)
    forged["userIdentity"] = user_identity("111111111111", "mallory", "AKIAMALLORY00000001")
    same = copy.deepcopy(first)
    blobs = [
        Blob("first.json", orjson.dumps({"Records": [first]})),
        Blob("second.json", orjson.dumps({"Records": [same, forged]})),
    ]
    if together:
        summary = load_blobs(any_store, blobs)
    else:
        load_blobs(any_store, blobs[:1])
        summary = load_blobs(any_store, blobs[1:])
        assert summary.loaded == 0
    (problem,) = summary.problems
    assert (problem.source, problem.index, problem.severity) == ("second.json", 1, "rejected")
    assert first["eventID"] in problem.reason and "kept the first" in problem.reason
    assert summary.records == summary.loaded + summary.duplicates + summary.skipped + summary.rejected
    answer = trace_one(any_store, first["eventID"])
    assert answer["origin"]["id"] == alice["arn"]
    assert "mallory" not in orjson.dumps(answer).decode()


IDENT, MIDDLE, PROD = "111111111111", "222222222222", "333333333333"


def _through_missing_middle(
    source_identity: str | None,
    *,
    second_issuance: bool = False,
    vouched_as: str | None = None,
    expires: str = "2024-03-01T11:00:00Z",
) -> tuple[list[Record], Record, Record]:
    """alice -> role `mid` in MIDDLE (whose logs are missing) -> role `prod` in PROD -> a call.

    Loaded: alice's copy of her AssumeRole (IDENT), PROD's copy of the hop (it names the caller only as
    AWSAccount principalId AROA...:alice-si), and the call. Returns (records, hop copy, call)."""
    alice = user_identity(IDENT, "alice", "AKIAALICE0000000001")
    t0, t1 = "2024-03-01T10:00:00Z", "2024-03-01T10:10:00Z"
    first = assume_role(alice, t0, MIDDLE, "mid", "alice-si", "ASIAMIDALICE000001")
    mine = first[0]
    mine["responseElements"]["credentials"]["expiration"] = expires
    if source_identity:
        mine["requestParameters"]["sourceIdentity"] = source_identity
        mine["responseElements"]["sourceIdentity"] = source_identity
    records = [mine]
    if second_issuance:  # the same principal issued again, still alive at the hop: no single issuance
        again = assume_role(alice, "2024-03-01T10:05:00Z", MIDDLE, "mid", "alice-si", "ASIAMIDALICE000002")[0]
        again["responseElements"]["credentials"]["expiration"] = "2024-03-01T11:05:00Z"
        again["requestParameters"]["sourceIdentity"] = source_identity
        again["responseElements"]["sourceIdentity"] = source_identity
        records.append(again)
    mid = role_session_identity(MIDDLE, "mid", "alice-si", "ASIAMIDALICE000001", t0)
    hop = assume_role(mid, t1, PROD, "prod", "alice-si", "ASIAPRODALICE00001")[1]
    assert hop["userIdentity"]["type"] == "AWSAccount"
    if source_identity or vouched_as:
        hop["responseElements"]["sourceIdentity"] = vouched_as or source_identity
    use = call(
        role_session_identity(PROD, "prod", "alice-si", "ASIAPRODALICE00001", t1), "2024-03-01T10:12:00Z"
    )
    return [*records, hop, use], hop, use


@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_source_identity_continues_through_a_missing_middle_account(
    any_store: GraphStore, order: str
) -> None:
    records, hop, use = _through_missing_middle("alice")
    load_records(any_store, records if order == "forward" else records[::-1])
    for event in (use, hop):
        answer = trace_one(any_store, event["eventID"])
        assert answer["origin"]["id"] == "arn:aws:iam::111111111111:user/alice" and answer["complete"]
        vouched = [h for h in answer["chain"] if h["linkedBy"] == "source-identity"]
        assert len(vouched) == 1 and vouched[0]["confidence"] == "strong"
        assert set(vouched[0]["evidence"]) == {records[0]["eventID"], hop["eventID"]}
        assert [g["account"] for g in answer["gaps"]] == [MIDDLE]


def test_source_identity_in_separate_loads_links_when_the_issuance_arrives(any_store: GraphStore) -> None:
    records, _hop, use = _through_missing_middle("alice")
    load_records(any_store, records[1:], "prod.json")
    assert trace_one(any_store, use["eventID"])["complete"] is False
    load_records(any_store, records[:1], "identity.json")
    assert trace_one(any_store, use["eventID"])["origin"]["id"].endswith("user/alice")


@pytest.mark.parametrize(
    ("issued", "expires"),
    [("2024-03-01T09:50:00Z", "2024-03-01T10:50:00Z"), ("2024-02-27T10:00:00Z", "2024-03-02T00:00:00Z")],
    ids=["from-the-hour-before", "alive-for-days"],
)
def test_an_issuance_loaded_later_and_alive_at_the_hop_withdraws_the_vouch(
    any_store: GraphStore, issued: str, expires: str
) -> None:
    """Copies are re-decided by the hours an issuance is alive in (vouching.py): one issued in an
    earlier hour, or alive for days, must still reach the hop's copy and leave two candidates."""
    records, _hop, use = _through_missing_middle("alice", second_issuance=True)
    second = records.pop(1)
    second["eventTime"] = issued
    second["responseElements"]["credentials"]["expiration"] = expires
    load_records(any_store, records, "first.json")
    assert trace_one(any_store, use["eventID"])["origin"]["id"].endswith("user/alice")
    load_records(any_store, [second], "second.json")
    answer = trace_one(any_store, use["eventID"])
    assert answer["complete"] is False and answer["gaps"][0]["account"] == MIDDLE


@pytest.mark.parametrize(
    "case",
    [
        {"source_identity": None},
        {"source_identity": "alice", "second_issuance": True},
        {"source_identity": "alice", "vouched_as": "mallory"},
        {"source_identity": "alice", "expires": "2024-03-01T10:09:59Z"},
    ],
    ids=["no-source-identity", "two-alive-issuances", "other-source-identity", "expired-before-the-hop"],
)
def test_without_one_matching_issuance_the_trace_stops_at_the_missing_account(
    any_store: GraphStore, case: dict[str, Any]
) -> None:
    records, _hop, use = _through_missing_middle(**case)
    load_records(any_store, records)
    answer = trace_one(any_store, use["eventID"])
    assert answer["complete"] is False and answer["origin"]["type"] == "AWSAccount"
    assert answer["gaps"][0]["account"] == MIDDLE


def _sessions_by_slot(store: GraphStore, role_arn: str) -> list[dict[str, Any]]:
    return list(store.run("who-used", {"roleArn": role_arn, "since": None, "until": None, "account": None}))


def test_one_console_switchrole_is_one_session(any_store: GraphStore) -> None:
    seed = orjson.loads((CORPORA / "seed" / "console-switchrole-cross-account.json").read_bytes())["Records"]
    load_records(any_store, seed)
    (row,) = _sessions_by_slot(any_store, "arn:aws:iam::776613361644:role/assume-admin-role-example")
    assert row["calls"] == 2 and row["origin"] == "arn:aws:iam::203016562928:user/bob@example.com"
    keys = {"ASIA3JUODO7W6YEVI655", "ASIA3JUODO7WTIO2PI64"}  # the console's key and the one STS returned
    for key in keys:
        rows = any_store.run("key", {"accessKeyId": key, "since": None, "until": None})
        assert {r["holderId"] for r in rows} == {row["sessionId"]}
    nodes, _edges = any_store.counts()
    assert nodes["Session"] == 2  # bob's console sign-in and the role session he switched into


def test_one_cli_assume_role_is_one_session_and_collisions_stay_apart(any_store: GraphStore) -> None:
    dev, t0 = "222222222222", "2024-03-01T10:00:00Z"
    alice = user_identity(dev, "alice", "AKIAALICE0000000001")
    carol = user_identity(dev, "carol", "AKIACAROL0000000001")
    records = assume_role(alice, t0, dev, "deploy", "ci", "ASIAKEYALICE0000001")
    records += assume_role(carol, t0, dev, "deploy", "ci", "ASIAKEYCAROL0000001")
    for key, minute in (("ASIAKEYALICE0000001", 1), ("ASIAKEYCAROL0000001", 2), ("ASIAKEYALICE0000001", 3)):
        records.append(
            call(role_session_identity(dev, "deploy", "ci", key, t0), f"2024-03-01T10:0{minute}:00Z")
        )
    load_records(any_store, records[::-1])
    rows = _sessions_by_slot(any_store, f"arn:aws:iam::{dev}:role/deploy")
    assert sorted((r["accessKeyId"], r["calls"], r["origin"]) for r in rows) == [
        ("ASIAKEYALICE0000001", 2, f"arn:aws:iam::{dev}:user/alice"),
        ("ASIAKEYCAROL0000001", 1, f"arn:aws:iam::{dev}:user/carol"),
    ]
