"""The embedded store as CSV files for `neo4j-admin database import full`: Neo4j built offline.

For trails too large for a transactional load in the time you have: load (and link) into the embedded
store, which streams in bounded memory, export it here, and let neo4j-admin write the Neo4j store files
directly (no transactions, all cores). The result is the same graph the embedded store holds, which is
the graph a transactional Neo4j load gives (the tests compare them).

    python -m trailgraph.bulk export STORE.db OUT_DIR   # writes the CSVs, prints the import command
    neo4j-admin database import full ...                # server stopped
    python -m trailgraph.bulk finish OUT_DIR            # server started: indexes, empty lists

Files: `nodes-<Label>.csv` with `id:ID(<Label>)` (each label its own id space, like the uniqueness
constraints), and `rels-<TYPE>-<From>-<To>.csv` with `:START_ID(<From>)` and `:END_ID(<To>)`.
Properties are typed from the values stored: strings, booleans, integers (`depth`) and string lists
(`evidence`); a property whose values mix types is written as strings (and counted in the summary's
`mixed`).
Strings are always quoted, so an empty string stays an empty string and an absent property stays
absent. neo4j-admin cannot write an empty list (it reads an empty array cell as no property), so those
are listed in `empty-lists.jsonl` and set by `finish`, which also creates the constraints and indexes.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from trailgraph.schema import KEY
from trailgraph.store.embedded import EmbeddedStore
from trailgraph.store.neo4j import Neo4jStore

_DELIMITERS = (";", "|", "\x1f", "\x1e")
EMPTY_LISTS = "empty-lists.jsonl"
EMPTY_LISTS_PARTS = "empty-lists-part-*.jsonl"
"""The Spark path (trailgraph.spark) writes the empty lists in parts, one per partition."""


@dataclass
class Export:
    """What was written, and how to import it."""

    out_dir: Path
    nodes: dict[str, Path] = field(default_factory=dict)  # label -> file
    relationships: dict[str, list[Path]] = field(default_factory=dict)  # type -> files
    node_count: int = 0
    relationship_count: int = 0
    array_delimiter: str = ";"
    mixed: list[str] = field(default_factory=list)  # "Label.prop" written as strings
    empty_lists: int = 0  # list properties that are empty: neo4j-admin cannot write them, `finish` does
    seconds: float = 0.0

    def admin_args(self, database: str = "neo4j") -> list[str]:
        """Arguments for `neo4j-admin` (org.neo4j.cli.AdminTool) to build `database` from these files."""
        args = [
            "database",
            "import",
            "full",
            database,
            "--overwrite-destination=true",
            "--multiline-fields=true",
            f"--array-delimiter={self.array_delimiter}",
        ]
        args += [f"--nodes={label}={path}" for label, path in sorted(self.nodes.items())]
        for rel_type, paths in sorted(self.relationships.items()):
            args += [f"--relationships={rel_type}={path}" for path in paths]
        return args

    def as_dict(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir),
            "nodes": self.node_count,
            "relationships": self.relationship_count,
            "files": len(self.nodes) + sum(len(v) for v in self.relationships.values()),
            "array_delimiter": self.array_delimiter,
            "mixed": self.mixed,
            "empty_lists": self.empty_lists,
            "seconds": round(self.seconds, 2),
            "neo4j_admin": ["neo4j-admin", *self.admin_args()],
        }


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "string[]"
    return "string"


def _columns(
    rows: Iterator[tuple[str, str]], mixed: list[str], where: str
) -> tuple[list[str], dict[str, str]]:
    """Property names of one file, in first-seen order, and their CSV types."""
    kinds: dict[str, str] = {}
    for _key, props in rows:
        for k, v in orjson.loads(props).items():
            kind = _kind(v)
            seen = kinds.get(k)
            if seen is None:
                kinds[k] = kind
            elif seen != kind and seen != "string":
                kinds[k] = "string"
                mixed.append(f"{where}.{k}")
    return list(kinds), kinds


def _cell(value: Any, kind: str, delimiter: str) -> str | None:
    """A CSV cell; None for an absent property (written unquoted and empty: no property)."""
    if value is None:
        return None
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "long":
        return str(value)
    if kind == "string[]":
        return delimiter.join(value)
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()  # a value of another type where strings are expected


def csv_line(cells: Sequence[str | None]) -> str:
    """One CSV row (no newline): present values quoted, absent ones empty and unquoted."""
    return ",".join("" if c is None else '"' + c.replace('"', '""') + '"' for c in cells)


class _Writer:
    """CSV with every present value quoted and absent values empty and unquoted."""

    def __init__(self, path: Path) -> None:
        self.file = path.open("w", encoding="utf-8", newline="")

    def row(self, cells: list[str | None]) -> None:
        self.file.write(csv_line(cells))
        self.file.write("\n")

    def close(self) -> None:
        self.file.close()


def _delimiter(store: EmbeddedStore) -> str:
    """An array delimiter no list value contains (evidence lists are event ids)."""
    used: set[str] = set()
    for (props,) in store.db.execute("SELECT props FROM edges WHERE props LIKE '%[%'"):
        for v in orjson.loads(props).values():
            if isinstance(v, list):
                used.update(d for d in _DELIMITERS if any(d in str(x) for x in v))
    for d in _DELIMITERS:
        if d not in used:
            return d
    raise ValueError("every candidate array delimiter occurs in a list value")


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in name)


def export_csv(store: EmbeddedStore, out_dir: Path) -> Export:
    """Write the whole store as neo4j-admin CSV files under `out_dir` (created; files replaced)."""
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    result = Export(out_dir=out_dir)
    result.array_delimiter = delim = _delimiter(store)
    empties = (out_dir / EMPTY_LISTS).open("wb")
    db = store.db
    labels = [label for (label,) in db.execute("SELECT DISTINCT label FROM nodes ORDER BY label")]
    for label in labels:
        cols, kinds = _columns(
            db.execute("SELECT id, props FROM nodes WHERE label = ?", (label,)), result.mixed, label
        )
        cols = [c for c in cols if c != KEY]
        path = out_dir / f"nodes-{_safe(label)}.csv"
        w = _Writer(path)
        w.row([f"{KEY}:ID({label})", *(c if kinds[c] == "string" else f"{c}:{kinds[c]}" for c in cols)])
        for node_id, props in db.execute("SELECT id, props FROM nodes WHERE label = ?", (label,)):
            p = orjson.loads(props)
            w.row([node_id, *(_cell(p.get(c), kinds[c], delim) for c in cols)])
            result.node_count += 1
            for c in cols:
                if p.get(c) == [] and kinds[c] == "string[]":
                    empties.write(orjson.dumps({"label": label, "id": node_id, "prop": c}) + b"\n")
                    result.empty_lists += 1
        w.close()
        result.nodes[label] = path
    groups = db.execute(
        "SELECT DISTINCT type, src_label, dst_label FROM edges ORDER BY type, src_label, dst_label"
    ).fetchall()
    for rel_type, src_label, dst_label in groups:
        where = "WHERE type = ? AND src_label = ? AND dst_label = ?"
        key = (rel_type, src_label, dst_label)
        cols, kinds = _columns(
            ((s, p) for s, p in db.execute(f"SELECT src, props FROM edges {where}", key)),
            result.mixed,
            rel_type,
        )
        path = out_dir / f"rels-{_safe(rel_type)}-{_safe(src_label)}-{_safe(dst_label)}.csv"
        w = _Writer(path)
        w.row(
            [
                f":START_ID({src_label})",
                f":END_ID({dst_label})",
                *(c if kinds[c] == "string" else f"{c}:{kinds[c]}" for c in cols),
            ]
        )
        for src, dst, props in db.execute(f"SELECT src, dst, props FROM edges {where}", key):
            p = orjson.loads(props)
            w.row([src, dst, *(_cell(p.get(c), kinds[c], delim) for c in cols)])
            result.relationship_count += 1
            for c in cols:
                if p.get(c) == [] and kinds[c] == "string[]":
                    row = {
                        "type": rel_type,
                        "from": src_label,
                        "s": src,
                        "to": dst_label,
                        "d": dst,
                        "prop": c,
                    }
                    empties.write(orjson.dumps(row) + b"\n")
                    result.empty_lists += 1
        w.close()
        result.relationships.setdefault(rel_type, []).append(path)
    empties.close()
    result.seconds = time.perf_counter() - started
    return result


def finish(store: Neo4jStore, out_dir: Path) -> int:
    """After the import, with the server started: create the constraints and indexes, and set the
    empty list properties neo4j-admin cannot write (an empty array cell is read as no property).
    Returns how many were set."""
    store.ensure_schema()
    files = [out_dir / EMPTY_LISTS, *sorted(out_dir.glob(EMPTY_LISTS_PARTS))]
    rows = [orjson.loads(line) for f in files if f.exists() for line in f.read_bytes().splitlines() if line]
    groups: dict[tuple[str, ...], list[dict[str, str]]] = {}
    key: tuple[str, ...]
    for row in rows:
        if "label" in row:
            groups.setdefault(("node", row["label"], row["prop"]), []).append({"id": row["id"]})
        else:
            key = ("rel", row["type"], row["from"], row["to"], row["prop"])
            groups.setdefault(key, []).append({"s": row["s"], "d": row["d"]})
    for key, items in groups.items():
        names = [_name(k) for k in key[1:]]
        if key[0] == "node":
            label, prop = names
            query = f"UNWIND $rows AS row MATCH (n:{label} {{{KEY}: row.id}}) SET n.{prop} = []"
        else:
            rel_type, src, dst, prop = names
            query = (
                f"UNWIND $rows AS row MATCH (a:{src} {{{KEY}: row.s}})-[r:{rel_type}]->"
                f"(b:{dst} {{{KEY}: row.d}}) SET r.{prop} = []"
            )
        for i in range(0, len(items), 10_000):
            store.write_query(query, {"rows": items[i : i + 10_000]})
    return len(rows)


def _name(name: str) -> str:
    """A label, type or property name quoted for Cypher."""
    return "`" + name.replace("`", "``") + "`"


def read_csv(path: Path, array_delimiter: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Read one exported file back the way neo4j-admin reads it (for tests): the header, and rows of
    typed values without the absent properties. `:START_ID`/`:END_ID` come back as `_start`/`_end`."""
    rows_in = _quoted_rows(path.read_text(encoding="utf-8"))
    header = [cell for cell, _quoted in next(rows_in)]
    rows: list[dict[str, Any]] = []
    for raw in rows_in:
        row: dict[str, Any] = {}
        for name, (cell, quoted) in zip(header, raw, strict=True):
            if not quoted and cell == "":
                continue
            prop, _, kind = name.partition(":")
            if kind.startswith("START_ID"):
                row["_start"] = cell
            elif kind.startswith("END_ID"):
                row["_end"] = cell
            elif kind == "boolean":
                row[prop] = cell == "true"
            elif kind == "long":
                row[prop] = int(cell)
            elif kind == "string[]":
                row[prop] = cell.split(array_delimiter) if cell else []
            else:
                row[prop] = cell
        rows.append(row)
    return header, rows


