"""A newcomer's first ten minutes (issue 18): a store is never conjured, mistakes are one clear line,
query parameters keep their type, a load reports progress and a summary that adds up."""

from __future__ import annotations

import gzip
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result
from rich.console import Console
from rich.text import Text

from tests.builders import call, user_identity
from tests.conftest import SEED, load_paths
from trailgraph import render
from trailgraph.cli import main
from trailgraph.store.embedded import EmbeddedStore
from trailgraph.tracing import trace_events

REPO = Path(__file__).resolve().parent.parent
SEED_DIR = REPO / "examples" / "seed"
CREATE_USER = "38d0221b-61e0-47d6-9c45-7eb2dc55125b"
NO_NEO4J: dict[str, str | None] = {"NEO4J_URI": None, "TRAILGRAPH_STORE": None, "NEO4J_DATABASE": None}


def cli(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env={**NO_NEO4J, **(env or {})}, catch_exceptions=False)


def cli_process_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in NO_NEO4J}
    return {**env, **extra}


@pytest.fixture
def seed_store(tmp_path: Path) -> Path:
    store = tmp_path / "seed.db"
    assert cli("load", "--store", str(store), str(SEED_DIR)).exit_code == 0
    return store


# --------------------------------------------------------------------------- no store conjured


@pytest.mark.parametrize(
    "command",
    [
        ["trace", CREATE_USER],
        ["stats"],
        ["gaps"],
        ["who-used", "assume-admin-role-example"],
        ["query", "trace", "-p", f"eventId={CREATE_USER}"],
    ],
)
def test_a_read_command_never_creates_a_store(tmp_path: Path, command: list[str]) -> None:
    typo = tmp_path / "trailgrpah.db"
    result = cli(*command, "--store", str(typo))
    assert result.exit_code == 3
    assert f"no store at {typo.resolve()}" in result.stderr
    assert "load something first" in result.stderr
    assert not typo.exists(), "a read command created the store it could not find"


def test_the_default_store_is_looked_up_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("trace", CREATE_USER)
    assert result.exit_code == 3 and f"no store at {tmp_path.resolve() / 'trailgraph.db'}" in result.stderr
    assert not (tmp_path / "trailgraph.db").exists()


def test_load_still_creates_the_store(tmp_path: Path) -> None:
    store = tmp_path / "new.db"
    assert cli("load", "--store", str(store), str(SEED_DIR)).exit_code == 0 and store.exists()


# --------------------------------------------------------------------------- Neo4j mistakes


def test_an_http_neo4j_uri_is_one_line_and_exit_3(tmp_path: Path) -> None:
    result = cli("stats", env={"NEO4J_URI": "http://127.0.0.1:7474", "NEO4J_PASSWORD": "x"})
    assert result.exit_code == 3
    assert "Traceback" not in result.stderr and "aiohttp" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "error: NEO4J_URI http://127.0.0.1:7474 is Neo4j's HTTP (Browser) address; trailgraph talks "
        "Bolt: use bolt://127.0.0.1:7687 (or the server's Bolt port)"
    ]


