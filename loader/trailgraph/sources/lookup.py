"""CloudTrail LookupEvents: the last 90 days of management events, per region and account, without a trail.

LookupEvents allows 2 requests per second per account per region. A token bucket per (account, region)
keeps every one-second window at or under `rate_per_second` calls; boto3's adaptive retries absorb any
throttling left. Other accounts are read by assuming the same role NAME in each (session `trailgraph`);
the temporary credentials live only in memory and appear in no message.

Pages are fetched with an explicit NextToken loop rather than a paginator: assumed-role credentials last
an hour, and a long account-region can outlive them, so the loop re-assumes and resumes from its token.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import boto3
import orjson
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from trailgraph.records import Problem
from trailgraph.sources.blob import Blob
from trailgraph.sources.s3 import SourceError, aws_config, explain
from trailgraph.sources.timewindow import to_utc

if TYPE_CHECKING:
    from mypy_boto3_cloudtrail import CloudTrailClient
    from mypy_boto3_sts import STSClient
    from mypy_boto3_sts.type_defs import CredentialsTypeDef

SESSION_NAME = "trailgraph"
RETENTION = timedelta(days=90)
_REFRESH_BEFORE = timedelta(minutes=5)

Stream = tuple[str | None, str]  # (account, region); None = the session's own account


class TokenBucket:
    """`rate` calls a second with at most `burst` saved up; burst 1 spaces calls at least 1/rate apart."""

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.sleep = sleep
        self.tokens = burst
        self.stamp = clock()
        self.lock = threading.Lock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def acquire(self) -> None:
        """Wait for a token; callers of one bucket queue behind each other."""
        with self.lock:
            self._refill()
            while self.tokens < 1:
                self.sleep((1 - self.tokens) / self.rate)
                self._refill()
            self.tokens -= 1


class _Fatal(Exception):
    """Stops every stream: nothing can work (no credentials at all)."""


class _Clients:
    """CloudTrail clients per (account, region), from the session's credentials or an assumed role.

    boto3 sessions are not thread-safe, so clients are made under one lock; clients themselves are.
    """

    def __init__(
        self, session: boto3.Session, role: str | None, endpoint_url: str | None, workers: int
    ) -> None:
        self.session = session
        self.role = role
        self.endpoint_url = endpoint_url
        self.config = aws_config(workers)
        self.lock = threading.Lock()
        self.sts: STSClient | None = None
        self.clients: dict[Stream, tuple[CloudTrailClient, datetime | None]] = {}
        self.assumed: dict[str, CredentialsTypeDef] = {}
        self.refused: dict[str, str] = {}

    def role_arn(self, account: str, region: str) -> str:
        partition = self.session.get_partition_for_region(region) or "aws"
        return f"arn:{partition}:iam::{account}:role/{self.role}"

    def expiring(self, stream: Stream) -> bool:
        expires = self.clients.get(stream, (None, None))[1]
        return expires is not None and expires - datetime.now(UTC) < _REFRESH_BEFORE

    def credentials(self, account: str, region: str) -> CredentialsTypeDef:
        """The role's credentials in this account: one AssumeRole per account, again when near expiry."""
        held = self.assumed.get(account)
        if held is not None and to_utc(held["Expiration"]) - datetime.now(UTC) >= _REFRESH_BEFORE:
            return held
        if account in self.refused:
            raise _Refused(self.refused[account])
        arn = self.role_arn(account, region)
        try:
            if self.sts is None:
                self.sts = self.session.client(  # the session's home region: always enabled
                    "sts",
                    region_name=self.session.region_name or region,
                    endpoint_url=self.endpoint_url,
                    config=self.config,
                )
            held = self.sts.assume_role(RoleArn=arn, RoleSessionName=SESSION_NAME)["Credentials"]
        except NoCredentialsError as exc:
            raise _Fatal(explain(exc, "AWS")) from exc
        except (ClientError, BotoCoreError) as exc:
            self.refused[account] = explain(exc, f"cannot assume {arn}")
            raise _Refused(self.refused[account]) from exc
        self.assumed[account] = held
        return held

    def client(self, stream: Stream) -> CloudTrailClient:
        """A client for the stream, remade with fresh credentials when the role's are about to expire."""
        account, region = stream
        with self.lock:
            cached = self.clients.get(stream)
            if cached is not None and not self.expiring(stream):
                return cached[0]
            if account is None or self.role is None:
                made = self.session.client(
                    "cloudtrail", region_name=region, endpoint_url=self.endpoint_url, config=self.config
                )
                self.clients[stream] = (made, None)
                return made
            creds = self.credentials(account, region)
            made = self.session.client(
                "cloudtrail",
                region_name=region,
                endpoint_url=self.endpoint_url,
                config=self.config,
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
            )
            self.clients[stream] = (made, to_utc(creds["Expiration"]))
            return made


