"""From what the user typed (paths, s3:// URLs, --lookup-events) to one stream of blobs."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import boto3
import botocore.exceptions

from trailgraph.records import Problem
from trailgraph.sources.blob import Blob
from trailgraph.sources.files import expand, iter_file_blobs
from trailgraph.sources.s3 import SourceError


@dataclass(frozen=True)
class SourceOptions:
    since: datetime | None = None
    until: datetime | None = None
    accounts: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    profile: str | None = None
    workers: int = 8
    lookup_events: bool = False
    start: datetime | None = None
    end: datetime | None = None
    assume_role: str | None = None


def _session(profile: str | None) -> boto3.Session:
    try:
        return boto3.Session(profile_name=profile)
    except botocore.exceptions.ProfileNotFound as exc:
        raise SourceError(str(exc)) from exc


def select_sources(paths: list[str], options: SourceOptions) -> tuple[Iterator[Blob | Problem], int]:
    """The blobs to load and how many sources are known up front (0 when unknown, e.g. S3)."""
    if options.lookup_events:
        if paths:
            raise SourceError("--lookup-events reads the API: give no paths with it")
        if options.start is None or not options.regions:
            raise SourceError("--lookup-events needs --start and at least one --region")
        if bool(options.assume_role) != bool(options.accounts):
            raise SourceError(
                "--assume-role and --account go together (a role name to assume in each account)"
            )
        from trailgraph.sources.lookup import iter_lookup_blobs

        blobs = iter_lookup_blobs(
            start=options.start,
            end=options.end or datetime.now(UTC),
            regions=options.regions,
            session=_session(options.profile),
            accounts=options.accounts or None,
            assume_role=options.assume_role,
        )
        return blobs, 0
    if not paths:
        raise SourceError("give files, directories or s3:// URLs to load (or --lookup-events)")
    local = [p for p in paths if not p.startswith("s3://")]
    remote = [p for p in paths if p.startswith("s3://")]
    files = expand(local)
    missing = [f for f in files if f != "-" and not Path(f).exists()]
    if missing:
        raise SourceError(f"no such file or directory: {', '.join(missing)}")
    streams: list[Iterator[Blob | Problem]] = [iter_file_blobs(files)]
    if remote:
        from trailgraph.sources.s3 import iter_s3_blobs

        session = _session(options.profile)
        streams += [
            iter_s3_blobs(
                url,
                since=options.since,
                until=options.until,
                accounts=options.accounts or None,
                regions=options.regions or None,
                session=session,
                workers=options.workers,
            )
            for url in remote
        ]
    return itertools.chain.from_iterable(streams), 0 if remote else len(files)
