"""The Neo4j store: constraints, indexes and MERGE statements all generated from the schema."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import neo4j
from neo4j import GraphDatabase
from neo4j.exceptions import AuthError, Neo4jError, ServiceUnavailable

from trailgraph.facts import GraphBatch
from trailgraph.link import LinkFacts
from trailgraph.schema import DERIVED_TYPES, EDGES, KEY, NODES
from trailgraph.store.base import Row, StoreError


def schema_statements() -> list[str]:
    """Uniqueness for every node key, an index for every looked-up property and derived-edge group."""
    stmts = [
        f"CREATE CONSTRAINT {n.label.lower()}_{KEY} IF NOT EXISTS FOR (n:{n.label}) REQUIRE n.{KEY} IS UNIQUE"
        for n in NODES
    ]
    stmts += [
        f"CREATE INDEX {n.label.lower()}_{prop.lower()} IF NOT EXISTS FOR (n:{n.label}) ON (n.{prop})"
        for n in NODES
        for prop in n.indexed
    ]
    stmts += [
        f"CREATE INDEX {t.lower()}_group IF NOT EXISTS FOR ()-[r:{t}]-() ON (r.group)"
        for t in (*DERIVED_TYPES, "PERFORMED")
    ]
    return stmts


def _node_rows(batch: GraphBatch) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (label, node_id), props in batch.nodes.items():
        rows[label].append({"id": node_id, "props": props})
    return rows


def _edge_rows(batch: GraphBatch) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    rows: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for (t, (sl, s), (dl, d)), props in batch.edges.items():
        rows[(t, sl, dl)].append({"s": s, "d": d, "props": props})
    return rows


_KNOWN_TYPES = {e.type for e in EDGES}
_KNOWN_LABELS = {n.label for n in NODES}


class Neo4jStore:
    backend = "neo4j"

    def __init__(self, uri: str, user: str, password: str, database: str | None) -> None:
        self.uri = uri
        self.database = database
        try:
            self.driver = GraphDatabase.driver(uri, auth=(user, password))
            self.driver.verify_connectivity()
        except AuthError as exc:
            raise StoreError(f"Neo4j at {uri} refused the credentials for user {user!r}") from exc
        except (ServiceUnavailable, OSError, ValueError) as exc:
            raise StoreError(f"cannot reach Neo4j at {uri}: {exc}") from exc
        self._schema_ready = False

    def describe(self) -> str:
        return f"Neo4j {self.uri}" + (f" database {self.database}" if self.database else "")

    def _session(self, read_only: bool = False) -> neo4j.Session:
        mode = neo4j.READ_ACCESS if read_only else neo4j.WRITE_ACCESS
        return self.driver.session(database=self.database, default_access_mode=mode)

    def ensure_schema(self) -> None:
        if self._schema_ready:
            return
        try:
            with self._session() as session:
                for stmt in schema_statements():
                    session.run(stmt).consume()
                session.run("CALL db.awaitIndexes(300)").consume()
        except (Neo4jError, ServiceUnavailable) as exc:
            raise StoreError(f"Neo4j at {self.uri}: {exc}") from exc
        self._schema_ready = True

    def _write_tx(
        self, tx: neo4j.ManagedTransaction, batch: GraphBatch, pre: list[tuple[str, dict[str, Any]]]
    ) -> int:
        for query, params in pre:
            tx.run(query, params).consume()
        created = 0
        for label, rows in _node_rows(batch).items():
            assert label in _KNOWN_LABELS
            summary = tx.run(
                f"UNWIND $rows AS row MERGE (n:{label} {{{KEY}: row.id}}) SET n += row.props", rows=rows
            ).consume()
            if label == "APICall":
                created += summary.counters.nodes_created
        for (t, sl, dl), rows in _edge_rows(batch).items():
            assert t in _KNOWN_TYPES and sl in _KNOWN_LABELS and dl in _KNOWN_LABELS
            tx.run(
                f"UNWIND $rows AS row MATCH (a:{sl} {{{KEY}: row.s}}) MATCH (b:{dl} {{{KEY}: row.d}}) "
                f"MERGE (a)-[r:{t}]->(b) SET r += row.props",
                rows=rows,
            ).consume()
        return created

    def _execute(self, batch: GraphBatch, pre: list[tuple[str, dict[str, Any]]]) -> int:
        self.ensure_schema()
        try:
            with self._session() as session:
                return int(session.execute_write(self._write_tx, batch, pre))
        except (ServiceUnavailable, OSError) as exc:
            raise StoreError(
                f"lost Neo4j at {self.uri} during the write: {exc}; re-run the same load "
                "to complete the graph"
            ) from exc
        except Neo4jError as exc:
            raise StoreError(f"Neo4j at {self.uri}: {exc}") from exc

    def write(self, batch: GraphBatch) -> int:
        return self._execute(batch, [])

    def link_facts(self, slots: set[str], shared: set[str]) -> LinkFacts:
        self.ensure_schema()
        query = (
            "CALL () { MATCH (c:APICall) WHERE c.issuedSlot IN $slots RETURN c "
            "UNION MATCH (c:APICall) WHERE c.actorSlot IN $slots AND c.switchFrom IS NOT NULL RETURN c "
            "UNION MATCH (c:APICall) WHERE c.sharedEventId IN $shared RETURN c } "
            "RETURN properties(c) AS props"
        )
        params = {"slots": sorted(slots), "shared": sorted(shared)}
        with self._session(read_only=True) as session:
            calls = [dict(r["props"]) for r in session.run(query, params)]
            sessions = [
                dict(r["props"])
                for r in session.run(
                    "MATCH (s:Session) WHERE s.slot IN $slots RETURN properties(s) AS props", params
                )
            ]
        return LinkFacts(calls=calls, sessions=sessions)

    def replace_derived(self, groups: set[str], batch: GraphBatch) -> None:
        types = "|".join((*DERIVED_TYPES, "PERFORMED"))
        pre = [(f"MATCH ()-[r:{types}]->() WHERE r.group IN $groups DELETE r", {"groups": sorted(groups)})]
        self._execute(batch, pre)

    def run(self, query: str, params: dict[str, Any]) -> list[Row]:
        from trailgraph.queries_catalog import DRAW_COLUMN, cypher_text

        rows = self.cypher(cypher_text(query), params)
        for row in rows:
            row.pop(DRAW_COLUMN, None)
        return rows

    def cypher(self, text: str, params: dict[str, Any]) -> list[Row]:
        """Read-only Cypher: the session is in READ access mode, so writes are refused by the server."""
        try:
            with self._session(read_only=True) as session:
                result = session.run(text, params)
                return [record.data() for record in result]
        except (ServiceUnavailable, OSError) as exc:
            raise StoreError(f"cannot reach Neo4j at {self.uri}: {exc}") from exc

    def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        nodes: dict[str, int] = {}
        edges: dict[str, int] = {}
        with self._session(read_only=True) as session:
            for n in NODES:
                nodes[n.label] = session.run(f"MATCH (n:{n.label}) RETURN count(n) AS c").single(strict=True)[
                    "c"
                ]
            for e in EDGES:
                edges[e.type] = session.run(f"MATCH ()-[r:{e.type}]->() RETURN count(r) AS c").single(
                    strict=True
                )["c"]
        return {k: v for k, v in nodes.items() if v}, {k: v for k, v in edges.items() if v}

    def clear(self) -> None:
        """Empty the database (tests, and `trailgraph reset`)."""
        with self._session() as session:
            session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS").consume()

    def close(self) -> None:
        self.driver.close()
