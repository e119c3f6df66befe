"""The linking core on Apache Spark: CloudTrail files or S3 in, `neo4j-admin database import` files out.

For trails one process cannot load (years of an organisation's CloudTrail): the rules of
`trailgraph load`, reused unchanged, as a map and group-bys that Spark runs across a cluster.

1. Each file is read, parsed and extracted on an executor (`load.extract_blob`: records.py, extract.py).
2. An eventID read by several files is kept from the first in source order (the order `load` reads
   them); the later copies count as duplicates, or are reported as conflicts.
3. The facts of every node and edge are merged property by property, a later file's value over an
   earlier one's: what the load's merges in file order give.
4. Each linker group is decided by `link.link`: a session slot with its sessions, issuances and console
   SwitchRoles; a sharedEventID group with the issuances of the principals its copies name that may
   have been alive when the copy was made (`vouching.alive_hours`).
5. Kept attribution (`attribution.kept_attribution`) of every session from its path back, on the
   driver, over the session-level graph: the sessions, the calls that issued them (and the copies and
   callers behind those), never the other calls. Driver memory grows with sessions, not events. Each
   session's kept calls (`attribution.kept_calls`) from its PERFORMED edges joined with their calls.
6. Partitioned CSV in bulk.py's format, plus the empty lists `python -m trailgraph.bulk finish` sets.

The imported graph is the one a transactional `trailgraph load` of the same files builds: every node,
relationship and property (tests/test_spark.py). See docs/spark.md for cluster commands.

    trailgraph spark-load PATHS --out DIR      # local mode, or under spark-submit (`entry`)
    python -m trailgraph.spark entry            # the script to give spark-submit
    python -m trailgraph.spark arrange DIR      # output written to S3/HDFS, copied to DIR: name the files
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import shutil
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from operator import add
from pathlib import Path
from typing import Any

import orjson

from trailgraph.attribution import MAX_DEPTH, kept_attribution, kept_calls
from trailgraph.bulk import _DELIMITERS, EMPTY_LISTS_PARTS, _cell, _kind, _safe, csv_line
from trailgraph.facts import GraphBatch, Props
from trailgraph.link import LinkFacts, link
from trailgraph.load import BlobFacts, LoadSummary, extract_blob
from trailgraph.records import Problem
from trailgraph.schema import KEY, TRACE_PATH_TYPES
from trailgraph.sources.blob import Blob
from trailgraph.sources.files import iter_file_blobs
from trailgraph.vouching import alive_hours, hour_of

Key = tuple[Any, ...]
"""A node `(label, id)` or an edge `(type, (label, id), (label, id))`."""
MANIFEST = "manifest.json"
_PATH = frozenset(TRACE_PATH_TYPES)
_LINKED, _ATTRIBUTED = 1 << 40, 1 << 41
"""Ranks of the linker's and the attribution's facts: after every file's (files rank by source order)."""


# ---- executors: pure functions of one source or one group ------------------------------------------


@dataclass(frozen=True)
class Reader:
    """How executors read a source name: a local path, or `s3://bucket/key` (boto3, default chain)."""

    profile: str | None = None
    endpoint_url: str | None = None

    def read(self, name: str) -> Blob | Problem:
        if name.startswith("s3://"):
            from trailgraph.sources.s3 import get_s3_object

            return get_s3_object(name, _s3_client(self.profile, self.endpoint_url))
        return next(iter(iter_file_blobs([name])))


@functools.cache
def _s3_client(profile: str | None, endpoint_url: str | None) -> Any:
    """One client per executor process (a client costs more to make than a small object to read)."""
    from trailgraph.sources.s3 import aws_config
    from trailgraph.sources.select import _session

    return _session(profile).client("s3", endpoint_url=endpoint_url, config=aws_config(4))


Extracted = tuple[int, str, BlobFacts | Problem]


def extract_source(order: int, name: str, reader: Reader, earlier: dict[str, tuple[str, str]]) -> Extracted:
    """One source's facts (or why it could not be read), skipping events `earlier` sources hold."""
    blob = reader.read(name)
    return (order, name, blob if isinstance(blob, Problem) else extract_blob(blob, earlier or None))


