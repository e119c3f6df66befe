"""The embedded store: facts in one SQLite file, traversal in networkx.

SQLite gives a durable, transactional single file (a killed load leaves the last committed batch) and
a clear error when another process holds it; networkx runs the canned queries' embedded twins.

Loading merges in Python: one indexed read of the batch's nodes, then plain INSERTs for new nodes and
UPDATEs only for nodes whose properties change (`json_patch` upserts cost more, and rewrite rows that
do not change). Each batch and the re-linking it calls for are one transaction.

`trace` does not need the whole graph: it reads the call by its `eventId` index and walks the trace
path back with indexed reads of each node's incoming edges into a small networkx graph, then runs the
same twin on it. The other queries (and `trace` once the graph is loaded) run on the whole graph.

Layout: `nodes` (rowid table, unique on label+id), `edges` (keyed by target first, so a node's incoming
edges are one range read), `lookups` (the linker's groups). Stores written before this layout (nodes and
edges keyed by their natural keys) keep working: an index on edge targets is added to them on open.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx
import orjson

from trailgraph.attribution import (
    CALLS,
    MAX_DEPTH,
    add_calls,
    attribute_levels,
    attribution_slots,
    kept_calls,
    to_count,
)
from trailgraph.facts import EdgeKey, GraphBatch, NodeRef, Props, trim_oldest
from trailgraph.link import LinkFacts, decided_groups, link
from trailgraph.schema import DERIVED_TYPES, EDGE_TYPES, NODES, TRACE_PATH_TYPES
from trailgraph.store.base import Row, StoreError
from trailgraph.streamed import EDGES_READ_BY_REACH, NO_LEAVES, READ_BY_REACH, Leaf
from trailgraph.vouching import EVERY_HOUR, PRINCIPAL_GROUP, caller_key, issued_keys, wanted_hours

if TYPE_CHECKING:
    from trailgraph.twins import GapMember, MapMember

_SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (label TEXT NOT NULL, id TEXT NOT NULL, props TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS nodes_key ON nodes (label, id);
CREATE TABLE IF NOT EXISTS edges (type TEXT NOT NULL, src_label TEXT NOT NULL, src TEXT NOT NULL,
    dst_label TEXT NOT NULL, dst TEXT NOT NULL, grp TEXT, props TEXT NOT NULL,
    PRIMARY KEY (dst_label, dst, type, src_label, src)) WITHOUT ROWID;
"""
_COMMON = """
CREATE INDEX IF NOT EXISTS edges_src ON edges (src_label, src, type);
CREATE INDEX IF NOT EXISTS edges_grp ON edges (grp) WHERE grp IS NOT NULL;
CREATE TABLE IF NOT EXISTS lookups (field TEXT NOT NULL, value TEXT NOT NULL, label TEXT NOT NULL,
    id TEXT NOT NULL, PRIMARY KEY (field, value, label, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nodes_event ON nodes (json_extract(props, '$.eventId')) WHERE label = 'APICall';
"""
_KEY_OF_INDEX = "CREATE INDEX IF NOT EXISTS edges_key_of ON edges (src) WHERE type = 'KEY_OF'"
"""An access key's holders (name resolution, `find --principal KEY`): KEY_OF edges are few."""


def _json_prop(prop: str) -> str:
    return f"json_extract(props, '$.{prop}')"


def searched_indexes() -> list[str]:
    """An expression index per `searched` property of the schema (the queries repeat the expression).
    A call's eventName is indexed lower-cased and with its time (`find --event-name` is case-insensitive
    and newest first), so one name's calls are a range read in the order find wants."""
    statements = []
    for n in NODES:
        for prop in (*n.searched, *n.verbatim, *n.summarised):
            key = f"{_json_prop(prop)}, id"
            if (n.label, prop) == ("APICall", "eventName"):
                key = f"lower({_json_prop(prop)}), {_json_prop('eventTime')}"
            statements.append(
                f"CREATE INDEX IF NOT EXISTS nodes_{n.label.lower()}_{prop.lower()} ON nodes ({key}) "
                f"WHERE label = '{n.label}'"
            )
    return statements


_EQUAL = (("source", "eventSource"), ("account", "account"), ("region", "region"), ("ip", "sourceIPAddress"))


def _find_prefilter(params: dict[str, Any]) -> tuple[str, list[Any]]:
    """find's cheap conditions in SQL, so the scan skips rows without decoding them in Python. Each is
    implied by `twins.find_match` (which still decides), so it can only drop rows find would drop."""
    where: list[str] = []
    args: list[Any] = []
    for param, prop in _EQUAL:
        if isinstance(params.get(param), str):
            where.append(f"{_json_prop(prop)} = ?")
            args.append(params[param])
    error = params.get("error")
    if isinstance(error, str):
        where.append(f"{_json_prop('errorCode')} IS NOT NULL")
        if error != "*":
            where.append(f"{_json_prop('errorCode')} = ?")
            args.append(error)
    if params.get("writeOnly") is True:
        where.append(f"{_json_prop('readOnly')} = 0 AND json_type(props, '$.readOnly') = 'false'")
    text = params.get("contains")
    if isinstance(text, str):
        request, response = _json_prop("requestParameters"), _json_prop("responseElements")
        where.append(f"(instr({request}, ?) > 0 OR instr({response}, ?) > 0)")
        args += [text, text]
    if _plain_name(params):
        where.append(f"lower({_json_prop('eventName')}) = ?")  # a plain name: ASCII, any case
        args.append(params["eventName"].lower())
    return "".join(f" AND {w}" for w in where), args


def _plain_name(params: dict[str, Any]) -> bool:
    """An eventName pattern that is one name (letters and digits), not a glob."""
    name = params.get("eventName")
    return isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9]+", name) is not None


_LEGACY_EDGE_INDEX = "CREATE INDEX IF NOT EXISTS edges_dst ON edges (dst_label, dst, type, src_label, src)"
"""Stores written before the target-first edge key: the same range read, from an index."""

