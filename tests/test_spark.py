"""The Spark path (trailgraph.spark) in local mode with 2 workers: its neo4j-admin import must be exactly
the graph a transactional load of the same files builds, and trace must answer the same. Spark is a test
dependency: without pyspark this module fails to import (a failure, never a skip)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyspark  # noqa: F401  (fails, not skips, where Spark is missing)
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import neo4j_server
from tests.conftest import CORPORA, load_paths
from tests.test_bulk_import import _dump, _sh
from tests.test_evidence_rules import _through_missing_middle
from trailgraph import spark as tgspark
from trailgraph.bulk import finish
from trailgraph.simulate import SimConfig, simulate
from trailgraph.sources.files import expand
from trailgraph.store.neo4j import Neo4jStore


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = tgspark.session("local[2]", progress=False)
    yield session
    session.stop()


_props = st.dictionaries(st.sampled_from("abc"), st.integers(0, 3), max_size=3)


@given(st.lists(_props, max_size=6), st.randoms())
def test_merging_by_rank_in_any_grouping_is_the_merge_in_source_order(
    batches: list[dict[str, int]], rnd: Any
) -> None:
    in_order: dict[str, int] = {}
    for props in batches:
        in_order.update(props)
    items = list(enumerate(batches))
    rnd.shuffle(items)
    cut = rnd.randint(0, len(items))
    left: dict[str, tuple[int, Any]] = {}
    right: dict[str, tuple[int, Any]] = {}
    for item in items[:cut]:
        tgspark.merge_ranked(left, item)
    for item in items[cut:]:
        tgspark.merge_ranked(right, item)
    assert {k: v for k, (_r, v) in tgspark.merge_accs(right, left).items()} == in_order


def test_an_event_read_twice_is_kept_from_the_first_source() -> None:
    assert tgspark.later_copies([(7, "d2", "b.json record 0"), (3, "d1", "a.json record 4")]) == [
        (7, ("d1", "a.json record 4"))
    ]


def _vouching_days() -> list[dict[str, Any]]:
    """One role session name through a missing account on four days, its issuances offered to each
    day's hop copy only when alive then: vouched on day 1; two alive issuances on day 2 and an expired
    one on day 3 (not vouched); on day 4 one issuance alive for days (Spark offers it to every hour)."""
    cases: list[dict[str, Any]] = [
        {},
        {"second_issuance": True},
        {"expires": "2024-03-01T10:09:59Z"},
        {"expires": "2024-03-07T10:00:00Z"},
    ]
    out: list[dict[str, Any]] = []
    for day, case in enumerate(cases, start=1):
        records, _hop, _use = _through_missing_middle("alice", **case)
        text = orjson.dumps(records).decode().replace("2024-03-01", f"2024-03-0{day}")
        out.extend(orjson.loads(text.replace("ALICE", f"ALIC{day}")))
    return out


def test_spark_import_equals_a_transactional_load(
    spark: Any, neo4j_store: Neo4jStore, neo4j_credentials: tuple[str, str, str], tmp_path: Path
) -> None:
    if not neo4j_server.started_here():
        if os.environ.get("CI"):
            pytest.fail("in CI the suite must own the Neo4j server so it can stop it for neo4j-admin")
        pytest.skip("this run did not start the Neo4j server; it will not replace its database")
    org = tmp_path / "org"
    simulate(SimConfig(seed=11, events=2_000, days=1), org)
    (org / "vouching.json").write_bytes(orjson.dumps({"Records": _vouching_days()}))
    sources = expand([str(CORPORA), str(org / "AWSLogs"), str(org / "vouching.json")])

    loaded = load_paths(neo4j_store, *sources)
    transactional = _dump(neo4j_store)
    ids = neo4j_store.cypher("MATCH (c:APICall) RETURN DISTINCT c.eventId AS e ORDER BY e", {})
    sample = [row["e"] for i, row in enumerate(ids) if i % 4 == 0]
    traces = {e: neo4j_store.run("trace", {"eventId": e}) for e in sample}
    neo4j_store.close()

    out = tmp_path / "import"
    result = tgspark.run(spark, list(sources), str(out), tgspark.Reader())
    counted = {k: v for k, v in result.summary.as_dict().items() if k != "problems"}
    assert counted == {k: v for k, v in loaded.as_dict().items() if k != "problems"}
    assert sorted(map(str, result.summary.problems)) == sorted(map(str, loaded.problems))
    assert (result.nodes, result.relationships) == (len(transactional[0]), len(transactional[1]))
    assert result.sessions > 100  # the corpora and the org have sessions to attribute
    assert sum(b'"rule":"source-identity"' in r for r in transactional[1]) == 2  # days 1 and 4

    _sh("stop")
    try:
        _sh("admin", *tgspark.import_args(out))
    finally:
        _sh("start")
    imported = Neo4jStore(*neo4j_credentials, None)
    try:
        finish(imported, out)
        assert _dump(imported) == transactional
        again = {e: imported.run("trace", {"eventId": e}) for e in sample}
        assert orjson.dumps(again, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
            traces, option=orjson.OPT_SORT_KEYS
        )
    finally:
        imported.close()


def test_spark_load_command_prints_the_import_and_fails_clearly(tmp_path: Path) -> None:
    import subprocess
    import sys

    command = [sys.executable, "-m", "trailgraph", "spark-load"]
    bad = subprocess.run(
        [*command, str(tmp_path / "nothing"), "--out", str(tmp_path / "x")], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "no such file or directory" in bad.stderr
    assert "Traceback" not in bad.stderr
    out = tmp_path / "import"
    args = [str(CORPORA / "flaws2"), "--out", str(out), "--master", "local[2]", "--format", "json"]
    done = subprocess.run([*command, *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = orjson.loads(done.stdout.strip().splitlines()[-1])
    assert summary["loaded"] > 0 and summary["records"] == summary["loaded"] + summary["duplicates"]
    assert summary["neo4j_admin"][:4] == ["neo4j-admin", "database", "import", "full"]
    assert summary["neo4j_admin"][1:] == tgspark.import_args(out)
    assert (out / "nodes-APICall.header.csv").read_text().startswith('"id:ID(APICall)"')
