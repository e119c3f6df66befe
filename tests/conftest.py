"""Shared fixtures. Tests that need Neo4j use the suite's own real server (started by tests/neo4j_server.py
in .neo4j-test/ unless TRAILGRAPH_TEST_NEO4J_URI names one; never the user's NEO4J_URI); they fail,
never skip, when it cannot be reached."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from trailgraph.load import LoadSummary, load_blobs
from trailgraph.sources.files import expand, iter_file_blobs
from trailgraph.store.base import GraphStore
from trailgraph.store.embedded import EmbeddedStore
from trailgraph.store.neo4j import Neo4jStore

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
SEED = Path(__file__).resolve().parents[1] / "examples" / "seed" / "console-switchrole-cross-account.json"
"""The reference investigation as the repository ships it (test_newcomer checks it is the corpus's)."""


def load_paths(store: GraphStore, *paths: Path | str) -> LoadSummary:
    return load_blobs(store, iter_file_blobs(expand([str(p) for p in paths])))


@pytest.fixture(scope="session")
def neo4j_credentials() -> Iterator[tuple[str, str, str]]:
    from tests.neo4j_server import ensure_neo4j, stop_neo4j

    try:
        credentials = ensure_neo4j()
    except Exception as exc:  # the suite must fail loudly, not skip, without its server
        pytest.fail(f"Neo4j is required for this test and could not be started or reached: {exc}")
    yield credentials
    stop_neo4j()


@pytest.fixture
def neo4j_store(neo4j_credentials: tuple[str, str, str]) -> Iterator[Neo4jStore]:
    uri, user, password = neo4j_credentials
    store = Neo4jStore(uri, user, password, None)
    store.clear()
    yield store
    store.close()


@pytest.fixture
def embedded_store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    store = EmbeddedStore(tmp_path / "graph.db")
    yield store
    store.close()


@pytest.fixture(params=["embedded", "neo4j"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EmbeddedStore | Neo4jStore]:
    """Each test runs once per backend."""
    if request.param == "embedded":
        store: EmbeddedStore | Neo4jStore = EmbeddedStore(tmp_path / "graph.db")
    else:
        uri, user, password = request.getfixturevalue("neo4j_credentials")
        store = Neo4jStore(uri, user, password, None)
        store.clear()
    yield store
    store.close()


@pytest.fixture(scope="module")
def tab() -> Iterator[Any]:
    """A Chromium page (Playwright) for the browser tests; they fail, never skip, without chromium."""
    from tests.pages import chromium_tab, missing_chromium

    why = missing_chromium()
    if why is not None:
        pytest.fail(why)
    with chromium_tab() as page:
        yield page
