"""Benchmark: `trailgraph load s3://...` into the embedded store, against parsing the same bytes alone.

    python bench/s3_load.py [--events 60000] [--workers 4] [--seed 1]

Simulates an organisation trail (`trailgraph.simulate`), uploads it into a bucket of a moto server run as
a separate process (so it does not share this process's GIL), then times, on the same objects:

    s3 -> store   iter_s3_blobs + load_blobs into a fresh EmbeddedStore (what the CLI will do)
    s3 fetch      iter_s3_blobs alone: delimiter listings, day listings and GetObject, no parsing
    raw get       plain GetObject calls on the same keys from `workers` threads: the server's ceiling
    parse         records.parse_blob over the same bytes in memory: no S3, no store
    store         load_blobs from the same bytes in memory into a fresh EmbeddedStore: no S3

moto answers from memory on this machine, so the S3 rows measure the pipeline's own cost, not real S3
(whose ~20-50 ms per request the worker pool is there to hide).
"""

from __future__ import annotations

import argparse
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3

from trailgraph.load import load_blobs
from trailgraph.records import Parsed, Problem, parse_blob
from trailgraph.simulate import SimConfig, simulate
from trailgraph.sources.blob import Blob
from trailgraph.sources.s3 import aws_config, iter_s3_blobs
from trailgraph.store.embedded import EmbeddedStore

BUCKET = "trailgraph-bench"
PREFIX = "org-trail"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            return proc, url
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise SystemExit("moto server did not start") from None
            time.sleep(0.2)


def session() -> boto3.Session:
    return boto3.Session(aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1")


def upload(root: Path, endpoint: str) -> list[Path]:
    files = sorted(p for p in (root / "AWSLogs").rglob("*") if p.is_file())
    s3 = session().client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=BUCKET)

    def put(path: Path) -> None:
        key = f"{PREFIX}/{path.relative_to(root).as_posix()}"
        s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, files))
    return files


LISTINGS: list[str] = []


def s3_blobs(endpoint: str, workers: int) -> Iterator[Blob | Problem]:
    listing = session()
    listing.events.register("before-call.s3.ListObjectsV2", lambda **_: LISTINGS.append("list"))
    return iter_s3_blobs(
        f"s3://{BUCKET}/{PREFIX}",
        since=None,
        until=None,
        accounts=None,
        regions=None,
        session=listing,
        endpoint_url=endpoint,
        workers=workers,
    )


def server_cpu(pid: int) -> float:
    """CPU seconds the moto server process has used (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Stage:
    """Wall time, this process's CPU and the server's CPU over a `with` block."""

    def __init__(self, name: str, server_pid: int, rows: list[list[str]]) -> None:
        self.name, self.pid, self.rows = name, server_pid, rows
        self.events = 0
        self.note = ""

    def __enter__(self) -> Stage:
        self.wall, self.cpu, self.server = time.perf_counter(), time.process_time(), server_cpu(self.pid)
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self.wall
        cpu = time.process_time() - self.cpu
        server = server_cpu(self.pid) - self.server
        rate = f"{self.events / wall:,.0f}"
        self.rows.append(
            [self.name, str(self.events), f"{wall:.2f}", rate, f"{cpu:.1f}", f"{server:.1f}", self.note]
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=40_000, help="records the simulator generates")
    ap.add_argument("--workers", type=int, default=4, help="concurrent S3 calls")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--days", type=int, default=SimConfig().days, help="fewer days: more records per object")
    args = ap.parse_args()
    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))

    proc, endpoint = start_moto()
    rows: list[list[str]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="tg-bench-") as tmp:
            root = Path(tmp) / "trail"
            started = time.perf_counter()
            summary = simulate(SimConfig(seed=args.seed, events=args.events, days=args.days), root)
            files = upload(root, endpoint)
            megabytes = sum(p.stat().st_size for p in files) / 1e6
            print(
                f"trail: {summary.events} records in {len(files)} objects ({megabytes:.1f} MB gzipped), "
                f"{len(summary.accounts)} accounts; simulated and uploaded in "
                f"{time.perf_counter() - started:.1f} s"
            )

            with Stage("s3 -> store", proc.pid, rows) as stage:
                store = EmbeddedStore(Path(tmp) / "s3.db")
                try:
                    loaded = load_blobs(store, s3_blobs(endpoint, args.workers))
                finally:
                    store.close()
                stage.events = loaded.records
                stage.note = f"{loaded.loaded} new, {len(LISTINGS)} list calls"

            with Stage("s3 fetch", proc.pid, rows) as stage:
                fetched = [b for b in s3_blobs(endpoint, args.workers) if isinstance(b, Blob)]
                stage.events = loaded.records
                stage.note = f"{len(fetched)} objects"

            s3 = session().client("s3", endpoint_url=endpoint, config=aws_config(args.workers))
            keys = [blob.name.removeprefix(f"s3://{BUCKET}/") for blob in fetched]

            def get(key: str) -> bytes:
                return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()

            with Stage("raw get", proc.pid, rows) as stage, ThreadPoolExecutor(args.workers) as pool:
                stage.note = f"{len(list(pool.map(get, keys)))} plain GetObject calls"
                stage.events = loaded.records

            blobs = [Blob(f"{PREFIX}/{p.relative_to(root).as_posix()}", p.read_bytes()) for p in files]
            with Stage("parse", proc.pid, rows) as stage:
                stage.events = sum(
                    1 for blob in blobs for item in parse_blob(blob) if isinstance(item, Parsed)
                )
                stage.note = "same bytes, in memory"

            with Stage("store", proc.pid, rows) as stage:
                store = EmbeddedStore(Path(tmp) / "mem.db")
                try:
                    stage.events = load_blobs(store, blobs).records
                finally:
                    store.close()
                stage.note = "same bytes, in memory, fresh store"
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    print(f"\nworkers={args.workers}  cpus={os.cpu_count()}  (cpu columns: CPU seconds used in the stage)")
    head = ["stage", "events", "seconds", "events/s", "our cpu", "moto cpu", "note"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows]:
        cells = [
            c.ljust(w) if i in (0, 6) else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
