"""The investigation around a trace, on both backends: find the event, see what it did, and a person by
the name people use. `find` is checked against an independent reading of the simulated org's files."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import trailgraph.cli_queries  # noqa: F401  (registers the commands)
from tests.builders import assume_role, call, role_session_identity, user_identity
from tests.conftest import SEED, load_paths
from tests.lineage_helpers import load_records
from trailgraph.cli import main
from trailgraph.extract import Head, check, normalize_time
from trailgraph.queries_catalog import catalog
from trailgraph.records import Parsed, Problem, parse_blob
from trailgraph.simulate import SimConfig, simulate
from trailgraph.sources.files import expand, iter_file_blobs
from trailgraph.store.base import GraphStore
from trailgraph.store.embedded import EmbeddedStore
from trailgraph.store.neo4j import Neo4jStore
from trailgraph.summary import activity_summary, glob_regex

CREATE_USER = "38d0221b-61e0-47d6-9c45-7eb2dc55125b"
Backend = tuple[GraphStore, list[str]]
FIND_NONE: dict[str, Any] = dict.fromkeys(catalog()["find"].params) | {"limit": 50}


@pytest.fixture(params=["embedded", "neo4j"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A store, and the CLI options that open the same store."""
    if request.param == "embedded":
        path = tmp_path / "graph.db"
        store: GraphStore = EmbeddedStore(path)
        args = ["--store", str(path)]
    else:
        uri, user, password = request.getfixturevalue("neo4j_credentials")
        neo4j = Neo4jStore(uri, user, password, None)
        neo4j.clear()
        store = neo4j
        args = ["--neo4j-uri", uri, "--neo4j-username", user, "--neo4j-password", password]
    yield store, args
    store.close()


def cli(backend: Backend, *args: str) -> Result:
    env = {"NEO4J_URI": None, "TRAILGRAPH_STORE": None, "COLUMNS": "200"}
    return CliRunner().invoke(main, [*args, *backend[1]], env=env, catch_exceptions=False)


def rows(result: Result) -> list[dict[str, Any]]:
    assert result.exit_code in (0, 1), result.stderr
    found: list[dict[str, Any]] = json.loads(result.stdout) if result.stdout else []
    return found


# ---- find, against the files themselves ------------------------------------------------------------


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("org")
    simulate(SimConfig(seed=14, events=2_500, days=1), out)
    return out


def org_calls(org: Path) -> list[dict[str, Any]]:
    """Every distinct call in the org's files, read without trailgraph: (account, eventID) once each."""
    calls: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted((org / "AWSLogs").rglob("*.json.gz")):
        for r in json.loads(gzip.decompress(path.read_bytes()))["Records"]:
            account = r.get("recipientAccountId") or r["userIdentity"].get("accountId")
            calls[(account, r["eventID"])] = {**r, "account": account, "time": normalize_time(r["eventTime"])}
    return list(calls.values())


def corpus_calls(path: Path) -> list[dict[str, Any]]:
    """Every loadable call under `path`, read with the parser alone (no store, no query): once each."""
    calls: dict[str, dict[str, Any]] = {}
    for blob in iter_file_blobs(expand([str(path)])):
        if isinstance(blob, Problem):
            continue
        for item in parse_blob(blob):
            if isinstance(item, Parsed) and isinstance(head := check(item.record), Head):
                # a second record with a loaded call's id is a duplicate: the loader keeps the first
                calls.setdefault(
                    head.call_id, {**item.record, "account": head.account, "time": head.event_time}
                )
    return list(calls.values())