def test_an_http_uri_through_the_real_process_has_no_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "trailgraph", "trace", CREATE_USER],
        env=cli_process_env(NEO4J_URI="http://localhost:7474", NEO4J_PASSWORD="x"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3 and "Traceback" not in done.stderr
    assert "use bolt://localhost:7687" in done.stderr


def test_an_embedded_command_never_loads_the_neo4j_driver(tmp_path: Path) -> None:
    """The driver is 40 MB of a CLI process: an embedded trace must run without importing it."""
    seed_db = tmp_path / "seed.db"
    store = EmbeddedStore(seed_db)
    load_paths(store, SEED)
    store.close()
    probe = (
        "import runpy, sys\n"
        "sys.argv = ['trailgraph', 'trace', sys.argv[1], '--store', sys.argv[2]]\n"
        "try:\n    runpy.run_module('trailgraph', run_name='__main__')\n"
        "except SystemExit as done:\n    assert done.code in (0, None), done.code\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'neo4j'], 'the driver was loaded'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, CREATE_USER, str(seed_db)],
        env=cli_process_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "bob@example.com" in done.stdout


def test_a_driver_error_is_told_as_a_lost_server_only_when_it_is_one() -> None:
    from neo4j.exceptions import ServiceUnavailable, SessionExpired

    from trailgraph.cli import _lost_neo4j

    assert _lost_neo4j(ServiceUnavailable("gone")) and _lost_neo4j(SessionExpired("gone"))
    assert not _lost_neo4j(ValueError("a bug, to be shown as one"))


def test_a_wrong_database_is_one_line_and_exit_3(neo4j_credentials: tuple[str, str, str]) -> None:
    uri, user, password = neo4j_credentials
    env: dict[str, str | None] = {
        "NEO4J_URI": uri,
        "NEO4J_USERNAME": user,
        "NEO4J_PASSWORD": password,
        "NEO4J_DATABASE": "cloudtrial",
    }
    result = cli("stats", env=env)
    assert result.exit_code == 3
    assert "Traceback" not in result.stderr and "lost Neo4j" not in result.stderr
    assert f"Neo4j at {uri} has no database 'cloudtrial'" in result.stderr
    assert "it has: neo4j" in result.stderr


# --------------------------------------------------------------------------- query parameters


def test_an_account_parameter_stays_a_string(seed_store: Path) -> None:
    bob = "arn:aws:iam::203016562928:user/bob@example.com"
    args = ["query", "timeline", "-p", f"principal={bob}", "--store", str(seed_store), "--format", "json"]
    typed = cli(*args, "-p", "account=776613361644")
    assert typed.exit_code == 0, typed.stderr
    rows = orjson.loads(typed.stdout)
    assert rows and {row["account"] for row in rows} == {"776613361644"}
    quoted = cli(*args, "-p", 'account="776613361644"')
    assert orjson.loads(quoted.stdout) == rows


def test_integer_and_boolean_parameters_are_typed_from_the_header(seed_store: Path) -> None:
    base = ["query", "chains", "--store", str(seed_store), "--format", "json"]
    result = cli(*base, "-p", "minHops=1", "-p", "crossAccountOnly=true")
    assert result.exit_code == 0, result.stderr
    assert all(row["crossAccount"] for row in orjson.loads(result.stdout))
    bad = cli(*base, "-p", "minHops=two")
    assert bad.exit_code == 2 and "minHops is an integer" in bad.stderr
    bad = cli(*base, "-p", "crossAccountOnly=maybe")
    assert bad.exit_code == 2 and "crossAccountOnly is true or false" in bad.stderr


def test_a_missing_required_parameter_is_a_usage_error(seed_store: Path) -> None:
    result = cli("query", "who-used", "--store", str(seed_store))
    assert result.exit_code == 2
    assert "who-used needs --param roleArn=VALUE" in result.stderr


def test_types_and_required_come_from_every_header() -> None:
    from trailgraph.queries_catalog import catalog

    queries = catalog()
    assert queries["chains"].types["minHops"] == "integer"
    assert queries["chains"].types["crossAccountOnly"] == "boolean"
    for query in queries.values():
        for name, kind in query.types.items():
            if name in ("account", "since", "until", "eventId", "accessKeyId", "roleArn", "principal"):
                assert kind == "string", (query.name, name)
        assert query.required == {p for p, text in query.params.items() if "null" not in text}


# --------------------------------------------------------------------------- load summary


def test_the_load_summary_adds_up_and_counts_each_file_once(tmp_path: Path) -> None:
    trail = tmp_path / "trail"
    trail.mkdir()
    good = [call(user_identity("111111111111", "alice"), f"2024-03-01T10:00:0{i}Z") for i in range(3)]
    (trail / "a.json").write_bytes(orjson.dumps({"Records": good}))
    (trail / "b.json.gz").write_bytes(gzip.compress(orjson.dumps({"Records": good[:2]})))  # duplicates
    (trail / "c.jsonl").write_bytes(  # one good, one bad line, one record without a time
        orjson.dumps(call(user_identity("111111111111", "bob"), "2024-03-01T11:00:00Z"))
        + b"\n{oops\n"
        + orjson.dumps({"eventID": "no-time"})
        + b"\n"
    )
    (trail / "d.json").write_bytes(b"{not json at all")  # the whole file
    (trail / "e.json").write_bytes(orjson.dumps({"digestStartTime": "x", "digestEndTime": "y"}))
    (trail / "f.json.gz").write_bytes(  # named .gz, not gzip
        orjson.dumps({"Records": [call(user_identity("111111111111", "carol"), "2024-03-01T12:00:00Z")]})
    )
    (trail / "g.json").write_bytes(orjson.dumps({"Records": [None, 5]}))  # two records that are not
    truncated = gzip.compress(orjson.dumps({"Records": good}))
    (trail / "h.json.gz").write_bytes(truncated[: len(truncated) // 2])

    result = cli("load", "--store", str(tmp_path / "g.db"), str(trail), "--format", "json")
    s = orjson.loads(result.stdout)
    assert result.exit_code == 1
    assert s["sources"] == 8, "every file once"
    assert s["records"] == s["loaded"] + s["duplicates"] + s["skipped"] + s["rejected"]
    assert (s["loaded"], s["duplicates"], s["rejected"]) == (5, 2, 4)
    assert (s["files_rejected"], s["files_skipped"]) == (2, 1)  # d.json and h.json.gz; e.json
    assert "f.json.gz: named .gz but not gzip-compressed" in result.stderr

    table = cli("load", "--store", str(tmp_path / "g.db"), str(trail))
    assert (
        "8 file(s) read (2 rejected, 1 skipped, see above); 11 record(s) = 0 loaded + 7 duplicate(s) + "
        "0 skipped + 4 rejected"
    ) in table.stderr


def test_the_seed_loads_as_four_records(tmp_path: Path) -> None:
    result = cli("load", "--store", str(tmp_path / "g.db"), str(SEED_DIR))
    assert "1 file(s) read; 4 record(s) = 4 loaded + 0 duplicate(s) + 0 skipped + 0 rejected" in result.stderr


# --------------------------------------------------------------------------- progress and Ctrl-C


def _load_process(tmp_path: Path, *paths: str, seconds: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "trailgraph", "load", "--store", str(tmp_path / "g.db"), *paths],
        env=cli_process_env(TRAILGRAPH_PROGRESS_SECONDS=seconds),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_load_piped_to_a_log_prints_progress_lines_on_a_clock(tmp_path: Path) -> None:
    # Standard input stays open after the seed: nothing happens for a while, and lines still come.
    proc = _load_process(tmp_path, str(SEED_DIR), "-", seconds="0.2")
    assert proc.stderr is not None and proc.stdin is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while len([x for x in lines if "1/2 file(s)" in x]) < 2 and time.monotonic() < deadline:
        lines.append(proc.stderr.readline())
    progress = [x for x in lines if x.startswith("load: 1/2 file(s), 4 record(s) read")]
    assert len(progress) >= 2, lines
    assert "records/s" in progress[-1] and "s left" in progress[-1]
    proc.stdin.write((SEED_DIR / "console-switchrole-cross-account.json").read_text())
    proc.stdin.close()
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, rest
    assert "2 file(s) read; 8 record(s) = 4 loaded + 4 duplicate(s) + 0 skipped + 0 rejected" in rest


def test_ctrl_c_says_how_far_it_got_and_exits_130(tmp_path: Path) -> None:
    # The seed first, then standard input, which stays open: the load is certainly mid-way.
    proc = _load_process(tmp_path, str(SEED_DIR), "-", seconds="0.1")
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    seen = ""
    while "1/2 file(s)" not in seen and time.monotonic() < deadline:
        seen += proc.stderr.readline()
    assert "1/2 file(s), 4 record(s) read" in seen
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "Traceback" not in rest
    lines = [line for line in rest.splitlines() if line.startswith("interrupted")]
    assert len(lines) == 1
    assert "interrupted after 1/2 file(s), 4 record(s) read" in lines[0]
    assert "run the same command again" in lines[0]


# --------------------------------------------------------------------------- simulate


def test_load_of_a_simulated_folder_skips_its_truth_and_says_why(tmp_path: Path) -> None:
    out = tmp_path / "org"
    made = cli("simulate", "--out", str(out), "--events", "300", "--days", "1")
    assert made.exit_code == 0
    missing = made.stderr.split(" happened in ")[1].split(",")[0]
    assert "whose logs are deliberately not written" in made.stderr and missing.isdigit()
    assert "fewer events than asked" in made.stderr
    loaded = cli("load", "--store", str(tmp_path / "g.db"), str(out), "--format", "json")
    summary = orjson.loads(loaded.stdout)
    assert loaded.exit_code == 0, loaded.stderr
    assert summary["rejected"] == 0 and summary["files_rejected"] == 0 and summary["files_skipped"] == 1
    assert "truth.jsonl: the ground truth `trailgraph simulate` writes" in loaded.stderr


# --------------------------------------------------------------------------- tables and the tree


def _seed_answers(seed_store: Path) -> list[dict[str, Any]]:
    store = EmbeddedStore(seed_store)
    try:
        answers, missing = trace_events(store, [CREATE_USER])
    finally:
        store.close()
    assert not missing
    return answers


def _draw(draw: Callable[[Console], None], *, terminal: bool, width: int) -> str:
    buf = io.StringIO()
    draw(Console(file=buf, force_terminal=terminal, width=width, color_system=None, highlight=False))
    return buf.getvalue()


WHOLE = [
    CREATE_USER,
    "arn:aws:iam::203016562928:user/bob@example.com",
    "776613361644",
    "CreateUser",
]
ACTOR = "arn:aws:sts::776613361644:assumed-role/assume-admin-role-example/bob@example.com"


@pytest.mark.parametrize(("terminal", "width"), [(True, 80), (True, 160), (False, 80), (False, 40)])
def test_the_trace_table_never_cuts_or_splits_a_value(seed_store: Path, terminal: bool, width: int) -> None:
    text = _draw(lambda c: render.trace_table(c, _seed_answers(seed_store)), terminal=terminal, width=width)
    assert "…" not in text
    for value in WHOLE:
        assert value in text, f"{value} cut or split at {width} columns (terminal {terminal})"
    if terminal:
        assert all(len(line) <= width for line in text.splitlines() if "│" in line or "┃" in line)
    if not terminal:  # piped: every column, full values, one row per line
        row = next(line for line in text.splitlines() if CREATE_USER in line)
        assert ACTOR in row and "IAMUser" in row and "yes" in row
    if (terminal, width) == (True, 160):
        assert "left out at 160 columns: actor" in text
    if (terminal, width) == (True, 80):
        assert f"actor     {ACTOR}" in text, "the record layout keeps every column"


def test_a_query_table_folds_whole_columns_never_characters() -> None:
    arns = [
        f"arn:aws:sts::11111111111{i}:assumed-role/a-rather-long-role-name-{i}/someone@example.com"
        for i in range(3)
    ]
    rows: list[list[str | Text]] = [
        [Text(a), Text("2024-03-01T10:00:00Z"), Text("a reason written in several words " * 3)] for a in arns
    ]
    columns = [render.Column("session"), render.Column("time"), render.Column("reason")]
    for terminal, width in [(True, 80), (True, 160), (False, 80)]:
        text = _draw(lambda c: render.fit_table(c, columns, rows), terminal=terminal, width=width)
        assert "…" not in text
        for arn in arns:
            assert arn in text, (terminal, width)


def test_the_tree_shows_where_each_step_came_from(seed_store: Path) -> None:
    text = _draw(lambda c: render.trace_tree(c, _seed_answers(seed_store)), terminal=True, width=80)
    assert "from 75.15.154.15, user agent console.amazonaws.com" in text  # the call itself
    assert "from AWS Internal, user agent AWS Internal" in text  # the console's AssumeRole hop
    for value in [*WHOLE, ACTOR, "14fb06e3-5649-4fc3-a274-226ba85c8be6", "ASIA3JUODO7W6YEVI655"]:
        assert value in text


def test_the_tree_names_an_identity_center_user_and_gives_the_id() -> None:
    person = {
        "type": "IdentityCenterUser",
        "id": "906757b2c2-8a4f1e7c",
        "arn": None,
        "name": "alice@example.com",
    }
    answer = {
        "event": {
            "eventId": "e1",
            "eventName": "ListBuckets",
            "eventTime": "t",
            "account": "1",
            "region": "r",
        },
        "actor": {
            "type": "AssumedRole",
            "id": "arn:aws:sts::1:assumed-role/AWSReservedSSO_x/alice@example.com",
        },
        "origin": {**person, "account": None, "human": True},
        "chain": [],
        "complete": True,
        "gaps": [],
    }
    text = _draw(lambda c: render.trace_tree(c, [answer]), terminal=False, width=80)
    assert "origin: alice@example.com (IdentityCenterUser, id 906757b2c2-8a4f1e7c)" in text


def test_trace_json_carries_ip_and_user_agent_per_hop(seed_store: Path) -> None:
    answer = _seed_answers(seed_store)[0]
    assert answer["event"]["userAgent"] == "console.amazonaws.com"
    assert all("sourceIPAddress" in hop and "userAgent" in hop for hop in answer["chain"])


def test_the_shipped_seed_is_the_corpus_byte_for_byte() -> None:
    from tests.conftest import CORPORA, SEED

    assert SEED.read_bytes() == (CORPORA / "seed" / SEED.name).read_bytes()
    assert "Audit User Actions Using CloudTrail - Part 2" in (SEED.parent / "README.md").read_text()


def test_docker_compose_gives_a_writable_out_folder_and_the_readme_pipes_with_t() -> None:
    import yaml

    service = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["trailgraph"]
    assert "./data:/data:ro" in service["volumes"]
    assert "./out:/out" in service["volumes"], "a writable folder for -o files"
    assert service["working_dir"] == "/out"
    readme = (REPO / "README.md").read_text()
    runs = [line for line in readme.splitlines() if line.startswith("docker compose run")]
    piped = [line for line in runs if ">" in line.split("#")[0] or "|" in line.split("#")[0]]
    assert piped and all(" -T " in line for line in piped), piped
    assert any("-o /out/" in line and "--user" in line for line in runs)


# --------------------------------------------------------------------------- the suite's Neo4j is its own


def test_the_suite_never_uses_the_users_neo4j(
    neo4j_credentials: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user's server (tools/neo4j/neo4j.sh start: .neo4j/, 7687) and NEO4J_URI are never the suite's:
    after the tests, loading the seed into the user's graph finds nothing of theirs."""
    from tests import neo4j_server

    assert neo4j_server.TEST_HOME.resolve() != (REPO / ".neo4j").resolve()
    assert neo4j_server.DEFAULT_BOLT_PORT != 7687 and neo4j_server.DEFAULT_HTTP_PORT != 7474
    env = neo4j_server.script_env()
    assert env["TRAILGRAPH_NEO4J_HOME"] == str(neo4j_server.TEST_HOME)
    # A user's exported NEO4J_URI is ignored: the tests empty the database they use.
    monkeypatch.setenv("NEO4J_URI", "bolt://users-own-server.invalid:7687")
    monkeypatch.delenv(neo4j_server.URI_VARIABLE, raising=False)
    uri, _, _ = neo4j_server.ensure_neo4j()
    assert uri == neo4j_credentials[0] and "users-own-server" not in uri
    if neo4j_server.started_here() or not os.environ.get(neo4j_server.URI_VARIABLE):
        assert uri == f"bolt://127.0.0.1:{neo4j_server.bolt_port()}"
        # The running test server was started from the suite's home, not the user's.
        assert (neo4j_server.TEST_HOME / "run" / "neo4j.pid").exists()
        conf = (neo4j_server.TEST_HOME / "conf" / "neo4j.conf").read_text()
        assert f"server.bolt.listen_address=127.0.0.1:{neo4j_server.bolt_port()}" in conf
        assert f"server.directories.data={neo4j_server.TEST_HOME}/data" in conf


def test_neo4j_sh_keeps_homes_apart(tmp_path: Path) -> None:
    """Two homes, two servers: `status` of a home that runs nothing says so, whatever else runs."""
    done = subprocess.run(
        ["bash", str(REPO / "tools" / "neo4j" / "neo4j.sh"), "status"],
        env={**os.environ, "TRAILGRAPH_NEO4J_HOME": str(tmp_path / "home")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3 and "not running" in done.stdout


def test_a_terminal_load_shows_a_bar_with_an_eta() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    with render.load_progress(console, 10) as progress:
        assert progress.progress is not None
        columns = {type(c).__name__ for c in progress.progress.columns}
        assert "TimeRemainingColumn" in columns and "TimeElapsedColumn" in columns
        assert progress.progress.live.refresh_per_second >= 1


def test_on_a_terminal_the_bar_has_an_eta_and_ctrl_c_exits_130(tmp_path: Path) -> None:
    """A real pseudo-terminal: the bar (files, records, rate, elapsed, ETA) refreshes while standard
    input, the second source, keeps the load waiting; Ctrl-C then ends it with one line."""
    import pty
    import re

    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI, on the terminal
        os.environ.update(COLUMNS="100", TERM="xterm")
        for name in NO_NEO4J:
            os.environ.pop(name, None)
        store = str(tmp_path / "g.db")
        os.execv(
            sys.executable, [sys.executable, "-m", "trailgraph", "load", "--store", store, str(SEED_DIR), "-"]
        )

    def plain(raw: bytes) -> str:
        return re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", raw.decode(errors="replace")).replace("\r", "\n")

    seen = b""
    deadline = time.monotonic() + 120
    while "1/2 files" not in plain(seen) and time.monotonic() < deadline:
        seen += os.read(fd, 65536)
    os.kill(pid, signal.SIGINT)
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    text = plain(seen)
    assert os.waitstatus_to_exitcode(status) == 130, text
    bar = next(line for line in text.splitlines() if "1/2 files" in line)
    assert "4 records" in bar and "/s" in bar and "ETA" in bar, bar
    interrupted = [line for line in text.splitlines() if line.startswith("interrupted")]
    assert len(interrupted) == 1 and "after 1/2 file(s), 4 record(s) read" in interrupted[0], text
    assert "Traceback" not in text
