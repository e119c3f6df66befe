"""The S3 trail source against moto's server (real HTTP through boto3).

The bucket is laid out like an organisation trail over 3 accounts, 2 regions and 3 days, plus an account
trail writing beside it and digest files everywhere. Records are flaws2's real ones with new ids and
times. Every ListObjectsV2 call is recorded with a botocore `before-call` hook on the session, so the
tests prove which prefixes were listed, not only which objects came back.
"""

from __future__ import annotations

import gzip
import threading
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest

from tests import moto_server
from trailgraph.load import load_blobs
from trailgraph.records import Problem
from trailgraph.sources.blob import Blob
from trailgraph.sources.s3 import SourceError, iter_s3_blobs
from trailgraph.store.embedded import EmbeddedStore

pytestmark = pytest.mark.aws

FLAWS2 = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "flaws2"
ORG = "o-a1b2c3d4e5"
ORG_ACCOUNTS = ["111111111111", "222222222222", "333333333333"]
DIRECT = "444444444444"  # an account trail delivering into the same bucket, beside the organisation's
REGIONS = ["eu-west-1", "us-east-1"]
DAYS = [date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3)]
TIMES = [time(0, 5), time(12, 0), time(23, 50)]
PER_FILE = 3
TRAIL_PREFIX = "org-trail"
BUCKET = "tg-org-trail"
BASE = f"{TRAIL_PREFIX}/AWSLogs/"


def _templates() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in sorted(FLAWS2.rglob("*.json.gz")):
        records.extend(orjson.loads(gzip.decompress(path.read_bytes()))["Records"])
    return records


TEMPLATES = _templates()


def _records(account: str, region: str, stamp: datetime) -> list[dict[str, Any]]:
    """flaws2 records moved into this account, region and time, with fresh ids."""
    out = []
    for i in range(PER_FILE):
        seed = f"{account}/{region}/{stamp:%Y%m%dT%H%M}/{i}"
        record = orjson.loads(orjson.dumps(TEMPLATES[zlib.crc32(seed.encode()) % len(TEMPLATES)]))
        record["eventID"] = str(uuid.uuid5(uuid.NAMESPACE_URL, seed))
        record["requestID"] = str(uuid.uuid5(uuid.NAMESPACE_URL, seed + "/request"))
        if "sharedEventID" in record:
            record["sharedEventID"] = str(uuid.uuid5(uuid.NAMESPACE_URL, seed + "/shared"))
        record["eventTime"] = f"{stamp - timedelta(seconds=7 * (PER_FILE - i)):%Y-%m-%dT%H:%M:%SZ}"
        record["recipientAccountId"] = account
        record["awsRegion"] = region
        out.append(record)
    return out


def trail_key(account_prefix: str, account: str, region: str, stamp: datetime) -> str:
    return (
        f"{account_prefix}CloudTrail/{region}/{stamp:%Y/%m/%d}/"
        f"{account}_CloudTrail_{region}_{stamp:%Y%m%dT%H%MZ}_{uuid.uuid4().hex[:16]}.json.gz"
    )


@dataclass
class Trail:
    bucket: str
    keys: dict[str, int]  # trail object key -> records in it
    digests: set[str]  # digest folders, as s3:// names


def session_listing(listed: list[tuple[str, str | None]]) -> boto3.Session:
    """A session that records every ListObjectsV2 call (prefix, delimiter) its clients make."""
    session = moto_server.session()

    def record(params: dict[str, Any], **_: Any) -> None:
        query = params["query_string"]
        listed.append((query.get("prefix", ""), query.get("delimiter")))

    session.events.register("before-call.s3.ListObjectsV2", record)
    return session


@pytest.fixture(scope="session")
def endpoint() -> str:
    return moto_server.endpoint()


@pytest.fixture(scope="module")
def trail(endpoint: str) -> Trail:
    s3 = moto_server.session().client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=BUCKET)
    keys: dict[str, int] = {}
    digests: set[str] = set()
    layout = [(f"{BASE}{ORG}/{a}/", a, REGIONS, DAYS) for a in ORG_ACCOUNTS]
    layout.append((f"{BASE}{DIRECT}/", DIRECT, ["us-east-1"], DAYS[:1]))
    for account_prefix, account, regions, days in layout:
        digests.add(f"s3://{BUCKET}/{account_prefix}CloudTrail-Digest/")
        for region in regions:
            for day in days:
                for at in TIMES:
                    stamp = datetime.combine(day, at, UTC)
                    key = trail_key(account_prefix, account, region, stamp)
                    body = gzip.compress(orjson.dumps({"Records": _records(account, region, stamp)}))
                    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
                    keys[key] = PER_FILE
                digest = (
                    f"{account_prefix}CloudTrail-Digest/{region}/{day:%Y/%m/%d}/"
                    f"{account}_CloudTrail-Digest_{region}_org-trail_{region}_{day:%Y%m%d}T010000Z.json.gz"
                )
                body = gzip.compress(orjson.dumps({"digestStartTime": f"{day}T00:00:00Z", "logFiles": []}))
                s3.put_object(Bucket=BUCKET, Key=digest, Body=body)
    return Trail(BUCKET, keys, digests)


