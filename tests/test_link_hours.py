"""`vouching.alive_hours` narrows the issuances offered to a cross-account copy (a load re-decides a
principal's copies hour by hour; Spark joins them by hour) without ever leaving out one that
`link._vouched` would find alive: a left-out issuance could make a second candidate look like the only
one, and name the wrong session."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from trailgraph.link import _vouched
from trailgraph.vouching import WIDE_HOURS, _strict_hour_of, alive_hours, hour_of

T0 = datetime(2024, 2, 28, 22, 0, 0)
FMT = "%Y-%m-%dT%H:%M:%SZ"


def _issuance(start: datetime, expiration: str | None) -> dict[str, object]:
    out: dict[str, object] = {
        "id": "i1",
        "eventId": "e1",
        "eventTime": start.strftime(FMT),
        "issuedSession": "s1",
        "issuedSourceIdentity": "alice",
    }
    if expiration is not None:
        out["expiration"] = expiration
    return out


def _copy(at: str) -> dict[str, object]:
    return {"id": "c1", "eventId": "e2", "eventTime": at, "callerSourceIdentity": "alice"}


seconds = st.integers(min_value=0, max_value=4 * 24 * 3600)
expirations = st.one_of(
    st.none(),
    st.integers(min_value=-7200, max_value=(WIDE_HOURS + 30) * 3600),
    st.sampled_from(["not a time", "2024-02-29T25:00:00Z", ""]),
)


@given(start=seconds, expiration=expirations, at=st.integers(min_value=-3600, max_value=5 * 24 * 3600))
def test_every_issuance_vouching_for_a_copy_is_offered_in_the_copy_hour(
    start: int, expiration: int | str | None, at: int
) -> None:
    began = T0 + timedelta(seconds=start)
    expires = (
        (began + timedelta(seconds=expiration)).strftime(FMT) if isinstance(expiration, int) else expiration
    )
    issuance = _issuance(began, expires)
    copy_at = (T0 + timedelta(seconds=at)).strftime(FMT)
    hours = alive_hours(issuance)
    if _vouched(_copy(copy_at), [issuance]) is not None:
        assert hours is None or hour_of(copy_at) in hours


def test_an_hour_session_is_offered_in_two_hours_at_most() -> None:
    issuance = _issuance(datetime(2024, 2, 29, 23, 30, 0), "2024-03-01T00:30:00Z")
    assert alive_hours(issuance) == ["2024-02-29T23", "2024-03-01T00"]


def test_without_expiration_the_longest_session_is_assumed() -> None:
    hours = alive_hours(_issuance(datetime(2024, 2, 29, 23, 30, 0), None))
    assert hours is not None and (hours[0], hours[-1], len(hours)) == ("2024-02-29T23", "2024-03-01T11", 13)


def test_long_or_unreadable_lifetimes_are_offered_everywhere() -> None:
    began = datetime(2024, 2, 29, 23, 30, 0)
    assert alive_hours(_issuance(began, (began + timedelta(hours=WIDE_HOURS + 2)).strftime(FMT))) is None
    assert alive_hours(_issuance(began, "Sep 17 2020")) is None
    assert hour_of("2024-02-29") is None


_DIGITS = st.text("0123456789", min_size=1, max_size=4)


@given(
    parts=st.tuples(_DIGITS, _DIGITS, _DIGITS, _DIGITS, _DIGITS, _DIGITS),
    seps=st.sampled_from(["-", "-", "T", ":", ":", "Z", " ", "+"]).map(str),
    tail=st.sampled_from(["Z", "", "z", ".5Z", "Z "]),
)
def test_the_hour_of_a_time_is_what_strptime_reads(parts: tuple[str, ...], seps: str, tail: str) -> None:
    """The fast reading of normalised times agrees with `strptime` on every string, in shape or not
    (single digits, day 31 of a short month, hour 24, second 60, year 0000, other separators)."""
    year, month, day, hour, minute, second = parts
    for text in (
        f"{year}-{month}-{day}T{hour}:{minute}:{second}{tail}",
        f"{year}-{month}-{day}{seps}{hour}:{minute}:{second}Z",
    ):
        assert hour_of(text) == _strict_hour_of(text), text


@given(at=st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
def test_the_hour_of_any_normalised_time(at: datetime) -> None:
    text = f"{at.year:04d}-{at.month:02d}-{at.day:02d}T{at.hour:02d}:{at.minute:02d}:{at.second:02d}Z"
    assert hour_of(text) == _strict_hour_of(text)  # strftime writes years before 1000 unpadded


def test_the_hour_of_edge_times() -> None:
    for text in (
        "2024-02-29T23:59:59Z",
        "2023-02-29T10:00:00Z",
        "2024-04-31T10:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T10:00:60Z",
        "0000-01-01T00:00:00Z",
        "2024-1-01T10:00:00Z",
        None,
        17,
    ):
        assert hour_of(text) == _strict_hour_of(text), text
    assert hour_of("2024-02-29T23:59:59Z") == "2024-02-29T23"
