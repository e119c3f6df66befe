"""Faults: a killed load, Neo4j stopped mid-load, two loads at once. Each re-run must end with the graph a
clean load gives: nothing lost, nothing doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import load_paths
from trailgraph.simulate import SimConfig, simulate
from trailgraph.store.base import GraphStore
from trailgraph.store.embedded import EmbeddedStore
from trailgraph.store.neo4j import Neo4jStore
from trailgraph.tracing import trace_events


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("org")
    simulate(SimConfig(seed=11, events=12_000, days=1), out)
    return out


@pytest.fixture(scope="module")
def expected(org: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[object, ...]:
    """The fingerprint of a clean, uninterrupted load: what every faulted load must end with."""
    reference = EmbeddedStore(tmp_path_factory.mktemp("clean") / "clean.db")
    load_paths(reference, org / "AWSLogs")
    fingerprint = _fingerprint(reference, org)
    reference.close()
    return fingerprint


def _any_call_loaded(store: Neo4jStore) -> bool:
    return bool(store.cypher("MATCH (c:APICall) RETURN count(c) > 0 AS any", {})[0]["any"])


def _load_cmd(org: Path, backend: list[str]) -> list[str]:
    """Small batches: the load commits about twelve times, so a kill after the first lands mid-load."""
    load = [sys.executable, "-m", "trailgraph", "load", str(org / "AWSLogs"), "--format", "json"]
    return [*load, "--batch-size", "1000", *backend]


def _fingerprint(store: GraphStore, org: Path) -> tuple[object, ...]:
    """Counts, and every traced origin: equal fingerprints mean equal graphs for an investigator."""
    ids = sorted(
        {
            line.split(b'"eventId":"')[1].split(b'"')[0].decode()
            for line in (org / "truth.jsonl").read_bytes().splitlines()
        }
    )[::7]
    answers, missing = trace_events(store, ids)
    origins = sorted(
        (a["event"]["eventId"], a["event"]["account"], a["origin"]["id"], a["complete"]) for a in answers
    )
    return store.counts(), tuple(origins), tuple(missing)


def _env(**extra: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NEO4J_URI",)}
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


def _kill_when_started(proc: subprocess.Popen[bytes], started: Iterator[bool], grace: float) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if next(started):
            time.sleep(grace)
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the load finished before it could be interrupted; use a larger org"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def test_sigkilled_embedded_load_rerun_equals_a_clean_load(
    org: Path, expected: tuple[object, ...], tmp_path: Path
) -> None:
    killed = tmp_path / "killed.db"
    proc = subprocess.Popen(
        _load_cmd(org, ["--store", str(killed)]),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wal = Path(f"{killed}-wal")
    _kill_when_started(proc, iter(lambda: wal.exists() and wal.stat().st_size > 0, None), 0.2)
    partial = EmbeddedStore(killed)
    assert partial.counts()[0].get("APICall", 0) < expected[0][0]["APICall"]  # type: ignore[index]
    partial.close()
    rerun = subprocess.run(_load_cmd(org, ["--store", str(killed)]), env=_env(), capture_output=True)
    assert rerun.returncode == 0, rerun.stderr.decode()
    store = EmbeddedStore(killed)
    assert _fingerprint(store, org) == expected
    store.close()


def _neo4j_env(creds: tuple[str, str, str]) -> dict[str, str]:
    uri, user, password = creds
    return _env(NEO4J_URI=uri, NEO4J_USERNAME=user, NEO4J_PASSWORD=password)


def test_sigkilled_neo4j_load_rerun_equals_a_clean_load(
    org: Path, expected: tuple[object, ...], neo4j_store: Neo4jStore, neo4j_credentials: tuple[str, str, str]
) -> None:

    proc = subprocess.Popen(
        _load_cmd(org, []),
        env=_neo4j_env(neo4j_credentials),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _kill_when_started(proc, iter(lambda: _any_call_loaded(neo4j_store), None), 0.2)
    partial = neo4j_store.counts()[0].get("APICall", 0)
    assert 0 < partial < expected[0][0]["APICall"]  # type: ignore[index]
    rerun = subprocess.run(_load_cmd(org, []), env=_neo4j_env(neo4j_credentials), capture_output=True)
    assert rerun.returncode == 0, rerun.stderr.decode()
    assert _fingerprint(neo4j_store, org) == expected


def test_two_overlapping_neo4j_loads_at_once_make_no_duplicates(
    org: Path, expected: tuple[object, ...], neo4j_store: Neo4jStore, neo4j_credentials: tuple[str, str, str]
) -> None:
    env = _neo4j_env(neo4j_credentials)
    procs = [
        subprocess.Popen(_load_cmd(org, []), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()
    assert _fingerprint(neo4j_store, org) == expected
    dupes = neo4j_store.cypher(
        "MATCH (n) WITH labels(n)[0] AS l, n.id AS id, count(*) AS c WHERE c > 1 RETURN count(*) AS dupes", {}
    )
    assert dupes[0]["dupes"] == 0


def test_neo4j_crash_mid_load_gives_a_clear_error_and_a_rerun_completes(
    org: Path, expected: tuple[object, ...], neo4j_store: Neo4jStore, neo4j_credentials: tuple[str, str, str]
) -> None:
    from tests import neo4j_server

    if not neo4j_server.started_here():
        if os.environ.get("CI"):
            pytest.fail("in CI the suite must own the Neo4j server so it can crash it mid-load")
        pytest.skip(
            "this run did not start the Neo4j server (it was already running, or "
            "TRAILGRAPH_TEST_NEO4J_URI names one); "
            "it will not kill someone else's server"
        )

    env = _neo4j_env(neo4j_credentials)
    proc = subprocess.Popen(_load_cmd(org, []), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not _any_call_loaded(neo4j_store) and time.monotonic() < deadline:
        time.sleep(0.02)
    # A crash, not a polite stop: the server vanishes between two batches of the running load.
    server_pid = int((neo4j_server.TEST_HOME / "run" / "neo4j.pid").read_text().strip())
    os.kill(server_pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    try:
        assert proc.returncode == 3, err.decode()
        assert "Neo4j" in err.decode() and "Traceback" not in err.decode()
    finally:
        neo4j_server.ensure_neo4j()
    store = Neo4jStore(*neo4j_credentials, None)
    rerun = subprocess.run(_load_cmd(org, []), env=env, capture_output=True)
    assert rerun.returncode == 0, rerun.stderr.decode()
    assert _fingerprint(store, org) == expected
    store.close()
