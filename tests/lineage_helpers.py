"""Load records into a store and trace them: the round trip the rule tests share."""

from __future__ import annotations

from typing import Any

import orjson

from trailgraph.load import LoadSummary, load_blobs
from trailgraph.sources.blob import Blob
from trailgraph.store.base import GraphStore
from trailgraph.tracing import trace_events


def load_records(store: GraphStore, records: list[dict[str, Any]], name: str = "test.json") -> LoadSummary:
    return load_blobs(store, [Blob(name, orjson.dumps({"Records": records}))])


def trace_one(store: GraphStore, event_id: str) -> dict[str, Any]:
    answers, missing = trace_events(store, [event_id])
    assert not missing, f"{event_id} not found"
    assert len(answers) == 1
    answer: dict[str, Any] = answers[0]
    return answer
