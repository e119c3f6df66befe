"""The organisation simulator: layout, record shapes, ground truth and each kind of noise, on small runs."""

from __future__ import annotations

import gzip
import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from trailgraph.simulate import SimConfig, SimSummary, simulate
from trailgraph.simulate.config import HAZARDS

JSON = dict[str, Any]
PATH = re.compile(
    r"AWSLogs/(?:(o-[a-z0-9]{10})/)?(\d{12})/CloudTrail/([a-z]{2}-[a-z]+-\d)/(\d{4})/(\d\d)/(\d\d)/"
    r"\2_CloudTrail_\3_(\4\5\6T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz"
)
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
HUMAN = re.compile(r"[A-Z][a-z]{2} \d{1,2}, \d{4},? \d{1,2}:\d\d:\d\d [AP]M")
ORIGINS = {"IAMUser", "Root", "SAMLUser", "IdentityCenterUser", "WebIdentityUser", "AWSService", "AWSAccount"}
HAZARD_ORIGINS = {"Anonymous", "FailedSignIn", "Unknown"}  # anonymous reads, failed sign-ins, lost issuances
HAZARDS_OFF: dict[str, Any] = dict.fromkeys(HAZARDS, False)
NOISY = SimConfig(seed=7, events=3000, days=1, people=8)
QUIET = SimConfig(
    seed=7,
    events=3000,
    days=1,
    people=8,
    **HAZARDS_OFF,
    same_second_collisions=False,
    key_reuse=False,
    out_of_order=False,
    duplicates=False,
    missing_accounts=0,
    clock_edges=False,
)


@dataclass
class Run:
    summary: SimSummary
    root: Path
    files: list[tuple[re.Match[str], list[JSON]]] = field(default_factory=list)
    truth: dict[tuple[str, str], JSON] = field(default_factory=dict)

    @property
    def records(self) -> list[JSON]:
        """Every distinct record once (organisation trail copies)."""
        return [r for m, recs in self.files if m.group(1) for r in recs]


def _load(summary: SimSummary) -> Run:
    run = Run(summary, summary.out_dir)
    for path in sorted(summary.out_dir.glob("AWSLogs/**/*.json.gz")):
        m = PATH.search(path.as_posix())
        assert m, path
        body = orjson.loads(gzip.decompress(path.read_bytes()))
        assert list(body) == ["Records"] and body["Records"]
        run.files.append((m, body["Records"]))
    for line in (summary.out_dir / "truth.jsonl").read_bytes().splitlines():
        t = orjson.loads(line)
        key = (t["eventId"], t["account"])
        assert key not in run.truth, "one truth line per distinct event"
        run.truth[key] = t
    return run


