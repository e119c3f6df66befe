"""The investigator's commands end to end: formats, time windows, exit codes, and the read-only cypher."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from click.testing import CliRunner, Result

import trailgraph.cli_queries  # noqa: F401  (registers the commands even before cli.py imports it)
from tests.conftest import SEED, load_paths
from trailgraph.cli import main
from trailgraph.cli_queries import _json_rows, parse_params
from trailgraph.store.embedded import EmbeddedStore
from trailgraph.store.neo4j import Neo4jStore
from trailgraph.timefilter import parse_when

BOB = "arn:aws:iam::203016562928:user/bob@example.com"
ROLE = "arn:aws:iam::776613361644:role/assume-admin-role-example"
SESSION_ARN = "arn:aws:sts::776613361644:assumed-role/assume-admin-role-example/bob@example.com"
CREATE_USER = "38d0221b-61e0-47d6-9c45-7eb2dc55125b"
NO_NEO4J = {"NEO4J_URI": None, "TRAILGRAPH_STORE": None, "COLUMNS": "220"}
COMMANDS = ["activity", "who-used", "chains", "key", "gaps", "timeline", "queries", "query", "cypher"]


@pytest.fixture(scope="module")
def seed_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "seed.db"
    store = EmbeddedStore(path)
    load_paths(store, SEED)
    store.close()
    return path


def run(seed_db: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--store", str(seed_db)], env=NO_NEO4J, catch_exceptions=False)


def rows_of(result: Result) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_teaches_with_an_example(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout or command == "queries"
    assert len(result.stdout.splitlines()) > 8


def test_activity_of_bob_finds_createuser(seed_db: Path) -> None:
    result = run(seed_db, "activity", BOB, "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = rows_of(result)
    assert [r["eventId"] for r in rows if r["kind"] == "call"][-1] == CREATE_USER
    assert "6 row(s)" in result.stderr and "backend: embedded store" in result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["who-used", ROLE], 1),  # one console SwitchRole is one session, whatever keys it used
        (["who-used", "assume-admin-role-example"], 1),
        (["chains", "--cross-account-only"], 1),
        (["chains", "--min-hops", "2"], 0),
        (["key", "ASIA3JUODO7W6YEVI655"], 1),
        (["gaps"], 0),
        (["timeline", SESSION_ARN], 2),
        (["timeline", BOB, "--account", "776613361644"], 3),
        (["activity", "ASIA3JUODO7W6YEVI655"], 3),
    ],
)
def test_each_question_as_jsonl(seed_db: Path, args: list[str], expected: int) -> None:
    result = run(seed_db, *args, "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == expected
    assert all(isinstance(json.loads(line), dict) for line in lines)


@pytest.mark.parametrize(
    "args",
    [["activity", "arn:aws:iam::1:user/nobody"], ["who-used", "no-such-role"], ["key", "AKIANOSUCHKEY"],
     ["timeline", "nobody"]],
)  # fmt: skip
def test_nothing_found_exits_1_with_a_message(seed_db: Path, args: list[str]) -> None:
    result = run(seed_db, *args)
    assert result.exit_code == 1
    assert "not found" in result.stderr and args[1] in result.stderr
    assert result.stdout == ""


def test_time_windows_accept_iso_dates_and_relative_times(seed_db: Path) -> None:
    day = run(seed_db, "timeline", BOB, "--since", "2020-09-17", "--until", "2020-09-17", "--format", "json")
    assert day.exit_code == 0 and len(rows_of(day)) == 4
    late = run(seed_db, "timeline", BOB, "--since", "2020-09-17T21:05:00+02:00", "--format", "json")
    assert [r["eventId"] for r in rows_of(late)] == [CREATE_USER]
    recent = run(seed_db, "timeline", BOB, "--since", "7d")
    assert recent.exit_code == 1 and "in that time window" in recent.stderr
    bad = run(seed_db, "timeline", BOB, "--since", "last tuesday")
    assert bad.exit_code == 2 and "relative" in bad.stderr
    backwards = run(seed_db, "activity", BOB, "--since", "2021-01-01", "--until", "2020-01-01")
    assert backwards.exit_code == 2


def test_parse_when() -> None:
    now = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_when("24h", now=now) == "2024-02-29T12:00:00Z"
    assert parse_when("7d", now=now) == "2024-02-23T12:00:00Z"
    assert parse_when("90m", now=now) == "2024-03-01T10:30:00Z"
    assert parse_when("2w", now=now) == "2024-02-16T12:00:00Z"
    assert parse_when("now", now=now) == "2024-03-01T12:00:00Z"
    assert parse_when("2020-09-17") == "2020-09-17T00:00:00Z"
    assert parse_when("2020-09-17", end_of_day=True) == "2020-09-17T23:59:59Z"
    assert parse_when("2020-09-17T19:04:10.123Z") == "2020-09-17T19:04:10Z"
    assert parse_when("2020-09-17 21:04:10+02:00") == "2020-09-17T19:04:10Z"
    assert parse_when("2020-09-17T19:04:10") == "2020-09-17T19:04:10Z"
    for bad in ("yesterday", "2020-13-01", "", "5 parsecs"):
        with pytest.raises(ValueError):
            parse_when(bad)


def test_tables_show_record_strings_as_text_never_as_markup(seed_db: Path) -> None:
    table = run(seed_db, "activity", BOB)
    assert table.exit_code == 0 and "CreateUser" in table.stdout and "console-switchrole" in table.stdout
    hostile = run(seed_db, "activity", "[bold red]x[/bold red]")
    assert hostile.exit_code == 1 and "[bold red]x[/bold red]" in hostile.stderr


def test_pictures_of_query_rows(seed_db: Path, tmp_path: Path) -> None:
    page = tmp_path / "bob.html"
    html = run(seed_db, "activity", BOB, "--format", "html", "--output", str(page))
    assert html.exit_code == 0 and html.stdout == "" and "wrote" in html.stderr
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    dot = run(seed_db, "who-used", ROLE, "--format", "dot")
    assert dot.stdout.startswith("digraph trailgraph {") and "bob@example.com" in dot.stdout
    graphml = run(seed_db, "chains", "--format", "graphml")
    g = nx.read_graphml(io.StringIO(graphml.stdout))
    assert g.number_of_nodes() >= 4
    assert run(seed_db, "gaps", "--format", "dot").exit_code == 2  # not path-shaped: no picture formats


def test_map_command_writes_the_page_and_says_when_nothing_matched(seed_db: Path, tmp_path: Path) -> None:
    page = tmp_path / "map.html"
    done = run(seed_db, "map", "-o", str(page))
    assert done.exit_code == 0 and "3 nodes, 1 edges from 1 role session(s)" in done.stderr
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    model = json.loads(run(seed_db, "map", "--format", "json", "--principal", "bob@example.com").stdout)
    assert [n["label"] for n in model["nodes"] if n["kind"] == "role"] == ["assume-admin-role-example"]
    nothing = run(seed_db, "map", "--account", "111111111111", "--format", "json")
    assert nothing.exit_code == 1 and "no role sessions" in nothing.stderr
    assert run(seed_db, "map", "--principal", "nobody-at-all").exit_code == 1
    timeline = run(seed_db, "activity", BOB, "--format", "html")
    assert timeline.exit_code == 0 and 'aria-label="activity timeline"' in timeline.stdout


def test_queries_lists_every_canned_query(seed_db: Path) -> None:
    result = CliRunner().invoke(main, ["queries", "--format", "json"])
    listed = {q["name"]: q for q in json.loads(result.stdout)}
    assert {"trace", "activity", "who-used", "chains", "key", "gaps", "timeline"} <= set(listed)
    assert set(listed["chains"]["params"]) == {
        "crossAccountOnly",
        "minHops",
        "since",
        "until",
        "account",
        "limit",
        "draw",
    }
    table = CliRunner().invoke(main, ["queries"], env={"COLUMNS": "160"})
    assert "who-used" in table.stdout and "roleArn" in table.stdout


def test_query_runs_any_canned_query_by_name(seed_db: Path) -> None:
    key = run(seed_db, "query", "key", "--param", "accessKeyId=ASIA3JUODO7W6YEVI655", "--format", "json")
    assert key.exit_code == 0 and rows_of(key)[0]["eventId"] == CREATE_USER
    chains = run(seed_db, "query", "chains", "-p", "minHops=2", "--format", "json")
    assert chains.exit_code == 1 and rows_of(chains) == []
    trace = run(seed_db, "query", "trace", "-p", f"eventId={CREATE_USER}", "--format", "dot")
    assert trace.exit_code == 0 and "console-switchrole (strong)" in trace.stdout
    assert run(seed_db, "query", "nope").exit_code == 2
    unknown = run(seed_db, "query", "key", "-p", "accessKey=AKIA")
    assert unknown.exit_code == 2 and "accessKeyId" in unknown.stderr
    assert run(seed_db, "query", "gaps", "--format", "html").exit_code == 2
    assert run(seed_db, "query", "key", "-p", "novalue").exit_code == 2


def test_param_values_are_json_when_they_parse() -> None:
    pairs = ("a=2", "b=true", "c=null", 'd="0123"', "e=arn:aws:iam::1:user/x", "f=", "g=a=b")
    assert parse_params(pairs) == {
        "a": 2, "b": True, "c": None, "d": "0123", "e": "arn:aws:iam::1:user/x", "f": "", "g": "a=b",
    }  # fmt: skip


def test_cypher_needs_neo4j(seed_db: Path) -> None:
    result = run(seed_db, "cypher", "MATCH (n) RETURN count(n) AS n")
    assert result.exit_code == 2
    assert "needs Neo4j" in result.stderr and "trailgraph queries" in result.stderr


@pytest.fixture
def neo4j_cli(neo4j_store: Neo4jStore, neo4j_credentials: tuple[str, str, str]) -> Iterator[list[str]]:
    load_paths(neo4j_store, SEED)
    uri, user, password = neo4j_credentials
    yield ["--neo4j-uri", uri, "--neo4j-username", user, "--neo4j-password", password]


@pytest.mark.neo4j
def test_cypher_reads_but_never_writes(neo4j_cli: list[str], neo4j_store: Neo4jStore) -> None:
    runner = CliRunner()
    read = runner.invoke(
        main,
        ["cypher", "MATCH (c:APICall {eventName: $name}) RETURN c.eventId AS id", "-p", "name=CreateUser",
         "--format", "json", *neo4j_cli],
    )  # fmt: skip
    assert read.exit_code == 0, read.stderr
    assert json.loads(read.stdout) == [{"id": CREATE_USER}]
    for write in (
        "CREATE (:Evil {at: 1})",
        "MATCH (n) DETACH DELETE n",
        "MATCH (s:Session) SET s.link = 'x'",
    ):
        refused = runner.invoke(main, ["cypher", write, *neo4j_cli])
        assert refused.exit_code == 1, (write, refused.stderr)
        assert "read-only" in refused.stderr
    assert neo4j_store.cypher("MATCH (n:Evil) RETURN count(n) AS n", {}) == [{"n": 0}]
    assert neo4j_store.cypher("MATCH (s:Session {link: 'x'}) RETURN count(s) AS n", {}) == [{"n": 0}]
    broken = runner.invoke(main, ["cypher", "MATCH (n RETURN n", *neo4j_cli])
    assert broken.exit_code == 2 and "query error" in broken.stderr


@pytest.mark.neo4j
def test_the_commands_answer_the_same_on_neo4j(neo4j_cli: list[str], seed_db: Path) -> None:
    for args in (["activity", BOB], ["who-used", ROLE], ["chains"], ["key", "ASIA3JUODO7W6YEVI655"],
                 ["timeline", SESSION_ARN]):  # fmt: skip
        on_neo4j = CliRunner().invoke(main, [*args, "--format", "json", *neo4j_cli])
        assert on_neo4j.exit_code == 0, on_neo4j.stderr
        assert "backend: Neo4j" in on_neo4j.stderr
        assert json.loads(on_neo4j.stdout) == rows_of(run(seed_db, *args, "--format", "json"))


def test_json_answers_are_written_a_row_at_a_time_and_read_back_whole() -> None:
    """--format json and jsonl are written row by row (a long answer is never one string): read back,
    they are the rows, strings with newlines and quotes included, and the array is indented as before."""
    import orjson

    rows: list[dict[str, Any]] = [
        {"id": "a", "text": 'two\nlines "quoted"', "nodes": [{"k": 1}, {"k": None}], "empty": []},
        {"id": "b", "when": datetime(2020, 9, 17, tzinfo=UTC), "nested": {"x": ["y\n"]}},
    ]
    expected = orjson.loads(orjson.dumps(rows, default=str))
    whole = b"".join(_json_rows(rows, "json"))
    assert json.loads(whole) == expected
    assert whole == orjson.dumps(rows, option=orjson.OPT_INDENT_2, default=str) + b"\n"
    lines = b"".join(_json_rows(rows, "jsonl")).decode().splitlines()
    assert [json.loads(line) for line in lines] == expected
    assert b"".join(_json_rows([], "json")) == b"[]\n" and not b"".join(_json_rows([], "jsonl"))
