"""The fast load paths give the graph the plain ones give: worker processes, extraction straight into the
batch, the remembered actor facts, the embedded store's indexed trace and changed-only re-linking, stores
in the earlier file layout, and the CSV export for neo4j-admin."""

from __future__ import annotations

import gzip
import random
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.builders import assume_role, call, role_session_identity, user_identity
from tests.conftest import CORPORA, load_paths
from tests.lineage_helpers import load_records, trace_one
from tests.test_evidence_rules import _through_missing_middle
from trailgraph import extract as extract_module
from trailgraph.bulk import EMPTY_LISTS, export_csv, read_csv
from trailgraph.extract import (
    _HUMAN_TIME_FORMATS,
    Extracted,
    check,
    extract,
    extract_into,
    normalize_expiration,
)
from trailgraph.facts import GraphBatch
from trailgraph.load import load_blobs
from trailgraph.records import Parsed, parse_blob
from trailgraph.simulate import SimConfig, simulate
from trailgraph.sources.blob import Blob
from trailgraph.sources.files import expand, iter_file_blobs
from trailgraph.store.base import StoreError
from trailgraph.store.embedded import EmbeddedStore
from trailgraph.store.neo4j import Neo4jStore
from trailgraph.tracing import trace_events
from trailgraph.twins import run_twin


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("org")
    simulate(SimConfig(seed=5, events=6_000, days=1), out)
    return out / "AWSLogs"


def dump(store: EmbeddedStore) -> tuple[dict[str, Any], dict[str, Any]]:
    nodes = {
        f"{lb}:{i}": orjson.loads(p) for lb, i, p in store.db.execute("SELECT label, id, props FROM nodes")
    }
    edges = {
        f"{t}|{sl}:{s}|{dl}:{d}": (g, orjson.loads(p))
        for t, sl, s, dl, d, g, p in store.db.execute(
            "SELECT type, src_label, src, dst_label, dst, grp, props FROM edges"
        )
    }
    return nodes, edges


def records_of(root: Path) -> list[dict[str, Any]]:
    return [
        item.record
        for blob in iter_file_blobs(expand([str(root)]))
        if isinstance(blob, Blob)
        for item in parse_blob(blob)
        if isinstance(item, Parsed)
    ]


def test_workers_load_the_same_graph_as_one_process(org: Path, tmp_path: Path) -> None:
    plain = EmbeddedStore(tmp_path / "plain.db")
    a = load_blobs(plain, iter_file_blobs(expand([str(org), str(CORPORA)])))
    parallel = EmbeddedStore(tmp_path / "parallel.db")
    b = load_blobs(parallel, iter_file_blobs(expand([str(org), str(CORPORA)])), workers=2)
    assert a.as_dict() == b.as_dict()
    assert dump(plain) == dump(parallel)


def test_small_batches_written_behind_extraction_give_the_one_batch_graph(tmp_path: Path) -> None:
    # Without re-delivered copies: a copy in a later batch merges its props again (last write wins), so
    # with copies a few last-seen props (an Identity Center user's provider) follow the batch size.
    simulate(SimConfig(seed=5, events=4_000, days=1, duplicates=False), tmp_path / "org")
    trail = str(tmp_path / "org" / "AWSLogs")
    whole = EmbeddedStore(tmp_path / "whole.db")
    load_blobs(whole, iter_file_blobs(expand([trail])), batch_records=1_000_000)
    small = EmbeddedStore(tmp_path / "small.db")
    summary = load_blobs(small, iter_file_blobs(expand([trail])), batch_records=300)
    assert summary.loaded == whole.counts()[0]["APICall"]
    assert dump(small) == dump(whole)


