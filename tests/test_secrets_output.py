"""Credentials and session tokens never reach any output, not even with --verbose."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
from click.testing import CliRunner

from tests import moto_server
from tests.builders import assume_role, user_identity
from tests.conftest import SEED
from trailgraph.cli import main

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRETKEY"


def _invoke(args: list[str], env: dict[str, str | None]) -> str:
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    return result.stdout + result.stderr


def test_neo4j_password_is_never_printed(neo4j_credentials: tuple[str, str, str]) -> None:
    uri, user, password = neo4j_credentials
    env: dict[str, str | None] = {"NEO4J_URI": uri, "NEO4J_USERNAME": user, "NEO4J_PASSWORD": password}
    output = _invoke(["-v", "load", str(SEED)], env) + _invoke(["-v", "stats"], env)
    output += _invoke(["-v", "trace", "38d0221b-61e0-47d6-9c45-7eb2dc55125b", "--format", "json"], env)
    assert "backend: Neo4j" in output
    assert password not in output
    wrong = _invoke(["-v", "stats", "--neo4j-password", "not-the-password-9f3c"], env)
    assert "not-the-password-9f3c" not in wrong


def test_aws_secrets_and_session_tokens_are_never_printed(tmp_path: Path) -> None:
    endpoint = moto_server.endpoint()
    s3 = moto_server.session().client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket="secret-check")
    records = assume_role(
        user_identity("111111111111", "alice"),
        "2024-03-01T10:00:00Z",
        "111111111111",
        "ops",
        "s",
        "ASIASECRETCHECK00001",
    )
    token = records[0]["responseElements"]["credentials"]["sessionToken"]
    key = (
        "AWSLogs/111111111111/CloudTrail/us-east-1/2024/03/01/"
        "111111111111_CloudTrail_us-east-1_20240301T1005Z_abcdefgh12345678.json.gz"
    )
    s3.put_object(Bucket="secret-check", Key=key, Body=gzip.compress(orjson.dumps({"Records": records})))
    env: dict[str, str | None] = {
        "NEO4J_URI": None,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
        "AWS_SESSION_TOKEN": "FQoGZXIvYXdzTOKEN42",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    store = str(tmp_path / "g.db")
    output = _invoke(["-v", "load", "--store", store, "s3://secret-check", "--format", "json"], env)
    output += _invoke(["-v", "trace", "--store", store, records[0]["eventID"], "--format", "json"], env)
    output += _invoke(["-v", "trace", "--store", store, records[0]["eventID"], "--format", "html"], env)
    assert '"loaded": 1' in output
    for secret in (AWS_SECRET, "FQoGZXIvYXdzTOKEN42", token):
        assert secret not in output
