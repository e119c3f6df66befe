"""The Spark path's load rate in local mode beside the embedded load and the bulk path, on the same files.

    python bench/spark_load.py --size 1000000 [--masters 'local[1],local[2]'] [--root R] [--no-bulk]

On a simulated organisation of that many events (`trailgraph.simulate`, seed 1, under --root, reused):

    spark local[N]   `trailgraph.spark.run` (parse, extract, link, attribution, partitioned CSV) with N
                     local workers, timed from the first Spark job to the files arranged; the JVM's
                     start is not included (it is reported). Then, with --import, the real neo4j-admin
                     import of its files + `bulk finish` on a private server (the bulk row's server).
    embedded         `load_blobs` into a new embedded store (bench/load.py's child)
    bulk             embedded load + `trailgraph.bulk` export + neo4j-admin import + finish (bench/load.py's
                     child; the bulk row of bench/load.py reports export + import + finish only)

Rates are records read per second (every record of every file, duplicates included, as bench/load.py).
Peak memory is the largest summed RSS of the child's process tree (JVM and Python workers included).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Neo4jServer, bulk_import, command_line, machine, org, private_neo4j, run_child, trail
from load import RssSampler


def child_spark(root: Path, out: Path, master: str) -> dict[str, Any]:
    from trailgraph import spark as tgspark

    sampler = RssSampler()
    started = time.perf_counter()
    session = tgspark.session(master, progress=False)
    session.sparkContext.setLogLevel("ERROR")
    jvm_s = time.perf_counter() - started
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    result = tgspark.run(session, tgspark.list_sources([str(root)]), str(out), tgspark.Reader())
    seconds = time.perf_counter() - started
    session.stop()
    return {
        "records": result.summary.records,
        "loaded": result.summary.loaded,
        "nodes": result.nodes,
        "edges": result.relationships,
        "sessions": result.sessions,
        "seconds": seconds,
        "jvm_s": jvm_s,
        "peak_rss_mb": sampler.stop(),
        "csv_mb": round(sum(p.stat().st_size for p in out.iterdir()) / 2**20, 1),
        "steps": result.as_dict()["seconds"],
    }


def child_import(out: Path, home: Path, bolt: int, http: int, heap: str, pagecache: str) -> dict[str, Any]:
    """The Spark output into the private server: neo4j-admin import (server stopped), start, finish."""
    from trailgraph import spark as tgspark
    from trailgraph.bulk import finish
    from trailgraph.store.neo4j import Neo4jStore

    server = Neo4jServer(home, bolt, http, heap, pagecache, pid=int(os.environ["BENCH_NEO4J_PID"]))
    server.stop()
    started = time.perf_counter()
    done = server.admin(*tgspark.import_args(out), heap=heap)
    import_s = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stdout[-3000:] + done.stderr[-3000:])
    server.start()
    started = time.perf_counter()
    store = Neo4jStore(server.uri, "neo4j", os.environ["BENCH_NEO4J_PASSWORD"], None)
    finish(store, out)
    store.close()
    return {"import_s": import_s, "finish_s": time.perf_counter() - started, "pid": server.pid}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=1_000_000, help="simulated events")
    ap.add_argument("--masters", default="local[1],local[2]", help="Spark masters, comma-separated")
    ap.add_argument("--root", type=Path, default=Path("/tmp/trailgraph-bench"))
    ap.add_argument("--no-bulk", action="store_true", help="skip the embedded and bulk rows")
    ap.add_argument(
        "--import", dest="do_import", action="store_true", help="also neo4j-admin the Spark output"
    )
    ap.add_argument("--neo4j-heap", default="2g")
    ap.add_argument("--neo4j-pagecache", default="2g")
    ap.add_argument("--bolt-port", type=int, default=7697)
    ap.add_argument("--http-port", type=int, default=7484)
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        mode, rest = args.child[0], args.child[1:]
        if mode == "spark":
            out = child_spark(Path(rest[0]), Path(rest[1]), rest[2])
        else:
            out = child_import(Path(rest[0]), Path(rest[1]), int(rest[2]), int(rest[3]), rest[4], rest[5])
        print(orjson.dumps(out).decode())
        return 0

    print(f"$ {command_line()}")
    print(f"# {machine()}")
    org_dir = org(args.root, args.size)
    root = trail(org_dir)
    script = str(Path(__file__).resolve())
    rows: list[tuple[str, str, str, str]] = []
    records = 0
    server_ctx = server = None
    if not args.no_bulk or args.do_import:
        server_ctx = private_neo4j(
            args.root / "neo4j", args.bolt_port, args.http_port, args.neo4j_heap, args.neo4j_pagecache
        )
        server = server_ctx.__enter__()
        os.environ["BENCH_NEO4J_PASSWORD"] = server.credentials[2]
    try:
        for master in [m for m in args.masters.split(",") if m]:
            spark_out = org_dir / f"spark-{master.replace('[', '').replace(']', '')}"
            res = run_child([script, "--child", "spark", str(root), str(spark_out), master]).output
            records = int(res["records"])
            note = (
                f"{records:,} records, {int(res['loaded']):,} distinct events, {int(res['sessions']):,} "
                f"sessions; JVM start {float(res['jvm_s']):.0f} s (not included); {res['csv_mb']} MB CSV"
            )
            rows.append(
                (
                    f"spark {master}",
                    f"{records / float(res['seconds']):,.0f}",
                    f"{res['peak_rss_mb']:,.0f} MB",
                    note,
                )
            )
            print(f"  {rows[-1]}; steps (s): {res['steps']}", file=sys.stderr)
            if args.do_import and server is not None:
                env = {"BENCH_NEO4J_PID": str(server.pid), "BENCH_NEO4J_PASSWORD": server.credentials[2]}
                child = ["--child", "import", str(spark_out), str(server.home), str(server.bolt_port)]
                child += [str(server.http_port), server.heap, server.pagecache]
                imp = run_child([script, *child], env=env).output
                server.pid = int(imp["pid"])
                total = float(res["seconds"]) + float(imp["import_s"]) + float(imp["finish_s"])
                rows.append(
                    (
                        f"spark {master} + neo4j-admin + finish",
                        f"{records / total:,.0f}",
                        "-",
                        f"import {float(imp['import_s']):.0f} s, finish {float(imp['finish_s']):.0f} s",
                    )
                )
        if not args.no_bulk and server is not None:
            db = org_dir / "embedded-spark-bench.db"
            load_py = str(Path(__file__).with_name("load.py"))
            emb = run_child([load_py, "--child", "embedded", str(root), str(db), "0"]).output
            records = int(emb["records"])
            rows.append(
                (
                    "embedded (workers=0)",
                    f"{records / float(emb['seconds']):,.0f}",
                    f"{float(emb['peak_rss_mb']):,.0f} MB",
                    f"{records:,} records, {int(emb['loaded']):,} distinct events",
                )
            )
            bulk = bulk_import(server, db)
            parts = float(bulk["export_s"]) + float(bulk["import_s"]) + float(bulk["finish_s"])
            rows.append(
                (
                    "bulk: embedded + export + neo4j-admin + finish",
                    f"{records / (float(emb['seconds']) + parts):,.0f}",
                    "-",
                    f"export {float(bulk['export_s']):.0f} s, import {float(bulk['import_s']):.0f} s, "
                    f"finish {float(bulk['finish_s']):.0f} s; {bulk['csv_mb']} MB CSV",
                )
            )
    finally:
        if server_ctx is not None:
            server_ctx.__exit__(None, None, None)
    print(f"# {machine()}")
    print(f"\n| {args.size:,} events ({records:,} records) | events/s | peak memory | |")
    print("|---|---:|---:|---|")
    for name, rate, peak, note in rows:
        print(f"| {name} | {rate} | {peak} | {note} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
