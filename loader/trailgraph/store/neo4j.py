"""The Neo4j store: constraints, indexes and MERGE statements all generated from the schema."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import neo4j
from neo4j import GraphDatabase
from neo4j.exceptions import AuthError, Neo4jError, ServiceUnavailable

from trailgraph.attribution import attribute_levels, attribution_slots, to_count
from trailgraph.facts import EdgeKey, GraphBatch, NodeRef, Props, trim_oldest
from trailgraph.link import LinkFacts, decided_groups, link
from trailgraph.schema import DERIVED_TYPES, EDGES, KEY, NODES, TRACE_PATH_TYPES
from trailgraph.store.base import Row, StoreError
from trailgraph.vouching import PRINCIPAL_GROUP, names_in_hours, wanted_hours


def schema_statements() -> list[str]:
    """Uniqueness for every node key, an index for every looked-up property and derived-edge group."""
    stmts = [
        f"CREATE CONSTRAINT {n.label.lower()}_{KEY} IF NOT EXISTS FOR (n:{n.label}) REQUIRE n.{KEY} IS UNIQUE"
        for n in NODES
    ]
    stmts += [
        f"CREATE INDEX {n.label.lower()}_{prop.lower()} IF NOT EXISTS FOR (n:{n.label}) ON (n.{prop})"
        for n in NODES
        for prop in n.all_indexed()
    ]
    stmts += [
        f"CREATE INDEX {t.lower()}_group IF NOT EXISTS FOR ()-[r:{t}]-() ON (r.group)"
        for t in (*DERIVED_TYPES, "PERFORMED")
    ]
    # The linker's console SwitchRole lookup: a composite index holds only nodes with both properties,
    # so it finds a slot's SwitchRole calls without reading every call its sessions made.
    stmts.append(
        "CREATE INDEX apicall_actorslot_switchfrom IF NOT EXISTS "
        "FOR (n:APICall) ON (n.actorSlot, n.switchFrom)"
    )
    return stmts


def _node_rows(nodes: dict[NodeRef, Props]) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (label, node_id), props in nodes.items():
        rows[label].append({"id": node_id, "props": props})
    return rows


def _edge_rows(edges: dict[EdgeKey, Props]) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    rows: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for (t, (sl, s), (dl, d)), props in edges.items():
        rows[(t, sl, dl)].append({"s": s, "d": d, "props": props})
    return rows


_KEEP_CALLS = """
UNWIND $ids AS id
MATCH (s:Session {id: id})
OPTIONAL MATCH (s)-[:PERFORMED]->(c:APICall)
WITH s, count(c) AS n, min(c.eventTime) AS first, max(c.eventTime) AS last,
     count(c.sharedEventId) AS shared
SET s.callCount = n, s.firstCall = coalesce(first, ''), s.lastCall = coalesce(last, ''),
    s.sharedCalls = shared
"""
"""`attribution.kept_calls`, recounted in the transaction that changed the sessions' PERFORMED edges."""


def _keep_calls(tx: neo4j.ManagedTransaction, sessions: set[str]) -> None:
    for chunk in _chunks(sorted(sessions)):
        tx.run(_KEEP_CALLS, ids=chunk).consume()


def _chunks(rows: list[Any], size: int = 10_000) -> list[list[Any]]:
    """UNWIND lists of at most 10,000 rows: larger ones only cost the server memory."""
    return [rows[i : i + size] for i in range(0, len(rows), size)]


_REPLACED = (*DERIVED_TYPES, "PERFORMED")
_PATH = "|".join(TRACE_PATH_TYPES)
_PATHS_BACK = (
    "MATCH (s:Session) WHERE s.slot IN $slots "
    f"MATCH p = (o)-[:{_PATH}*0..40]->(s) WHERE NOT EXISTS {{ MATCH ()-[:{_PATH}]->(o) }} "
    "RETURN s.id AS id, properties(s) AS kept, [n IN nodes(p) | n {.*, label: labels(n)[0]}] AS nodes "
    "ORDER BY id, size(nodes) DESC"
)
_STRUCTURAL = frozenset(e.type for e in EDGES if e.type not in _REPLACED)
"""Edge types only records write: never derived, never deleted, no properties."""
_UNCACHED = frozenset({"APICall"})
"""Calls are written once each: remembering them would only cost memory."""
_KNOWN_MAX = 200_000
_MISSING = object()


_KNOWN_TYPES = {e.type for e in EDGES}
_KNOWN_LABELS = {n.label for n in NODES}


