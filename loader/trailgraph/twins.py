"""The embedded twins of the canned queries: the same rows as the .cypher files, computed with networkx.

Node keys in the graph are `Label:id`; node attributes are the stored properties plus `label` and `id`;
edge keys are the edge type. Each twin documents nothing new: its .cypher file is the specification.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import networkx as nx

from trailgraph.schema import TRACE_PATH_TYPES

Row = dict[str, Any]
Twin = Callable[[nx.MultiDiGraph, dict[str, Any]], list[Row]]

_PATH = frozenset(TRACE_PATH_TYPES)


def node_map(g: nx.MultiDiGraph, key: str) -> dict[str, Any]:
    return dict(g.nodes[key])


def path_in_edge(g: nx.MultiDiGraph, key: str) -> tuple[str, dict[str, Any]] | None:
    """The one trace-path edge into a node (the linker keeps it unique), or None at an origin."""
    for src, _dst, etype, data in g.in_edges(key, keys=True, data=True):
        if etype in _PATH:
            return src, data
    return None


def walk_back(g: nx.MultiDiGraph, key: str, limit: int = 40) -> tuple[list[str], list[dict[str, Any]]]:
    """Node keys and edges from the origin to `key`, like `(origin)-[:PATH*0..40]->(key)`."""
    keys, rels = [key], []
    while len(rels) < limit:
        step = path_in_edge(g, keys[-1])
        if step is None:
            break
        keys.append(step[0])
        rels.append(step[1])
    return keys[::-1], rels[::-1]


def _calls_by_event_id(g: nx.MultiDiGraph, event_id: str) -> list[str]:
    return sorted(
        k for k, d in g.nodes(data=True) if d["label"] == "APICall" and d.get("eventId") == event_id
    )


def trace(g: nx.MultiDiGraph, params: dict[str, Any]) -> list[Row]:
    rows = []
    for call in _calls_by_event_id(g, params["eventId"]):
        keys, rels = walk_back(g, call)
        rows.append(
            {
                "callId": g.nodes[call]["id"],
                "nodes": [node_map(g, k) for k in keys],
                "rels": [dict(r) for r in rels],
            }
        )
    return rows


TWINS: dict[str, Twin] = {
    "trace": trace,
}


def run_twin(g: nx.MultiDiGraph, name: str, params: dict[str, Any]) -> list[Row]:
    return TWINS[name](g, params)