def _split(items: Iterator[Blob | Problem]) -> tuple[list[Blob], list[Problem]]:
    blobs: list[Blob] = []
    problems: list[Problem] = []
    for item in items:
        (problems if isinstance(item, Problem) else blobs).append(item)  # type: ignore[arg-type]
    return blobs, problems


def test_filters_narrow_the_listing_itself(trail: Trail, endpoint: str) -> None:
    listed: list[tuple[str, str | None]] = []
    progress: list[int] = []
    wanted = ["111111111111", "222222222222"]
    blobs, problems = _split(
        iter_s3_blobs(
            f"s3://{trail.bucket}/{TRAIL_PREFIX}",
            since=datetime(2024, 3, 2),
            until=datetime(2024, 3, 2, 23, 59, 59),
            accounts=wanted,
            regions=["eu-west-1"],
            session=session_listing(listed),
            endpoint_url=endpoint,
            on_listed=progress.append,
        )
    )
    # The 15-minute margin keeps 03-01 23:50 and 03-03 00:05 (late events of 03-02 can be in them).
    expected = sorted(
        key
        for key in trail.keys
        if key.startswith(tuple(f"{BASE}{ORG}/{a}/CloudTrail/eu-west-1/" for a in wanted))
        and ("/2024/03/02/" in key or "_20240301T2350Z_" in key or "_20240303T0005Z_" in key)
    )
    assert len(expected) == 2 * (3 + 1 + 1)
    assert [b.name for b in blobs] == [f"s3://{trail.bucket}/{k}" for k in expected]
    assert progress[-1] == len(expected)
    day_folders = [
        (f"{BASE}{ORG}/{a}/CloudTrail/eu-west-1/2024/03/0{d}/", None) for a in wanted for d in (1, 2, 3)
    ]
    assert sorted(listed, key=str) == sorted(
        [
            (BASE, "/"),
            (f"{BASE}{ORG}/", "/"),
            *[(f"{BASE}{ORG}/{a}/", "/") for a in wanted],
            *[(f"{BASE}{ORG}/{a}/CloudTrail/", "/") for a in wanted],
            *day_folders,
        ],
        key=str,
    )
    assert [(p.source, p.severity) for p in problems] == [
        (f"s3://{trail.bucket}/{BASE}{ORG}/{a}/CloudTrail-Digest/", "skipped") for a in wanted
    ]
    assert all("digest" in p.reason for p in problems)


def test_whole_trail_loads_once_and_reloads_as_no_change(
    trail: Trail, endpoint: str, embedded_store: EmbeddedStore
) -> None:
    def load() -> Any:
        return load_blobs(
            embedded_store,
            iter_s3_blobs(
                f"s3://{trail.bucket}/{TRAIL_PREFIX}/",
                since=None,
                until=None,
                accounts=None,
                regions=None,
                session=moto_server.session(),
                endpoint_url=endpoint,
                workers=3,
            ),
        )

    total = sum(trail.keys.values())
    first = load()
    assert (first.records, first.loaded, first.rejected) == (total, total, 0)
    assert first.files_skipped == len(trail.digests) and first.skipped == 0
    assert {p.source for p in first.problems} == trail.digests
    assert all(p.severity == "skipped" and "digest" in p.reason for p in first.problems)
    counts = embedded_store.counts()
    assert counts[0]["APICall"] == total

    again = load()
    assert (again.records, again.loaded, again.duplicates) == (total, 0, total)
    assert embedded_store.counts() == counts


def test_until_alone_lists_each_region_once_and_stops_at_the_end(trail: Trail, endpoint: str) -> None:
    listed: list[tuple[str, str | None]] = []
    blobs, _ = _split(
        iter_s3_blobs(
            f"s3://{trail.bucket}/{TRAIL_PREFIX}",
            since=None,
            until=datetime(2024, 3, 1, 12, 0, tzinfo=UTC),
            accounts=["333333333333"],
            regions=["us-east-1"],
            session=session_listing(listed),
            endpoint_url=endpoint,
        )
    )
    account = f"{BASE}{ORG}/333333333333/"
    assert [b.name.rsplit("_", 2)[-2] for b in blobs] == ["20240301T0005Z", "20240301T1200Z"]
    assert listed == [
        (BASE, "/"),
        (f"{BASE}{ORG}/", "/"),
        (account, "/"),
        (f"{account}CloudTrail/", "/"),
        (f"{account}CloudTrail/us-east-1/", None),
    ]


