"""The pure record -> facts step."""

from __future__ import annotations

import orjson
import pytest

from tests.builders import assume_role, call, role_session_identity, user_identity
from trailgraph.extract import Extracted, extract, normalize_expiration, normalize_time


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2020-09-17T19:04:10Z", "2020-09-17T19:04:10Z"),
        ("2020-09-17T19:04:10.123Z", "2020-09-17T19:04:10Z"),
        ("2020-09-17 19:04:10.000000000", "2020-09-17T19:04:10Z"),
        ("2020-09-17T21:04:10+02:00", "2020-09-17T19:04:10Z"),
        ("Sep 17, 2020", None),
        (1600369450, None),
    ],
)
def test_normalize_time(raw: object, expected: str | None) -> None:
    assert normalize_time(raw) == expected


@pytest.mark.parametrize(
    "raw", ["Sep 17, 2020 8:04:10 PM", "Sep 17, 2020, 8:04:10 PM", "2020-09-17T20:04:10Z"]
)
def test_expiration_formats(raw: str) -> None:
    assert normalize_expiration(raw) == "2020-09-17T20:04:10Z"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: r.pop("eventID"), "missing eventID"),
        (lambda r: r.pop("eventTime"), "missing eventTime"),
        (lambda r: r.update(eventTime="yesterday"), "not an ISO 8601 time"),
        (lambda r: r.pop("userIdentity"), "missing userIdentity"),
        (lambda r: r.update(userIdentity="x"), "not an object"),
    ],
)
def test_unusable_records_give_a_reason(mutate: object, reason: str) -> None:
    record = call(user_identity("111111111111", "alice"), "2024-03-01T10:00:00Z")
    mutate(record)  # type: ignore[operator]
    result = extract(record)
    assert isinstance(result, str) and reason in result


def test_issuing_call_and_its_use_name_the_same_session_without_each_other() -> None:
    t = "2024-03-01T10:00:00Z"
    issue = extract(assume_role(user_identity("1", "alice"), t, "1", "ops", "s", "ASIAKEY0000000000001")[0])
    use = extract(call(role_session_identity("1", "ops", "s", "ASIAKEY0000000000001", t), t))
    assert isinstance(issue, Extracted) and isinstance(use, Extracted)
    issued = {ref for ref in issue.batch.nodes if ref[0] == "Session"}
    used = {ref for ref in use.batch.nodes if ref[0] == "Session"}
    assert issued == used and issue.slots == use.slots


def test_session_tokens_never_reach_the_facts() -> None:
    record = assume_role(
        user_identity("1", "alice"), "2024-03-01T10:00:00Z", "1", "ops", "s", "ASIAK0000001"
    )[0]
    token = record["responseElements"]["credentials"]["sessionToken"]
    facts = extract(record)
    assert isinstance(facts, Extracted)
    dumped = orjson.dumps([list(facts.batch.nodes.values()), list(facts.batch.edges.values())])
    assert token.encode() not in dumped
