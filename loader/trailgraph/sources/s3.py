"""S3 trail buckets, read as CloudTrail writes them, listing only what the filters ask for.

Layout: `[prefix/]AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/<file>.json.gz`. A bucket can hold
years of logs for hundreds of accounts, so listing all of it and filtering afterwards is not an option:
each level (organisations, accounts, regions) is discovered with one delimiter listing and intersected
with the filters, and only the `YYYY/MM/DD/` day folders inside the window are listed. Downloads run in a
small thread pool while the caller parses, in listing order, with a bounded number of objects in flight.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from trailgraph.records import Problem
from trailgraph.sources.blob import Blob
from trailgraph.sources.timewindow import FILE_MARGIN, days, file_stamp, to_utc

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_ACCOUNT = re.compile(r"^\d{12}$")
_ORG = re.compile(r"^o-[a-z0-9]{10,32}$")
_EVENTS = "CloudTrail"
_NOT_EVENTS = {
    "CloudTrail-Digest": "skipped: CloudTrail digest files (integrity hashes, no events), not listed",
    "CloudTrail-Insight": "skipped: CloudTrail Insights files (activity statistics, no callers), not listed",
}

# Windows up to a month are listed day folder by day folder; longer ones by one listing per region.
DAY_LISTINGS_UP_TO = 31

_LIST = "s3:ListBucket on the bucket"
_GET = "s3:GetObject, and kms:Decrypt on the trail's key if it is encrypted"

T = TypeVar("T")
R = TypeVar("R")


class SourceError(Exception):
    """A source failure the user can act on (no bucket, no access, no credentials), in one line."""


def aws_config(workers: int) -> Config:
    """Adaptive retries ride out throttling; one connection per concurrent call plus headroom."""
    return Config(retries={"mode": "adaptive", "max_attempts": 10}, max_pool_connections=max(2, workers * 2))


def explain(exc: Exception, what: str, denied: str = "") -> str:
    """One line for an AWS failure; `denied` names the permission to ask for when access is refused."""
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found: pass --profile or set the usual AWS_* environment variables"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "?"))
        message = str(error.get("Message", "")).strip()
        if code in ("AccessDenied", "AccessDeniedException", "403"):
            return f"{what}: access denied{f' (needs {denied})' if denied else ''}: {message or code}"
        return f"{what}: {code}: {message}" if message else f"{what}: {code}"
    return f"{what}: {exc}"


def split_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix/` -> ("bucket", "some/prefix")."""
    if not url.startswith("s3://"):
        raise SourceError(f"{url}: not an S3 URL (expected s3://bucket/prefix)")
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket:
        raise SourceError(f"{url}: no bucket name (expected s3://bucket/prefix)")
    return bucket, prefix.strip("/")


@dataclass(frozen=True)
class _Scope:
    """Where the trail is and what the URL itself pins (`s3://b/AWSLogs/o-x/1111.../CloudTrail/eu-west-1`)."""

    base: str  # ends with "AWSLogs/"
    org: str | None
    account: str | None
    region: str | None


def _scope(url: str, prefix: str) -> _Scope:
    parts = prefix.split("/") if prefix else []
    if "AWSLogs" not in parts:
        return _Scope(f"{prefix}/AWSLogs/" if prefix else "AWSLogs/", None, None, None)
    at = parts.index("AWSLogs")
    base = "/".join([*parts[:at], "AWSLogs"]) + "/"
    rest = parts[at + 1 :]
    org = rest.pop(0) if rest and _ORG.match(rest[0]) else None
    account = rest.pop(0) if rest else None
    if account is not None and not _ACCOUNT.match(account):
        raise SourceError(f"{url}: {account!r} is neither an organisation id nor a 12-digit account id")
    if rest:
        folder = rest.pop(0)
        if folder != _EVENTS:
            raise SourceError(f"{url}: only {_EVENTS}/ holds events ({folder}/ does not)")
    region = rest.pop(0) if rest else None
    if rest:
        raise SourceError(f"{url}: give the dates with --since/--until, not in the URL")
    return _Scope(base, org, account, region)


