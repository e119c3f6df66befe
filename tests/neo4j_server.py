"""The real Neo4j server the integration tests talk to: the suite's own, never the user's.

``ensure_neo4j()`` returns ``(uri, user, password)``:

* if ``TRAILGRAPH_TEST_NEO4J_URI`` is set, that server is used as it is (``NEO4J_USERNAME``, default
  ``neo4j``; ``NEO4J_PASSWORD``, default ``trailgraph-test``) and nothing is started. The tests empty
  its database: never point it at data you keep. ``NEO4J_URI`` is deliberately ignored: it names the
  user's own graph (the README has them export it), which the suite must not wipe or fill;
* otherwise ``tools/neo4j/neo4j.sh start`` runs with its own home, ``.neo4j-test/`` (data, conf, logs;
  the jars are shared with ``.neo4j/``), on Bolt ``$NEO4J_BOLT_PORT`` (default 17687) and HTTP
  ``$NEO4J_HTTP_PORT`` (default 17474), so a user's ``tools/neo4j/neo4j.sh start`` (``.neo4j/``,
  7687) never serves the suite's data, and the suite never loads into the user's.

Either way the server has answered ``RETURN 1`` with those credentials before it
returns, so a wrong password fails here, with a hint, not in the first test.

``stop_neo4j()`` stops the server only if ``ensure_neo4j()`` started it in this
process; a server that was already running (a developer's, or another pytest-xdist
worker's) is left alone, and ``NEO4J_KEEP_RUNNING=1`` keeps even our own running,
which saves the ~10 s start-up on the next run. Under pytest-xdist, stop it from one
place only (e.g. the controller), since every worker shares the one server.

No pytest imports: conftest.py wraps these in fixtures.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NEO4J_SH = REPO_ROOT / "tools" / "neo4j" / "neo4j.sh"

DEFAULT_USER = "neo4j"
DEFAULT_PASSWORD = "trailgraph-test"
DEFAULT_BOLT_PORT = 17687
DEFAULT_HTTP_PORT = 17474
TEST_HOME = Path(os.environ.get("TRAILGRAPH_TEST_NEO4J_HOME") or REPO_ROOT / ".neo4j-test")
URI_VARIABLE = "TRAILGRAPH_TEST_NEO4J_URI"

# One set of ports for the whole test process: the server neo4j.sh starts, the Bolt URI the fixtures
# return, and the Browser address trailgraph.workbench derives (from NEO4J_HTTP_PORT) all agree.
os.environ.setdefault("NEO4J_BOLT_PORT", str(DEFAULT_BOLT_PORT))
os.environ.setdefault("NEO4J_HTTP_PORT", str(DEFAULT_HTTP_PORT))


def bolt_port() -> int:
    return int(os.environ.get("NEO4J_BOLT_PORT") or DEFAULT_BOLT_PORT)


def script_env() -> dict[str, str]:
    """The environment every neo4j.sh call of the suite runs with: the suite's home and ports."""
    return {
        **os.environ,
        "TRAILGRAPH_NEO4J_HOME": str(TEST_HOME),
        "NEO4J_BOLT_PORT": str(bolt_port()),
        "NEO4J_HTTP_PORT": os.environ.get("NEO4J_HTTP_PORT") or str(DEFAULT_HTTP_PORT),
    }


# Fetching (first run only) plus start-up; neo4j.sh itself gives up on Bolt after
# NEO4J_START_TIMEOUT (default 180 s).
_SCRIPT_TIMEOUT_S = 900.0
_QUERY_READY_TIMEOUT_S = 30.0

_started_here = False


class Neo4jUnavailableError(RuntimeError):
    """The test server could not be started or did not answer."""


def _run_script(command: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(
            ["bash", str(NEO4J_SH), command],
            cwd=REPO_ROOT,
            env=script_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_SCRIPT_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise Neo4jUnavailableError(
            f"{NEO4J_SH.name} {command} did not finish in {exc.timeout:.0f} s"
        ) from exc
    if proc.stderr:
        sys.stderr.write(proc.stderr)
    if check and proc.returncode != 0:
        raise Neo4jUnavailableError(
            f"{NEO4J_SH.name} {command} exited with {proc.returncode}:\n{proc.stdout}{proc.stderr}"
        )
    return proc


def _wait_until_queryable(uri: str, user: str, password: str) -> None:
    """Run ``RETURN 1`` until it works; raise at once on bad credentials."""
    from neo4j import GraphDatabase
    from neo4j.exceptions import AuthError, ServiceUnavailable, SessionExpired, TransientError

    deadline = time.monotonic() + _QUERY_READY_TIMEOUT_S
    while True:
        try:
            with GraphDatabase.driver(uri, auth=(user, password)) as driver:
                records, _, _ = driver.execute_query("RETURN 1 AS one")
                if records and records[0]["one"] == 1:
                    return
        except AuthError as exc:
            raise Neo4jUnavailableError(
                f"Neo4j at {uri} refused user {user!r}: {exc}. If {TEST_HOME.name}/data was created "
                f"with another NEO4J_PASSWORD, run `TRAILGRAPH_NEO4J_HOME={TEST_HOME} "
                "tools/neo4j/neo4j.sh wipe` (deletes the test data)."
            ) from exc
        except (ServiceUnavailable, SessionExpired, TransientError, OSError) as exc:
            if time.monotonic() > deadline:
                raise Neo4jUnavailableError(f"Neo4j at {uri} did not answer RETURN 1: {exc}") from exc
        time.sleep(0.5)


def ensure_neo4j() -> tuple[str, str, str]:
    """Return ``(uri, user, password)`` of a Neo4j server that answers queries."""
    global _started_here

    password = os.environ.get("NEO4J_PASSWORD") or DEFAULT_PASSWORD
    uri = os.environ.get(URI_VARIABLE)
    if uri:
        user = os.environ.get("NEO4J_USERNAME") or DEFAULT_USER
        _wait_until_queryable(uri, user, password)
        return uri, user, password

    port = bolt_port()
    already_running = _run_script("status", check=False).returncode == 0
    _run_script("start")
    if not already_running:
        _started_here = True
    uri = f"bolt://127.0.0.1:{port}"
    _wait_until_queryable(uri, DEFAULT_USER, password)
    return uri, DEFAULT_USER, password


def started_here() -> bool:
    """Whether this process started the server (so it may stop and restart it)."""
    return _started_here


def stop_neo4j() -> None:
    """Stop the server if (and only if) ``ensure_neo4j()`` started it in this process."""
    global _started_here

    if not _started_here or os.environ.get("NEO4J_KEEP_RUNNING", "") not in ("", "0"):
        return
    _run_script("stop")
    _started_here = False
