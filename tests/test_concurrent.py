"""Many trace clients at once against Neo4j: no errors, and every answer equals the embedded one.

Throughput and latency are measured in bench/concurrent_trace.py, not here."""

from __future__ import annotations

import threading

import orjson

from tests.conftest import CORPORA, load_paths
from trailgraph.store.embedded import EmbeddedStore
from trailgraph.store.neo4j import Neo4jStore
from trailgraph.tracing import trace_events


def test_eight_clients_trace_concurrently_without_errors(
    neo4j_store: Neo4jStore, embedded_store: EmbeddedStore
) -> None:
    for store in (neo4j_store, embedded_store):
        load_paths(store, CORPORA / "stratus-red-team", CORPORA / "seed")
    ids = sorted(d["eventId"] for _, d in embedded_store.graph().nodes(data=True) if d["label"] == "APICall")
    expected = {i: orjson.dumps(trace_events(embedded_store, [i])) for i in ids}
    failures: list[str] = []

    def client(n: int) -> None:
        for event_id in ids[n::8]:
            try:
                got = orjson.dumps(trace_events(neo4j_store, [event_id]))
            except Exception as exc:  # collected and asserted below
                failures.append(f"{event_id}: {exc}")
                continue
            if got != expected[event_id]:
                failures.append(f"{event_id}: answer differs from the embedded store's")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) > 300
    assert failures == []