@pytest.fixture(scope="module")
def noisy(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _load(simulate(NOISY, tmp_path_factory.mktemp("noisy")))


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _load(simulate(QUIET, tmp_path_factory.mktemp("quiet")))


def _epoch(iso: str) -> int:
    return int(datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def _responses(records: list[JSON]) -> list[JSON]:
    return [r for r in records if "credentials" in (r.get("responseElements") or {})]


def _issued(r: JSON) -> tuple[str, str, str]:
    """(key, session ARN, creation time) of an STS response."""
    resp = r["responseElements"]
    who = resp.get("assumedRoleUser") or resp.get("federatedUser") or {"arn": r["userIdentity"].get("arn")}
    if who["arn"] is None:  # a service's AssumeRole: the response omits the session, the request names it
        role, session = r["requestParameters"]["roleArn"], r["requestParameters"]["roleSessionName"]
        who = {"arn": f"arn:aws:sts::{role.split(':')[4]}:assumed-role/{role.rsplit('/', 1)[1]}/{session}"}
    return resp["credentials"]["accessKeyId"], who["arn"], r["eventTime"]


def _created(r: JSON) -> str | None:
    created: str | None = ((r["userIdentity"].get("sessionContext") or {}).get("attributes") or {}).get(
        "creationDate"
    )
    return created


# ---- determinism and layout ----------------------------------------------------------------------------
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    small = SimConfig(seed=3, events=600, days=1, people=5)
    a, b = simulate(small, tmp_path / "a"), simulate(small, tmp_path / "b")
    simulate(SimConfig(seed=4, events=600, days=1, people=5), tmp_path / "c")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")
    assert (a.files, a.events, a.distinct_events, a.bytes) == (b.files, b.events, b.distinct_events, b.bytes)


def test_files_hold_five_minutes_of_one_account_and_region(quiet: Run, noisy: Run) -> None:
    org = quiet.summary.org_id
    for run, window in ((quiet, 300), (noisy, 600)):  # late records arrive in the next file
        for m, recs in run.files:
            assert m.group(1) in (run.summary.org_id, None)
            stamp = _epoch(datetime.strptime(m.group(7), "%Y%m%dT%H%MZ").strftime("%Y-%m-%dT%H:%M:00Z"))
            assert stamp % 300 == 0
            for r in recs:
                assert (r["recipientAccountId"], r["awsRegion"]) == (m.group(2), m.group(3))
                assert stamp - window <= _epoch(r["eventTime"]) < stamp
    assert all(m.group(1) == org for m, _ in quiet.files), "no account trails without duplicates"
    regions = {m.group(3) for m, _ in noisy.files}
    assert "us-east-1" in regions and len(regions) >= 2
    sts_regions = {
        r["awsRegion"]
        for r in noisy.records
        if r["eventSource"] in ("sts.amazonaws.com", "signin.amazonaws.com")
    }
    assert sts_regions == {"us-east-1"}


def test_in_order_delivery_is_sorted(quiet: Run) -> None:
    for _, recs in quiet.files:
        times = [r["eventTime"] for r in recs]
        assert times == sorted(times)


# ---- record shapes -------------------------------------------------------------------------------------
def test_every_record_has_the_cloudtrail_fields(noisy: Run) -> None:
    required = (
        "eventVersion",
        "userIdentity",
        "eventTime",
        "eventSource",
        "eventName",
        "awsRegion",
        "sourceIPAddress",
        "userAgent",
        "eventID",
        "eventType",
        "readOnly",
        "recipientAccountId",
    )
    for _, recs in noisy.files:
        for r in recs:
            assert all(k in r for k in required), r
            assert r["eventVersion"] == "1.08" and ISO.fullmatch(r["eventTime"])
            ui = r["userIdentity"]
            if "type" not in ui:  # a service acting on its own: accountId and invokedBy, as real ones are
                assert r["eventType"] == "AwsServiceEvent" and set(ui) == {"accountId", "invokedBy"}
            else:
                assert ui["type"] in ORIGINS | {"AssumedRole", "FederatedUser"}
            if r["eventType"] == "AwsApiCall":
                assert "requestID" in r
    for r in _responses(noisy.records):
        creds = r["responseElements"]["credentials"]
        assert creds["accessKeyId"].startswith("ASIA") and len(creds["accessKeyId"]) == 20
        assert HUMAN.fullmatch(creds["expiration"]) and len(creds["sessionToken"]) > 100
        if r["eventName"].startswith("AssumeRole") and "assumedRoleUser" not in r["responseElements"]:
            assert r["userIdentity"]["type"] == "AWSService"  # only services' responses omit it
        elif r["eventName"].startswith("AssumeRole"):
            user = r["responseElements"]["assumedRoleUser"]
            role, session = user["arn"].split("/")[-2:]
            assert user["assumedRoleId"].startswith("AROA") and user["assumedRoleId"].endswith(f":{session}")
            assert r["requestParameters"]["roleArn"].endswith(f"/{role}")


def test_role_sessions_carry_their_issuer(noisy: Run) -> None:
    issued = {_issued(r) for r in _responses(noisy.records)}
    console_keys = set()
    for r in noisy.records:
        ui = r["userIdentity"]
        if ui.get("type") != "AssumedRole" or "accessKeyId" not in ui:
            continue
        ctx = ui["sessionContext"]
        assert (
            ctx["sessionIssuer"]["type"] == "Role"
            and ctx["sessionIssuer"]["principalId"] in ui["principalId"]
        )
        assert ISO.fullmatch(ctx["attributes"]["creationDate"])
        assert _epoch(r["eventTime"]) >= _epoch(ctx["attributes"]["creationDate"])
        if r.get("sessionCredentialFromConsole"):
            console_keys.add(ui["accessKeyId"])
        elif r["eventSource"] != "signin.amazonaws.com":
            assert (ui["accessKeyId"], ui["arn"], ctx["attributes"]["creationDate"]) in issued or (
                ui["accountId"] in noisy.summary.missing_accounts
                or noisy.truth[(r["eventID"], r["recipientAccountId"])]["complete"] is False  # region lost
            )
    assert console_keys


def test_cross_account_calls_come_in_pairs(noisy: Run) -> None:
    shared: defaultdict[str, list[JSON]] = defaultdict(list)
    for r in noisy.records:
        if "sharedEventID" in r and r["eventSource"] == "sts.amazonaws.com":
            shared[r["sharedEventID"]].append(r)
    pairs = [v for v in shared.values() if len(v) == 2]
    assert len(pairs) > 20
    for a, b in pairs:
        assert a["requestID"] == b["requestID"] and a["eventTime"] == b["eventTime"]
        assert a["eventID"] != b["eventID"] and a["recipientAccountId"] != b["recipientAccountId"]
        assert a["responseElements"] == b["responseElements"]
        theirs = a if a["userIdentity"]["type"] == "AWSAccount" else b
        mine = b if theirs is a else a
        assert set(theirs["userIdentity"]) == {"type", "principalId", "accountId"}
        assert theirs["userIdentity"]["accountId"] == mine["recipientAccountId"]
        assert mine["userIdentity"]["principalId"] == theirs["userIdentity"]["principalId"].split(":")[0] or (
            theirs["userIdentity"]["principalId"] == mine["userIdentity"]["principalId"]
        )
    same_account = [r for r in noisy.records if r["eventName"] == "AssumeRole" and "sharedEventID" not in r]
    assert same_account, "same-account AssumeRole is written once, without sharedEventID"


def test_console_switchrole_looks_like_the_seed(noisy: Run) -> None:
    switches = [r for r in noisy.records if r["eventName"] == "SwitchRole"]
    assert switches
    by_request = defaultdict(list)
    for r in noisy.records:
        if r["eventName"] == "AssumeRole" and "assumedRoleUser" in (r["responseElements"] or {}):
            by_request[(r["responseElements"]["assumedRoleUser"]["assumedRoleId"], r["eventTime"])].append(r)
    for sw in switches:
        ui = sw["userIdentity"]
        assert ui["type"] == "AssumedRole" and "accessKeyId" not in ui
        assert sw["eventType"] == "AwsConsoleSignIn" and ":user/" in sw["additionalEventData"]["SwitchFrom"]
        copies = by_request[(ui["principalId"], sw["eventTime"])]
        assert {c["userIdentity"]["type"] for c in copies} == {"IAMUser", "AWSAccount"}
        mine = next(c for c in copies if c["userIdentity"]["type"] == "IAMUser")
        assert mine["userIdentity"]["invokedBy"] == mine["sourceIPAddress"] == "AWS Internal"
        assert mine["userIdentity"]["accessKeyId"].startswith("ASIA") and _created(mine)
        assert mine["userIdentity"]["arn"] == sw["additionalEventData"]["SwitchFrom"]


def test_console_keys_never_appear_in_sts_responses(noisy: Run) -> None:
    issued = {r["responseElements"]["credentials"]["accessKeyId"] for r in _responses(noisy.records)}
    console = {
        r["userIdentity"]["accessKeyId"] for r in noisy.records if r.get("sessionCredentialFromConsole")
    }
    assert len(console) > 10 and not console & issued


def test_every_identity_center_session_shows_its_user(noisy: Run) -> None:
    sso = {
        (r["responseElements"]["assumedRoleUser"]["assumedRoleId"], r["eventTime"]): r
        for r in noisy.records
        if r["eventName"] == "AssumeRoleWithSAML" and "AWSReservedSSO_" in r["requestParameters"]["roleArn"]
    }
    shown: defaultdict[tuple[str, str | None], set[str]] = defaultdict(set)
    for r in noisy.records:
        ui = r["userIdentity"]
        if ui.get("type") == "AssumedRole" and "onBehalfOf" in ui:
            user = ui["onBehalfOf"]["userId"]
            shown[(ui["principalId"], _created(r))].add(user)
            assert noisy.truth[(r["eventID"], r["recipientAccountId"])]["origin"] == {
                "type": "IdentityCenterUser",
                "id": user,
            }
    assert sso and set(sso) == set(shown)
    for key, users in shown.items():
        assert len(users) == 1
        t = noisy.truth[(sso[key]["eventID"], sso[key]["recipientAccountId"])]
        assert t["origin"] == {"type": "IdentityCenterUser", "id": next(iter(users))}


# ---- ground truth --------------------------------------------------------------------------------------
def test_truth_has_one_line_per_distinct_written_event(noisy: Run, quiet: Run) -> None:
    for run in (noisy, quiet):
        written = {(r["eventID"], m.group(2)) for m, recs in run.files for r in recs}
        assert set(run.truth) == written
        assert run.summary.distinct_events == len(written)
        assert run.summary.events == sum(len(recs) for _, recs in run.files)
        assert all(
            t["origin"]["type"] in ORIGINS | HAZARD_ORIGINS and t["origin"]["id"] for t in run.truth.values()
        )
    missing = set(noisy.summary.missing_accounts)
    assert len(missing) == 1 and not missing & {m.group(2) for m, _ in noisy.files}
    assert not missing & {a for _, a in noisy.truth}
    assert noisy.summary.generated_events > noisy.summary.distinct_events


def test_no_session_token_in_truth(noisy: Run) -> None:
    text = (noisy.root / "truth.jsonl").read_bytes()
    tokens = [r["responseElements"]["credentials"]["sessionToken"] for r in _responses(noisy.records)]
    assert b"sessionToken" not in text and not any(t.encode() in text for t in tokens[:200])


def test_missing_caller_accounts_leave_only_the_account(noisy: Run, quiet: Run) -> None:
    missing = set(noisy.summary.missing_accounts)
    stuck = [t for t in noisy.truth.values() if t["origin"]["type"] == "AWSAccount"]
    assert stuck and all(t["origin"]["id"] in missing and t["complete"] is False for t in stuck)
    assert all(t["complete"] for t in noisy.truth.values() if t["origin"]["type"] in ORIGINS - {"AWSAccount"})
    for r in noisy.records:
        ui = r["userIdentity"]
        vouched = "sourceIdentity" in (r["responseElements"] or {})  # the source-identity rule reaches it
        if ui.get("type") == "AWSAccount" and ui["accountId"] in missing and not vouched:
            assert noisy.truth[(r["eventID"], r["recipientAccountId"])]["origin"] == {
                "type": "AWSAccount",
                "id": ui["accountId"],
            }
    assert all(t["complete"] and t["origin"]["type"] != "AWSAccount" for t in quiet.truth.values())


def test_truth_follows_the_actor(noisy: Run) -> None:
    """Spot checks by direct evidence in the record, plus: a key-linked call has its issuing event's truth."""
    issuing: dict[tuple[str, str, str, str], JSON] = {}
    for r in _responses(noisy.records):
        issuing[(*_issued(r), r["recipientAccountId"])] = noisy.truth[(r["eventID"], r["recipientAccountId"])]
    linked = 0
    for r in noisy.records:
        ui, t = r["userIdentity"], noisy.truth[(r["eventID"], r["recipientAccountId"])]
        kind = ui.get("type", "AWSService")  # accountId + invokedBy only: a service on its own
        if (r["responseElements"] or {}).get("ConsoleLogin") == "Failure":
            assert t == {**t, "origin": {"type": "FailedSignIn", "id": ui["accountId"]}, "complete": False}
        elif kind == "IAMUser":
            assert t["origin"] == {"type": "IAMUser", "id": ui["arn"]}
        elif kind == "Root":
            assert t["origin"] == {"type": "Root", "id": ui["arn"]}
        elif kind == "FederatedUser":
            assert t["origin"] == {"type": "IAMUser", "id": ui["sessionContext"]["sessionIssuer"]["arn"]}
        elif kind == "AWSService":
            assert t["origin"] == {"type": "AWSService", "id": ui["invokedBy"]}
        elif kind == "WebIdentityUser":
            assert t["origin"] == {"type": "WebIdentityUser", "id": ui["userName"]}
        elif kind == "SAMLUser" and "AWSSSO_" not in r["requestParameters"]["principalArn"]:
            assert t["origin"] == {"type": "SAMLUser", "id": ui["userName"]}
        elif kind == "AssumedRole" and "accessKeyId" in ui and not r.get("sessionCredentialFromConsole"):
            src = issuing.get((ui["accessKeyId"], ui["arn"], _created(r) or "", r["recipientAccountId"]))
            if src is not None:
                assert (src["origin"], src["complete"]) == (t["origin"], t["complete"])
                linked += 1
    assert linked > 100


# ---- noise ---------------------------------------------------------------------------------------------
def _collisions(run: Run) -> list[dict[str, set[str]]]:
    """Same session ARN and second issued to different callers: {caller: its keys} per slot (an SDK's
    double AssumeRole gives one caller two keys, and is no collision)."""
    keys: defaultdict[tuple[str, str], defaultdict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for r in _responses(run.records):
        key, arn, when = _issued(r)
        keys[(arn, when)][r["userIdentity"].get("principalId", "")].add(key)
    return [v for v in keys.values() if len(v) > 1]


def _reused(run: Run) -> list[str]:
    sessions: defaultdict[str, set[tuple[str, str]]] = defaultdict(set)
    for r in _responses(run.records):
        key, arn, when = _issued(r)
        sessions[key].add((arn, when))
    return [k for k, v in sessions.items() if len(v) > 1]


def _duplicates(run: Run) -> Counter[tuple[str, str]]:
    seen = Counter((r["eventID"], m.group(2)) for m, recs in run.files for r in recs)
    return Counter({k: n for k, n in seen.items() if n > 1})


def _edges(run: Run) -> int:
    return sum(1 for r in run.records if _created(r) == r["eventTime"])


def _late(run: Run) -> int:
    return sum(
        1
        for m, recs in run.files
        for r in recs
        if _epoch(r["eventTime"])
        < _epoch(datetime.strptime(m.group(7), "%Y%m%dT%H%MZ").strftime("%Y-%m-%dT%H:%M:00Z")) - 300
    )


def test_noise_happens_when_switched_on(noisy: Run) -> None:
    groups = _collisions(noisy)
    assert groups and noisy.summary.noise["collision_groups"] >= 1
    console_sessions = {
        (r["userIdentity"]["principalId"], _created(r))
        for r in noisy.records
        if r.get("sessionCredentialFromConsole")
    }
    colliding = {
        (r["responseElements"]["assumedRoleUser"]["assumedRoleId"], r["eventTime"])
        for r in _responses(noisy.records)
        if any(_issued(r)[0] in keys for g in groups for keys in g.values())
    }
    assert not colliding & console_sessions, "collisions are CLI-only"
    used = {r["userIdentity"].get("accessKeyId") for r in noisy.records}
    for g in groups:  # each colliding caller uses a key of its own
        assert all(keys & used for keys in g.values())
    assert _reused(noisy) and noisy.summary.noise["key_reuse"] >= 1
    dups = _duplicates(noisy)
    assert dups and set(dups.values()) == {2} and noisy.summary.account_trails
    assert {m.group(2) for m, _ in noisy.files if not m.group(1)} == set(noisy.summary.account_trails)
    assert _edges(noisy) >= 1 and _late(noisy) >= 1 and noisy.summary.noise["late_records"] >= 1


def test_no_noise_when_switched_off(quiet: Run) -> None:
    assert not _collisions(quiet) and not _reused(quiet) and not _duplicates(quiet)
    assert _edges(quiet) == 0 and _late(quiet) == 0
    assert not quiet.summary.missing_accounts and not quiet.summary.account_trails
    assert quiet.summary.noise.get("unwritten_events") == 0


def test_every_scenario_is_played(noisy: Run) -> None:
    assert set(noisy.summary.scenarios) >= {
        "cli",
        "cli_collision",
        "console_switchrole",
        "saml",
        "identity_center",
        "web_identity",
        "ec2_instance",
        "lambda",
        "federation_token",
        "session_token",
        "iam_user_direct",
    }
    kinds = Counter(r["userIdentity"].get("type") for r in noisy.records)
    assert {
        "IAMUser",
        "AssumedRole",
        "AWSAccount",
        "AWSService",
        "SAMLUser",
        "WebIdentityUser",
        "FederatedUser",
        "IdentityCenterUser",
    } <= set(kinds)
    assert any("ec2RoleDelivery" in (r["userIdentity"].get("sessionContext") or {}) for r in noisy.records)


# ---- API -----------------------------------------------------------------------------------------------
def test_progress_is_reported_and_config_is_checked(tmp_path: Path) -> None:
    seen: list[int] = []
    summary = simulate(SimConfig(seed=2, events=300, days=1, people=3), tmp_path, seen.append)
    assert seen == sorted(seen) and seen[-1] <= summary.distinct_events and len(seen) >= 288
    assert summary.files > 0 and summary.bytes > 0 and summary.seconds >= 0
    for bad in (
        {"accounts": 2},
        {"missing_accounts": 4},
        {"people": 0},
        {"days": 0},
        {"start": datetime(2026, 1, 5)},
    ):
        with pytest.raises(ValueError):
            SimConfig(**bad)