def later_copies(copies: Iterable[tuple[int, str, str]]) -> list[tuple[int, tuple[str, str]]]:
    """For one eventID read by several sources as (order, digest, where): each later source, with the
    first source's (digest, where)."""
    first, *rest = sorted(copies)
    return [(order, (first[1], first[2])) for order, _digest, _where in rest]


def fact_items(order: int, batch: GraphBatch) -> Iterator[tuple[Key, tuple[int, Props]]]:
    for ref, props in batch.nodes.items():
        yield ref, (order, props)
    for edge, props in batch.edges.items():
        yield edge, (order, props)


def merge_ranked(acc: dict[str, tuple[int, Any]], item: tuple[int, Props]) -> dict[str, tuple[int, Any]]:
    """Per property, the value of the highest rank (a later source): any grouping, the same answer."""
    rank, props = item
    for k, v in props.items():
        held = acc.get(k)
        if held is None or held[0] <= rank:
            acc[k] = (rank, v)
    return acc


def merge_accs(a: dict[str, tuple[int, Any]], b: dict[str, tuple[int, Any]]) -> dict[str, tuple[int, Any]]:
    for k, held in b.items():
        mine = a.get(k)
        if mine is None or mine[0] <= held[0]:
            a[k] = held
    return a


def _plain(acc: dict[str, tuple[int, Any]]) -> tuple[int, Props]:
    return max((r for r, _v in acc.values()), default=0), {k: v for k, (_r, v) in acc.items()}


def _with_id(key: Key, props: Props) -> Props:
    return {**props, "id": key[1]}


def slot_keys(key: Key, props: Props) -> list[tuple[str, tuple[str, Props]]]:
    """The session slots a node is a fact of (as store/embedded.py's lookups: `_groups`)."""
    label = key[0]
    if label == "Session" and isinstance(props.get("slot"), str):
        return [(props["slot"], ("s", _with_id(key, props)))]
    if label != "APICall":
        return []
    found = set()
    if isinstance(props.get("issuedSlot"), str):
        found.add(props["issuedSlot"])
    if isinstance(props.get("actorSlot"), str) and isinstance(props.get("switchFrom"), str):
        found.add(props["actorSlot"])
    return [(slot, ("c", _with_id(key, props))) for slot in sorted(found)]


def link_slot(slot: str, members: Iterable[tuple[str, Props]]) -> list[tuple[Key, tuple[int, Props]]]:
    calls = {p["id"]: p for kind, p in members if kind == "c"}
    sessions = {p["id"]: p for kind, p in members if kind == "s"}
    facts = LinkFacts(calls=list(calls.values()), sessions=list(sessions.values()))
    return list(fact_items(_LINKED, link(facts, {slot}, set())))


def link_shared(shared: str, calls: Iterable[Props]) -> list[tuple[Key, tuple[int, Props]]]:
    """A sharedEventID group: its copies and the issuances of the principals they name."""
    facts = LinkFacts(calls=list({c["id"]: c for c in calls}.values()), sessions=[])
    return list(fact_items(_LINKED, link(facts, set(), {shared})))


def of_one_record(key: Key) -> bool:
    """An APICall, or an edge into one (PERFORMED): only the call's own record writes it."""
    label: str = key[2][0] if is_edge(key) else key[0]
    return label == "APICall"


def merge_two(a: tuple[int, Props], b: tuple[int, Props]) -> tuple[int, Props]:
    low, high = (a, b) if a[0] <= b[0] else (b, a)
    return high[0], {**low[1], **high[1]}


def is_edge(key: Key) -> bool:
    return len(key) == 3


def file_of(key: Key) -> str:
    if is_edge(key):
        return f"rels-{_safe(key[0])}-{_safe(key[1][0])}-{_safe(key[2][0])}"
    return f"nodes-{_safe(key[0])}"


