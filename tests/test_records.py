"""The parser: every shape it recognises, and every kind of bad input named, never raised."""

from __future__ import annotations

import gzip

import orjson
import pytest

from tests.builders import call, user_identity
from trailgraph.records import Parsed, Problem, parse_blob
from trailgraph.sources.blob import Blob

REC = call(user_identity("111111111111", "alice"), "2024-03-01T10:00:00Z")


def parse(data: bytes, name: str = "f.json") -> tuple[list[Parsed], list[Problem]]:
    items = list(parse_blob(Blob(name, data)))
    return [i for i in items if isinstance(i, Parsed)], [i for i in items if isinstance(i, Problem)]


@pytest.mark.parametrize(
    "data",
    [
        orjson.dumps({"Records": [REC]}),
        gzip.compress(orjson.dumps({"Records": [REC]})),
        orjson.dumps([REC]),
        orjson.dumps(REC),
        orjson.dumps(REC) + b"\n",
        orjson.dumps({"version": "0", "detail-type": "AWS API Call via CloudTrail", "detail": REC}),
        orjson.dumps({"Events": [{"EventId": "x", "CloudTrailEvent": orjson.dumps(REC).decode()}]}),
        orjson.dumps({"insertId": "1", "jsonPayload": REC}),
        orjson.dumps(
            {
                "QueryResultRows": [
                    [
                        {"eventID": REC["eventID"]},
                        {"eventTime": REC["eventTime"]},
                        {"userIdentity": orjson.dumps(REC["userIdentity"]).decode()},
                    ]
                ]
            }
        ),
    ],
    ids=["records", "gzip", "array", "single", "ndjson-one", "eventbridge", "lookup", "gcp", "lake"],
)
def test_shapes(data: bytes) -> None:
    records, problems = parse(data)
    assert [r.record["eventID"] for r in records] == [REC["eventID"]]
    assert problems == []


def test_json_lines_with_a_bad_line_keeps_the_good_ones() -> None:
    data = orjson.dumps(REC) + b"\n{broken\n" + orjson.dumps(dict(REC, eventID="second")) + b"\n"
    records, problems = parse(data, "x.jsonl")
    assert [r.record["eventID"] for r in records] == [REC["eventID"], "second"]
    assert len(problems) == 1 and problems[0].severity == "rejected" and "line 2" in problems[0].reason


def test_truncated_gzip_is_named() -> None:
    data = gzip.compress(orjson.dumps({"Records": [REC] * 50}))
    _, problems = parse(data[: len(data) // 2], "t.json.gz")
    assert problems and problems[0].reason.startswith("truncated gzip")


def test_digest_and_notifications_are_skipped_not_rejected() -> None:
    digest = orjson.dumps(
        {
            "awsAccountId": "1",
            "digestStartTime": "x",
            "digestEndTime": "y",
            "digestPublicKeyFingerprint": "z",
            "logFiles": [],
        }
    )
    _, problems = parse(digest)
    assert [p.severity for p in problems] == ["skipped"]
    _, problems = parse(b"{}", "AWSLogs/1/CloudTrail-Digest/us-east-1/2024/x.json.gz")
    assert [p.severity for p in problems] == ["skipped"]
    _, problems = parse(orjson.dumps({"Type": "Notification", "Message": "{}"}))
    assert [p.severity for p in problems] == ["skipped"]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty file"),
        (b"   \n", "empty file"),
        (b"{not json", "invalid JSON"),
        (orjson.dumps({"hello": 1}), "foreign shape"),
        (orjson.dumps({"Records": [1, None, "x"]}), "not a CloudTrail record"),
        (b"42", "foreign shape"),
    ],
)
def test_bad_input_is_a_named_problem(data: bytes, fragment: str) -> None:
    records, problems = parse(data)
    assert records == []
    assert problems and all(fragment in p.reason for p in problems)


def test_non_utf8_bytes_are_replaced_and_the_record_kept() -> None:
    data = orjson.dumps({"Records": [dict(REC, userAgent="UA-MARK")]}).replace(b"UA-MARK", b"UA-\xff")
    records, problems = parse(data)
    assert len(records) == 1 and records[0].record["userAgent"] == "UA-\ufffd"
    assert [p.severity for p in problems] == ["warning"]
