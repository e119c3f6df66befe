"""Which issuances can vouch for which cross-account copies (link.py's source-identity rule), by hour.

A copy in a role's account names its caller only as a role session principal `AROA...:name`; the one
loaded issuance of that principal alive at the copy's time may vouch for it. Session names repeat (a CI
role assumed thousands of times a month), so a group of every copy and issuance of a principal grows
with the trail, and re-deciding it whole on each load batch makes loading quadratic. Copies are grouped
instead by principal and hour: `pid:AROA...:name@2024-03-01T10`, and an issuance dirties the hours it
is alive in (`alive_hours`). Issuances alive for longer than WIDE_HOURS, and copies or issuances whose
times do not parse, use the principal's every hour: `pid:AROA...:name@*`. Pure.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

PRINCIPAL_GROUP = "pid:"
"""Copy groups are sharedEventIDs; this prefix marks the other kind: a role session's principalId and an
hour (`@YYYY-MM-DDTHH`, or `@*` for every hour), tying issuances of that session to copies naming it."""
EVERY_HOUR = "*"
MAX_SESSION = timedelta(hours=12)
"""The longest an AssumeRole session lives, for issuances whose expiration the record does not give."""
WIDE_HOURS = 48
"""Issuances alive longer than this are offered to every copy naming their principal."""
_TIME, _HOUR_FORMAT, _HOUR = "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H", timedelta(hours=1)
_NORMALISED = re.compile(r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def alive_until(issuance: dict[str, Any]) -> str:
    expiration = issuance.get("expiration")
    if isinstance(expiration, str):
        return expiration
    start = datetime.strptime(str(issuance["eventTime"]), _TIME)
    return (start + MAX_SESSION).strftime(_TIME)


def is_alive(issuance: dict[str, Any], at: str) -> bool:
    return str(issuance.get("eventTime")) <= at <= alive_until(issuance)


def hour_of(at: Any) -> str | None:
    """The UTC hour (`YYYY-MM-DDTHH`) of a normalised time, None if it is not one. Every call of a
    role session asks (`caller_key`): a time in the normalised shape (from year 1000: `strftime` leaves
    earlier years unpadded) is checked by `fromisoformat` and cut, which is what `strptime` would give at
    a tenth of the cost (`_strict_hour_of` for the rest)."""
    if isinstance(at, str) and _NORMALISED.fullmatch(at):
        try:
            datetime.fromisoformat(at[:19])
        except ValueError:
            return None
        return at[:13]
    return _strict_hour_of(at)


def _strict_hour_of(at: Any) -> str | None:
    try:
        return datetime.strptime(str(at), _TIME).strftime(_HOUR_FORMAT)
    except ValueError:
        return None


def alive_hours(issuance: dict[str, Any]) -> list[str] | None:
    """Every hour holding a time at which `is_alive` holds (from the eventTime to the expiration, both
    included), or None: any hour (alive over WIDE_HOURS, or times that do not parse)."""
    first = hour_of(issuance.get("eventTime"))
    last = hour_of(alive_until(issuance)) if first else None
    if first is None or last is None:
        return None
    start, end = datetime.strptime(first, _HOUR_FORMAT), datetime.strptime(last, _HOUR_FORMAT)
    if end - start > timedelta(hours=WIDE_HOURS):
        return None
    return [(start + i * _HOUR).strftime(_HOUR_FORMAT) for i in range((end - start) // _HOUR + 1)]


def caller_key(call: dict[str, Any]) -> str | None:
    """`principal@hour` of a copy naming its caller principal: the hour it was made in."""
    caller = call.get("callerPrincipalId")
    if not isinstance(caller, str):
        return None
    return f"{caller}@{hour_of(call.get('eventTime')) or EVERY_HOUR}"


def issued_keys(call: dict[str, Any]) -> list[str]:
    """`principal@hour` of an issuance of a role session, for every hour it is alive in."""
    issued = call.get("issuedPrincipalId")
    if not isinstance(issued, str):
        return []
    hours = alive_hours(call)
    return [f"{issued}@{h}" for h in (hours if hours is not None else [EVERY_HOUR])]


def principal_groups(call: dict[str, Any]) -> list[str]:
    """The principal groups a call's arrival or change must re-decide."""
    caller = caller_key(call)
    return [PRINCIPAL_GROUP + k for k in [*issued_keys(call), *([caller] if caller else [])]]


def parse_group(key: str) -> tuple[str, str] | None:
    """(principal, hour) of a principal group key, None for a sharedEventID. Session names may hold `@`;
    hours never do."""
    if not key.startswith(PRINCIPAL_GROUP):
        return None
    principal, _, hour = key.removeprefix(PRINCIPAL_GROUP).rpartition("@")
    return principal, hour


def names_in_hours(call: dict[str, Any], wanted: dict[str, set[str]]) -> bool:
    """Whether a call is a copy naming a principal of `wanted` ({principal: hours}) in one of its hours
    (a copy whose time does not parse is in every hour of its principal)."""
    caller = call.get("callerPrincipalId")
    hours = wanted.get(caller) if isinstance(caller, str) else None
    if not hours:
        return False
    hour = hour_of(call.get("eventTime"))
    return hour is None or hour in hours or EVERY_HOUR in hours


def wanted_hours(shared: set[str]) -> dict[str, set[str]]:
    """{principal: hours} of the principal groups among linker group keys."""
    out: dict[str, set[str]] = {}
    for key in shared:
        if parsed := parse_group(key):
            out.setdefault(parsed[0], set()).add(parsed[1])
    return out
