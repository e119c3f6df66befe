"""`trace` on any store: run the canned trace query, interpret each path with trace.build_trace."""

from __future__ import annotations

from typing import Any

from trailgraph.store.base import GraphStore
from trailgraph.trace import build_trace


def trace_events(store: GraphStore, event_ids: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """Answers in the order asked (one per stored copy of each id), and the ids not found."""
    answers: list[dict[str, Any]] = []
    missing: list[str] = []
    for event_id in event_ids:
        rows = store.run("trace", {"eventId": event_id})
        if not rows:
            missing.append(event_id)
        for row in rows:
            nodes, rels = row["nodes"], row["rels"]
            answers.append(build_trace(nodes[-1], nodes, rels))
    return answers, missing
