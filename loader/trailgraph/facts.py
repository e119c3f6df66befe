"""Graph facts: what a record (or the linker) asserts, in the schema's vocabulary.

Facts are plain data, so the same batch can be written to Neo4j or to the embedded store, and
merged: writing a fact twice is the same as writing it once.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from trailgraph.schema import NODES

Props = dict[str, Any]
NodeRef = tuple[str, str]  # (label, id)
EdgeKey = tuple[str, NodeRef, NodeRef]  # (type, source, target)


MAX_KEY = 2048
"""Keys and indexed properties longer than this are cut and suffixed with a hash: Neo4j's range
indexes refuse values over ~8 KB, and only forged records carry such identifiers (AWS caps names at 64)."""
_INDEXED = frozenset(prop for n in NODES for prop in n.all_indexed())


def bounded(value: str) -> str:
    if len(value) <= MAX_KEY:
        return value
    return f"{value[:1024]}…#{hashlib.sha256(value.encode('utf-8', 'surrogatepass')).hexdigest()}"


def _ref(ref: NodeRef) -> NodeRef:
    return ref if len(ref[1]) <= MAX_KEY else (ref[0], bounded(ref[1]))


@dataclass
class GraphBatch:
    """Nodes and edges to merge. Later props for the same node or edge are merged over earlier ones."""

    nodes: dict[NodeRef, Props] = field(default_factory=dict)
    edges: dict[EdgeKey, Props] = field(default_factory=dict)

    def node(self, label: str, node_id: str, **props: Any) -> NodeRef:
        ref = (label, node_id if len(node_id) <= MAX_KEY else bounded(node_id))
        clean = {k: v for k, v in props.items() if v is not None}
        for k in _INDEXED.intersection(clean):
            v = clean[k]
            if isinstance(v, str) and len(v) > MAX_KEY:
                clean[k] = bounded(v)
        existing = self.nodes.get(ref)
        if existing is None:
            self.nodes[ref] = clean
        else:
            existing.update(clean)
        return ref

    def edge(self, edge_type: str, source: NodeRef, target: NodeRef, **props: Any) -> None:
        key = (edge_type, _ref(source), _ref(target))
        clean = {k: v for k, v in props.items() if v is not None}
        existing = self.edges.get(key)
        if existing is None:
            self.edges[key] = clean
        else:
            existing.update(clean)

    def merge(self, other: GraphBatch) -> None:
        for ref, props in other.nodes.items():
            self.node(ref[0], ref[1], **props)
        for (t, s, d), props in other.edges.items():
            self.edge(t, s, d, **props)

    def absorb(self, other: GraphBatch) -> None:
        """`merge` for a batch built by `node`/`edge` (keys bounded, props clean): the same result, and
        `other`'s dicts may be taken over, so `other` must not be used afterwards."""
        merge_props(self.nodes, other.nodes.items(), copy=False)
        merge_props(self.edges, other.edges.items(), copy=False)

    def __len__(self) -> int:
        return len(self.nodes) + len(self.edges)


def merge_props(into: dict[Any, Props], items: Iterable[tuple[Any, Props]], *, copy: bool) -> None:
    """Merge each (key, props) over what `into` holds for that key: the batch's merge, without `node`'s
    cleaning. `copy=False` takes the given dicts over (their owner must not use them afterwards)."""
    for key, props in items:
        existing = into.get(key)
        if existing is not None:
            existing.update(props)
        else:
            into[key] = dict(props) if copy else props


def trim_oldest(cache: dict[Any, Any], limit: int) -> None:
    """Keep a cache bounded: past `limit` entries, drop the oldest ones down to half of it."""
    if len(cache) > limit:
        for key in list(itertools.islice(cache, len(cache) - limit // 2)):
            del cache[key]
