"""`--since` / `--until` values: ISO 8601 or relative (`24h`, `7d`), to the stored time format.

The graph keeps every time as `YYYY-MM-DDTHH:MM:SSZ` (UTC, second precision), so the canned queries
compare times as strings; this module turns what an investigator types into exactly that form.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import click

STORED_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

F = TypeVar("F", bound=Callable[..., Any])
Callback = Callable[[click.Context, click.Parameter, "str | None"], "str | None"]

_RELATIVE = re.compile(
    r"^(\d+)\s*(s|sec|secs|m|min|mins|h|hr|hrs|d|day|days|w|wk|wks)\s*(?:ago)?$", re.IGNORECASE
)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

EXAMPLES = "2020-09-17, 2020-09-17T19:04:10Z, 2020-09-17T21:04:10+02:00, 24h, 7d, 30m, 2w, now"


def parse_when(text: str, *, end_of_day: bool = False, now: datetime | None = None) -> str:
    """One moment as `YYYY-MM-DDTHH:MM:SSZ`.

    Relative values count back from `now` (`24h` is 24 hours ago). A bare date is the start of that
    UTC day, or its last second with `end_of_day` (so `--until 2020-09-17` includes the whole day).
    Times without a zone are UTC, like CloudTrail's own.
    """
    value = text.strip()
    moment = now or datetime.now(UTC)
    if value.lower() == "now":
        return moment.astimezone(UTC).strftime(STORED_FORMAT)
    rel = _RELATIVE.match(value)
    if rel:
        amount, unit = int(rel.group(1)), rel.group(2).lower()[0]
        return (moment - timedelta(**{_UNITS[unit]: amount})).astimezone(UTC).strftime(STORED_FORMAT)
    if _DATE.match(value):
        try:
            day = datetime.strptime(value, "%Y-%m-%d")
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a valid date") from exc
        return day.strftime("%Y-%m-%dT23:59:59Z" if end_of_day else "%Y-%m-%dT00:00:00Z")
    iso = value[:-1] + "+00:00" if value[-1:] in ("Z", "z") else value
    try:
        parsed = datetime.fromisoformat(iso.replace(" ", "T", 1))
    except ValueError as exc:
        raise ValueError(f"{text!r} is neither an ISO 8601 time nor a relative time ({EXAMPLES})") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime(STORED_FORMAT)


def window(since: str | None, until: str | None) -> dict[str, str | None]:
    """The `since`/`until` query parameters; refuses an empty window (since after until)."""
    if since is not None and until is not None and since > until:
        raise click.BadParameter(f"--since {since} is after --until {until}", param_hint="--since/--until")
    return {"since": since, "until": until}


def _option_callback(end_of_day: bool) -> Callback:
    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return parse_when(value, end_of_day=end_of_day)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc

    return convert


def window_options(fn: F) -> F:
    """--since and --until, converted to the stored UTC format when parsed."""
    fn = click.option(
        "--until",
        callback=_option_callback(True),
        metavar="TIME",
        help="Only up to this time, inclusive: ISO 8601 (a bare date means its whole day) or relative "
        "(24h, 7d = that long ago). UTC unless a zone is given.",
    )(fn)
    fn = click.option(
        "--since",
        callback=_option_callback(False),
        metavar="TIME",
        help=f"Only from this time on: ISO 8601 or relative, e.g. {EXAMPLES}.",
    )(fn)
    return fn
