"""The schema is declared once; the docs and the Neo4j DDL come from it."""

from __future__ import annotations

from pathlib import Path

from trailgraph.schema import EDGES, NODES, schema_markdown
from trailgraph.store.neo4j import schema_statements

ROOT = Path(__file__).resolve().parents[1]


def test_committed_schema_doc_is_generated_from_the_declaration() -> None:
    assert (ROOT / "docs" / "schema.md").read_text(encoding="utf-8") == schema_markdown(), (
        "docs/schema.md is stale: run `trailgraph schema --write docs/schema.md`"
    )


def test_every_label_gets_a_uniqueness_constraint_and_every_indexed_property_an_index() -> None:
    ddl = "\n".join(schema_statements())
    for node in NODES:
        assert f"FOR (n:{node.label}) REQUIRE n.id IS UNIQUE" in ddl
        for prop in node.indexed:
            assert f"FOR (n:{node.label}) ON (n.{prop})" in ddl


def test_the_design_edges_exist() -> None:
    assert {"ASSUMED", "SWITCHED_FROM", "ISSUED", "PERFORMED"} <= {e.type for e in EDGES}