def scan_items(key: Key, props: Props) -> Iterator[tuple[tuple[str, ...], int]]:
    """What the CSV headers need: rows per file, each property's kinds, the delimiters list values use."""
    name = file_of(key)
    yield ("file", name, *((key[0], key[1][0], key[2][0]) if is_edge(key) else (key[0],))), 1
    for k, v in props.items():
        if k == KEY and not is_edge(key):
            continue
        yield ("kind", name, k, _kind(v)), 0
        if isinstance(v, list):
            for d in _DELIMITERS:
                if any(d in str(x) for x in v):
                    yield ("delimiter", d), 0


def csv_rows(
    key: Key, props: Props, columns: dict[str, list[list[str]]], delim: str
) -> Iterator[tuple[str, str]]:
    """(file, line): the node's or edge's CSV row, and a line for each empty list (`bulk finish`)."""
    name = file_of(key)
    cols = columns[name]
    ends = [key[1][1], key[2][1]] if is_edge(key) else [key[1]]
    yield name, csv_line([*ends, *(_cell(props.get(c), kind, delim) for c, kind in cols)])
    for c, kind in cols:
        if kind == "string[]" and props.get(c) == []:
            if is_edge(key):
                row = {"type": key[0], "from": key[1][0], "s": key[1][1], "to": key[2][0], "d": key[2][1]}
            else:
                row = {"label": key[0], "id": key[1]}
            yield "empty-lists", orjson.dumps({**row, "prop": c}).decode()


def list_sources(
    paths: list[str],
    since: datetime | None = None,
    until: datetime | None = None,
    accounts: list[str] | None = None,
    regions: list[str] | None = None,
    profile: str | None = None,
) -> list[str | Problem]:
    """Source names in the order `trailgraph load` reads them: local files (as given, so problems name
    them as `load` does), then S3 objects listed with load's filters. SourceError for what cannot be."""
    from trailgraph.sources.files import expand
    from trailgraph.sources.s3 import SourceError, list_s3_objects
    from trailgraph.sources.select import _session

    if "-" in paths:
        raise SourceError("spark-load reads files and S3, not standard input")
    files = expand([p for p in paths if not p.startswith("s3://")])
    missing = [f for f in files if not Path(f).exists()]
    if missing:
        raise SourceError(f"no such file or directory: {', '.join(missing)}")
    names: list[str | Problem] = list(files)
    for url in (p for p in paths if p.startswith("s3://")):
        names.extend(
            list_s3_objects(
                url,
                since=since,
                until=until,
                accounts=accounts or None,
                regions=regions or None,
                session=_session(profile),
            )
        )
    return names


# ---- the driver ----------------------------------------------------------------------------------------


@dataclass
class SparkLoad:
    """What a Spark load read and wrote."""

    summary: LoadSummary
    out: str
    nodes: int = 0
    relationships: int = 0
    sessions: int = 0
    mixed: list[str] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # step -> wall seconds

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.summary.as_dict(),
            "out": self.out,
            "nodes": self.nodes,
            "relationships": self.relationships,
            "sessions": self.sessions,
            "mixed": self.mixed,
            "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
        }


