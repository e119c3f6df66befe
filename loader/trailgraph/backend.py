"""Choosing the store: Neo4j when a URI is configured, else the embedded file. Same for every command."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from trailgraph.store.base import GraphStore

DEFAULT_STORE = "trailgraph.db"


@dataclass(frozen=True)
class BackendConfig:
    neo4j_uri: str | None
    neo4j_user: str
    neo4j_password: str | None
    neo4j_database: str | None
    store: str

    @classmethod
    def from_env(cls) -> BackendConfig:
        return cls(
            neo4j_uri=os.environ.get("NEO4J_URI") or None,
            neo4j_user=os.environ.get("NEO4J_USERNAME", "neo4j"),
            neo4j_password=os.environ.get("NEO4J_PASSWORD"),
            neo4j_database=os.environ.get("NEO4J_DATABASE") or None,
            store=os.environ.get("TRAILGRAPH_STORE", DEFAULT_STORE),
        )


def open_store(config: BackendConfig) -> GraphStore:
    if config.neo4j_uri:
        from trailgraph.store.neo4j import Neo4jStore

        return Neo4jStore(
            config.neo4j_uri, config.neo4j_user, config.neo4j_password or "", config.neo4j_database
        )
    from trailgraph.store.embedded import EmbeddedStore

    return EmbeddedStore(Path(config.store))