def test_a_long_window_is_one_listing_per_region_starting_at_its_first_day(
    trail: Trail, endpoint: str
) -> None:
    queries: list[dict[str, Any]] = []
    session = moto_server.session()
    session.events.register(
        "before-call.s3.ListObjectsV2", lambda params, **_: queries.append(params["query_string"])
    )
    blobs, _ = _split(
        iter_s3_blobs(
            f"s3://{trail.bucket}/{TRAIL_PREFIX}",
            since=datetime(2024, 1, 15),
            until=datetime(2024, 3, 2, 12, 0),
            accounts=["111111111111"],
            regions=["us-east-1"],
            session=session,
            endpoint_url=endpoint,
        )
    )
    region = f"{BASE}{ORG}/111111111111/CloudTrail/us-east-1/"
    stamps = [b.name.rsplit("_", 2)[-2] for b in blobs]
    assert stamps == [
        "20240301T0005Z",
        "20240301T1200Z",
        "20240301T2350Z",
        "20240302T0005Z",
        "20240302T1200Z",
    ]
    object_listings = [q for q in queries if "delimiter" not in q]
    assert [(q["prefix"], q.get("start-after")) for q in object_listings] == [
        (region, f"{region}2024/01/14/")
    ]


def test_url_pinning_account_and_region_lists_only_day_folders(trail: Trail, endpoint: str) -> None:
    listed: list[tuple[str, str | None]] = []
    region = f"{BASE}{ORG}/222222222222/CloudTrail/us-east-1/"
    blobs, problems = _split(
        iter_s3_blobs(
            f"s3://{trail.bucket}/{region}",
            since=datetime(2024, 3, 3, 6),
            until=datetime(2024, 3, 3, 18),
            accounts=None,
            regions=["us-east-1"],
            session=session_listing(listed),
            endpoint_url=endpoint,
        )
    )
    assert [b.name.rsplit("_", 2)[-2] for b in blobs] == ["20240303T1200Z"]
    assert problems == []
    assert listed == [(f"{region}2024/03/03/", None)]


def test_accounts_and_regions_not_in_the_bucket_are_named(trail: Trail, endpoint: str) -> None:
    blobs, problems = _split(
        iter_s3_blobs(
            f"s3://{trail.bucket}/{TRAIL_PREFIX}",
            since=datetime(2024, 3, 1),
            until=datetime(2024, 3, 1, 1),
            accounts=[DIRECT, "999999999999"],
            regions=["us-east-1", "ap-south-2"],
            session=moto_server.session(),
            endpoint_url=endpoint,
        )
    )
    assert [b.name.rsplit("_", 2)[-2] for b in blobs] == ["20240301T0005Z"]
    warnings = {p.reason for p in problems if p.severity == "warning"}
    assert warnings == {"no logs for account 999999999999", "no logs for region ap-south-2"}


def test_downloads_are_bounded_and_keep_listing_order(trail: Trail, endpoint: str) -> None:
    started: list[str] = []
    lock = threading.Lock()
    session = moto_server.session()

    def count(params: dict[str, Any], **_: Any) -> None:
        with lock:
            started.append(params["url_path"])

    session.events.register("before-call.s3.GetObject", count)
    workers = 2
    most_ahead = 0
    names: list[str] = []
    for item in iter_s3_blobs(
        f"s3://{trail.bucket}/{TRAIL_PREFIX}",
        since=None,
        until=None,
        accounts=None,
        regions=None,
        session=session,
        endpoint_url=endpoint,
        workers=workers,
    ):
        if isinstance(item, Blob):
            names.append(item.name)
            with lock:
                most_ahead = max(most_ahead, len(started) - len(names))
    assert names == sorted(f"s3://{trail.bucket}/{k}" for k in trail.keys)
    assert 0 < most_ahead <= 2 * workers


def test_damaged_object_is_a_named_problem_and_the_rest_loads(
    endpoint: str, embedded_store: EmbeddedStore
) -> None:
    bucket = "tg-damaged"
    s3 = moto_server.session().client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=bucket)
    account_prefix = f"AWSLogs/{DIRECT}/"
    good = trail_key(account_prefix, DIRECT, "us-east-1", datetime(2024, 3, 1, 0, 5, tzinfo=UTC))
    bad = trail_key(account_prefix, DIRECT, "us-east-1", datetime(2024, 3, 1, 0, 10, tzinfo=UTC))
    records = _records(DIRECT, "us-east-1", datetime(2024, 3, 1, 0, 5, tzinfo=UTC))
    s3.put_object(Bucket=bucket, Key=good, Body=gzip.compress(orjson.dumps({"Records": records})))
    s3.put_object(Bucket=bucket, Key=bad, Body=gzip.compress(orjson.dumps({"Records": records}))[:40])
    summary = load_blobs(
        embedded_store,
        iter_s3_blobs(
            f"s3://{bucket}",
            since=None,
            until=None,
            accounts=None,
            regions=None,
            session=moto_server.session(),
            endpoint_url=endpoint,
        ),
    )
    assert summary.loaded == PER_FILE
    assert {(p.source, p.severity) for p in summary.problems} == {(f"s3://{bucket}/{bad}", "rejected")}
    assert "truncated gzip" in summary.problems[0].reason