class _Clock:
    """Wall time per step into `seconds` (each step ends at an action: Spark runs lazily)."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds
        self.last = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = now - self.last
        self.last = now


def run(spark: Any, names: list[str | Problem], out: str, reader: Reader, partitions: int = 0) -> SparkLoad:
    """Load `names` (local paths or s3:// objects, in source order; listing Problems are reported as a
    load reports them) and write the import files under `out` (a local path or a Hadoop URL)."""
    sc = spark.sparkContext
    summary = LoadSummary()
    result = SparkLoad(summary=summary, out=out)
    sources = [(i, n) for i, n in enumerate(names) if isinstance(n, str)]
    reports = [(i, _problem_report(n)) for i, n in enumerate(names) if isinstance(n, Problem)]
    slices = partitions or max(1, min(len(sources), sc.defaultParallelism * 4))
    n = partitions or sc.defaultParallelism
    empty: dict[str, tuple[str, str]] = {}
    clock = _Clock(result.seconds)
    first = sc.parallelize(sources, slices).map(lambda s: extract_source(s[0], s[1], reader, empty)).persist()

    # 2. later copies of an eventID: those sources are read again without them (rare)
    def ids(item: Extracted) -> list[tuple[str, tuple[int, str, str]]]:
        order, _name, facts = item
        if isinstance(facts, Problem):
            return []
        return [(cid, (order, d, w)) for cid, (d, w) in facts.call_ids.items()]

    later = (
        first.flatMap(ids)
        .groupByKey(n)
        .filter(lambda kv: len(kv[1]) > 1)
        .flatMap(lambda kv: [(order, (kv[0], held)) for order, held in later_copies(kv[1])])
        .groupByKey(n)
        .mapValues(dict)
        .collectAsMap()
    )
    redo = sc.broadcast(later)
    extracted = first.map(
        lambda e: extract_source(e[0], e[1], reader, redo.value[e[0]]) if e[0] in redo.value else e
    ).persist()
    files_with_problems: set[tuple[str, str]] = set()
    for _order, report in sorted([*reports, *extracted.map(_report).collect()], key=lambda r: r[0]):
        _add_report(summary, report, files_with_problems)
    first.unpersist()  # `extracted` is cached: an RDD is unpersisted only once what reads it is
    clock.lap("read, parse, extract")

    # 3. facts merged in source order, property by property. A call and the edge of who made it come
    # from its own record only (one source after step 2): they skip the shuffle.
    items = extracted.flatMap(lambda e: [] if isinstance(e[2], Problem) else fact_items(e[0], e[2].batch))
    own = items.filter(lambda kv: of_one_record(kv[0])).persist()
    facts = (
        items.filter(lambda kv: not of_one_record(kv[0]))
        .aggregateByKey({}, merge_ranked, merge_accs, n)
        .mapValues(_plain)
        .persist()
    )
    facts.count()
    own.count()
    extracted.unpersist()
    clock.lap("merge facts")

    # 4. linking, group by group
    nodes = facts.filter(lambda kv: not is_edge(kv[0]))
    calls = own.filter(lambda kv: not is_edge(kv[0])).map(lambda kv: _with_id(kv[0], kv[1][1]))
    by_slot = (
        nodes.flatMap(lambda kv: slot_keys(kv[0], kv[1][1]))
        .union(calls.flatMap(lambda c: slot_keys(("APICall", c["id"]), c)))
        .groupByKey(n)
    )
    linked_slots = by_slot.flatMap(lambda kv: link_slot(kv[0], kv[1]))
    copies = calls.filter(lambda c: isinstance(c.get("sharedEventId"), str)).persist()
    vouching = _vouching(copies, calls, n)
    by_shared = copies.map(lambda c: (c["sharedEventId"], c)).union(vouching).groupByKey(n)
    linked_shared = by_shared.flatMap(lambda kv: link_shared(kv[0], kv[1]))
    # the linker writes sessions' link status and edges no record writes: none of `own`
    decided = facts.union(linked_slots).union(linked_shared).reduceByKey(merge_two, n)
    graph = own.union(decided).persist()
    graph.count()
    facts.unpersist()
    own.unpersist()
    copies.unpersist()
    clock.lap("link")

    # 5. kept attribution of every session, on the driver, over the session-level graph; kept calls
    attributed = _attribute(sc, graph, n, clock)
    kept = sc.broadcast({k: props for k, (_r, props) in attributed if not is_edge(k)})
    behind = [(k, props) for k, (_r, props) in attributed if is_edge(k)]  # only attribution writes BEHIND
    calls = sc.broadcast(dict(_kept_calls(graph, n).collect()))
    final = (
        graph.map(
            lambda kv: (kv[0], {**kv[1][1], **kept.value.get(kv[0], {}), **_calls_of(kv[0], calls.value)})
        )
        .union(sc.parallelize(behind, n))
        .persist()
    )

    # 6. the import files
    result.sessions = len(kept.value)
    _write(spark, final, out, result, n)
    clock.lap("write files")
    final.unpersist()
    graph.unpersist()
    kept.destroy()
    calls.destroy()
    return result


def _kept_calls(graph: Any, n: int) -> Any:
    """(session key, `kept_calls` of its calls) for every session that PERFORMED a call."""
    times = graph.filter(lambda kv: kv[0][0] == "APICall" and not is_edge(kv[0])).map(
        lambda kv: (kv[0][1], (kv[1][1].get("eventTime"), kv[1][1].get("sharedEventId")))
    )
    made = graph.filter(lambda kv: kv[0][0] == "PERFORMED" and kv[0][1][0] == "Session").map(
        lambda kv: (kv[0][2][1], kv[0][1][1])
    )
    return (
        made.join(times, n)
        .map(lambda kv: kv[1])
        .groupByKey(n)
        .map(lambda kv: (("Session", kv[0]), kept_calls(kv[1])))
    )


def _calls_of(key: Key, summaries: dict[Key, Props]) -> Props:
    """A session's kept calls (none made is a count of 0); nothing for any other node or edge."""
    if key[0] != "Session" or is_edge(key):
        return {}
    return summaries.get(key) or kept_calls(())


