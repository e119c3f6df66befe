"""Choosing the store: Neo4j when a URI is configured, else the embedded file. Same for every command."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from trailgraph.store.base import GraphStore, StoreError

DEFAULT_STORE = "trailgraph.db"
BOLT_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")


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


def check_bolt_uri(uri: str) -> None:
    """The driver would try its preview HTTP API for http:// (and crash without aiohttp): say what to use."""
    parts = urlsplit(uri)
    if parts.scheme in BOLT_SCHEMES:
        return
    host = parts.hostname or "localhost"
    if parts.scheme in ("http", "https"):
        raise StoreError(
            f"NEO4J_URI {uri} is Neo4j's HTTP (Browser) address; trailgraph talks Bolt: "
            f"use bolt://{host}:7687 (or the server's Bolt port)"
        )
    raise StoreError(
        f"NEO4J_URI {uri!r} is not a Bolt URI: use bolt://HOST:7687 (or neo4j://, bolt+s://, neo4j+s://)"
    )


def open_store(config: BackendConfig, *, create: bool = False) -> GraphStore:
    """Open the configured store. Only a load may `create` an embedded store: a read command run in the
    wrong folder or with a mistyped --store must not answer "not found" from a new, empty file."""
    if config.neo4j_uri:
        from trailgraph.store.neo4j import Neo4jStore

        check_bolt_uri(config.neo4j_uri)
        return Neo4jStore(
            config.neo4j_uri, config.neo4j_user, config.neo4j_password or "", config.neo4j_database
        )
    from trailgraph.store.embedded import EmbeddedStore

    path = Path(config.store)
    if not create and not path.exists():
        raise StoreError(
            f"no store at {path.resolve()}: load something first (trailgraph load PATH), or name an "
            "existing store with --store / TRAILGRAPH_STORE (or Neo4j with NEO4J_URI)"
        )
    return EmbeddedStore(path)