_INSERT_NODE = "INSERT INTO nodes (label, id, props) VALUES (?, ?, ?)"
_UPDATE_NODE = "UPDATE nodes SET props = ? WHERE label = ? AND id = ?"
_MERGE_EDGE = (
    "INSERT INTO edges (type, src_label, src, dst_label, dst, grp, props) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (type, src_label, src, dst_label, dst) DO UPDATE SET grp = excluded.grp, "
    "props = json_patch(edges.props, excluded.props) "
    "WHERE edges.grp IS NOT excluded.grp OR edges.props IS NOT json_patch(edges.props, excluded.props)"
)
_UPDATE_EDGE = (
    "UPDATE edges SET grp = ?, props = ? "
    "WHERE type = ? AND src_label = ? AND src = ? AND dst_label = ? AND dst = ?"
)
_DELETE_EDGE = "DELETE FROM edges WHERE type = ? AND src_label = ? AND src = ? AND dst_label = ? AND dst = ?"
_REPLACED = (*DERIVED_TYPES, "PERFORMED")
_BY_LOOKUP = (
    "SELECT n.id, n.props FROM lookups l JOIN nodes n ON n.label = l.label AND n.id = l.id "
    "WHERE l.field = '{field}' AND l.label = '{label}' AND l.value IN ({{marks}})"
)
_NODES = "SELECT id, props FROM nodes WHERE label = '{label}' AND id IN ({{marks}})"
_REPLACED_SQL = ",".join(f"'{t}'" for t in _REPLACED)
_PATH_SQL = ",".join(f"'{t}'" for t in TRACE_PATH_TYPES)
_CHUNK = 500
_PATH_INTO = (
    f"SELECT dst, type, props FROM edges WHERE dst_label = 'APICall' AND dst IN ({{marks}}) "
    f"AND type IN ({_PATH_SQL})"
)
"""The trace-path edge into each of these calls (the linker keeps one into each node)."""
_MAP_SESSIONS = """
SELECT s.id, s.props, CASE WHEN bn.id IS NOT NULL THEN b.src_label || ':' || b.src END
FROM nodes s
LEFT JOIN edges b ON b.dst_label = 'Session' AND b.dst = s.id AND b.type = 'BEHIND'
LEFT JOIN nodes bn ON bn.label = b.src_label AND bn.id = b.src
WHERE s.label = 'Session' AND s.id IN ({marks})
ORDER BY s.id, b.src_label, b.src
"""
"""`map`'s sessions, a row per origin each keeps (BEHIND), or one row with a null origin if it keeps none."""
_ISSUING = """
SELECT i.dst, min(json_extract(c.props, '$.eventId')), min((
  SELECT min(o.dst) FROM (
    SELECT i.src AS call
    UNION ALL
    SELECT x.src FROM edges x CROSS JOIN nodes xc ON xc.label = 'APICall' AND xc.id = x.src
    WHERE x.dst_label = 'APICall' AND x.dst = i.src AND x.type = 'COPIED_TO' AND x.src_label = 'APICall'
  ) m
  CROSS JOIN edges p ON p.dst_label = 'APICall' AND p.dst = m.call AND p.type = 'PERFORMED'
    AND p.src_label = 'Session'
  CROSS JOIN nodes ps ON ps.label = 'Session' AND ps.id = p.src
  CROSS JOIN edges o ON o.src_label = 'Session' AND o.src = p.src AND o.type = 'SESSION_OF'
    AND o.dst_label = 'Role'
  CROSS JOIN nodes r ON r.label = 'Role' AND r.id = o.dst))
FROM edges i CROSS JOIN nodes c ON c.label = 'APICall' AND c.id = i.src
WHERE i.dst_label = 'Session' AND i.dst IN ({marks}) AND i.type = 'ISSUED' AND i.src_label = 'APICall'
GROUP BY i.dst
"""
"""Per session issued by a call: the least eventId of the calls that issued it (ISSUED), and the least
role of the sessions that made those calls or their cross-account originals (PERFORMED, COPIED_TO,
SESSION_OF). The twin's `_issuing` for a chunk of `map`'s sessions, in one statement instead of a round
trip per step."""
_COPIES = """
SELECT p.src, c.dst, json_extract(n.props, '$.eventTime'), json_extract(n.props, '$.eventId')
FROM edges p
CROSS JOIN nodes m ON m.label = 'APICall' AND m.id = p.dst
CROSS JOIN edges c ON c.src_label = 'APICall' AND c.src = p.dst AND c.type = 'COPIED_TO'
  AND c.dst_label = 'APICall'
CROSS JOIN nodes n ON n.label = 'APICall' AND n.id = c.dst
WHERE p.src_label = 'Session' AND p.src IN ({marks}) AND p.type = 'PERFORMED' AND p.dst_label = 'APICall'
ORDER BY p.src, c.dst
"""
"""The copies of these sessions' calls: the edges' indexes lead to them, and only their records are read."""
_PERFORMED_CALLS = (
    "SELECT json_extract(n.props, '$.eventTime'), json_extract(n.props, '$.eventId') FROM edges e "
    "JOIN nodes n ON n.label = 'APICall' AND n.id = e.dst "
    "WHERE e.src_label = ? AND e.src = ? AND e.type = 'PERFORMED' AND e.dst_label = 'APICall'"
)
_PATH_OUT = f"""
SELECT e.src, e.type, e.dst_label, e.dst, e.props, json_extract(n.props, '$.eventTime'),
       json_extract(n.props, '$.account'),
       n.id IS NULL
       OR EXISTS (SELECT 1 FROM edges o WHERE o.src_label = 'APICall' AND o.src = e.dst
                  AND o.type IN ({_PATH_SQL}))
FROM edges e LEFT JOIN nodes n ON e.dst_label = 'APICall' AND n.label = 'APICall' AND n.id = e.dst
WHERE e.src_label = ? AND e.src IN ({{marks}}) AND e.type IN ({_PATH_SQL})
ORDER BY e.src, e.type, e.dst_label, e.dst
"""
"""Nodes' trace-path edges, each target's time and account, and whether it is inner: not a leaf
call (it is no call with a record, or a trace-path edge leaves it). No other trace-path edge enters a
call one enters: the linker keeps one into each node (twins.path_in_edge)."""
_READ_CACHE = -16384
"""16 MB of pages: a query reads each page about once, and the OS caches the file anyway."""
_WRITE_CACHE = -131072
"""128 MB, from the first write on: a load's batches keep their index pages in memory."""
_ATTRIBUTE_CHUNK = 2_000
_log = logging.getLogger(__name__)
_KNOWN_MAX = 200_000
"""Entries each of `_known` and `_known_edges` keep (the oldest go first): ~100 MB."""
_STRUCTURAL = frozenset(t for t in EDGE_TYPES if t not in _REPLACED)
"""Edge types only records write (never derived, never deleted)."""


def _groups(label: str, props: Props) -> list[tuple[str, str]]:
    """The linker groups a node is a fact of, as (lookup field, value): a session's slot; a call's
    issuing slot, its session's slot if it is a console SwitchRole, and its sharedEventID."""
    found: list[tuple[str, str]] = []
    if label == "Session":
        slot = props.get("slot")
        if isinstance(slot, str):
            found.append(("slot", slot))
    elif label == "APICall":
        slot = props.get("issuedSlot")
        if isinstance(slot, str):
            found.append(("issuedSlot", slot))
        slot = props.get("actorSlot")
        if isinstance(slot, str) and isinstance(props.get("switchFrom"), str):
            found.append(("actorSlot", slot))
        shared = props.get("sharedEventId")
        if isinstance(shared, str):
            found.append(("sharedEventId", shared))
        for field in ("callerPrincipalId", "issuedPrincipalId", "issuerActor"):
            principal = props.get(field)
            if isinstance(principal, str):
                found.append((field, principal))
        found.extend(_hour_lookups(props))
    return found


def _hour_lookups(props: Props) -> list[tuple[str, str]]:
    caller = caller_key(props)
    return [("issuedHour", k) for k in issued_keys(props)] + ([("callerHour", caller)] if caller else [])


_GROUPED = frozenset({"Session", "APICall"})


class _Dirty:
    """The linker groups whose facts a transaction changed."""

    def __init__(self) -> None:
        self.slots: set[str] = set()
        self.shared: set[str] = set()

    def add(self, groups: list[tuple[str, str]]) -> None:
        for f, value in groups:
            if f in ("callerHour", "issuedHour"):
                self.shared.add(PRINCIPAL_GROUP + value)
            elif f in ("slot", "issuedSlot", "actorSlot"):
                self.slots.add(value)
            elif f == "sharedEventId":
                self.shared.add(value)
            # issuerActor (attribution), callerPrincipalId and issuedPrincipalId (reads) are no groups


LOOKUP_FIELDS = (
    "slot",
    "issuedSlot",
    "actorSlot",
    "sharedEventId",
    "callerPrincipalId",
    "issuedPrincipalId",
    "callerHour",
    "issuedHour",
    "issuerActor",
)
"""Properties the linker looks nodes up by (see `_groups`), kept in their own indexed table (exact, any
characters). `actorSlot` only matters to the linker on console SwitchRole calls: only those are kept."""
_ADD_LOOKUP = "INSERT OR IGNORE INTO lookups (field, value, label, id) VALUES (?, ?, ?, ?)"
_HOUR_LOOKUPS = 2
"""`PRAGMA user_version` from which the store has callerHour and issuedHour lookups (vouching.py)."""
_KEPT_CALLS = 4
"""`PRAGMA user_version` from which every session keeps its calls (`attribution.kept_calls`; from 3,
without `sharedCalls`)."""


def _edge_props(g: nx.MultiDiGraph, props: str) -> dict[str, Any]:
    """An edge's properties as `g` keeps them: only those its queries read, if it names them."""
    found: dict[str, Any] = orjson.loads(props)
    if "edges_only" in g.graph:
        return {k: found[k] for k in g.graph["edges_only"] if k in found}
    return found


def _dumps(props: dict[str, Any]) -> str:
    return orjson.dumps(props).decode()