def _vouching(copies: Any, calls: Any, n: int) -> Any:
    """(sharedEventID, issuance) for every issuance `link._vouched` may find alive for a copy of that
    group: of the principal the copy names, in the hour the copy was made. Joining on the principal
    alone offers each copy every issuance of a role session name in the trail (a CI role assumed
    thousands of times): quadratic, and the link step's time at 1M events."""
    named = (
        copies.filter(lambda c: isinstance(c.get("callerPrincipalId"), str) and c.get("callerSourceIdentity"))
        .map(lambda c: (c["callerPrincipalId"], c["sharedEventId"], hour_of(c.get("eventTime"))))
        .distinct(n)
    )
    issued = calls.filter(lambda c: isinstance(c.get("issuedPrincipalId"), str)).map(
        lambda c: (c["issuedPrincipalId"], alive_hours(c), c)
    )
    in_hours = issued.filter(lambda t: t[1] is not None).flatMap(lambda t: [((t[0], h), t[2]) for h in t[1]])
    any_hour = issued.filter(lambda t: t[1] is None).map(lambda t: (t[0], t[2]))
    timeless = named.filter(lambda t: t[2] is None).map(lambda t: (t[0], t[1]))
    return (
        named.filter(lambda t: t[2] is not None)
        .map(lambda t: ((t[0], t[2]), t[1]))
        .join(in_hours, n)
        .values()
        .union(named.map(lambda t: (t[0], t[1])).join(any_hour, n).values())
        .union(timeless.join(issued.map(lambda t: (t[0], t[2])), n).values())
    )


def _problem_report(p: Problem) -> dict[str, Any]:
    return {"problems": [p], "records": 0, "duplicates": 0, "loaded": 0}


def _report(item: Extracted) -> tuple[int, dict[str, Any]]:
    order, _name, facts = item
    if isinstance(facts, Problem):
        return order, _problem_report(facts)
    return order, {
        "problems": facts.problems,
        "records": facts.records,
        "duplicates": facts.duplicates,
        "loaded": len(facts.call_ids),
    }


def _add_report(summary: LoadSummary, report: dict[str, Any], files: set[tuple[str, str]]) -> None:
    """One source counted as the load counts it (`load._load`): a record's problem, or a whole
    source's once."""
    summary.sources += 1
    summary.records += report["records"]
    summary.duplicates += report["duplicates"]
    summary.loaded += report["loaded"]
    for p in report["problems"]:
        summary.problems.append(p)
        if p.severity == "warning":
            continue
        if p.index is not None:
            summary.skipped += p.severity == "skipped"
            summary.rejected += p.severity == "rejected"
        elif (p.source, p.severity) not in files:
            files.add((p.source, p.severity))
            summary.files_skipped += p.severity == "skipped"
            summary.files_rejected += p.severity == "rejected"


def _first_path_edge(a: tuple[str, Key], b: tuple[str, Key]) -> tuple[str, Key]:
    """Of two trace-path edges into one node, the one the stores read first (by type, then source)."""
    return a if a <= b else b