def assert_find_matches_the_files(store: GraphStore, path: Path) -> int:
    """find's newest 50 for a few filters, against the files read directly; how many filters matched."""
    calls = corpus_calls(path)
    names = sorted({str(c.get("eventName")) for c in calls})
    agents = sorted({c["userAgent"] for c in calls if isinstance(c.get("userAgent"), str)})
    cases: list[tuple[dict[str, Any], Any]] = [({}, lambda c: True)]
    if names:
        name = names[len(names) // 2]
        cases.append(
            (
                {"eventName": glob_regex(name[:4] + "*")},
                lambda c: str(c.get("eventName")).lower().startswith(name[:4].lower()),
            )
        )
    if agents:
        agent = agents[0][:8]
        cases.append(
            ({"userAgent": agent}, lambda c: agent.lower() in str(c.get("userAgent") or "\0").lower())
        )
    cases.append(({"error": "*"}, lambda c: isinstance(c.get("errorCode"), str) and c["errorCode"] != ""))
    cases.append(({"writeOnly": True}, lambda c: c.get("readOnly") is False))
    matched = 0
    for params, keep in cases:
        expected = newest([c for c in calls if keep(c)])
        found = [r["callId"] for r in store.run("find", {**FIND_NONE, **params})]
        assert list(dict.fromkeys(found)) == expected, (path.name, params)
        matched += bool(expected)
    return matched


def newest(calls: list[dict[str, Any]], limit: int = 50) -> list[str]:
    ordered = sorted(calls, key=lambda c: (c["time"], f"{c['account']}:{c['eventID']}"), reverse=True)
    return [f"{c['account']}:{c['eventID']}" for c in ordered[:limit]]


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False) if value else ""