class _FailingStore(EmbeddedStore):
    """Refuses its second batch, as a full disk or a lost server would."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.batches = 0

    def ingest(self, batch: GraphBatch, slots: set[str], shared: set[str]) -> int:
        self.batches += 1
        if self.batches == 2:
            raise StoreError("disk full")
        return super().ingest(batch, slots, shared)


def test_a_batch_the_writer_thread_fails_stops_the_load_with_that_error(org: Path, tmp_path: Path) -> None:
    store = _FailingStore(tmp_path / "fail.db")
    with pytest.raises(StoreError, match="disk full"):
        load_blobs(store, iter_file_blobs(expand([str(org)])), batch_records=500)
    assert store.batches == 2  # nothing was written after the failure
    assert store.counts()[0]["APICall"] <= 500  # only the first batch committed


def test_a_blob_repeating_a_batched_event_is_redone_record_by_record(tmp_path: Path) -> None:
    """First copy in a batch wins, with or without workers: the second blob's copy (other content, so a
    reported conflict) is redone here."""
    alice = user_identity("111111111111", "alice")
    first = call(alice, "2024-03-01T10:00:00Z", userAgent="first")
    second = dict(first, userAgent="second")
    blobs = [
        Blob("a.json", orjson.dumps({"Records": [first]})),
        Blob("b.json", orjson.dumps({"Records": [second]})),
    ]
    stores = []
    for workers in (0, 1):
        store = EmbeddedStore(tmp_path / f"w{workers}.db")
        summary = load_blobs(store, blobs, workers=workers)
        assert (summary.loaded, summary.duplicates, summary.rejected) == (1, 0, 1)
        assert [(p.source, p.index) for p in summary.problems] == [("b.json", 0)]
        stores.append(dump(store))
    assert stores[0] == stores[1]
    ((_, props),) = [(k, v) for k, v in stores[0][0].items() if k.startswith("APICall:")]
    assert props["userAgent"] == "first"


def test_extract_into_one_batch_equals_merging_each_record(org: Path) -> None:
    records = records_of(org)[:3000] + records_of(CORPORA)
    merged, direct = GraphBatch(), GraphBatch()
    slots: set[str] = set()
    shared: set[str] = set()
    want_slots: set[str] = set()
    want_shared: set[str] = set()
    for record in records:
        facts = extract(record)
        head = check(record)
        assert isinstance(facts, Extracted) == (not isinstance(head, str))
        if isinstance(facts, Extracted) and not isinstance(head, str):
            merged.merge(facts.batch)
            want_slots |= facts.slots
            want_shared |= facts.shared
            extract_into(record, head, direct, slots, shared)
    assert merged.nodes == direct.nodes and merged.edges == direct.edges
    assert [list(p) for p in merged.nodes.values()] == [list(p) for p in direct.nodes.values()]
    assert (slots, shared) == (want_slots, want_shared)


def test_remembered_actor_facts_equal_computed_ones(org: Path) -> None:
    records = records_of(org)[:2000] + records_of(CORPORA)
    extract_module._ACTOR_MEMO.clear()
    warm = [extract(r) for r in records]  # fills the memo while it goes
    replayed = [extract(r) for r in records]  # every actor from the memo
    for a, b in zip(warm, replayed, strict=True):
        if isinstance(a, Extracted):
            assert isinstance(b, Extracted)
            assert a.batch.nodes == b.batch.nodes and a.batch.edges == b.batch.edges
            assert (a.slots, a.shared) == (b.slots, b.shared)
        else:
            assert a == b


def test_expiration_fast_path_agrees_with_strptime() -> None:
    from datetime import datetime

    rng = random.Random(1)
    months, days, years = (
        ["Jan", "Sep", "Dec", "jan", "Foo"],
        ["1", "01", "29", "31", "32", "0"],
        ["2020", "2023"],
    )
    for _ in range(20_000):
        value = (
            f"{rng.choice(months)} {rng.choice(days)}, {rng.choice(years)}{rng.choice([',', ''])} "
            f"{rng.choice(['0', '1', '12', '13'])}:{rng.choice(['00', '59', '60'])}:"
            f"{rng.choice(['00', '59', '61'])} {rng.choice(['AM', 'PM', 'pm'])}"
        )
        expected = None
        for fmt in _HUMAN_TIME_FORMATS:
            try:
                expected = datetime.strptime(value, fmt).strftime("%Y-%m-%dT%H:%M:%SZ")
                break
            except ValueError:
                continue
        assert normalize_expiration(value) == expected, value


def test_embedded_trace_without_the_graph_equals_the_twin_on_the_whole_graph(
    org: Path, tmp_path: Path
) -> None:
    store = EmbeddedStore(tmp_path / "g.db")
    load_paths(store, org, CORPORA)
    ids = sorted({p["eventId"] for _, p in dump(store)[0].items() if "eventId" in p})
    fast = [store.run("trace", {"eventId": e}) for e in ids]
    assert store._graph is None  # answered without loading the graph
    graph = store.graph()
    assert fast == [run_twin(graph, "trace", {"eventId": e}) for e in ids]
    assert store.run("trace", {"eventId": "no-such-event"}) == []


def test_indexed_trace_keeps_the_whole_graphs_order_when_two_path_edges_meet(tmp_path: Path) -> None:
    """Forged copies of one call with different actors leave two PERFORMED edges into it."""
    t = "2024-03-01T10:00:00Z"
    base = call(user_identity("111111111111", "alice"), t)
    forged = dict(base, userIdentity=user_identity("111111111111", "mallory"))
    store = EmbeddedStore(tmp_path / "g.db")
    load_records(store, [base], "a.json")
    load_records(store, [forged], "b.json")
    fast = store.run("trace", {"eventId": base["eventID"]})
    assert fast == run_twin(store.graph(), "trace", {"eventId": base["eventID"]})


def test_re_linking_only_changed_groups_equals_re_linking_every_touched_group(
    org: Path, tmp_path: Path
) -> None:
    changed = EmbeddedStore(tmp_path / "changed.db")
    load_blobs(changed, iter_file_blobs(expand([str(org), str(CORPORA)])), batch_records=500)
    touched = EmbeddedStore(tmp_path / "touched.db")
    touched._legacy = True  # re-decides every group a batch touches, as the earlier layout does
    load_blobs(touched, iter_file_blobs(expand([str(org), str(CORPORA)])), batch_records=500)
    assert dump(changed) == dump(touched)


_LEGACY_SCHEMA = """
CREATE TABLE nodes (label TEXT NOT NULL, id TEXT NOT NULL, props TEXT NOT NULL,
    PRIMARY KEY (label, id)) WITHOUT ROWID;
