"""The two time formats CloudTrail mixes: ISO `eventTime` and the human credential `expiration`."""

from __future__ import annotations

import time
from functools import cache

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

SLOT = 300  # CloudTrail delivers a file roughly every five minutes per account and region


def iso(ts: int) -> str:
    """`2026-01-05T08:04:10Z`."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def human(ts: int, *, comma: bool = False) -> str:
    """`Sep 17, 2020 8:04:10 PM`, or the newer `Jul 1, 2026, 12:08:19 PM` when `comma`."""
    t = time.gmtime(ts)
    hour = t.tm_hour % 12 or 12
    half = "AM" if t.tm_hour < 12 else "PM"
    sep = "," if comma else ""
    return (
        f"{_MONTHS[t.tm_mon - 1]} {t.tm_mday}, {t.tm_year}{sep} {hour}:{t.tm_min:02d}:{t.tm_sec:02d} {half}"
    )


def file_stamp(ts: int) -> tuple[str, str]:
    """(`YYYY/MM/DD`, `YYYYMMDDTHHMMZ`) for a delivery time, as in the S3 key of a log file."""
    t = time.gmtime(ts)
    return time.strftime("%Y/%m/%d", t), time.strftime("%Y%m%dT%H%MZ", t)


@cache
def _clock() -> tuple[str, ...]:
    return tuple(f"T{h:02d}:{m:02d}:{s:02d}Z" for h in range(24) for m in range(60) for s in range(60))


class IsoCache:
    """Fast `iso`: a per-day prefix plus a table of the 86,400 `THH:MM:SSZ` suffixes (strftime dominated)."""

    __slots__ = ("_clock", "_days")

    def __init__(self) -> None:
        self._days: dict[int, str] = {}
        self._clock = _clock()

    def __call__(self, ts: int) -> str:
        day, sec = divmod(ts, 86_400)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = self._days[day] = time.strftime("%Y-%m-%d", time.gmtime(ts))
        return prefix + self._clock[sec]
