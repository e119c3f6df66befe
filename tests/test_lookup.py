"""The LookupEvents source against moto's server, with one stand-in.

moto (5.2.1 here) does not implement CloudTrail LookupEvents at all: its cloudtrail backend covers trails,
logging status, event and insight selectors and tags, and a LookupEvents request gets HTTP 500 "The
lookup_events action has not been implemented" (`test_moto_still_lacks_lookup_events` checks this, so the
stand-in is dropped when moto grows the call). LookupEvents answers therefore come from botocore's
`Stubber`, attached to each CloudTrail client the source makes, for that one operation. Everything else is
real HTTP to the moto server: STS AssumeRole, and GetCallerIdentity, which the test uses to learn whose
credentials each CloudTrail client was given, so a client built with the wrong account's keys would serve
that account's events under another account's name and fail the test.
"""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from tests import moto_server
from trailgraph.load import load_blobs
from trailgraph.records import Problem
from trailgraph.sources.blob import Blob
from trailgraph.sources.lookup import TokenBucket, iter_lookup_blobs
from trailgraph.sources.s3 import SourceError
from trailgraph.store.embedded import EmbeddedStore

pytestmark = pytest.mark.aws

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
# Inside LookupEvents' 90 days, so no retention warning: yesterday, midnight to midnight.
END = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
START = END - timedelta(days=1)
MOTO_ACCOUNT = "123456789012"  # whose the dummy "testing" keys are, for moto
ROLE = "TrailgraphRead"


def _templates() -> list[dict[str, Any]]:
    import gzip

    seed = orjson.loads((CORPORA / "seed" / "console-switchrole-cross-account.json").read_bytes())["Records"]
    flaws = [
        record
        for path in sorted((CORPORA / "flaws2").rglob("*.json.gz"))
        for record in orjson.loads(gzip.decompress(path.read_bytes()))["Records"]
    ]
    return [*seed, *flaws]


TEMPLATES = _templates()


def lookup_pages(account: str, region: str, pages: int, per_page: int = 2) -> list[dict[str, Any]]:
    """LookupEvents responses as AWS shapes them: real records as `CloudTrailEvent` JSON strings."""
    out: list[dict[str, Any]] = []
    for page in range(pages):
        events = []
        for i in range(per_page):
            seed = f"{account}/{region}/{page}/{i}"
            record = orjson.loads(orjson.dumps(TEMPLATES[(page * per_page + i) % len(TEMPLATES)]))
            record["eventID"] = str(uuid.uuid5(uuid.NAMESPACE_URL, seed))
            record["recipientAccountId"] = account
            record["awsRegion"] = region
            when = START + timedelta(minutes=page * per_page + i)
            record["eventTime"] = f"{when:%Y-%m-%dT%H:%M:%SZ}"
            events.append(
                {
                    "EventId": record["eventID"],
                    "EventName": record["eventName"],
                    "ReadOnly": "false",
                    "EventTime": when,
                    "EventSource": record["eventSource"],
                    "Username": "someone",
                    "Resources": [],
                    "CloudTrailEvent": orjson.dumps(record).decode(),
                }
            )
        response: dict[str, Any] = {"Events": events}
        if page < pages - 1:
            response["NextToken"] = f"{account}/{region}/{page + 1}"
        out.append(response)
    return out


Plan = Callable[[str, str], list[dict[str, Any]]]


