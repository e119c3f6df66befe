"""The offline path for large trails: embedded store -> CSV -> the real `neo4j-admin database import` ->
`finish`. It must give exactly the graph a transactional Neo4j load of the same records gives."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import orjson
import pytest

from tests import neo4j_server
from tests.conftest import CORPORA, load_paths
from tests.neo4j_server import NEO4J_SH
from trailgraph.bulk import export_csv, finish
from trailgraph.simulate import SimConfig, simulate
from trailgraph.store.embedded import EmbeddedStore
from trailgraph.store.neo4j import Neo4jStore


def _dump(store: Neo4jStore) -> tuple[list[bytes], list[bytes]]:
    """Every node (labels, properties) and relationship (type, end keys, properties), sorted."""
    dumps = orjson.OPT_SORT_KEYS
    nodes = sorted(
        orjson.dumps(row, option=dumps)
        for row in store.cypher("MATCH (n) RETURN labels(n) AS labels, properties(n) AS props", {})
    )
    rels = sorted(
        orjson.dumps(row, option=dumps)
        for row in store.cypher(
            "MATCH (a)-[r]->(b) RETURN type(r) AS type, labels(a) AS al, a.id AS a, labels(b) AS bl, "
            "b.id AS b, properties(r) AS props",
            {},
        )
    )
    return nodes, rels


def _sh(*args: str) -> None:
    done = subprocess.run(
        ["bash", str(NEO4J_SH), *args],
        env=neo4j_server.script_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"neo4j.sh {' '.join(args)}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"


def test_neo4j_admin_import_of_the_export_equals_a_transactional_load(
    neo4j_store: Neo4jStore, neo4j_credentials: tuple[str, str, str], tmp_path: Path
) -> None:
    if not neo4j_server.started_here():
        if os.environ.get("CI"):
            pytest.fail("in CI the suite must own the Neo4j server so it can stop it for neo4j-admin")
        pytest.skip(
            "this run did not start the Neo4j server (it was already running, or "
            "TRAILGRAPH_TEST_NEO4J_URI names one); "
            "it will not replace its database"
        )
    org = tmp_path / "org"
    simulate(SimConfig(seed=5, events=3_000, days=1), org)
    sources = (CORPORA, org / "AWSLogs")

    load_paths(neo4j_store, *sources)
    transactional = _dump(neo4j_store)
    neo4j_store.close()

    embedded = EmbeddedStore(tmp_path / "big.db")
    load_paths(embedded, *sources)
    exported = export_csv(embedded, tmp_path / "csv")
    embedded.close()
    assert exported.node_count == len(transactional[0])
    assert exported.relationship_count == len(transactional[1])

    _sh("stop")
    try:
        _sh("admin", *exported.admin_args())
    finally:
        _sh("start")
    imported = Neo4jStore(*neo4j_credentials, None)
    try:
        finish(imported, tmp_path / "csv")
        assert _dump(imported) == transactional
        constraints = imported.cypher("SHOW CONSTRAINTS YIELD name RETURN count(*) AS n", {})[0]["n"]
        assert constraints > 0
    finally:
        imported.close()