def _pinned(url: str, what: str, pinned: str | None, wanted: list[str] | None) -> list[str] | None:
    """Filters narrowed by what the URL names; a contradiction is an error, not an empty load."""
    if pinned is None:
        return wanted
    if wanted is not None and pinned not in wanted:
        raise SourceError(f"{url} names {what} {pinned}, but the {what} filter asks for {', '.join(wanted)}")
    return [pinned]


@dataclass(frozen=True)
class _Leaf:
    """One listing that returns objects: a day folder, or a stretch of a region's days.

    A region-wide leaf starts after `start_after` (S3 keys sort by day) and stops at the first key past
    `stop_after_day`, so it lists no more than the window holds either.
    """

    prefix: str
    start_after: str | None = None
    stop_after_day: str | None = None  # "YYYY/MM/DD"


class _Lister:
    def __init__(self, client: S3Client, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def where(self, prefix: str) -> str:
        return f"s3://{self.bucket}/{prefix}"

    def children(self, prefix: str) -> list[str]:
        """The folder names directly under `prefix` (one delimiter listing)."""
        names: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, Delimiter="/"
            )
            for page in pages:
                for common in page.get("CommonPrefixes", []):
                    names.append(common.get("Prefix", "")[len(prefix) :].rstrip("/"))
        except (ClientError, BotoCoreError) as exc:
            if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
                raise SourceError(f"s3://{self.bucket}: no such bucket") from exc
            raise SourceError(explain(exc, f"cannot list {self.where(prefix)}", _LIST)) from exc
        return names

    def objects(self, leaf: _Leaf, low: datetime | None, high: datetime | None) -> list[str] | Problem:
        """Keys under the leaf whose file-name time is inside [low, high]; a Problem if listing fails."""
        keys: list[str] = []
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            if leaf.start_after is None:
                pages = paginator.paginate(Bucket=self.bucket, Prefix=leaf.prefix)
            else:
                pages = paginator.paginate(
                    Bucket=self.bucket, Prefix=leaf.prefix, StartAfter=leaf.start_after
                )
            for page in pages:
                for obj in page.get("Contents", []):
                    key = obj.get("Key", "")
                    if leaf.stop_after_day and key[len(leaf.prefix) :][:10] > leaf.stop_after_day:
                        return keys  # keys sort by day: everything after is past the window
                    if key.endswith("/"):
                        continue
                    stamp = file_stamp(key)
                    if stamp is not None and (
                        (low is not None and stamp < low) or (high is not None and stamp > high)
                    ):
                        continue
                    keys.append(key)
        except (ClientError, BotoCoreError) as exc:
            return Problem(self.where(leaf.prefix), None, "rejected", explain(exc, "cannot list", _LIST))
        return keys

    def get(self, key: str) -> Blob | Problem:
        name = self.where(key)
        try:
            data = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            return Problem(name, None, "rejected", explain(exc, "cannot read", _GET))
        return Blob(name, data)


def _window(since: datetime | None, until: datetime | None) -> tuple[datetime | None, datetime | None]:
    """File-name time bounds: the event window widened by the file margin."""
    low = to_utc(since) - FILE_MARGIN if since is not None else None
    high = to_utc(until) + FILE_MARGIN if until is not None else None
    if since is not None and until is not None and to_utc(since) > to_utc(until):
        raise SourceError(f"--since {since.isoformat()} is after --until {until.isoformat()}")
    return low, high


def iter_s3_blobs(
    url: str,
    *,
    since: datetime | None,
    until: datetime | None,
    accounts: list[str] | None,
    regions: list[str] | None,
    session: boto3.Session,
    endpoint_url: str | None = None,
    workers: int = 4,
    on_listed: Callable[[int], None] | None = None,
) -> Iterator[Blob | Problem]:
    """Trail objects under `s3://bucket/prefix` in [since, until], for these accounts and regions.

    Naive datetimes are UTC. Digest and Insights folders are never listed: one skipped note each.
    `on_listed` gets the running number of objects selected so far, after each listing.
    Arguments are checked now (SourceError); AWS failures surface while iterating: SourceError when the
    bucket cannot be listed at all, a Problem for one folder or object that cannot be read.
    """
    lister, prefix = _open(url, session, endpoint_url, workers)
    if _names_one_object(prefix):
        return _one(lister, prefix)
    keys = _keys(lister, url, since, until, accounts, regions, workers, on_listed)
    return _download(lister, keys, workers)