CREATE TABLE edges (type TEXT NOT NULL, src_label TEXT NOT NULL, src TEXT NOT NULL,
    dst_label TEXT NOT NULL, dst TEXT NOT NULL, grp TEXT, props TEXT NOT NULL,
    PRIMARY KEY (type, src_label, src, dst_label, dst)) WITHOUT ROWID;
CREATE INDEX edges_grp ON edges (grp) WHERE grp IS NOT NULL;
CREATE TABLE lookups (field TEXT NOT NULL, value TEXT NOT NULL, label TEXT NOT NULL,
    id TEXT NOT NULL, PRIMARY KEY (field, value, label, id)) WITHOUT ROWID;
"""


def test_a_store_in_the_earlier_layout_is_read_and_extended(org: Path, tmp_path: Path) -> None:
    files = expand([str(org)])
    first, rest = files[: len(files) // 2], files[len(files) // 2 :]
    reference = EmbeddedStore(tmp_path / "ref.db")  # the same two loads (batch edges decide conflicts)
    load_blobs(reference, iter_file_blobs(first))
    load_blobs(reference, iter_file_blobs(rest))
    half = EmbeddedStore(tmp_path / "half.db")
    load_blobs(half, iter_file_blobs(first))
    legacy_path = tmp_path / "legacy.db"
    legacy = sqlite3.connect(legacy_path)
    legacy.executescript(_LEGACY_SCHEMA)
    legacy.executemany(
        "INSERT INTO nodes VALUES (?, ?, ?)", half.db.execute("SELECT label, id, props FROM nodes")
    )
    legacy.executemany(
        "INSERT INTO edges VALUES (?, ?, ?, ?, ?, ?, ?)",
        half.db.execute("SELECT type, src_label, src, dst_label, dst, grp, props FROM edges"),
    )
    legacy.executemany("INSERT INTO lookups VALUES (?, ?, ?, ?)", half.db.execute("SELECT * FROM lookups"))
    legacy.commit()
    legacy.close()
    store = EmbeddedStore(legacy_path)
    assert store._legacy
    some = next(iter(p["eventId"] for p in dump(store)[0].values() if "eventId" in p))
    assert store.run("trace", {"eventId": some}) == run_twin(half.graph(), "trace", {"eventId": some})
    load_blobs(store, iter_file_blobs(rest))
    assert dump(store) == dump(reference)


def test_a_store_from_before_hourly_principal_groups_gets_their_lookups(tmp_path: Path) -> None:
    records, _hop, use = _through_missing_middle("alice")
    path = tmp_path / "earlier.db"
    store = EmbeddedStore(path)
    load_records(store, records[:1], "identity.json")
    store.db.execute("DELETE FROM lookups WHERE field IN ('callerHour', 'issuedHour')")
    store.db.execute("PRAGMA user_version = 0")
    store.close()
    reopened = EmbeddedStore(path)
    load_records(reopened, records[1:], "prod.json")
    assert trace_one(reopened, use["eventID"])["origin"]["id"].endswith("user/alice")


def test_csv_export_holds_every_node_edge_and_property(org: Path, tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "g.db")
    load_paths(store, org, CORPORA)
    hostile = call(user_identity("111111111111", 'a"b,c\nd;e'), "2024-03-01T10:00:00Z", userAgent="")
    load_records(store, [hostile])
    out = export_csv(store, tmp_path / "csv")
    nodes, edges = dump(store)
    got_nodes: dict[str, Any] = {}
    for label, path in out.nodes.items():
        _header, rows = read_csv(path, out.array_delimiter)
        for row in rows:
            got_nodes[f"{label}:{row.pop('id')}"] = row
    got_edges: dict[str, Any] = {}
    for rel_type, paths in out.relationships.items():
        for path in paths:
            header, rows = read_csv(path, out.array_delimiter)
            src, dst = header[0][len(":START_ID(") : -1], header[1][len(":END_ID(") : -1]
            for row in rows:
                got_edges[f"{rel_type}|{src}:{row.pop('_start')}|{dst}:{row.pop('_end')}"] = row
    empties = [orjson.loads(line) for line in (out.out_dir / EMPTY_LISTS).read_bytes().splitlines()]
    for e in empties:
        got_edges[f"{e['type']}|{e['from']}:{e['s']}|{e['to']}:{e['d']}"][e["prop"]] = []
    assert got_nodes == nodes
    assert got_edges == {k: props for k, (_grp, props) in edges.items()}
    assert out.node_count == len(nodes) and out.relationship_count == len(edges)
    assert empties and out.empty_lists == len(empties)
    assert out.mixed == []
    args = out.admin_args()
    assert args[:4] == ["database", "import", "full", "neo4j"]
    assert sum(a.startswith("--nodes=") for a in args) == len(out.nodes)


def test_neo4j_store_object_reused_after_clear_writes_everything_again(
    neo4j_store: Neo4jStore, tmp_path: Path
) -> None:
    records = assume_role(
        user_identity("1", "alice"), "2024-03-01T10:00:00Z", "2", "ops", "s", "ASIAK0000001"
    )
    records.append(
        call(
            role_session_identity("2", "ops", "s", "ASIAK0000001", "2024-03-01T10:00:00Z"),
            "2024-03-01T10:01:00Z",
        )
    )
    load_records(neo4j_store, records)
    before = neo4j_store.counts()
    neo4j_store.clear()
    load_records(neo4j_store, records)  # the same store object: what it remembers writing is gone
    assert neo4j_store.counts() == before
    answers, _ = trace_events(neo4j_store, [records[-1]["eventID"]])
    assert answers[0]["complete"]


def test_gzip_blobs_through_workers(tmp_path: Path) -> None:
    records = assume_role(user_identity("1", "bob"), "2024-03-01T10:00:00Z", "2", "ops", "b", "ASIAK0000002")
    blob = Blob("x.json.gz", gzip.compress(orjson.dumps({"Records": records})))
    store = EmbeddedStore(tmp_path / "g.db")
    summary = load_blobs(store, [blob, blob], workers=1)
    assert (summary.records, summary.loaded, summary.duplicates) == (
        2 * len(records),
        len(records),
        len(records),
    )