class StubbedLookupSession(boto3.Session):
    """A real session whose CloudTrail clients answer LookupEvents from a Stubber (moto lacks it).

    `plan(account, region)` gives the pages to serve; the account is what moto's STS says the client's
    credentials belong to. Call times are kept per (account, region) to check the pacing.
    """

    def __init__(self, endpoint: str, plan: Plan, start: datetime = START, end: datetime = END) -> None:
        super().__init__(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        self.endpoint = endpoint
        self.plan = plan
        self.start = start
        self.end = end
        self.calls: defaultdict[tuple[str, str], list[float]] = defaultdict(list)
        self.stubbers: list[Stubber] = []

    def account_of(self, kwargs: dict[str, Any]) -> str:
        keys = {k: v for k, v in kwargs.items() if k.startswith("aws_")}
        sts = super().client("sts", region_name="us-east-1", endpoint_url=self.endpoint, **keys)
        return str(sts.get_caller_identity()["Account"])

    def client(self, *args: Any, **kwargs: Any) -> Any:
        made = super().client(*args, **kwargs)
        if (args[0] if args else kwargs.get("service_name")) != "cloudtrail":
            return made
        account, region = self.account_of(kwargs), made.meta.region_name
        stubber = Stubber(made)
        for n, response in enumerate(self.plan(account, region)):
            expected: dict[str, Any] = {"StartTime": self.start, "EndTime": self.end}
            if n:
                expected["NextToken"] = f"{account}/{region}/{n}"
            if "Error" in response:
                stubber.add_client_error("lookup_events", **response["Error"])
            else:
                stubber.add_response("lookup_events", response, expected)
        stubber.activate()
        self.stubbers.append(stubber)
        times = self.calls[(account, region)]
        # Not before-call: the Stubber answers there and stops later handlers of that event.
        made.meta.events.register(
            "before-parameter-build.cloudtrail.LookupEvents", lambda **_: times.append(time.monotonic())
        )
        return made


@pytest.fixture(scope="session")
def endpoint() -> str:
    return moto_server.endpoint()


def _split(items: Any) -> tuple[list[Blob], list[Problem]]:
    blobs = []
    problems = []
    for item in items:
        if isinstance(item, Problem):
            problems.append(item)
        else:
            blobs.append(item)
    return blobs, problems


def test_moto_still_lacks_lookup_events(endpoint: str, caplog: pytest.LogCaptureFixture) -> None:
    client = moto_server.session().client(
        "cloudtrail", endpoint_url=endpoint, config=Config(retries={"total_max_attempts": 1})
    )
    cause = "NotImplementedError: The lookup_events action has not been implemented"
    with caplog.at_level(logging.ERROR, logger="werkzeug"):
        with pytest.raises(ClientError, match=r"\(500\)"):
            client.lookup_events(StartTime=START, EndTime=END)
        # The 500 hides the cause; moto's server logs it, just after answering.
        deadline = time.monotonic() + 5
        while cause not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    assert cause in caplog.text, "moto may answer LookupEvents now: test against it and drop the Stubber"


def test_pages_parse_end_to_end_across_regions(endpoint: str, embedded_store: EmbeddedStore) -> None:
    session = StubbedLookupSession(endpoint, lambda account, region: lookup_pages(account, region, 3))
    blobs, problems = _split(
        iter_lookup_blobs(start=START, end=END, regions=["us-east-1", "eu-west-1"], session=session)
    )
    assert problems == []
    assert sorted(b.name for b in blobs) == sorted(
        f"lookup-events:default/{region}/page-{n}" for region in ("us-east-1", "eu-west-1") for n in (1, 2, 3)
    )
    for stubber in session.stubbers:
        stubber.assert_no_pending_responses()

    summary = load_blobs(embedded_store, blobs)
    assert (summary.records, summary.loaded, summary.rejected) == (12, 12, 0)
    graph = embedded_store.graph()
    for region in ("us-east-1", "eu-west-1"):
        for page in lookup_pages(MOTO_ACCOUNT, region, 3):
            for event in page["Events"]:
                record = orjson.loads(event["CloudTrailEvent"])
                node = graph.nodes[f"APICall:{MOTO_ACCOUNT}:{event['EventId']}"]
                assert (node["eventName"], node["eventSource"]) == (
                    record["eventName"],
                    record["eventSource"],
                )
    again = load_blobs(embedded_store, blobs)
    assert (again.loaded, again.duplicates) == (0, 12)


@pytest.mark.timeout(30)
def test_each_account_region_is_paced_on_its_own(endpoint: str) -> None:
    pages = 5
    session = StubbedLookupSession(endpoint, lambda account, region: lookup_pages(account, region, pages, 1))
    began = time.monotonic()
    blobs, problems = _split(
        iter_lookup_blobs(
            start=START, end=END, regions=["us-east-1", "eu-west-1"], session=session, rate_per_second=2.0
        )
    )
    elapsed = time.monotonic() - began
    assert problems == [] and len(blobs) == 2 * pages
    assert set(session.calls) == {(MOTO_ACCOUNT, "us-east-1"), (MOTO_ACCOUNT, "eu-west-1")}
    for times in session.calls.values():
        assert len(times) == pages
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 0.49, gaps  # 2 a second: no two calls closer than half a second
        assert all(times[i + 2] - times[i] >= 0.99 for i in range(pages - 2))  # any 1 s holds at most 2
    # 5 calls at 2/s take 2 s per region; the two regions run side by side, not one after the other:
    # their calls interleave (told by the calls' own times, not by a wall-clock bound a busy machine breaks).
    first, second = sorted(session.calls.values())
    assert elapsed >= 1.9 and second[0] < first[-1], (first, second)


def test_assume_role_reads_each_account_with_its_own_credentials(
    endpoint: str, embedded_store: EmbeddedStore
) -> None:
    accounts = ["210987654321", "310987654321"]
    assumed: list[dict[str, Any]] = []
    secrets: list[str] = []
    session = StubbedLookupSession(endpoint, lambda account, region: lookup_pages(account, region, 2))
    session.events.register("before-call.sts.AssumeRole", lambda params, **_: assumed.append(params["body"]))

    def keep_secret(parsed: dict[str, Any], **_: Any) -> None:
        creds = parsed["Credentials"]
        secrets.extend([creds["SecretAccessKey"], creds["SessionToken"]])

    session.events.register("after-call.sts.AssumeRole", keep_secret)
    blobs, problems = _split(
        iter_lookup_blobs(
            start=START,
            end=END,
            regions=["us-east-1", "eu-west-1"],
            session=session,
            accounts=accounts,
            assume_role=ROLE,
            endpoint_url=endpoint,
        )
    )
    assert problems == []
    # One AssumeRole per account, not per region, over HTTP to moto.
    assert sorted((a["RoleArn"], a["RoleSessionName"]) for a in assumed) == [
        (f"arn:aws:iam::{account}:role/{ROLE}", "trailgraph") for account in accounts
    ]
    assert set(session.calls) == {(a, r) for a in accounts for r in ("us-east-1", "eu-west-1")}
    # Each page names the account whose credentials fetched it, and holds that account's records.
    for blob in blobs:
        account = blob.name.removeprefix("lookup-events:").split("/")[0]
        assert account in accounts
        for event in orjson.loads(blob.data)["Events"]:
            assert orjson.loads(event["CloudTrailEvent"])["recipientAccountId"] == account
        assert not any(secret in blob.name or secret.encode() in blob.data for secret in secrets)
    summary = load_blobs(embedded_store, blobs)
    assert (summary.loaded, summary.rejected) == (2 * 2 * 2 * 2, 0)


def test_a_failing_region_is_a_problem_and_the_others_load(endpoint: str) -> None:
    def plan(account: str, region: str) -> list[dict[str, Any]]:
        pages = lookup_pages(account, region, 2)
        if region == "eu-west-1":
            pages[1] = {"Error": {"service_error_code": "AccessDeniedException", "service_message": "no"}}
        return pages

    session = StubbedLookupSession(endpoint, plan)
    blobs, problems = _split(
        iter_lookup_blobs(start=START, end=END, regions=["us-east-1", "eu-west-1"], session=session)
    )
    assert sorted(b.name for b in blobs) == [
        "lookup-events:default/eu-west-1/page-1",
        "lookup-events:default/us-east-1/page-1",
        "lookup-events:default/us-east-1/page-2",
    ]
    assert [(p.source, p.severity) for p in problems] == [("lookup-events:default/eu-west-1", "rejected")]
    assert problems[0].reason == "LookupEvents stopped after 1 page(s): access denied: no"


def test_no_credentials_is_one_line_error(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    items = iter_lookup_blobs(
        start=START,
        end=END,
        regions=["us-east-1"],
        session=boto3.Session(region_name="us-east-1"),
        accounts=["210987654321"],
        assume_role=ROLE,
        endpoint_url=endpoint,
    )
    with pytest.raises(SourceError, match=r"^no AWS credentials found: pass --profile"):
        list(items)


def test_start_beyond_ninety_days_is_a_warning(endpoint: str) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    start, end = now - timedelta(days=120), now - timedelta(days=119)
    session = StubbedLookupSession(endpoint, lambda a, r: lookup_pages(a, r, 1), start, end)
    _, problems = _split(iter_lookup_blobs(start=start, end=end, regions=["us-east-1"], session=session))
    assert [p.severity for p in problems] == ["warning"]
    assert "LookupEvents keeps 90 days" in problems[0].reason


def test_token_bucket_spaces_calls() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    bucket = TokenBucket(2.0, clock=lambda: now[0], sleep=sleep)
    grants = []
    for _ in range(5):
        bucket.acquire()
        grants.append(now[0])
    assert grants == [0.0, 0.5, 1.0, 1.5, 2.0]
    now[0] += 10  # idle time saves up at most `burst` (1) call
    bucket.acquire()
    bucket.acquire()
    assert now[0] == 12.5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"accounts": ["210987654321"]}, "needs --assume-role"),
        ({"assume_role": ROLE}, "needs the accounts"),
        ({"accounts": ["210987654321"], "assume_role": "arn:aws:iam::1:role/x"}, "takes a role name"),
        ({"accounts": ["2109"], "assume_role": ROLE}, "not a 12-digit"),
        ({"regions": []}, "at least one --region"),
        ({"end": START}, "is not after --start"),
        ({"rate_per_second": 0.0}, "must be positive"),
    ],
)
def test_bad_arguments_fail_before_any_call(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"start": START, "end": END, "regions": ["us-east-1"], **kwargs}
    with pytest.raises(SourceError, match=message):
        iter_lookup_blobs(session=moto_server.session(), **args)