def _open(url: str, session: boto3.Session, endpoint_url: str | None, workers: int) -> tuple[_Lister, str]:
    """The bucket's lister (a client sized for `workers`) and the URL's prefix."""
    if workers < 1:
        raise SourceError(f"--workers must be at least 1, not {workers}")
    bucket, prefix = split_s3_url(url)
    return _Lister(
        session.client("s3", endpoint_url=endpoint_url, config=aws_config(workers)), bucket
    ), prefix


def _names_one_object(prefix: str) -> bool:
    return prefix.endswith((".json", ".json.gz"))


def _keys(
    lister: _Lister,
    url: str,
    since: datetime | None,
    until: datetime | None,
    accounts: list[str] | None,
    regions: list[str] | None,
    workers: int,
    on_listed: Callable[[int], None] | None,
) -> Generator[str | Problem, None, None]:
    low, high = _window(since, until)
    for account in accounts or []:
        if not _ACCOUNT.match(account):
            raise SourceError(f"--account {account!r}: not a 12-digit AWS account id")
    scope = _scope(url, split_s3_url(url)[1])
    accounts = _pinned(url, "account", scope.account, accounts)
    regions = _pinned(url, "region", scope.region, regions)
    plan = _plan(lister, scope, accounts, regions, low, high)
    return _list(lister, plan, low, high, workers, on_listed)


def list_s3_objects(
    url: str,
    *,
    since: datetime | None,
    until: datetime | None,
    accounts: list[str] | None,
    regions: list[str] | None,
    session: boto3.Session,
    endpoint_url: str | None = None,
    workers: int = 4,
) -> Iterator[str | Problem]:
    """The `s3://bucket/key` names `iter_s3_blobs` would download, in the same order, without
    downloading them (the Spark path reads each object on an executor with `get_s3_object`)."""
    lister, prefix = _open(url, session, endpoint_url, workers)
    if _names_one_object(prefix):
        return iter([url])
    keys = _keys(lister, url, since, until, accounts, regions, workers, None)
    return (k if isinstance(k, Problem) else lister.where(k) for k in keys)


def get_s3_object(name: str, client: S3Client) -> Blob | Problem:
    """One object by its `s3://bucket/key` name, or the Problem that says why it cannot be read."""
    bucket, key = split_s3_url(name)
    return _Lister(client, bucket).get(key)


def _one(lister: _Lister, key: str) -> Iterator[Blob | Problem]:
    """A URL naming one object: it is the whole input, so failing to read it is an error."""
    item = lister.get(key)
    if isinstance(item, Problem):
        raise SourceError(f"{item.source}: {item.reason}")
    yield item


