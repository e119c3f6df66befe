"""Time windows for the AWS sources: everything in UTC, because S3 key names and LookupEvents are UTC."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

# A trail file is written about every 5 minutes and events can arrive late, so a file named HH:MM can
# hold events from a little before; 15 minutes either side keeps every event of the window.
FILE_MARGIN = timedelta(minutes=15)

_FILE_STAMP = re.compile(r"_(\d{8}T\d{4}Z)_")


def to_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC (what CloudTrail writes), aware ones are converted."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def days(first: datetime, last: datetime) -> list[date]:
    """Every UTC day from `first` to `last`, both included."""
    day, end = to_utc(first).date(), to_utc(last).date()
    out: list[date] = []
    while day <= end:
        out.append(day)
        day += timedelta(days=1)
    return out


def file_stamp(key: str) -> datetime | None:
    """The delivery time in a trail file name (`..._CloudTrail_REGION_20240301T2350Z_xxxx.json.gz`)."""
    match = _FILE_STAMP.search(key.rsplit("/", 1)[-1])
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
    except ValueError:
        return None