class _Refused(Exception):
    """This account cannot be read (its role could not be assumed): one Problem per stream."""


def _pages(
    clients: _Clients, bucket: TokenBucket, stream: Stream, start: datetime, end: datetime
) -> Iterator[Blob | Problem]:
    account, region = stream
    where = f"lookup-events:{account or 'default'}/{region}"
    token: str | None = None
    page = 0
    try:
        while True:
            client = clients.client(stream)
            bucket.acquire()
            if token is None:
                response = client.lookup_events(StartTime=start, EndTime=end)
            else:
                response = client.lookup_events(StartTime=start, EndTime=end, NextToken=token)
            events = response.get("Events", [])
            if events:
                page += 1
                data = orjson.dumps({"Events": events}, default=str)
                yield Blob(f"{where}/page-{page}", data)
            token = response.get("NextToken")
            if not token:
                return
    except _Refused as exc:
        yield Problem(where, None, "rejected", str(exc))
    except NoCredentialsError as exc:
        raise _Fatal(explain(exc, "AWS")) from exc
    except (ClientError, BotoCoreError) as exc:
        yield Problem(where, None, "rejected", explain(exc, f"LookupEvents stopped after {page} page(s)"))


def iter_lookup_blobs(
    *,
    start: datetime,
    end: datetime,
    regions: list[str],
    session: boto3.Session,
    accounts: list[str] | None = None,
    assume_role: str | None = None,
    endpoint_url: str | None = None,
    rate_per_second: float = 2.0,
    workers: int = 8,
) -> Iterator[Blob | Problem]:
    """LookupEvents pages for [start, end] in every region (and account, through `assume_role`).

    Naive datetimes are UTC. Account-regions run `workers` at a time, each paced on its own; pages come
    back as they arrive, each named `lookup-events:ACCOUNT/REGION/page-N` (ACCOUNT is `default` for the
    session's own). Arguments are checked now (SourceError); a missing credential chain raises SourceError
    while iterating, and an account or region that fails becomes a Problem.
    """
    start, end = to_utc(start), to_utc(end)
    if end <= start:
        raise SourceError(f"--end {end.isoformat()} is not after --start {start.isoformat()}")
    if not regions:
        raise SourceError("LookupEvents needs at least one --region")
    if rate_per_second <= 0:
        raise SourceError(f"the LookupEvents rate must be positive, not {rate_per_second}")
    if workers < 1:
        raise SourceError(f"--workers must be at least 1, not {workers}")
    if accounts and not assume_role:
        raise SourceError(
            "--account with LookupEvents needs --assume-role NAME: the API sees only its caller"
        )
    if assume_role and not accounts:
        raise SourceError("--assume-role needs the accounts to assume it in (--account)")
    if assume_role and (assume_role.startswith("arn:") or ":" in assume_role):
        raise SourceError(
            f"--assume-role takes a role name (the ARN is built per account), not {assume_role}"
        )
    for account in accounts or []:
        if not (len(account) == 12 and account.isdigit()):
            raise SourceError(f"--account {account!r}: not a 12-digit AWS account id")
    owners: list[str | None] = list(dict.fromkeys(accounts)) if accounts else [None]
    streams: list[Stream] = [(a, r) for a in owners for r in dict.fromkeys(regions)]
    clients = _Clients(session, assume_role, endpoint_url, min(workers, len(streams)))
    buckets = {stream: TokenBucket(rate_per_second) for stream in streams}
    notes: list[Problem] = []
    oldest = datetime.now(UTC) - RETENTION
    if start < oldest:
        notes.append(
            Problem(
                "lookup-events",
                None,
                "warning",
                f"LookupEvents keeps 90 days: events before {oldest:%Y-%m-%d} are only in an S3 trail",
            )
        )
    return _run(notes, streams, lambda s: _pages(clients, buckets[s], s, start, end), workers)


_DONE = object()


def _run(
    notes: list[Problem],
    streams: list[Stream],
    produce: Callable[[Stream], Iterator[Blob | Problem]],
    workers: int,
) -> Iterator[Blob | Problem]:
    """Run the streams in a few threads and hand their pages over a small queue, as they come."""
    yield from notes
    out: queue.Queue[object] = queue.Queue(maxsize=2 * workers)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work(stream: Stream) -> None:
        try:
            for item in produce(stream):
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer, which raises it there
            put(exc)
        finally:
            put(_DONE)

    pool = ThreadPoolExecutor(max_workers=min(workers, len(streams)), thread_name_prefix="lookup")
    try:
        for stream in streams:
            pool.submit(work, stream)
        running = len(streams)
        while running:
            item = out.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, _Fatal):
                raise SourceError(str(item))
            elif isinstance(item, BaseException):
                raise item
            else:
                assert isinstance(item, Blob | Problem)
                yield item
    finally:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