def _attribute(sc: Any, graph: Any, n: int, clock: _Clock) -> list[tuple[Key, tuple[int, Props]]]:
    """Every session's kept attribution (its properties and BEHIND edge), from its path back."""
    into = (
        graph.filter(lambda kv: is_edge(kv[0]) and kv[0][0] in _PATH)
        .map(lambda kv: (kv[0][2], (kv[0][0], kv[0][1])))
        .reduceByKey(_first_path_edge, n)
        .persist()
    )
    parent: dict[Key, Key] = {
        dst: src for dst, (_t, src) in into.filter(lambda kv: kv[0][0] == "Session").collect()
    }
    frontier = {src for src in parent.values() if src[0] == "APICall"}
    seen: set[Key] = set(frontier)
    for _ in range(2 * MAX_DEPTH):
        if not frontier:
            break
        wanted = sc.broadcast(frontier)
        found = dict(into.filter(lambda kv, w=wanted: kv[0] in w.value).mapValues(lambda v: v[1]).collect())
        wanted.destroy()
        parent.update(found)
        frontier = {src for src in found.values() if src[0] == "APICall"} - seen
        seen |= frontier
    into.unpersist()
    needed = sc.broadcast(seen | set(parent.values()))
    props = dict(
        graph.filter(lambda kv: not is_edge(kv[0]) and (kv[0][0] == "Session" or kv[0] in needed.value))
        .map(lambda kv: (kv[0], kv[1][1]))
        .collect()
    )
    needed.destroy()
    clock.lap("attribution: scans")
    out: list[tuple[Key, tuple[int, Props]]] = []
    for key in sorted(k for k in props if k[0] == "Session"):
        keys = [key]
        while len(keys) <= MAX_DEPTH and keys[-1] in parent:
            keys.append(parent[keys[-1]])
        path = [{"label": k[0], "id": k[1], **props.get(k, {})} for k in reversed(keys)]
        decided = kept_attribution(path, {})
        if decided is not None:
            out.extend(fact_items(_ATTRIBUTED, decided))
    clock.lap("attribution: driver")
    return out


def _write(spark: Any, final: Any, out: str, result: SparkLoad, n: int) -> None:
    scanned = final.flatMap(lambda kv: scan_items(kv[0], kv[1])).reduceByKey(add, n).collect()
    files = {k[1]: n for k, n in scanned if k[0] == "file"}
    spaces = {k[1]: list(k[2:]) for k, _n in scanned if k[0] == "file"}
    used = {k[1] for k, _n in scanned if k[0] == "delimiter"}
    delim = next((d for d in _DELIMITERS if d not in used), None)
    if delim is None:
        raise ValueError("every candidate array delimiter occurs in a list value")
    kinds: dict[str, dict[str, set[str]]] = {}
    for k, _n in scanned:
        if k[0] == "kind":
            kinds.setdefault(k[1], {}).setdefault(k[2], set()).add(k[3])
    columns: dict[str, list[list[str]]] = {}
    for name in files:
        cols = []
        for prop, found in sorted(kinds.get(name, {}).items()):
            if len(found) > 1:
                result.mixed.append(f"{name}.{prop}")
            cols.append([prop, found.pop() if len(found) == 1 else "string"])
        columns[name] = cols
    headers = {}
    for name, cols in columns.items():
        typed = [c if kind == "string" else f"{c}:{kind}" for c, kind in cols]
        space = spaces[name]
        if len(space) == 1:
            headers[name] = [f"{KEY}:ID({space[0]})", *typed]
        else:
            headers[name] = [f":START_ID({space[1]})", f":END_ID({space[2]})", *typed]
    result.nodes = sum(n for name, n in files.items() if name.startswith("nodes-"))
    result.relationships = sum(n for name, n in files.items() if name.startswith("rels-"))
    result.manifest = {
        "array_delimiter": delim,
        "headers": {name: csv_line(h) for name, h in headers.items()},
        "spaces": spaces,
        "rows": files,
        "mixed": result.mixed,
    }
    from pyspark.sql.types import StringType, StructField, StructType

    rows = final.flatMap(lambda kv: [(line, name) for name, line in csv_rows(kv[0], kv[1], columns, delim)])
    rows = rows.union(
        spark.sparkContext.parallelize([(orjson.dumps(result.manifest).decode(), "manifest")], 1)
    )
    schema = StructType([StructField("line", StringType()), StructField("file", StringType())])
    parts = f"{out.rstrip('/')}/spark"
    spark.createDataFrame(rows, schema).write.mode("overwrite").partitionBy("file").text(parts)
    where = local_dir(out)
    if where is not None:
        arrange(where)


