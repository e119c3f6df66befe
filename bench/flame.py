"""The flame summary of a load profile: the share of py-spy's samples spent in each phase.

    py-spy record -r 100 -f raw -o /tmp/load.txt -- python bench/phases.py TRAIL
    python bench/flame.py /tmp/load.txt

(TRAIL: a directory of CloudTrail files, e.g. /tmp/trailgraph-bench/org-100000-1/AWSLogs.)

Each sample counts once, in the first phase (in the order below) whose function is on its stack, so a
phase nested in another (the merges inside the transaction) is not counted twice. Samples of a thread
waiting for the other (the hand-off between the reader and the writer) are shown apart. py-spy samples
wall-clock time of threads that are not idle, so on a busy machine a phase's share includes the time it
waited for a CPU.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

PHASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("store: kept attribution (walk back each changed session)", ("EmbeddedStore._attribute ",)),
    (
        "store: re-link (read the groups' facts, link, replace derived edges)",
        ("EmbeddedStore.link_facts ", "link (trailgraph/link.py", "EmbeddedStore._replace "),
    ),
    ("store: merge nodes", ("EmbeddedStore._merge_nodes ",)),
    ("store: merge edges", ("EmbeddedStore._merge_edges ",)),
    ("store: digests of the batch's events", ("EmbeddedStore.digests ",)),
    ("store: transaction (begin, commit, WAL checkpoint)", ("EmbeddedStore._tx ",)),
    ("extract facts", ("extract_into ",)),
    ("check (ids, time, content digest)", ("check (trailgraph/extract.py",)),
    ("parse (gunzip + JSON)", ("parse_blob ",)),
    ("read files", ("iter_file_blobs ",)),
    ("garbage collection (between batches)", ("collect (trailgraph/load.py",)),
)
WAITING = ("Condition.wait ", "_wait_for_tstate_lock ")


def summary(raw: str) -> tuple[int, Counter[str]]:
    """Samples in all, and by phase."""
    total = 0
    found: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        if any(w in stack for w in WAITING):
            found["(a thread waiting for the other)"] += n
            continue
        for name, functions in PHASES:
            if any(f in stack for f in functions):
                found[name] += n
                break
        else:
            found["other (the load loop, imports, thread hand-off)"] += n
    return total, found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("raw", type=Path, help="py-spy record -f raw output")
    args = ap.parse_args()
    total, found = summary(args.raw.read_text())
    print(f"| phase | share of {total:,} samples |\n|---|---:|")
    for name, n in found.most_common():
        print(f"| {name} | {100 * n / max(total, 1):.0f}% |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
