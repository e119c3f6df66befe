"""`trailgraph load` end to end through click: files, S3 (moto server), usage errors and exit codes."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from tests import moto_server
from tests.builders import call, user_identity
from tests.conftest import SEED
from trailgraph.cli import main


def _run(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Embedded backend unless the test says otherwise, whatever the developer's environment holds."""
    full: dict[str, str | None] = {"NEO4J_URI": None, **(env or {})}
    result = CliRunner().invoke(main, args, env=full, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_load_seed_then_trace_json(tmp_path: Path) -> None:
    store = str(tmp_path / "g.db")
    code, _, err = _run(["load", "--store", store, str(SEED)])
    assert code == 0 and "4 loaded" in err and "backend: embedded store" in err
    code, out, _ = _run(
        ["trace", "--store", store, "38d0221b-61e0-47d6-9c45-7eb2dc55125b", "--format", "json"]
    )
    assert code == 0
    answer = orjson.loads(out)
    assert answer["origin"]["id"] == "arn:aws:iam::203016562928:user/bob@example.com"


def test_rejected_input_gives_exit_1_after_loading_the_good(tmp_path: Path) -> None:
    good = call(user_identity("111111111111", "alice"), "2024-03-01T10:00:00Z")
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(orjson.dumps(good) + b"\n{oops\n" + orjson.dumps({"eventID": "no-time"}) + b"\n")
    code, out, err = _run(["load", "--store", str(tmp_path / "g.db"), str(path), "--format", "json"])
    summary = orjson.loads(out)
    assert code == 1
    assert (summary["loaded"], summary["rejected"]) == (1, 2)
    assert "mixed.jsonl record 1: line 2: invalid JSON" in err
    assert "mixed.jsonl record 2: missing eventTime" in err


def test_strict_stops_at_the_first_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(b"{not json")
    code, _, err = _run(["load", "--strict", "--store", str(tmp_path / "g.db"), str(path)])
    assert code == 1 and "stopped (--strict)" in err


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    store = str(tmp_path / "g.db")
    assert _run(["load", "--store", store])[0] == 2
    assert _run(["load", "--store", store, str(tmp_path / "nope.json")])[0] == 2
    assert _run(["load", "--store", store, "--lookup-events"])[0] == 2
    assert _run(["trace", "--store", store, "no-such-event"])[0] == 1


def test_unreachable_neo4j_is_exit_3(tmp_path: Path) -> None:
    code, _, err = _run(["stats", "--neo4j-uri", "bolt://127.0.0.1:1", "--neo4j-password", "x"])
    assert code == 3 and "cannot reach Neo4j" in err


@pytest.fixture(scope="module")
def endpoint() -> str:
    return moto_server.endpoint()


def test_load_s3_url_with_filters_through_the_cli(tmp_path: Path, endpoint: str) -> None:
    s3 = moto_server.session().client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket="cli-trail")
    for account, day in (("111111111111", "01"), ("111111111111", "02"), ("222222222222", "01")):
        record = call(user_identity(account, f"u{account[0]}{day}"), f"2024-03-{day}T10:00:00Z")
        key = (
            f"AWSLogs/o-a1b2c3d4e5/{account}/CloudTrail/us-east-1/2024/03/{day}/"
            f"{account}_CloudTrail_us-east-1_202403{day}T1005Z_abcdefgh12345678.json.gz"
        )
        s3.put_object(Bucket="cli-trail", Key=key, Body=gzip.compress(orjson.dumps({"Records": [record]})))
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    code, out, _ = _run(
        [
            "load",
            "--store",
            str(tmp_path / "g.db"),
            "s3://cli-trail",
            "--account",
            "111111111111",
            "--since",
            "2024-03-02",
            "--until",
            "2024-03-02",
            "--format",
            "json",
        ],
        env=env,
    )
    assert code == 0
    assert orjson.loads(out)["loaded"] == 1, out