def local_dir(out: str) -> Path | None:
    """`--out` as a local directory, or None for a URL of another file system (s3://, hdfs://, dbfs:/)."""
    if out.startswith("file:"):
        return Path(out.removeprefix("file:").removeprefix("//"))
    return None if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:", out) else Path(out)


def arrange(out_dir: Path) -> list[str]:
    """Name Spark's part files as neo4j-admin reads them, write the headers and the manifest; returns the
    `neo4j-admin` arguments (also written to `import-args.json`)."""
    out_dir = out_dir.resolve()  # neo4j-admin runs from its own directory
    parts = out_dir / "spark"
    manifest_parts = sorted((parts / "file=manifest").glob("part-*"))
    if not manifest_parts:
        raise SystemExit(f"{parts}: no Spark output here (expected file=manifest/ under it)")
    manifest = orjson.loads(manifest_parts[0].read_bytes().splitlines()[0])
    (out_dir / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    for old in [*out_dir.glob("nodes-*.csv"), *out_dir.glob("rels-*.csv"), *out_dir.glob(EMPTY_LISTS_PARTS)]:
        old.unlink()
    groups: dict[str, list[Path]] = {}
    for name, header in sorted(manifest["headers"].items()):
        head = out_dir / f"{name}.header.csv"
        head.write_text(header + "\n", encoding="utf-8")
        groups[name] = [head]
        for i, part in enumerate(sorted((parts / f"file={name}").glob("part-*"))):
            if part.stat().st_size:
                groups[name].append(part.rename(out_dir / f"{name}-part-{i:05d}.csv"))
    for i, part in enumerate(sorted((parts / "file=empty-lists").glob("part-*"))):
        part.rename(out_dir / EMPTY_LISTS_PARTS.replace("*", f"{i:05d}"))
    shutil.rmtree(parts)
    args = [
        "database",
        "import",
        "full",
        "neo4j",
        "--overwrite-destination=true",
        "--multiline-fields=true",
        f"--array-delimiter={manifest['array_delimiter']}",
    ]
    for name, files in sorted(groups.items()):
        space = manifest["spaces"][name]
        flag = "--nodes" if len(space) == 1 else "--relationships"
        args.append(f"{flag}={space[0]}={','.join(str(f) for f in files)}")
    (out_dir / "import-args.json").write_bytes(orjson.dumps(args, option=orjson.OPT_INDENT_2))
    return args


def import_args(out_dir: Path) -> list[str]:
    """The `neo4j-admin` arguments `arrange` wrote for this output."""
    args: list[str] = orjson.loads((out_dir / "import-args.json").read_bytes())
    return args


def session(master: str | None, app: str = "trailgraph spark-load", progress: bool = True) -> Any:
    """A SparkSession: spark-submit's (its --master and --conf), else local mode with `master`."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app).config("spark.ui.showConsoleProgress", str(progress).lower())
    if master:
        builder = builder.master(master)
        if master.startswith("local"):
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            builder = builder.config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "8")
    return builder.getOrCreate()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m trailgraph.spark", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    ar = sub.add_parser("arrange", help="name the copied Spark output's files; print the neo4j-admin command")
    ar.add_argument("out_dir", type=Path)
    sub.add_parser("entry", help="print the script to give spark-submit (then: spark-load ARGS)")
    args = ap.parse_args(argv)
    import shlex

    if args.command == "entry":
        sys.stdout.write(str(Path(__file__).with_name("spark_submit.py")) + "\n")
        return 0
    admin = arrange(args.out_dir)
    sys.stdout.write(" ".join(shlex.quote(a) for a in ["neo4j-admin", *admin]) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