@pytest.mark.neo4j
def test_find_by_every_filter_matches_the_files(backend: Backend, org: Path) -> None:
    store = backend[0]
    load_paths(store, org / "AWSLogs")
    calls = org_calls(org)
    sample = next(c for c in calls if c.get("errorCode") and c.get("requestParameters"))
    value = next(v for v in sample["requestParameters"].values() if isinstance(v, str) and len(v) > 5)
    mid = sorted(c["time"] for c in calls)[len(calls) // 2]
    day_end = mid[:11] + "23:59:59Z"

    def text(c: dict[str, Any]) -> str:
        return _text(c.get("requestParameters")) + _text(c.get("responseElements"))

    agent = sample["userAgent"][:10].upper()
    cases: list[tuple[list[str], Any]] = [
        ([], lambda c: True),
        (["--event-name", "get*"], lambda c: c["eventName"].startswith("Get")),
        (["--event-name", "Assume?ole"], lambda c: c["eventName"] == "AssumeRole"),
        (["--source", "kms"], lambda c: c["eventSource"] == "kms.amazonaws.com"),
        (["--account", sample["account"]], lambda c: c["account"] == sample["account"]),
        (["--region", sample["awsRegion"]], lambda c: c["awsRegion"] == sample["awsRegion"]),
        (["--ip", sample["sourceIPAddress"]], lambda c: c["sourceIPAddress"] == sample["sourceIPAddress"]),
        (["--user-agent", agent], lambda c: agent.lower() in c["userAgent"].lower()),
        (["--error"], lambda c: c.get("errorCode") is not None),
        (["--error", sample["errorCode"]], lambda c: c.get("errorCode") == sample["errorCode"]),
        (["--write-only"], lambda c: c.get("readOnly") is False),
        (["--contains", value], lambda c: value in text(c)),
        (["--since", mid, "--until", day_end], lambda c: mid <= c["time"] <= day_end),
        (["--until", mid, "--write-only", "--limit", "7"], lambda c: c["time"] <= mid and not c["readOnly"]),
    ]  # fmt: skip
    for args, keep in cases:
        limit = int(args[args.index("--limit") + 1]) if "--limit" in args else 50
        expected = newest([c for c in calls if keep(c)], limit)
        assert expected, args
        found = rows(cli(backend, "find", *args, "--format", "json"))
        assert [r["callId"] for r in found] == expected, args
        assert all(r["eventId"] and r["time"] and r["eventName"] and r["account"] for r in found)
        assert all(r["origin"] and r["complete"] in (True, False) for r in found)
    alias = rows(cli(backend, "search", "--error", "--format", "json"))
    assert [r["callId"] for r in alias] == newest([c for c in calls if c.get("errorCode")])
    none = cli(backend, "find", "--contains", "no-such-text-4e1d")
    assert none.exit_code == 1 and "not found" in none.stderr


@pytest.mark.neo4j
def test_find_by_principal_gives_the_calls_activity_gives(backend: Backend, org: Path) -> None:
    store = backend[0]
    load_paths(store, org / "AWSLogs")
    everyone = rows(cli(backend, "find", "--limit", "400", "--format", "json"))
    people = sorted({r["origin"] for r in everyone if r["originLabel"] == "IAMUser"})
    assert people
    for person in people[:3]:
        by_find = rows(cli(backend, "find", "--principal", person, "--limit", "10000", "--format", "json"))
        result = cli(backend, "activity", person, "--format", "json")
        made = {r["id"] for r in rows(result) if r["kind"] == "call"}
        assert made and {r["callId"] for r in by_find} == made, person
        assert f"is the IAM user {person}" in result.stderr
        limited = rows(cli(backend, "find", "--principal", person, "--limit", "3", "--format", "json"))
        assert [r["callId"] for r in limited] == [r["callId"] for r in by_find][:3]


# ---- what the call did ------------------------------------------------------------------------------


@pytest.mark.neo4j
def test_trace_json_shows_the_request_and_response(backend: Backend) -> None:
    load_paths(backend[0], SEED)
    result = cli(backend, "trace", CREATE_USER, "--format", "json")
    assert result.exit_code == 0, result.stderr
    event = json.loads(result.stdout)["event"]
    assert event["requestParameters"] == {"userName": "test-no-permission", "tags": []}
    assert event["responseElements"]["user"]["arn"] == "arn:aws:iam::776613361644:user/test-no-permission"
    assert event["userAgent"] == "console.amazonaws.com" and event["eventType"] == "AwsApiCall"
    found = rows(cli(backend, "find", "--contains", "test-no-permission", "--format", "json"))
    assert [r["eventId"] for r in found] == [CREATE_USER]


TOKEN = "IQoJb3JpZ2luX2VjEXAMPLESECRETTOKEN" + "x7Q" * 60
SECRETS = (
    TOKEN,
    "wJalrXUtnFEMI/K7MDENG/SECRETKEY",
    "hunter2-SECRET-STRING",
    "P@ssw0rd-SECRET",
    "b64PASSWORDSECRET==",
)


def secret_records() -> list[dict[str, Any]]:
    alice = user_identity("111111111111", "alice")
    records = assume_role(
        alice, "2024-03-01T10:00:00Z", "111111111111", "ops", "alice", "ASIASECRETS000000001"
    )
    records[0]["responseElements"]["credentials"].update(sessionToken=TOKEN, secretAccessKey=SECRETS[1])
    records.append(
        call(
            alice,
            "2024-03-01T10:01:00Z",
            "GetSecretValue",
            "secretsmanager.amazonaws.com",
            requestParameters={"secretId": "prod/db"},
            responseElements={
                "arn": "arn:aws:secretsmanager:us-east-1:111111111111:secret:prod/db",
                "secretString": SECRETS[2],
            },
        )
    )
    records.append(
        call(
            alice,
            "2024-03-01T10:02:00Z",
            "CreateLoginProfile",
            "iam.amazonaws.com",
            requestParameters={"userName": "mallory", "password": SECRETS[3]},
        )
    )
    records.append(
        call(
            alice,
            "2024-03-01T10:03:00Z",
            "GetPasswordData",
            "ec2.amazonaws.com",
            requestParameters={"instanceId": "i-0123456789abcdef0"},
            responseElements={"instanceId": "i-0123456789abcdef0", "passwordData": SECRETS[4]},
            additionalEventData={"note": [TOKEN]},
        )
    )
    return records  # fmt: skip


def stored_text(store: GraphStore) -> str:
    """Everything the store holds, as text: the embedded file's bytes, or every Neo4j property."""
    if isinstance(store, EmbeddedStore):
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return Path(store.path).read_bytes().decode("utf-8", "replace")
    assert isinstance(store, Neo4jStore)
    nodes = store.cypher("MATCH (n) RETURN properties(n) AS p", {})
    edges = store.cypher("MATCH ()-[r]->() RETURN properties(r) AS p", {})
    return json.dumps(nodes + edges, default=str)


@pytest.mark.neo4j
def test_secrets_in_requests_and_responses_are_never_stored(backend: Backend) -> None:
    records = secret_records()
    load_records(backend[0], records)
    text = stored_text(backend[0])
    for secret in SECRETS:
        assert secret not in text
    assert "prod/db" in text and "mallory" in text and "[stripped by trailgraph]" in text
    for record in records:
        output = cli(backend, "trace", record["eventID"], "--format", "json").stdout
        assert all(secret not in output for secret in SECRETS)
    event = json.loads(cli(backend, "trace", records[-1]["eventID"], "--format", "json").stdout)["event"]
    assert event["responseElements"] == {
        "instanceId": "i-0123456789abcdef0",
        "passwordData": "[stripped by trailgraph]",
    }
    issued = json.loads(cli(backend, "trace", records[0]["eventID"], "--format", "json").stdout)["event"]
    assert issued["responseElements"]["credentials"]["accessKeyId"] == "ASIASECRETS000000001"  # fmt: skip


# ---- a person by the name people use ----------------------------------------------------------------


def people() -> list[dict[str, Any]]:
    """alice in two accounts, bob once, an Identity Center user, a SAML subject, a unique session name."""
    records = [
        call(
            user_identity("111111111111", "alice"), "2024-03-01T09:00:00Z", "ListUsers", "iam.amazonaws.com"
        ),
        call(user_identity("222222222222", "alice", key="AKIAALICE2EXAMPLE001"), "2024-03-01T09:01:00Z"),
    ]
    bob = user_identity("111111111111", "bob@example.com", key="AKIABOBEXAMPLE000001")
    records += assume_role(
        bob, "2024-03-01T10:00:00Z", "333333333333", "admin", "night-shift", "ASIANIGHT00000000001"
    )
    night = role_session_identity(
        "333333333333", "admin", "night-shift", "ASIANIGHT00000000001", "2024-03-01T10:00:00Z"
    )
    records.append(
        call(night, "2024-03-01T10:05:00Z", "DeleteTrail", "cloudtrail.amazonaws.com", readOnly=False)
    )
    records.append(
        call(
            night,
            "2024-03-01T10:06:00Z",
            "StopLogging",
            "cloudtrail.amazonaws.com",
            readOnly=False,
            errorCode="AccessDenied",
        )
    )
    records.append(call(night, "2024-03-01T10:07:00Z", "ListBuckets", readOnly=True))
    sso = role_session_identity(
        "444444444444",
        "AWSReservedSSO_Admin_0123456789abcdef",
        "carol@example.com",
        "ASIACAROLEXAMPLE0001",
        "2024-03-02T08:00:00Z",
        onBehalfOf={"userId": "93f4c8a2-carol", "identityStoreArn": "arn:aws:identitystore::1"},
    )
    records.append(call(sso, "2024-03-02T08:01:00Z", "GetObject"))
    saml = {
        "type": "SAMLUser",
        "principalId": "okta:dave@corp.example",
        "userName": "dave@corp.example",
        "identityProvider": "arn:aws:iam::555555555555:saml-provider/okta",
    }
    records += assume_role(
        saml,
        "2024-03-03T08:00:00Z",
        "555555555555",
        "engineer",
        "dave@corp.example",
        "ASIADAVEEXAMPLE00001",
        event_name="AssumeRoleWithSAML",
    )
    return records  # fmt: skip


@pytest.mark.neo4j
def test_a_name_resolves_to_one_principal_or_says_why_not(backend: Backend) -> None:
    records = people()
    load_records(backend[0], records)
    one = {
        "bob@example.com": "arn:aws:iam::111111111111:user/bob@example.com",
        "arn:aws:iam::111111111111:user/alice": "arn:aws:iam::111111111111:user/alice",
        "carol@example.com": "Identity Center user 93f4c8a2-carol",
        "93f4c8a2-carol": "Identity Center user 93f4c8a2-carol",
        "dave@corp.example": "SAML subject dave@corp.example",
        "night-shift": "role session arn:aws:sts::333333333333:assumed-role/admin/night-shift",
        "AKIABOBEXAMPLE000001": "access key (long-term) arn:aws:iam::111111111111:user/bob@example.com",
    }
    for name, meaning in one.items():
        result = cli(backend, "activity", name, "--format", "json")
        assert result.exit_code == 0, (name, result.stderr)
        assert meaning in result.stderr, (name, result.stderr)
        assert any(r["kind"] == "call" for r in rows(result)), name
    deleted = rows(cli(backend, "timeline", "night-shift", "--format", "json"))
    assert [r["eventName"] for r in deleted] == ["DeleteTrail", "StopLogging", "ListBuckets"]
    writes = rows(cli(backend, "find", "--principal", "bob@example.com", "--write-only", "--format", "json"))
    assert [r["eventName"] for r in writes] == ["StopLogging", "DeleteTrail"]
    key = cli(backend, "key", "alice", "--format", "json")
    assert key.exit_code == 1 and "ambiguous" in key.stderr
    only_key = cli(backend, "key", "arn:aws:iam::222222222222:user/alice", "--format", "json")
    assert only_key.exit_code == 0 and "AKIAALICE2EXAMPLE001" in only_key.stderr
    for command in (["activity", "alice"], ["timeline", "alice"], ["find", "--principal", "alice"]):
        several = cli(backend, *command)
        assert several.exit_code == 1 and several.stdout == ""
        assert "names 2 principals" in several.stderr
        assert "arn:aws:iam::111111111111:user/alice" in several.stderr
        assert "arn:aws:iam::222222222222:user/alice" in several.stderr
    for command in (["activity", "mallory"], ["timeline", "mallory"], ["find", "--principal", "mallory"],
                    ["key", "mallory"]):  # fmt: skip
        none = cli(backend, *command)
        assert none.exit_code == 1 and "not found" in none.stderr and "mallory" in none.stderr
        assert f"({len(records)} events)" in none.stderr
        if isinstance(backend[0], EmbeddedStore):
            assert str(Path(backend[0].path).resolve()) in none.stderr


# ---- the summary first -------------------------------------------------------------------------------


_HEADLINE = re.compile(r"(\d+) session\(s\), (\d+) call\(s\).*?; (\d+) write call\(s\), (\d+) failed")


@pytest.mark.neo4j
def test_activity_summary_numbers_equal_the_row_counts(backend: Backend, org: Path) -> None:
    load_paths(backend[0], org / "AWSLogs")
    everyone = rows(cli(backend, "find", "--limit", "300", "--format", "json"))
    busiest = max(
        sorted({r["origin"] for r in everyone if r["originLabel"] == "IAMUser"}),
        key=lambda o: sum(r["origin"] == o for r in everyone),
    )
    for filters in ([], ["--write-only"], ["--errors"], ["--event-name", "Get*"], ["--limit", "5"]):
        summary = cli(backend, "activity", busiest, *filters)
        assert summary.exit_code in (0, 1), summary.stderr
        listed = rows(cli(backend, "activity", busiest, *filters, "--calls", "--format", "json"))
        calls = [r for r in listed if r["kind"] == "call"]
        assert all(r["eventId"] for r in listed)
        if not calls and summary.exit_code == 1:
            continue
        numbers = _HEADLINE.search(" ".join(summary.stdout.split()))
        assert numbers, summary.stdout
        assert [int(n) for n in numbers.groups()] == [
            sum(r["kind"] == "session" for r in listed),
            len(calls),
            sum(r["readOnly"] is False for r in calls),
            sum(r["errorCode"] is not None for r in calls),
        ], filters
        by_name = activity_summary(listed)["byEventName"]
        assert sum(e["calls"] for e in by_name) == len(calls)
        for entry in by_name[:5]:
            assert re.search(
                rf"│ {re.escape(str(entry['eventName']))}\s+│ {entry['calls']}\s", summary.stdout
            )
        if filters[:1] == ["--limit"]:
            assert len(calls) == 5
    table = cli(backend, "timeline", busiest, "--errors", "--limit", "2")
    assert table.exit_code in (0, 1) and ("eventId" in table.stdout or "not found" in table.stderr)