def _plan(
    lister: _Lister,
    scope: _Scope,
    accounts: list[str] | None,
    regions: list[str] | None,
    low: datetime | None,
    high: datetime | None,
) -> Iterator[_Leaf | Problem]:
    """Walk the layout level by level, listing only branches the filters keep."""
    base = scope.base
    if scope.org is not None:
        containers = [f"{base}{scope.org}/"]
        direct: list[str] = []
    elif scope.account is not None:
        containers, direct = [], [scope.account]
    else:
        top = lister.children(base)
        if not top:
            raise SourceError(
                f"{lister.where(base)}: no CloudTrail logs here "
                f"(expected {base}[o-ORGID/]ACCOUNT/{_EVENTS}/REGION/YYYY/MM/DD/)"
            )
        containers = [f"{base}{name}/" for name in top if _ORG.match(name)]
        direct = [name for name in top if _ACCOUNT.match(name)]
    account_prefixes = [f"{base}{a}/" for a in direct if accounts is None or a in accounts]
    for container in containers:
        if scope.account is not None:
            found = [scope.account]
        else:
            found = [a for a in lister.children(container) if _ACCOUNT.match(a)]
        account_prefixes.extend(f"{container}{a}/" for a in found if accounts is None or a in accounts)
    seen_accounts = {p.rstrip("/").rsplit("/", 1)[-1] for p in account_prefixes}
    for missing in [a for a in accounts or [] if a not in seen_accounts]:
        yield Problem(lister.where(base), None, "warning", f"no logs for account {missing}")

    seen_regions: set[str] = set()
    for account_prefix in account_prefixes:
        folders = lister.children(account_prefix) if scope.region is None else [_EVENTS]
        for folder in folders:
            if folder in _NOT_EVENTS:
                yield Problem(
                    lister.where(f"{account_prefix}{folder}/"), None, "skipped", _NOT_EVENTS[folder]
                )
        if _EVENTS not in folders:
            continue
        events = f"{account_prefix}{_EVENTS}/"
        present = [scope.region] if scope.region is not None else lister.children(events)
        for region in present:
            if regions is not None and region not in regions:
                continue
            seen_regions.add(region)
            yield from _leaves(f"{events}{region}/", low, high)
    for missing in [r for r in regions or [] if r not in seen_regions]:
        yield Problem(lister.where(base), None, "warning", f"no logs for region {missing}")


def _leaves(region_prefix: str, low: datetime | None, high: datetime | None) -> Iterator[_Leaf]:
    """Listings for the window: one per day folder for short windows (they run in parallel); for long or
    open-started windows one region listing, which needs fewer calls than a mostly quiet year of days."""
    latest = datetime.now(UTC) + FILE_MARGIN  # no file is named after now
    end = latest if high is None else min(high, latest)
    stop = f"{end:%Y/%m/%d}"
    if low is None:
        yield _Leaf(region_prefix, stop_after_day=stop)
        return
    window = days(low, end)
    if len(window) > DAY_LISTINGS_UP_TO:
        yield _Leaf(region_prefix, start_after=f"{region_prefix}{low:%Y/%m/%d}/", stop_after_day=stop)
        return
    for day in window:
        yield _Leaf(f"{region_prefix}{day:%Y/%m/%d}/")


def _done(value: R) -> Future[R]:
    future: Future[R] = Future()
    future.set_result(value)
    return future


def _ordered(
    items: Iterable[T | Problem], work: Callable[[T], Future[R]], ahead: int
) -> Iterator[Future[R | Problem]]:
    """Start work on up to `ahead` items before the caller takes the first result; keep input order."""
    pending: deque[Future[R | Problem]] = deque()
    for item in items:
        pending.append(_done(item) if isinstance(item, Problem) else work(item))  # type: ignore[arg-type]
        if len(pending) >= ahead:
            yield pending.popleft()
    while pending:
        yield pending.popleft()


def _list(
    lister: _Lister,
    plan: Iterator[_Leaf | Problem],
    low: datetime | None,
    high: datetime | None,
    workers: int,
    on_listed: Callable[[int], None] | None,
) -> Generator[str | Problem, None, None]:
    """Object keys in listing order, listing the next few day folders in the background."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="s3-list")

    def submit(leaf: _Leaf) -> Future[list[str] | Problem]:
        return pool.submit(lister.objects, leaf, low, high)

    listed = 0
    try:
        for future in _ordered(plan, submit, workers):
            result = future.result()
            if isinstance(result, Problem):
                yield result
                continue
            listed += len(result)
            if on_listed is not None:
                on_listed(listed)
            yield from result
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _download(
    lister: _Lister, keys: Generator[str | Problem, None, None], workers: int
) -> Iterator[Blob | Problem]:
    """Blobs in listing order while later ones download: at most 2*workers objects held at once."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="s3-get")

    def submit(key: str) -> Future[Blob | Problem]:
        return pool.submit(lister.get, key)

    try:
        for future in _ordered(keys, submit, 2 * workers):
            yield future.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        keys.close()