def test_one_object_url(trail: Trail, endpoint: str) -> None:
    key = next(iter(trail.keys))
    blobs, problems = _split(
        iter_s3_blobs(
            f"s3://{trail.bucket}/{key}",
            since=None,
            until=None,
            accounts=None,
            regions=None,
            session=moto_server.session(),
            endpoint_url=endpoint,
        )
    )
    assert [b.name for b in blobs] == [f"s3://{trail.bucket}/{key}"]
    assert problems == []


def _drain(url: str, endpoint: str, **filters: Any) -> list[Blob | Problem]:
    args: dict[str, Any] = {"since": None, "until": None, "accounts": None, "regions": None, **filters}
    return list(iter_s3_blobs(url, session=moto_server.session(), endpoint_url=endpoint, **args))


def test_aws_failures_are_one_line_source_errors(trail: Trail, endpoint: str) -> None:
    with pytest.raises(SourceError, match=r"^s3://tg-no-such-bucket: no such bucket$"):
        _drain("s3://tg-no-such-bucket", endpoint)
    s3 = moto_server.session().client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket="tg-not-a-trail")
    s3.put_object(Bucket="tg-not-a-trail", Key="exports/events.json", Body=b"{}")
    with pytest.raises(SourceError, match="no CloudTrail logs here"):
        _drain("s3://tg-not-a-trail/exports", endpoint)
    with pytest.raises(SourceError, match=r"missing\.json\.gz: cannot read: NoSuchKey"):
        _drain(f"s3://{trail.bucket}/{TRAIL_PREFIX}/missing.json.gz", endpoint)


@pytest.mark.parametrize(
    ("url", "filters", "message"),
    [
        ("bucket/prefix", {}, "not an S3 URL"),
        ("s3:///prefix", {}, "no bucket name"),
        ("s3://b-b-b", {"accounts": ["12345"]}, "not a 12-digit AWS account id"),
        ("s3://b-b-b", {"since": datetime(2024, 3, 2), "until": datetime(2024, 3, 1)}, "is after --until"),
        ("s3://b-b-b/AWSLogs/111111111111/CloudTrail/us-east-1/2024", {}, "not in the URL"),
        ("s3://b-b-b/AWSLogs/111111111111/CloudTrail-Digest", {}, "only CloudTrail/ holds events"),
        ("s3://b-b-b/AWSLogs/111111111111", {"accounts": ["222222222222"]}, "names account 111111111111"),
    ],
)
def test_bad_arguments_fail_before_any_aws_call(url: str, filters: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"since": None, "until": None, "accounts": None, "regions": None, **filters}
    with pytest.raises(SourceError, match=message):
        iter_s3_blobs(url, session=moto_server.session(), endpoint_url="http://127.0.0.1:9", **args)


def test_the_spark_path_lists_and_reads_what_the_load_downloads(trail: Trail, endpoint: str) -> None:
    """The Spark path lists on its driver and reads each object on an executor: the same objects, in the
    same order, with the same problems, and the same bytes."""
    from trailgraph.sources.s3 import get_s3_object, list_s3_objects

    filters: dict[str, Any] = {"since": datetime(2024, 3, 2), "until": None, "regions": ["us-east-1"]}
    url = f"s3://{trail.bucket}/{TRAIL_PREFIX}/"
    session = moto_server.session()
    loaded = list(iter_s3_blobs(url, accounts=None, session=session, endpoint_url=endpoint, **filters))
    named = list(list_s3_objects(url, accounts=None, session=session, endpoint_url=endpoint, **filters))
    assert [b.name if isinstance(b, Blob) else b for b in loaded] == named
    assert any(isinstance(n, Problem) for n in named) and any(isinstance(n, str) for n in named)
    client = session.client("s3", endpoint_url=endpoint)
    read = [get_s3_object(n, client) if isinstance(n, str) else n for n in named]
    assert read == loaded
    missing = get_s3_object(f"s3://{trail.bucket}/{TRAIL_PREFIX}/AWSLogs/nothing.json.gz", client)
    assert isinstance(missing, Problem) and missing.severity == "rejected"