_NAMED = """
CALL () {
  MATCH (n:IAMUser) WHERE n.id = $name OR n.name = $name RETURN n
  UNION MATCH (n:Root {id: $name}) RETURN n
  UNION MATCH (n:Service {id: $name}) RETURN n
  UNION MATCH (n:ExternalIdentity) WHERE n.id = $name OR n.subject = $name OR n.userId = $name RETURN n
  UNION MATCH (n:Session) WHERE n.id = $name OR n.arn = $name OR n.name = $name
                             OR n.onBehalfOfUserId = $name RETURN n
  UNION MATCH (n:AccessKey {id: $name}) RETURN n
}
WITH n LIMIT 1000
OPTIONAL MATCH (n:AccessKey)-[:KEY_OF]->(h)
WITH n, [x IN collect(h) | [labels(x)[0], x.id]] AS holders
RETURN labels(n)[0] AS label, n.id AS id, properties(n) AS props, holders
ORDER BY label, id
"""
"""`named`: each branch an index seek (the `indexed` and `searched` properties of the schema), but for
user and session names, kept whole and compared within their label."""


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
        if database:
            try:
                self._check_database(database)
            except StoreError:
                self.driver.close()
                raise
        self._schema_ready = False
        self._known: dict[NodeRef, Props] = {}
        """Props this store object wrote (merged) for nodes other than calls: a batch that would write
        the same values again skips them. A load is one store object, so this is what the load wrote."""
        self._known_edges: dict[EdgeKey, None] = {}

    def _check_database(self, database: str) -> None:
        """A mistyped NEO4J_DATABASE is a usage problem, not a lost server: name the ones that exist."""
        try:
            self.driver.execute_query("RETURN 1", database_=database)
        except Neo4jError as exc:
            if exc.code != "Neo.ClientError.Database.DatabaseNotFound":
                raise StoreError(f"Neo4j at {self.uri} database {database}: {exc.message}") from exc
            try:
                rows, _, _ = self.driver.execute_query("SHOW DATABASES YIELD name", database_="system")
                names = ", ".join(sorted({str(r["name"]) for r in rows} - {"system"}))
            except Neo4jError:
                names = "unknown"
            raise StoreError(
                f"Neo4j at {self.uri} has no database {database!r} (NEO4J_DATABASE / --neo4j-database); "
                f"it has: {names}"
            ) from exc

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

    def _write_nodes(self, tx: neo4j.ManagedTransaction, nodes: dict[NodeRef, Props]) -> int:
        created = 0
        for label, rows in _node_rows(nodes).items():
            assert label in _KNOWN_LABELS
            for chunk in _chunks(rows):
                summary = tx.run(
                    f"UNWIND $rows AS row MERGE (n:{label} {{{KEY}: row.id}}) SET n += row.props", rows=chunk
                ).consume()
                if label == "APICall":
                    created += summary.counters.nodes_created
        return created

    def _write_edges(self, tx: neo4j.ManagedTransaction, edges: dict[EdgeKey, Props]) -> None:
        for (t, sl, dl), rows in _edge_rows(edges).items():
            assert t in _KNOWN_TYPES and sl in _KNOWN_LABELS and dl in _KNOWN_LABELS
            for chunk in _chunks(rows):
                tx.run(
                    f"UNWIND $rows AS row MATCH (a:{sl} {{{KEY}: row.s}}) MATCH (b:{dl} {{{KEY}: row.d}}) "
                    f"MERGE (a)-[r:{t}]->(b) SET r += row.props",
                    rows=chunk,
                ).consume()

    def _write_tx(self, tx: neo4j.ManagedTransaction, batch: GraphBatch) -> int:
        created = self._write_nodes(tx, batch.nodes)
        self._write_edges(tx, batch.edges)
        _keep_calls(tx, to_count(batch.nodes, batch.edges))
        return created

    def _ingest_tx(
        self,
        tx: neo4j.ManagedTransaction,
        nodes: dict[NodeRef, Props],
        edges: dict[EdgeKey, Props],
        slots: set[str],
        shared: set[str],
    ) -> tuple[int, dict[NodeRef, Props]]:
        created = self._write_nodes(tx, nodes)
        self._write_edges(tx, edges)
        if not slots and not shared:
            _keep_calls(tx, to_count(nodes, edges))
            return created, {}
        facts = self._link_facts(tx, slots, shared)
        decided = link(facts, slots, shared)
        groups = sorted(decided_groups(facts, slots, shared))
        decided_nodes = self._unknown_nodes(decided.nodes)
        replaced = self._replace_tx(tx, groups, decided.edges)
        self._write_nodes(tx, decided_nodes)
        self._attribute_tx(tx, attribution_slots(facts, slots, shared))
        _keep_calls(tx, to_count(nodes, edges) | replaced)
        return created, decided_nodes

    def _attribute_tx(self, tx: neo4j.ManagedTransaction, slots: set[str]) -> None:
        """`attribute_levels`, each level's paths back read by one query."""

        def paths(level: set[str]) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any]]]:
            seen: set[str] = set()
            for r in tx.run(_PATHS_BACK, slots=sorted(level)):
                if r["id"] not in seen:
                    seen.add(r["id"])
                    yield [dict(n) for n in r["nodes"]], dict(r["kept"])

        def write(batch: GraphBatch, changed: list[str]) -> None:
            self._replace_tx(tx, sorted(f"attr:{k.partition(':')[2]}" for k in changed), batch.edges)
            self._write_nodes(tx, batch.nodes)

        def issued_slots(changed: list[str]) -> set[str]:
            issued = tx.run(
                "MATCH (c:APICall) WHERE c.issuerActor IN $actors RETURN DISTINCT c.issuedSlot AS slot",
                actors=changed,
            )
            return {r["slot"] for r in issued if isinstance(r["slot"], str)}

        attribute_levels(slots, paths, write, issued_slots)

    def _replace_tx(
        self, tx: neo4j.ManagedTransaction, groups: list[str], edges: dict[EdgeKey, Props]
    ) -> set[str]:
        """Drop the derived edges of these groups and merge the new decision, touching only what differs:
        an edge decided again as it was stays (deleting and re-creating it gives the same edge). Returns
        the sessions whose PERFORMED edges it may have changed."""
        old: dict[EdgeKey, list[tuple[str, Props]]] = defaultdict(list)
        for t in _REPLACED:
            for chunk in _chunks(groups):
                for r in tx.run(
                    f"MATCH (a)-[r:{t}]->(b) WHERE r.group IN $groups "
                    "RETURN labels(a)[0] AS sl, a.id AS s, labels(b)[0] AS dl, b.id AS d, "
                    "elementId(r) AS rid, properties(r) AS props",
                    groups=chunk,
                ):
                    old[(t, (r["sl"], r["s"]), (r["dl"], r["d"]))].append((r["rid"], dict(r["props"])))
        drop: list[str] = []
        reset: list[dict[str, Any]] = []
        merge: dict[EdgeKey, Props] = {}
        for key, copies in old.items():
            props = edges.get(key)
            if props is None:
                drop.extend(rid for rid, _ in copies)
                continue
            (rid, before), *extra = copies
            drop.extend(r for r, _ in extra)
            if before != props:
                reset.append({"rid": rid, "props": props})
        for key, props in edges.items():
            if key not in old:
                merge[key] = props
        for chunk in _chunks(drop):
            tx.run(
                "UNWIND $ids AS rid MATCH ()-[r]->() WHERE elementId(r) = rid DELETE r", ids=chunk
            ).consume()
        for chunk in _chunks(reset):
            tx.run(
                "UNWIND $rows AS row MATCH ()-[r]->() WHERE elementId(r) = row.rid SET r = row.props",
                rows=chunk,
            ).consume()
        self._write_edges(tx, merge)
        return to_count((), [*old, *edges])

    def _unknown_nodes(self, nodes: dict[NodeRef, Props]) -> dict[NodeRef, Props]:
        """The nodes whose props would change what this store object last wrote for them."""
        known = self._known
        out: dict[NodeRef, Props] = {}
        for ref, props in nodes.items():
            seen = known.get(ref)
            if seen is None or any(seen.get(k, _MISSING) != v for k, v in props.items()):
                out[ref] = props
        return out

    def _remember(self, nodes: dict[NodeRef, Props]) -> None:
        known = self._known
        for ref, props in nodes.items():
            if ref[0] not in _UNCACHED:
                seen = known.get(ref)
                known[ref] = {**seen, **props} if seen else dict(props)

    def write(self, batch: GraphBatch) -> int:
        self.ensure_schema()
        try:
            with self._session() as session:
                return int(session.execute_write(self._write_tx, batch))
        except (ServiceUnavailable, OSError) as exc:
            raise self._lost(exc) from exc
        except Neo4jError as exc:
            raise StoreError(f"Neo4j at {self.uri}: {exc}") from exc

    def _lost(self, exc: Exception) -> StoreError:
        self._known.clear()
        self._known_edges.clear()
        return StoreError(
            f"lost Neo4j at {self.uri} during the write: {exc}; re-run the same load to complete the graph"
        )

    def ingest(self, batch: GraphBatch, slots: set[str], shared: set[str]) -> int:
        """One transaction: merge what this store object has not already written (unchanged nodes and
        structural edges it wrote earlier are skipped), then re-decide every group the batch touches."""
        self.ensure_schema()
        known_edges = self._known_edges
        nodes = self._unknown_nodes(batch.nodes)
        edges = {k: p for k, p in batch.edges.items() if p or k not in known_edges}
        try:
            with self._session() as session:
                created, decided_nodes = session.execute_write(self._ingest_tx, nodes, edges, slots, shared)
        except (ServiceUnavailable, OSError) as exc:
            raise self._lost(exc) from exc
        except Neo4jError as exc:
            raise StoreError(f"Neo4j at {self.uri}: {exc}") from exc
        trim_oldest(self._known, _KNOWN_MAX)
        trim_oldest(known_edges, _KNOWN_MAX)
        self._remember(nodes)
        self._remember(decided_nodes)
        known_edges.update((k, None) for k, p in edges.items() if not p and k[0] in _STRUCTURAL)
        return int(created)

    def _link_facts(self, tx: neo4j.ManagedTransaction, slots: set[str], shared: set[str]) -> LinkFacts:
        wanted = wanted_hours(shared)
        named = {k for k in shared if not k.startswith(PRINCIPAL_GROUP)}
        by_caller = "MATCH (c:APICall) WHERE c.callerPrincipalId IN $pids RETURN properties(c) AS props"
        vouched = [dict(r["props"]) for r in tx.run(by_caller, pids=sorted(wanted))]
        vouched = [c for c in vouched if names_in_hours(c, wanted)]
        named |= {c["sharedEventId"] for c in vouched if isinstance(c.get("sharedEventId"), str)}
        query = (
            "CALL () { MATCH (c:APICall) WHERE c.issuedSlot IN $slots RETURN c "
            "UNION MATCH (c:APICall) WHERE c.actorSlot IN $slots AND c.switchFrom IS NOT NULL RETURN c "
            "UNION MATCH (c:APICall) WHERE c.sharedEventId IN $shared RETURN c } "
            "RETURN properties(c) AS props"
        )
        params = {"slots": sorted(slots), "shared": sorted(named)}
        calls = {c["id"]: c for c in (dict(r["props"]) for r in tx.run(query, params))}
        pids = {
            c["callerPrincipalId"]
            for c in [*vouched, *calls.values()]
            if isinstance(c.get("callerPrincipalId"), str)
        }
        by_issued = "MATCH (c:APICall) WHERE c.issuedPrincipalId IN $pids RETURN properties(c) AS props"
        for c in [*vouched, *(dict(r["props"]) for r in tx.run(by_issued, pids=sorted(pids)))]:
            calls[c["id"]] = c
        sessions = [
            dict(r["props"])
            for r in tx.run("MATCH (s:Session) WHERE s.slot IN $slots RETURN properties(s) AS props", params)
        ]
        return LinkFacts(calls=list(calls.values()), sessions=sessions)

    def digests(self, call_ids: list[str]) -> dict[str, str | None]:
        self.ensure_schema()
        query = "UNWIND $ids AS id MATCH (c:APICall {id: id}) RETURN c.id AS id, c.digest AS digest"
        found: dict[str, str | None] = {}
        try:
            with self._session(read_only=True) as session:
                for chunk in _chunks(call_ids):
                    found.update((r["id"], r["digest"]) for r in session.run(query, ids=chunk))
        except (ServiceUnavailable, OSError) as exc:
            raise self._lost(exc) from exc
        except Neo4jError as exc:
            raise StoreError(f"Neo4j at {self.uri}: {exc}") from exc
        return found

    def link_facts(self, slots: set[str], shared: set[str]) -> LinkFacts:
        self.ensure_schema()
        with self._session(read_only=True) as session:
            return session.execute_read(self._link_facts, slots, shared)

    def run(self, query: str, params: dict[str, Any]) -> list[Row]:
        from trailgraph.queries_catalog import DRAW_COLUMN, catalog, cypher_text

        # an optional parameter left out reads as null, as in the twins; the rows, never the picture
        given = {**dict.fromkeys(catalog()[query].params), **params, "draw": False}
        rows = self.cypher(cypher_text(query), given)
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

    def write_query(self, text: str, params: dict[str, Any]) -> None:
        """One write statement in its own transaction (bulk import's finishing touches)."""
        try:
            with self._session() as session:
                session.execute_write(lambda tx: tx.run(text, params).consume())
        except (ServiceUnavailable, OSError) as exc:
            raise StoreError(f"cannot reach Neo4j at {self.uri}: {exc}") from exc
        except Neo4jError as exc:
            raise StoreError(f"Neo4j at {self.uri}: {exc}") from exc

    def named(self, name: str) -> list[Row]:
        rows = self.cypher(_NAMED, {"name": name})
        return [{**r["props"], "label": r["label"], "id": r["id"], "holders": r["holders"]} for r in rows]

    def event_count(self) -> int:
        return int(self.cypher("MATCH (c:APICall) RETURN count(c) AS n", {})[0]["n"])

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
        self._known.clear()
        self._known_edges.clear()
        with self._session() as session:
            session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS").consume()

    def close(self) -> None:
        self.driver.close()