def _quoted_rows(text: str) -> Iterator[list[tuple[str, bool]]]:
    """CSV rows with, per cell, whether it was quoted (csv.reader cannot tell "" from nothing)."""
    i, n = 0, len(text)
    while i < n:
        row: list[tuple[str, bool]] = []
        while True:
            if i < n and text[i] == '"':
                parts, j = [], i + 1
                while True:
                    k = text.index('"', j)
                    parts.append(text[j:k])
                    if k + 1 < n and text[k + 1] == '"':
                        parts.append('"')
                        j = k + 2
                        continue
                    i = k + 1
                    break
                row.append(("".join(parts), True))
            else:
                k = i
                while k < n and text[k] not in ",\n":
                    k += 1
                row.append((text[i:k], False))
                i = k
            if i < n and text[i] == ",":
                i += 1
                continue
            if i < n and text[i] == "\n":
                i += 1
            break
        yield row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m trailgraph.bulk", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="write the CSV files and print the neo4j-admin command")
    ex.add_argument("store", type=Path, help="the embedded store (SQLite file) to export")
    ex.add_argument("out_dir", type=Path, help="where to write the CSV files")
    ex.add_argument("--database", default="neo4j", help="database name for the printed import command")
    fin = sub.add_parser(
        "finish", help="after the import, server started: indexes and empty lists (NEO4J_URI etc.)"
    )
    fin.add_argument("out_dir", type=Path)
    args = ap.parse_args(argv)
    if args.command == "finish":
        import os

        store = Neo4jStore(
            os.environ.get("NEO4J_URI", "bolt://127.0.0.1:7687"),
            os.environ.get("NEO4J_USERNAME", "neo4j"),
            os.environ.get("NEO4J_PASSWORD", ""),
            os.environ.get("NEO4J_DATABASE"),
        )
        try:
            done = finish(store, args.out_dir)
        finally:
            store.close()
        sys.stdout.write(orjson.dumps({"empty_lists_set": done}).decode() + "\n")
        return 0
    if not args.store.exists():
        ap.error(f"{args.store} does not exist")
    store_in = EmbeddedStore(args.store)
    try:
        result = export_csv(store_in, args.out_dir)
    finally:
        store_in.close()
    summary = result.as_dict()
    summary["neo4j_admin"] = ["neo4j-admin", *result.admin_args(args.database)]
    sys.stdout.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stderr.write(
        "import with the Neo4j server stopped, then start it and run `python -m trailgraph.bulk finish "
        f"{shlex.quote(str(args.out_dir))}`:\n  "
        + " ".join(shlex.quote(a) for a in summary["neo4j_admin"])
        + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
