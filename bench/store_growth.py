"""Store bytes per event: what keeping each call's request, response and context costs.

Simulates an organisation (seed 1), loads it into a fresh embedded store with whichever `trailgraph` is
importable, and prints the file size per distinct event, and the characters of the detail properties
(requestParameters, responseElements, resources, additionalEventData, errorMessage) per event. Run it
once on the commit before the change and once after to get the growth:

    git archive a62f7d2 loader | tar -x -C /tmp/trailgraph-before
    PYTHONPATH=/tmp/trailgraph-before/loader python bench/store_growth.py --events 50000
    python bench/store_growth.py --events 50000
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import orjson

import trailgraph
from trailgraph.load import load_blobs
from trailgraph.simulate import SimConfig, simulate
from trailgraph.sources.files import expand, iter_file_blobs
from trailgraph.store.embedded import EmbeddedStore

DETAILS = ("requestParameters", "responseElements", "resources", "additionalEventData", "errorMessage")


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="trailgraph-growth-"))
    simulate(SimConfig(seed=1, events=args.events), work / "org")
    path = work / "store.db"
    store = EmbeddedStore(path)
    started = time.monotonic()
    load_blobs(store, iter_file_blobs(expand([str(work / "org" / "AWSLogs")])))
    seconds = time.monotonic() - started
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    db = sqlite3.connect(path)
    db.execute("VACUUM")
    calls = detail_chars = call_bytes = 0
    for (props,) in db.execute("SELECT props FROM nodes WHERE label = 'APICall'"):
        calls += 1
        call_bytes += len(props)
        node = orjson.loads(props)
        detail_chars += sum(len(node[k]) for k in DETAILS if isinstance(node.get(k), str))
    db.close()
    size = path.stat().st_size
    report = {
        "trailgraph": str(Path(trailgraph.__file__).parent),
        "command": " ".join(["python", *sys.argv]),
        "events": calls,
        "store bytes": size,
        "store bytes/event": round(size / calls),
        "APICall props bytes/event": round(call_bytes / calls),
        "detail chars/event": round(detail_chars / calls),
        "load seconds": round(seconds, 1),
    }
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
