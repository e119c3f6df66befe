"""The embedded store: facts in one SQLite file, traversal in networkx.

SQLite gives a durable, transactional single file (a killed load leaves the last committed batch) and
a clear error when another process holds it; networkx runs the canned queries' embedded twins.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import networkx as nx
import orjson

from trailgraph.facts import GraphBatch
from trailgraph.link import LinkFacts
from trailgraph.schema import DERIVED_TYPES
from trailgraph.store.base import Row, StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (label TEXT NOT NULL, id TEXT NOT NULL, props TEXT NOT NULL,
    PRIMARY KEY (label, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS edges (type TEXT NOT NULL, src_label TEXT NOT NULL, src TEXT NOT NULL,
    dst_label TEXT NOT NULL, dst TEXT NOT NULL, grp TEXT, props TEXT NOT NULL,
    PRIMARY KEY (type, src_label, src, dst_label, dst)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS edges_grp ON edges (grp) WHERE grp IS NOT NULL;
CREATE TABLE IF NOT EXISTS lookups (field TEXT NOT NULL, value TEXT NOT NULL, label TEXT NOT NULL,
    id TEXT NOT NULL, PRIMARY KEY (field, value, label, id)) WITHOUT ROWID;
"""

_MERGE_NODE = (
    "INSERT INTO nodes (label, id, props) VALUES (?, ?, ?) "
    "ON CONFLICT (label, id) DO UPDATE SET props = json_patch(nodes.props, excluded.props)"
)
_MERGE_EDGE = (
    "INSERT INTO edges (type, src_label, src, dst_label, dst, grp, props) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (type, src_label, src, dst_label, dst) DO UPDATE SET grp = excluded.grp, "
    "props = json_patch(edges.props, excluded.props)"
)


LOOKUP_FIELDS = ("slot", "issuedSlot", "actorSlot", "sharedEventId")
"""Properties the linker looks nodes up by, kept in their own indexed table (exact, any characters)."""
_ADD_LOOKUP = "INSERT OR IGNORE INTO lookups (field, value, label, id) VALUES (?, ?, ?, ?)"


def _lookups(batch: GraphBatch) -> list[tuple[str, str, str, str]]:
    return [
        (f, props[f], label, node_id)
        for (label, node_id), props in batch.nodes.items()
        for f in LOOKUP_FIELDS
        if isinstance(props.get(f), str)
    ]


def _dumps(props: dict[str, Any]) -> str:
    return orjson.dumps(props).decode()


class EmbeddedStore:
    backend = "embedded"

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.db = sqlite3.connect(path, timeout=5.0, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(self._explain(exc)) from exc
        self._graph: nx.MultiDiGraph | None = None

    def _explain(self, exc: sqlite3.Error) -> str:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return f"embedded store {self.path} is locked by another trailgraph process; wait or use --store"
        if "not a database" in text or "malformed" in text or "file is encrypted" in text:
            return (
                f"embedded store {self.path} is not a trailgraph store or is corrupt ({text}); "
                "move it aside and load again"
            )
        return f"embedded store {self.path}: {text}"

    def describe(self) -> str:
        return f"embedded store {self.path}"

    def _tx(self, work: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
        try:
            self.db.execute("BEGIN IMMEDIATE")
            for sql, rows in work:
                if rows:
                    self.db.executemany(sql, rows)
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise StoreError(self._explain(exc)) from exc
        self._graph = None

    def write(self, batch: GraphBatch) -> int:
        call_ids = [node_id for (label, node_id) in batch.nodes if label == "APICall"]
        existing = 0
        for i in range(0, len(call_ids), 500):
            chunk = call_ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            row = self.db.execute(
                f"SELECT count(*) FROM nodes WHERE label = 'APICall' AND id IN ({marks})", chunk
            ).fetchone()
            existing += int(row[0])
        nodes = [(label, node_id, _dumps(props)) for (label, node_id), props in batch.nodes.items()]
        edges = [
            (t, s[0], s[1], d[0], d[1], props.get("group"), _dumps(props))
            for (t, s, d), props in batch.edges.items()
        ]
        self._tx([(_MERGE_NODE, nodes), (_MERGE_EDGE, edges), (_ADD_LOOKUP, _lookups(batch))])
        return len(call_ids) - existing

    def _select(self, sql: str, keys: list[str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for node_id, props in self.db.execute(sql.format(marks=marks), chunk):
                item = orjson.loads(props)
                item["id"] = node_id
                found.append(item)
        return found

    def link_facts(self, slots: set[str], shared: set[str]) -> LinkFacts:
        sql = (
            "SELECT n.id, n.props FROM lookups l JOIN nodes n ON n.label = l.label AND n.id = l.id "
            "WHERE l.field = '{field}' AND l.label = '{label}' AND l.value IN ({{marks}})"
        )
        calls: dict[str, dict[str, Any]] = {}
        for field, keys in (("issuedSlot", slots), ("actorSlot", slots), ("sharedEventId", shared)):
            for call in self._select(sql.format(field=field, label="APICall"), sorted(keys)):
                calls[call["id"]] = call
        sessions = self._select(sql.format(field="slot", label="Session"), sorted(slots))
        return LinkFacts(calls=list(calls.values()), sessions=sessions)

    def replace_derived(self, groups: set[str], batch: GraphBatch) -> None:
        group_rows = [(g,) for g in sorted(groups)]
        types = ",".join(f"'{t}'" for t in (*DERIVED_TYPES, "PERFORMED"))
        nodes = [(label, node_id, _dumps(props)) for (label, node_id), props in batch.nodes.items()]
        edges = [
            (t, s[0], s[1], d[0], d[1], props.get("group"), _dumps(props))
            for (t, s, d), props in batch.edges.items()
        ]
        self._tx(
            [
                (f"DELETE FROM edges WHERE grp = ? AND type IN ({types})", group_rows),
                (_MERGE_NODE, nodes),
                (_MERGE_EDGE, edges),
            ]
        )

    def graph(self) -> nx.MultiDiGraph:
        """The whole store as a networkx graph: node key `Label:id`, edge key = edge type."""
        if self._graph is None:
            g = nx.MultiDiGraph()
            try:
                for label, node_id, props in self.db.execute("SELECT label, id, props FROM nodes"):
                    g.add_node(f"{label}:{node_id}", label=label, id=node_id, **orjson.loads(props))
                for t, sl, s, dl, d, props in self.db.execute(
                    "SELECT type, src_label, src, dst_label, dst, props FROM edges"
                ):
                    g.add_edge(f"{sl}:{s}", f"{dl}:{d}", key=t, type=t, **orjson.loads(props))
            except sqlite3.Error as exc:
                raise StoreError(self._explain(exc)) from exc
            self._graph = g
        return self._graph

    def run(self, query: str, params: dict[str, Any]) -> list[Row]:
        from trailgraph.twins import run_twin

        return run_twin(self.graph(), query, params)

    def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        try:
            nodes = dict(self.db.execute("SELECT label, count(*) FROM nodes GROUP BY label ORDER BY label"))
            edges = dict(self.db.execute("SELECT type, count(*) FROM edges GROUP BY type ORDER BY type"))
        except sqlite3.Error as exc:
            raise StoreError(self._explain(exc)) from exc
        return nodes, edges

    def close(self) -> None:
        self.db.close()