def _chunks(items: list[Any]) -> list[list[Any]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


class _PathsBack:
    """Paths back from sessions, read by indexed steps into one graph for a whole re-attribution: the
    sessions a link re-decides share their upper paths (one user, one chain), read once. Safe because
    re-attribution writes only kept properties and BEHIND edges, which no path reads."""

    def __init__(self, store: EmbeddedStore) -> None:
        self.store, self.g, self.expanded = store, nx.MultiDiGraph(), set[str]()

    def path(self, key: str) -> list[dict[str, Any]]:
        """The nodes from a session's origin to the session."""
        from trailgraph.twins import walk_back

        if key not in self.g:
            self.store._add_node(self.g, key)
        self.store._add_paths_back(self.g, key, self.expanded)
        keys, _rels = walk_back(self.g, key)
        return [dict(self.g.nodes[k]) for k in keys]


class _ReadLeaves:
    """The leaf calls `EmbeddedStore.reach` kept lean, by the node before each, their records read on
    demand."""

    def __init__(self, store: EmbeddedStore) -> None:
        self.store, self.by = store, dict[str, list[Leaf]]()

    def of(self, node: str) -> list[Leaf]:
        return self.by.get(node, [])

    def performed(self, node: str) -> list[tuple[Any, Any]]:
        try:
            return self.store.performed_calls(node)
        except sqlite3.Error as exc:
            raise StoreError(self.store._explain(exc)) from exc

    def read(self, leaves: list[Leaf]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
        nodes: dict[str, dict[str, Any]] = {}
        edges: dict[str, dict[str, Any]] = {}
        try:
            for chunk in _chunks(sorted({leaf.id for leaf in leaves})):
                marks = ",".join("?" * len(chunk))
                for node_id, props in self.store.db.execute(
                    _NODES.format(label="APICall").format(marks=marks), chunk
                ):
                    d = orjson.loads(props)
                    kept = {k: d[k] for k in READ_BY_REACH if k in d}
                    nodes[node_id] = {"label": "APICall", "id": node_id, **kept}
                for node_id, t, props in self.store.db.execute(_PATH_INTO.format(marks=marks), chunk):
                    edges[node_id] = {"type": t, **orjson.loads(props)}
        except sqlite3.Error as exc:
            raise StoreError(self.store._explain(exc)) from exc
        return {leaf.id: (nodes[leaf.id], edges[leaf.id]) for leaf in leaves}


class EmbeddedStore:
    backend = "embedded"

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            # A load writes from its writer thread; the connection is never used by two threads at once.
            self.db = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute(f"PRAGMA cache_size={_READ_CACHE}")
            self.db.execute("PRAGMA temp_store=MEMORY")
            self._open_schema()
        except sqlite3.DatabaseError as exc:
            raise StoreError(self._explain(exc)) from exc
        self._graph: nx.MultiDiGraph | None = None
        self._known: dict[NodeRef, Props] = {}
        """Props of non-APICall nodes as stored when this connection last committed."""
        self._known_edges: dict[EdgeKey, None] = {}
        """Structural edges stored (with no props) when this connection last committed."""
        self._absent: set[str] = set()
        """APICall ids `digests` did not find, for the next write (which then forgets them)."""
        self._version: int | None = None
        self._attribute_unattributed()
        self._count_uncounted_calls()

    def _open_schema(self) -> None:
        tables = dict(self.db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
        self._legacy = False
        if "nodes" not in tables:
            self.db.executescript(_SCHEMA + _COMMON)
        else:
            self.db.executescript(_COMMON)
        for statement in (_KEY_OF_INDEX, *searched_indexes()):
            self.db.execute(statement)
        if "nodes" not in tables:
            self.db.execute(f"PRAGMA user_version = {_KEPT_CALLS}")
            return
        if "PRIMARY KEY (dst_label" not in (tables.get("edges") or ""):
            self._legacy = True
            self.db.execute(_LEGACY_EDGE_INDEX)
        if self.db.execute("PRAGMA user_version").fetchone()[0] < _HOUR_LOOKUPS:
            self._add_hour_lookups()

    def _attribute_unattributed(self) -> None:
        """Stores written before sessions kept their attribution get it now, once, a few thousand
        slots a transaction (queries read it: without it their answers would silently miss sessions)."""
        try:
            slots = sorted(
                {
                    slot
                    for (slot,) in self.db.execute(
                        f"SELECT {_json_prop('slot')} FROM nodes INDEXED BY nodes_session_depth "
                        f"WHERE label = 'Session' AND {_json_prop('depth')} IS NULL"
                    )
                    if isinstance(slot, str)
                }
            )
        except sqlite3.Error as exc:
            raise StoreError(self._explain(exc)) from exc
        if slots:
            _log.warning(
                "%s: keeping the attribution of the sessions of %d slots (once)", self.path, len(slots)
            )
        for i in range(0, len(slots), _ATTRIBUTE_CHUNK):
            self._tx(self._attribute, set(slots[i : i + _ATTRIBUTE_CHUNK]))

    def _count_uncounted_calls(self) -> None:
        """Stores written before sessions kept their calls (or `sharedCalls`) get them now, once (`map` and
        `gaps` read them)."""
        try:
            if self.db.execute("PRAGMA user_version").fetchone()[0] >= _KEPT_CALLS:
                return
            ids = [i for (i,) in self.db.execute("SELECT id FROM nodes WHERE label = 'Session'")]
            if ids:
                _log.warning("%s: keeping the calls of %d sessions (once)", self.path, len(ids))
            for i in range(0, len(ids), _ATTRIBUTE_CHUNK * 10):
                self._tx(self._keep_calls, set(ids[i : i + _ATTRIBUTE_CHUNK * 10]))
            self.db.execute(f"PRAGMA user_version = {_KEPT_CALLS}")
        except sqlite3.Error as exc:
            raise StoreError(self._explain(exc)) from exc

    def _add_hour_lookups(self) -> None:
        """Stores written before principal groups were hourly get the hour lookups of their calls."""
        self.db.execute("BEGIN IMMEDIATE")
        rows = self.db.execute(
            "SELECT n.props, n.id FROM nodes n WHERE n.label = 'APICall' AND n.id IN (SELECT id FROM lookups "
            "WHERE label = 'APICall' AND field IN ('callerPrincipalId', 'issuedPrincipalId'))"
        ).fetchall()
        lookups = [(f, v, "APICall", i) for props, i in rows for f, v in _hour_lookups(orjson.loads(props))]
        self.db.executemany(_ADD_LOOKUP, lookups)
        self.db.execute(f"PRAGMA user_version = {_HOUR_LOOKUPS}")
        self.db.execute("COMMIT")

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

    # ---- writing ----------------------------------------------------------------------------------

    def _tx(self, work: Any, *args: Any) -> Any:
        try:
            self.db.execute(f"PRAGMA cache_size={_WRITE_CACHE}")
            self.db.execute("BEGIN IMMEDIATE")
            version = self.db.execute("PRAGMA data_version").fetchone()[0]
            if version != self._version:
                self._forget()  # another connection committed: what we knew may be stale
            trim_oldest(self._known, _KNOWN_MAX)
            trim_oldest(self._known_edges, _KNOWN_MAX)
            self._version = version
            result = work(*args)
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._forget()
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise StoreError(self._explain(exc)) from exc
        except BaseException:
            self._forget()
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        finally:
            self._graph = None
            self._absent = set()
        return result

    def _forget(self) -> None:
        self._known = {}
        self._absent = set()
        self._known_edges = {}

    def _stored_props(self, refs: list[NodeRef]) -> dict[NodeRef, str]:
        by_label: dict[str, list[str]] = {}
        for label, node_id in refs:
            by_label.setdefault(label, []).append(node_id)
        found: dict[NodeRef, str] = {}
        for label, ids in by_label.items():
            for chunk in _chunks(ids):
                marks = ",".join("?" * len(chunk))
                for node_id, props in self.db.execute(
                    f"SELECT id, props FROM nodes WHERE label = ? AND id IN ({marks})", [label, *chunk]
                ):
                    found[(label, node_id)] = props
        return found

    def _merge_nodes(self, nodes: dict[NodeRef, Props], dirty: _Dirty | None = None) -> set[str]:
        """Merge props over the stored ones (`json_patch` semantics: facts hold no nulls or objects) and
        write only what changes; note in `dirty` the linker groups of every node that changed. Returns
        the ids of the APICall nodes that were new."""
        known, absent = self._known, self._absent
        stored = self._stored_props(
            [ref for ref in nodes if ref not in known and (ref[0] != "APICall" or ref[1] not in absent)]
        )
        inserts: list[tuple[str, str, str]] = []
        updates: list[tuple[str, str, str]] = []
        lookups: list[tuple[str, str, str, str]] = []
        new_calls: set[str] = set()
        loads, dumps = orjson.loads, orjson.dumps
        for ref, props in nodes.items():
            label = ref[0]
            old = known.get(ref)
            if old is None:
                old_text = stored.get(ref)
                if old_text is not None:
                    old = loads(old_text)
            if old is None:
                merged = props
                inserts.append((label, ref[1], dumps(props).decode()))
                if label == "APICall":
                    new_calls.add(ref[1])
                    absent.discard(ref[1])
                else:
                    known[ref] = merged
            else:
                merged = {**old, **props}
                if merged == old:
                    if label != "APICall":
                        known[ref] = old
                    continue
                updates.append((dumps(merged).decode(), label, ref[1]))
                if label != "APICall":
                    known[ref] = merged
                if dirty is not None and label in _GROUPED:
                    dirty.add(_groups(label, old))
            if label in _GROUPED:
                groups = _groups(label, merged)
                if groups:
                    if dirty is not None:
                        dirty.add(groups)
                    lookups.extend((f, v, label, ref[1]) for f, v in groups)
        if inserts:
            self.db.executemany(_INSERT_NODE, inserts)
        if updates:
            self.db.executemany(_UPDATE_NODE, updates)
        if lookups:
            self.db.executemany(_ADD_LOOKUP, lookups)
        return new_calls

    def _merge_edges(self, edges: dict[EdgeKey, Props]) -> None:
        known = self._known_edges
        rows = []
        for key, props in edges.items():
            if key in known and not props:
                continue  # a structural edge already stored: merging {} into it changes nothing
            t, s, d = key
            rows.append((t, s[0], s[1], d[0], d[1], props.get("group"), _dumps(props)))
            if t in _STRUCTURAL and not props:
                known[key] = None
        if rows:
            self.db.executemany(_MERGE_EDGE, rows)

    def _replace(self, groups: set[str], batch: GraphBatch) -> set[str]:
        """Drop the derived edges of these groups and merge the new decision, touching only the rows that
        differ: an edge decided again as it was is left alone (deleting and re-inserting it gives the
        same row). Returns the sessions whose PERFORMED edges it may have changed."""
        old: dict[EdgeKey, tuple[str | None, str]] = {}
        for chunk in _chunks(sorted(groups)):
            marks = ",".join("?" * len(chunk))
            for t, sl, s, dl, d, grp, props in self.db.execute(
                "SELECT type, src_label, src, dst_label, dst, grp, props FROM edges "
                f"WHERE grp IN ({marks}) AND type IN ({_REPLACED_SQL})",
                chunk,
            ):
                old[(t, (sl, s), (dl, d))] = (grp, props)
        deletes = [(t, s[0], s[1], d[0], d[1]) for (t, s, d) in old if (t, s, d) not in batch.edges]
        rewrites: list[tuple[Any, ...]] = []
        merges: dict[EdgeKey, Props] = {}
        for key, props in batch.edges.items():
            before = old.get(key)
            if before is None:
                merges[key] = props
            elif before[0] != props.get("group") or orjson.loads(before[1]) != props:
                t, s, d = key
                rewrites.append((props.get("group"), _dumps(props), t, s[0], s[1], d[0], d[1]))
        if deletes:
            self.db.executemany(_DELETE_EDGE, deletes)
        self._merge_nodes(batch.nodes)
        if rewrites:
            self.db.executemany(_UPDATE_EDGE, rewrites)
        self._merge_edges(merges)
        return to_count((), [*old, *batch.edges])

    def _keep_calls(self, sessions: set[str]) -> None:
        """Recount the kept call summary (`kept_calls`) of these sessions, those that have a node."""
        for chunk in _chunks(sorted(sessions)):
            sql = f"SELECT id FROM nodes WHERE label = 'Session' AND id IN ({','.join('?' * len(chunk))})"
            held = [f"Session:{i}" for (i,) in self.db.execute(sql, chunk)]
            calls = self._ends(held, "PERFORMED", False, "APICall", ("eventTime", "sharedEventId"))
            self._merge_nodes(
                {
                    ("Session", k.partition(":")[2]): kept_calls((t, g) for _c, t, g in calls.get(k, []))
                    for k in held
                }
            )

    def _add_calls(self, batch: GraphBatch, new_calls: set[str]) -> set[str]:
        """Keep the calls of the batch's sessions: a call new in this transaction adds to its session's
        kept calls (`add_calls`, off the batch). Returns the sessions whose PERFORMED edges changed some
        other way (an edge into a call the store held), to recount."""
        added: dict[str, list[Any]] = {}
        recount: set[str] = set()
        for t, src, dst in batch.edges:
            if t == "PERFORMED" and src[0] == "Session":
                if dst[1] in new_calls:
                    call = batch.nodes[dst]
                    added.setdefault(src[1], []).append((call.get("eventTime"), call.get("sharedEventId")))
                else:
                    recount.add(src[1])
        refs = [("Session", i) for i in to_count(batch.nodes, ()) | added.keys() if i not in recount]
        stored = self._stored_props([r for r in refs if r not in self._known])
        kept = {
            ref: add_calls(props, added.get(ref[1], []))
            for ref in refs
            if (props := self._known.get(ref) or (orjson.loads(stored[ref]) if ref in stored else None))
        }
        self._merge_nodes(kept)
        return recount

    def _ingest(self, batch: GraphBatch, slots: set[str], shared: set[str]) -> int:
        dirty = _Dirty()
        new = self._merge_nodes(batch.nodes, dirty)
        self._merge_edges(batch.edges)
        counted = self._add_calls(batch, new)
        if self._legacy:
            # Written by an earlier trailgraph, whose writes and re-links were separate transactions:
            # re-decide every group the batch touches, as it did.
            dirty.slots |= slots
            dirty.shared |= shared
        if dirty.slots or dirty.shared:
            facts = self.link_facts(dirty.slots, dirty.shared)
            counted |= self._replace(
                decided_groups(facts, dirty.slots, dirty.shared), link(facts, dirty.slots, dirty.shared)
            )
            self._attribute(attribution_slots(facts, dirty.slots, dirty.shared))
        self._keep_calls(counted)
        return len(new)

    def _attribute(self, slots: set[str]) -> None:
        """`attribute_levels`, reading paths back by indexed steps into one graph for the whole call."""
        read = _PathsBack(self)

        def paths(level: set[str]) -> list[tuple[list[dict[str, Any]], dict[str, Any]]]:
            sessions = self._select(_BY_LOOKUP.format(field="slot", label="Session"), sorted(level))
            return [(read.path(f"Session:{s['id']}"), s) for s in sessions]

        def write(batch: GraphBatch, changed: list[str]) -> None:
            self._replace({f"attr:{k.partition(':')[2]}" for k in changed}, batch)

        def issued_slots(changed: list[str]) -> set[str]:
            issued = self._select(_BY_LOOKUP.format(field="issuerActor", label="APICall"), changed)
            return {c["issuedSlot"] for c in issued if isinstance(c.get("issuedSlot"), str)}

        try:
            attribute_levels(slots, paths, write, issued_slots)
        finally:
            # networkx caches views that refer back to the graph: leave no cycle for the GC (load.py)
            vars(read.g).clear()

    def ingest(self, batch: GraphBatch, slots: set[str], shared: set[str]) -> int:
        """Merge the batch and re-decide, in the same transaction, every linker group whose facts it
        changed. A group the batch names but does not change keeps its decision: it was made, in an
        earlier transaction, from exactly the facts the group still has."""
        result: int = self._tx(self._ingest, batch, slots, shared)
        return result

    def write(self, batch: GraphBatch) -> int:
        """`ingest` re-deciding only the groups the batch changes (which keeps every decision current)."""
        return self.ingest(batch, set(), set())

    def _select(self, sql: str, keys: list[str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for chunk in _chunks(keys):
            marks = ",".join("?" * len(chunk))
            for node_id, props in self.db.execute(sql.format(marks=marks), chunk):
                item = orjson.loads(props)
                item["id"] = node_id
                found.append(item)
        return found

    def digests(self, call_ids: list[str]) -> dict[str, str | None]:
        """Also remembers the ids not found, so the batch asked about next inserts those calls without
        looking them up again (forgotten when another connection commits, and after the next write)."""
        found: dict[str, str | None] = {}
        for chunk in _chunks(call_ids):
            marks = ",".join("?" * len(chunk))
            for node_id, digest in self.db.execute(
                f"SELECT id, json_extract(props, '$.digest') FROM nodes WHERE label = 'APICall' "
                f"AND id IN ({marks})",
                chunk,
            ):
                found[node_id] = digest
        self._absent = {c for c in call_ids if c not in found}
        return found

    def link_facts(self, slots: set[str], shared: set[str]) -> LinkFacts:
        sql = (
            "SELECT n.id, n.props FROM lookups l JOIN nodes n ON n.label = l.label AND n.id = l.id "
            "WHERE l.field = '{field}' AND l.label = '{label}' AND l.value IN ({{marks}})"
        )

        def calls_by(field: str, keys: set[str]) -> list[dict[str, Any]]:
            return self._select(sql.format(field=field, label="APICall"), sorted(keys))

        wanted = wanted_hours(shared)
        named = {k for k in shared if not k.startswith(PRINCIPAL_GROUP)}
        every = {p for p, hours in wanted.items() if EVERY_HOUR in hours}
        hours = {f"{p}@{h}" for p, hs in wanted.items() for h in hs | {EVERY_HOUR}}
        vouched = [*calls_by("callerHour", hours), *calls_by("callerPrincipalId", every)]
        named |= {c["sharedEventId"] for c in vouched if isinstance(c.get("sharedEventId"), str)}
        calls: dict[str, dict[str, Any]] = {c["id"]: c for c in vouched}
        for field, keys in (("issuedSlot", slots), ("actorSlot", slots), ("sharedEventId", named)):
            for call in calls_by(field, keys):
                calls[call["id"]] = call
        # the issuances that may vouch for these copies: alive in their hours (every one where unknown)
        copies = {k for c in calls.values() if (k := caller_key(c))}
        timeless = {k.rpartition("@")[0] for k in copies if k.endswith("@" + EVERY_HOUR)}
        issued = copies | {f"{k.rpartition('@')[0]}@{EVERY_HOUR}" for k in copies}
        for call in [*calls_by("issuedHour", issued), *calls_by("issuedPrincipalId", timeless)]:
            calls[call["id"]] = call
        sessions = self._select(sql.format(field="slot", label="Session"), sorted(slots))
        return LinkFacts(calls=list(calls.values()), sessions=sessions)

    # ---- reading ----------------------------------------------------------------------------------

    def graph(self) -> nx.MultiDiGraph:
        """The whole store as a networkx graph: node key `Label:id`, edge key = edge type.

        Nodes are added in (label, id) order and edges in (type, source, target) order, whatever the
        file's layout, so every twin sees the same graph, adjacency order included."""
        if self._graph is None:
            g = nx.MultiDiGraph()
            try:
                for label, node_id, props in self.db.execute(
                    "SELECT label, id, props FROM nodes ORDER BY label, id"
                ):
                    g.add_node(f"{label}:{node_id}", label=label, id=node_id, **orjson.loads(props))
                for t, sl, s, dl, d, props in self.db.execute(
                    "SELECT type, src_label, src, dst_label, dst, props FROM edges "
                    "ORDER BY type, src_label, src, dst_label, dst"
                ):
                    g.add_edge(f"{sl}:{s}", f"{dl}:{d}", key=t, type=t, **orjson.loads(props))
            except sqlite3.Error as exc:
                raise StoreError(self._explain(exc)) from exc
            self._graph = g
        return self._graph

    def _add_node(self, g: nx.MultiDiGraph, key: str) -> None:
        label, _, node_id = key.partition(":")
        row = self.db.execute(
            "SELECT props FROM nodes WHERE label = ? AND id = ?", (label, node_id)
        ).fetchone()
        if row is None:
            g.add_node(key)  # an edge names it, no record did: the whole graph has it bare too
            return
        props = orjson.loads(row[0])
        if "only" in g.graph:
            props = {k: props[k] for k in g.graph["only"] if k in props}
        g.add_node(key, label=label, id=node_id, **props)

    def _add_in_edges(self, g: nx.MultiDiGraph, key: str) -> None:
        """A node's incoming edges, in the order the whole graph holds them. Only the first trace-path
        edge counts, and with one there is no order to keep; with several, every incoming edge is read,
        because the whole graph orders them by source, each source at its first edge of any type."""
        label, _, node_id = key.partition(":")
        sql = (
            "SELECT type, src_label, src, props FROM edges WHERE dst_label = ? AND dst = ? {only} "
            "ORDER BY type, src_label, src"
        )
        rows = self.db.execute(sql.format(only=f"AND type IN ({_PATH_SQL})"), (label, node_id)).fetchall()
        if len(rows) > 1:
            rows = self.db.execute(sql.format(only=""), (label, node_id)).fetchall()
        for t, sl, s, props in rows:
            src = f"{sl}:{s}"
            if src not in g:
                self._add_node(g, src)
            g.add_edge(src, key, key=t, type=t, **_edge_props(g, props))

    def trace_graph(self, event_id: str, limit: int = 40) -> nx.MultiDiGraph:
        """The part of the graph `trace` reads for this event id: its calls and their paths back."""
        from trailgraph.twins import path_in_edge

        g = nx.MultiDiGraph()
        expanded: set[str] = set()
        try:
            calls = self.db.execute(
                "SELECT id, props FROM nodes "
                "WHERE label = 'APICall' AND json_extract(props, '$.eventId') = ?",
                (event_id,),
            ).fetchall()
            for call_id, props in calls:
                g.add_node(f"APICall:{call_id}", label="APICall", id=call_id, **orjson.loads(props))
            for call_id, _props in calls:
                key = f"APICall:{call_id}"
                for _ in range(limit):
                    if key not in expanded:
                        expanded.add(key)
                        self._add_in_edges(g, key)
                    step = path_in_edge(g, key)
                    if step is None:
                        break
                    key = step[0]
        except sqlite3.Error as exc:
            raise StoreError(self._explain(exc)) from exc
        return g

    def _node_rows(self, sql: str, args: tuple[Any, ...]) -> list[tuple[str, str, str]]:
        return list(self.db.execute(sql, args))

    def start_nodes(self, principal: str) -> list[tuple[str, str, dict[str, Any]]]:
        """What the canned queries start from for `principal` (twins' `_starts`), by indexed reads:
        (label, id, props) of each start, and of the ExternalIdentity nodes and access key it came by."""
        found: dict[tuple[str, str], str] = {}

        def add(rows: list[tuple[str, str, str]]) -> None:
            found.update(((label, node_id), props) for label, node_id, props in rows)

        q = "SELECT label, id, props FROM nodes WHERE "
        add(self._node_rows(q + "label IN ('IAMUser','Root','Service','Session') AND id = ?", (principal,)))
        add(self._node_rows(q + "label = 'ExternalIdentity' AND id = ?", (principal,)))
        for prop in ("subject", "userId"):
            add(self._node_rows(q + f"label = 'ExternalIdentity' AND {_json_prop(prop)} = ?", (principal,)))
        user_ids = {principal}
        for (label, _id), props in list(found.items()):
            if label == "ExternalIdentity":
                user_id = orjson.loads(props).get("userId")
                if isinstance(user_id, str):
                    user_ids.add(user_id)
        for value in sorted(user_ids):
            add(self._node_rows(q + f"label = 'Session' AND {_json_prop('onBehalfOfUserId')} = ?", (value,)))
        add(self._node_rows(q + f"label = 'Session' AND {_json_prop('arn')} = ?", (principal,)))
        add(self._node_rows(q + "label = 'AccessKey' AND id = ?", (principal,)))
        for dst_label, dst in self.db.execute(
            "SELECT dst_label, dst FROM edges WHERE type = 'KEY_OF' AND src = ? AND src_label = 'AccessKey'",
            (principal,),
        ).fetchall():
            add(self._node_rows(q + "label = ? AND id = ?", (dst_label, dst)))
        return [(label, node_id, orjson.loads(props)) for (label, node_id), props in sorted(found.items())]

    def named(self, name: str) -> list[Row]:
        found: dict[tuple[str, str], str] = {}
        q = "SELECT label, id, props FROM nodes WHERE "
        lookups = [
            (q + "label IN ('IAMUser','Root','Service','ExternalIdentity','Session','AccessKey') AND id = ?"),
            *(
                q + f"label = '{n.label}' AND {_json_prop(prop)} = ?"
                for n in NODES
                if n.label in ("IAMUser", "ExternalIdentity", "Session")
                for prop in (*n.searched, *n.verbatim)
            ),
        ]
        try:
            for sql in lookups:
                for label, node_id, props in self.db.execute(sql + " LIMIT 1000", (name,)):
                    found[(label, node_id)] = props
            rows: list[Row] = []
            for (label, node_id), props in sorted(found.items())[:1000]:
                holders = []
                if label == "AccessKey":
                    holders = [
                        [dl, d]
                        for dl, d in self.db.execute(
                            "SELECT dst_label, dst FROM edges WHERE type = 'KEY_OF' AND src = ? "
                            "AND src_label = 'AccessKey' ORDER BY dst_label, dst",
                            (node_id,),
                        )
                    ]
                rows.append({**orjson.loads(props), "label": label, "id": node_id, "holders": holders})
        except sqlite3.Error as exc:
            raise StoreError(self._explain(exc)) from exc
        return rows

    def event_count(self) -> int:
        try:
            return int(self.db.execute("SELECT count(*) FROM nodes WHERE label = 'APICall'").fetchone()[0])
        except sqlite3.Error as exc:
            raise StoreError(self._explain(exc)) from exc

    def _expand_back(self, g: nx.MultiDiGraph, key: str, done: set[str]) -> None:
        """Every trace path into `key`, read edge by edge (indexed) into `g`."""
        from trailgraph.twins import _path_in

        stack = [key]
        while stack:
            node = stack.pop()
            if node in done:
                continue
            done.add(node)
            self._add_in_edges(g, node)
            stack.extend(src for src, _t, _d in _path_in(g, node))

    def role_graph(self, role: str, params: dict[str, Any]) -> nx.MultiDiGraph:
        """The part of the graph `who-used` reads: the roles of that ARN or name, their sessions, each
        session's paths back, and its calls if `call_span` reads them (in a time window; else the
        session keeps their count). The roles are few; the rest is read off the edge indexes."""
        from trailgraph.twins import counts_calls

        g = self._role_sessions(
            f"SELECT id, props FROM nodes WHERE label = 'Role' AND (id = ? OR {_json_prop('name')} = ?)",
            (role, role),
        )
        sessions = sorted(k for k in g.nodes if k.startswith("Session:"))
        for session in sessions:
            if counts_calls(g.nodes[session], params):
                self._add_out_edges(g, session, "PERFORMED")
            self._add_paths_back(g, session)
        return g

    def _role_sessions(self, sql: str, args: tuple[Any, ...]) -> nx.MultiDiGraph:
        """The roles the query selects, and their sessions (the SESSION_OF edges into each role)."""
        g = nx.MultiDiGraph()
        for node_id, props in self.db.execute(sql, args):
            g.add_node(f"Role:{node_id}", label="Role", id=node_id, **orjson.loads(props))
        for key in sorted(g.nodes):
            self._add_in_typed(g, key, "SESSION_OF")
        return g

    def _add_in_typed(self, g: nx.MultiDiGraph, key: str, *types: str) -> list[str]:
        """A node's incoming edges of these types (the edges' primary key), in the whole graph's order."""
        return self._add_typed(g, key, True, types)

    def map_members(self, params: dict[str, Any]) -> Iterator[MapMember]:
        """What `map` groups (twins' `map_members`), read without a graph: each role (of the account),
        its sessions a few hundred at a time with the calls they keep (or, given a window, their calls'
        times), the origins they keep (BEHIND), and the call that issued each with the role of the
        session that made it (or its cross-account copy). Memory stays with one chunk; the time grows
        with the sessions (and, in a window, their calls)."""
        from trailgraph.twins import call_span, counts_calls

        sql = "SELECT id, props FROM nodes WHERE label = 'Role'"
        account = params.get("account")
        args: tuple[Any, ...] = ()
        if account is not None:
            sql, args = f"{sql} AND {_json_prop('account')} = ?", (account,)
        names: dict[str, Any] = {}
        for role_id, role_props in self.db.execute(sql, args).fetchall():
            role = {"label": "Role", "id": role_id, **orjson.loads(role_props)}
            sessions = self._ends([f"Role:{role_id}"], "SESSION_OF", True, "Session").get(
                f"Role:{role_id}", []
            )
            for chunk in _chunks(sorted({s for s, *_ in sessions})):
                ids = [k.partition(":")[2] for k in chunk]
                marks = ",".join("?" * len(ids))
                rows = self.db.execute(_MAP_SESSIONS.format(marks=marks), ids).fetchall()
                issuing = {i: rest for i, *rest in self.db.execute(_ISSUING.format(marks=marks), ids)}
                props = {i: {"id": i, **orjson.loads(text)} for i, text, _o in rows}
                counted = [f"Session:{i}" for i, sd in props.items() if counts_calls(sd, params)]
                calls = self._ends(counted, "PERFORMED", False, "APICall", ("eventTime",))
                origins: dict[str, list[str]] = {}
                for session_id, _text, origin in rows:
                    kept = origins.setdefault(session_id, [])
                    if origin is not None:
                        kept.append(origin)
                        if origin not in names:
                            names[origin] = self._display(origin)
                for session_id, sd in props.items():
                    span = call_span(sd, (t for _c, t in calls.get(f"Session:{session_id}", [])), params)
                    named = [names[o] for o in origins[session_id]] or [None]
                    issued_by, from_role = issuing.get(session_id, (None, None))
                    yield role, {"label": "Session", **sd}, span, issued_by, from_role, named

    def _display(self, key: str) -> Any:
        """A principal's name in rows (twins' `display_name`), read off its node."""
        from trailgraph.twins import display_name

        label, _, node_id = key.partition(":")
        sql = "SELECT props FROM nodes WHERE label = ? AND id = ?"
        (props,) = self.db.execute(sql, (label, node_id)).fetchone()
        return display_name({"id": node_id, **orjson.loads(props)})

    def _add_out_edges(self, g: nx.MultiDiGraph, key: str, *types: str) -> list[str]:
        """A node's outgoing edges of these types (the edges' source index), in the whole graph's order."""
        return self._add_typed(g, key, False, types)

    def _add_typed(self, g: nx.MultiDiGraph, key: str, incoming: bool, types: tuple[str, ...]) -> list[str]:
        """`key`'s edges of these types, one way, into `g`; the nodes at their other ends, in order."""
        label, _, node_id = key.partition(":")
        here, there = ("dst", "src") if incoming else ("src", "dst")
        found = []
        for t, other_label, other, props in self.db.execute(
            f"SELECT type, {there}_label, {there}, props FROM edges WHERE {here}_label = ? AND {here} = ? "
            f"AND type IN ({','.join('?' * len(types))}) ORDER BY type, {there}_label, {there}",
            (label, node_id, *types),
        ):
            other_key = f"{other_label}:{other}"
            if other_key not in g:
                self._add_node(g, other_key)
            src, dst = (other_key, key) if incoming else (key, other_key)
            g.add_edge(src, dst, key=t, type=t, **_edge_props(g, props))
            found.append(other_key)
        return found

    def _add_paths_back(self, g: nx.MultiDiGraph, key: str, expanded: set[str] | None = None) -> None:
        """The trace path back from a node (each step's incoming edges, as `trace` reads them)."""
        from trailgraph.twins import path_in_edge

        done = set() if expanded is None else expanded
        step: str | None = key
        for _ in range(MAX_DEPTH):
            if step is None or step in done:
                break
            done.add(step)
            self._add_in_edges(g, step)
            found = path_in_edge(g, step)
            step = found[0] if found else None

    def _add_starts(self, g: nx.MultiDiGraph, principal: str) -> None:
        """The principal's start nodes, and the KEY_OF edges of its access key (what `_starts` reads)."""
        for label, node_id, props in self.start_nodes(principal):
            g.add_node(f"{label}:{node_id}", label=label, id=node_id, **props)
        access_key = f"AccessKey:{principal}"
        if access_key in g:
            for dst_label, dst in self.db.execute(
                "SELECT dst_label, dst FROM edges WHERE type = 'KEY_OF' AND src = ? "
                "AND src_label = 'AccessKey'",
                (principal,),
            ):
                g.add_edge(access_key, f"{dst_label}:{dst}", key="KEY_OF", type="KEY_OF")

    def reach(self, principal: str, paths_back: bool) -> tuple[nx.MultiDiGraph, _ReadLeaves]:
        """What `activity` and `timeline` read: the principal's start nodes, everything reachable forward
        from them on the trace path (off the edges' source index, in the order the whole graph holds
        it) and, for `timeline` (`paths_back`), the paths back from what was reached; the leaf calls are
        kept lean (`streamed.Leaf`) and read a chunk at a time as rows are written. It grows with the
        answer."""
        from trailgraph.twins import _starts

        g = nx.MultiDiGraph(only=READ_BY_REACH, edges_only=EDGES_READ_BY_REACH)
        leaves = _ReadLeaves(self)
        self._add_starts(g, principal)
        frontier = sorted(set(_starts(g, principal)) | set(_starts(g, principal, users_first=False)))
        reached = set(frontier)
        while frontier:
            found = self._add_out_bulk(g, frontier, leaves)
            frontier = sorted(set(found) - reached)
            reached.update(frontier)
        expanded: set[str] = set()
        for key in (
            sorted({k for k in reached if k.startswith("APICall:")} | set(leaves.by)) if paths_back else []
        ):
            self._add_paths_back(g, key, expanded)
        return g, leaves

    def _add_out_bulk(self, g: nx.MultiDiGraph, keys: list[str], leaves: _ReadLeaves) -> list[str]:
        """The nodes' trace-path edges, a few statements per thousand nodes: leaf calls go to `leaves`,
        every other target into `g` with its edge, in the whole graph's order (returned, to read on)."""
        found: list[str] = []
        by_label: dict[str, list[str]] = {}
        shared: dict[Any, Any] = {}  # one string per account and edge type
        for key in keys:
            label, _, node_id = key.partition(":")
            by_label.setdefault(label, []).append(node_id)
        for label, ids in sorted(by_label.items()):
            for chunk in _chunks(sorted(ids)):
                sql = _PATH_OUT.format(marks=",".join("?" * len(chunk)))
                for src, t, dst_label, dst, props, time, account, inner in self.db.execute(
                    sql, (label, *chunk)
                ):
                    src_key = f"{label}:{src}"
                    if not inner:
                        leaf = Leaf(dst, time, shared.setdefault(account, account), shared.setdefault(t, t))
                        leaves.by.setdefault(src_key, []).append(leaf)
                        continue
                    dst_key = f"{dst_label}:{dst}"
                    if dst_key not in g:
                        self._add_node(g, dst_key)
                    g.add_edge(src_key, dst_key, key=t, type=t, **_edge_props(g, props))
                    found.append(dst_key)
        return found

    def gap_members(self, params: dict[str, Any]) -> Iterator[GapMember]:
        """What `gaps` groups (twins' `gap_members`), read without a graph: the dead ends (cross-account
        callers, unknown callers, sessions of kept depth 0, off the label and depth indexes), the
        sessions behind each (BEHIND), their calls and the calls' copies, with a time and event id
        each, a few hundred dead ends at a time. With no window, a session's calls are what it keeps
        (`KeptCalls`), and the copies of those of a session that kept some with a sharedEventID are found
        on the edge indexes alone: no call is read. The time grows with the dead ends and sessions behind
        them (and, in a window, their calls)."""
        from trailgraph.twins import KeptCalls, kept_text, windowless

        q = "SELECT label, id, props FROM nodes WHERE "
        dead = {
            f"{label}:{node_id}": {"label": label, "id": node_id, **orjson.loads(props)}
            for label, node_id, props in [
                *self._node_rows(q + "label = 'AccountPrincipal'", ()),
                *self._node_rows(q + f"label = 'ExternalIdentity' AND {_json_prop('type')} = 'Unknown'", ()),
                *self._node_rows(q + f"label = 'Session' AND {_json_prop('depth')} = 0", ()),
            ]
        }
        ends = sorted(k for k, o in dead.items() if o["label"] != "Session" or o.get("complete") is False)
        for chunk in _chunks(ends):
            behind = self._ends(chunk, "BEHIND", False, "Session", ("creationDate", *CALLS))
            principals = [
                *((key, dead[key].get("creationDate"), *(dead[key].get(k) for k in CALLS)) for key in chunk),
                *(row for rows in behind.values() for row in rows),
            ]
            kept = {
                key: KeptCalls(key, count, kept_text(first), kept_text(last))
                for key, _at, count, first, last, _shared in principals
                if windowless(params) and key.startswith("Session:") and isinstance(count, int)
            }
            # only a call with a sharedEventID can have a copy: a session that kept 0 of them has none
            copying = [key for key, *_kept, shared in principals if key in kept and shared != 0]
            performed = self._lean_out(
                [p for p, *_ in principals if p not in kept], "PERFORMED", "APICall", "eventTime"
            )
            # the linker copies only calls of a sharedEventID group (link._link_copies)
            shared = [c for rows in performed.values() for c, _at, _e, group in rows if group is not None]
            copied = self._lean_out(shared, "COPIED_TO", "APICall", "eventTime")
            copies_of_kept = self._copies(copying)
            for key in chunk:
                o = dead[key]
                sessions = [(key, o.get("creationDate")), *((s, at) for s, at, *_ in behind.get(key, []))]
                for s, at in sessions:
                    if s.startswith("Session:"):
                        yield key, o, s, at, None
                    if s in kept:
                        if kept[s].count:
                            yield key, o, kept[s], kept[s].first, None
                        for c, t, e in copies_of_kept.get(s, []):
                            yield key, o, c, t, e
                        continue
                    for call, time, event_id, _group in performed.get(s, []):
                        yield key, o, call, time, event_id
                        for c, t, e, _g in copied.get(call, []):
                            yield key, o, c, t, e

    def _copies(self, sessions: list[str]) -> dict[str, list[tuple[Any, ...]]]:
        """The copies of these sessions' calls (PERFORMED, then COPIED_TO), found on the edge indexes:
        session -> [(the copy's key, its eventTime, its eventId)]. Only the copies' records are read."""
        found: dict[str, list[tuple[Any, ...]]] = {}
        for chunk in _chunks([k.partition(":")[2] for k in sessions]):
            for session, copy, time, event_id in self.db.execute(
                _COPIES.format(marks=",".join("?" * len(chunk))), chunk
            ):
                found.setdefault(f"Session:{session}", []).append((f"APICall:{copy}", time, event_id))
        return found

    def performed_calls(self, node: str) -> list[tuple[Any, Any]]:
        """(eventTime, eventId) of each call the node PERFORMED: a session's first call for `activity`
        and `timeline` rows without other evidence, and `gap_rows`' `read` of a kept session's calls."""
        label, _, node_id = node.partition(":")
        return list(self.db.execute(_PERFORMED_CALLS, (label, node_id)))

    def _lean_out(
        self, sources: list[str], etype: str, label: str, time: str
    ) -> dict[str, list[tuple[Any, ...]]]:
        """The `etype` edges out of `sources` to `label` nodes: source -> [(target, its `time`, its eventId,
        its sharedEventId)]."""
        return self._ends(sources, etype, False, label, (time, "eventId", "sharedEventId"))

    def _ends(
        self,
        keys: list[str],
        etype: str,
        incoming: bool,
        label: str | None = None,
        fields: tuple[str, ...] = (),
    ) -> dict[str, list[tuple[Any, ...]]]:
        """`keys`' `etype` edges one way, to nodes (of `label`, if given) that have a record:
        key -> [(the other end's key, *its `fields`)], a few statements per thousand keys (one each
        would cost more)."""
        here, there = ("dst", "src") if incoming else ("src", "dst")
        by_label: dict[str, list[str]] = {}
        for key in keys:
            key_label, _, node_id = key.partition(":")
            by_label.setdefault(key_label, []).append(node_id)
        columns = "".join(f", json_extract(n.props, '$.{f}')" for f in fields)
        found: dict[str, list[tuple[Any, ...]]] = {}
        for key_label, ids in sorted(by_label.items()):
            for chunk in _chunks(sorted(set(ids))):
                rows = self.db.execute(
                    f"SELECT e.{here}, e.{there}_label, e.{there}{columns} FROM edges e "
                    f"JOIN nodes n ON n.label = e.{there}_label AND n.id = e.{there} "
                    f"WHERE e.{here}_label = ? AND e.{here} IN ({','.join('?' * len(chunk))}) AND e.type = ?"
                    + ("" if label is None else f" AND e.{there}_label = ?"),
                    (key_label, *chunk, etype, *(() if label is None else (label,))),
                )
                for node_id, other_label, other, *values in rows:
                    found.setdefault(f"{key_label}:{node_id}", []).append((f"{other_label}:{other}", *values))
        return found

    def chains_graph(self, params: dict[str, Any]) -> nx.MultiDiGraph:
        """The part of the graph `chains` reads, in two steps. First the chain structure alone, in plain
        dicts, longest possible chains first (off the depth index), until `chains_settled`: who issued
        each session and when, up to its chain's first session, and the sessions' accounts; `chain_ends`
        picks the answer's chains from it. Then, for those chains only, the whole path back.

        A chain has as many hops as its last session's depth less its first's, and only a chain that
        starts at a dead end (kept depth 0, so the last keeps a Session as origin) has a first at depth
        0: a last of depth d has at most d hops if its origin is a Session, d - 1 otherwise. So `--limit
        50` reads the lasts that could have the most hops, level by level, until fifty chains at least
        as long as any unread one are known."""
        from trailgraph.twins import ChainLinks, chain_ends, chains_settled

        depth, origin = _json_prop("depth"), _json_prop("originLabel")
        top = self.db.execute(
            f"SELECT max({depth}) FROM nodes INDEXED BY nodes_session_depth WHERE label = 'Session'"
        ).fetchone()[0]
        links: ChainLinks = {}
        accounts: dict[str, Any] = {}
        hops = top if isinstance(top, int) else 0
        level = (
            f"SELECT id, {_json_prop('account')} FROM nodes INDEXED BY nodes_session_depth "
            "WHERE label = 'Session'"
        )
        while hops >= 1 and not chains_settled(links, accounts, params, hops + 1):
            found = self.db.execute(
                f"{level} AND {depth} = ? AND {origin} IS NOT 'Session' "
                f"UNION ALL {level} AND {depth} = ? AND {origin} = 'Session'",
                (hops + 1, hops),
            ).fetchall()
            accounts.update((f"Session:{node_id}", account) for node_id, account in found)
            frontier = [node_id for node_id, _account in found if f"Session:{node_id}" not in links]
            while frontier:
                frontier = self._issuers(frontier, links, accounts)
            hops -= 1
        g = nx.MultiDiGraph()
        expanded: set[str] = set()
        for _first, last in chain_ends(links, accounts, params):
            self._add_node(g, last)
            self._add_paths_back(g, last, expanded)
        return g

    def _issuers(
        self, ids: list[str], links: dict[str, tuple[str, Any]], accounts: dict[str, Any]
    ) -> list[str]:
        """Into `links`, the session whose call issued each of `ids` and that call's time (twins'
        `_issuer`); into `accounts`, the issuers'. Returns the issuers a session issued in turn."""
        from trailgraph.twins import chained

        above: list[str] = []
        for chunk in _chunks(ids):
            for session, time, parent, parent_depth, parent_origin, account in self.db.execute(
                "SELECT i.dst, json_extract(call.props, '$.eventTime'), p.src, "
                "json_extract(up.props, '$.depth'), json_extract(up.props, '$.originLabel'), "
                "json_extract(up.props, '$.account') "
                # CROSS JOIN keeps this order: left to itself, SQLite reads every edge of every session
                "FROM edges i CROSS JOIN nodes call ON call.label = 'APICall' AND call.id = i.src "
                "CROSS JOIN edges p ON p.dst_label = 'APICall' AND p.dst = i.src AND p.type = 'PERFORMED' "
                "AND p.src_label = 'Session' "
                "CROSS JOIN nodes up ON up.label = 'Session' AND up.id = p.src "
                f"WHERE i.dst_label = 'Session' AND i.dst IN ({','.join('?' * len(chunk))}) "
                "AND i.type = 'ISSUED' AND i.src_label = 'APICall'",
                chunk,
            ):
                key = f"Session:{parent}"
                links[f"Session:{session}"] = (key, time)
                accounts[key] = account
                if key not in links and chained({"depth": parent_depth, "originLabel": parent_origin}):
                    above.append(parent)
        return sorted(set(above))

    def key_graph(self, key_id: str) -> nx.MultiDiGraph:
        """The part of the graph `key` reads: the key, its holders, their paths back, and the calls made
        with that key (edges filtered on their accessKeyId: a user's other keys are not read)."""
        g = nx.MultiDiGraph()
        node = f"AccessKey:{key_id}"
        self._add_node(g, node)
        if "label" not in g.nodes[node]:
            return nx.MultiDiGraph()
        expanded: set[str] = set()
        for holder in self._add_out_edges(g, node, "KEY_OF"):
            self._add_paths_back(g, holder, expanded)
            label, _, holder_id = holder.partition(":")
            for dst_label, dst, props in self.db.execute(
                "SELECT dst_label, dst, props FROM edges WHERE src_label = ? AND src = ? "
                f"AND type = 'PERFORMED' AND {_json_prop('accessKeyId')} = ?",
                (label, holder_id, key_id),
            ):
                target = f"{dst_label}:{dst}"
                if target not in g:
                    self._add_node(g, target)
                g.add_edge(holder, target, key="PERFORMED", type="PERFORMED", **orjson.loads(props))
        return g

    def find_graph(self, params: dict[str, Any]) -> nx.MultiDiGraph:
        """The part of the graph `find` reads: its calls (newest first along the eventTime index, up to
        `limit` that match), the paths back from them, and the principal's start nodes."""
        from trailgraph.twins import _starts, find_match, origin_paths

        g = nx.MultiDiGraph()
        principal = params.get("principal")
        starts: set[str] | None = None
        if isinstance(principal, str):
            self._add_starts(g, principal)
            starts = set(_starts(g, principal))
        elif principal is not None:
            return g
        limit = 50 if params.get("limit") is None else params["limit"]
        if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
            return g
        since = params.get("since") if params.get("since") is not None else ""
        until = params.get("until") if params.get("until") is not None else "~"
        time = _json_prop("eventTime")
        where, args = _find_prefilter(params)
        index = "nodes_apicall_eventname" if _plain_name(params) else "nodes_apicall_eventtime"
        rows = self.db.execute(
            # INDEXED BY: newest first straight off the index (of one name's calls, or of all), so the
            # scan stops at `limit` matches (left to itself, SQLite sorts every call first)
            f"SELECT id, props FROM nodes INDEXED BY {index} WHERE label = 'APICall' "
            f"AND {time} >= ? AND {time} <= ? {where} ORDER BY {time} DESC, id DESC",
            (since, until, *args),
        )
        done: set[str] = set()
        kept = 0
        for call_id, text in rows:
            props = orjson.loads(text)
            if not find_match(props, params):
                continue
            key = f"APICall:{call_id}"
            g.add_node(key, label="APICall", id=call_id, **props)
            self._expand_back(g, key, done)
            if starts is not None and not any(k in starts for keys, _ in origin_paths(g, key) for k in keys):
                continue
            kept += 1
            if kept >= limit:
                break
        rows.close()
        return g

    def _part(self, query: str, params: dict[str, Any]) -> nx.MultiDiGraph:
        """The part of the graph a query's answer needs, read off the indexes (never the whole store)."""
        text = {k: v for k, v in params.items() if isinstance(v, str)}
        if query == "find":
            return self.find_graph(params)
        if query == "chains":
            return self.chains_graph(params)
        if query == "key" and "accessKeyId" in text:
            return self.key_graph(text["accessKeyId"])
        if query == "who-used" and "roleArn" in text:
            return self.role_graph(text["roleArn"], params)
        if query == "trace" and "eventId" in text:
            return self.trace_graph(text["eventId"])
        return nx.MultiDiGraph()  # a missing or non-text start matches nothing on any engine

    def run(self, query: str, params: dict[str, Any]) -> Sequence[Row]:
        from trailgraph.twins import activity, gap_rows, map_rows, run_twin, timeline

        try:
            if query in ("activity", "timeline"):
                principal = params.get("principal")
                back = query == "timeline"  # activity only walks forward
                g, leaves = (
                    self.reach(principal, back) if isinstance(principal, str) else (nx.MultiDiGraph(), None)
                )
                return (activity if query == "activity" else timeline)(g, params, leaves or NO_LEAVES)
            if query == "gaps":
                return gap_rows(self.gap_members(params), params, self.performed_calls)
            if query == "map":
                return map_rows(self.map_members(params), params)
            return run_twin(self._part(query, params), query, params)
        except sqlite3.Error as exc:
            raise StoreError(self._explain(exc)) from exc

    def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        try:
            nodes = dict(self.db.execute("SELECT label, count(*) FROM nodes GROUP BY label ORDER BY label"))
            edges = dict(self.db.execute("SELECT type, count(*) FROM edges GROUP BY type ORDER BY type"))
        except sqlite3.Error as exc:
            raise StoreError(self._explain(exc)) from exc
        return nodes, edges

    def close(self) -> None:
        self.db.close()
