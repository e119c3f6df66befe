"""Local files and directories (recursively), and `-` for standard input."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from trailgraph.records import Problem
from trailgraph.sources.blob import Blob

_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".log", ".txt", ".gz")


def _wanted(path: Path) -> bool:
    return path.name.endswith(_SUFFIXES) and not path.name.startswith(".")


def expand(paths: list[str]) -> list[str]:
    """Files to read, in a stable order; directories are walked for CloudTrail-looking files."""
    found: list[str] = []
    for raw in paths:
        if raw == "-":
            found.append(raw)
            continue
        path = Path(raw)
        if path.is_dir():
            found.extend(str(p) for p in sorted(path.rglob("*")) if p.is_file() and _wanted(p))
        else:
            found.append(raw)
    return found


SIMULATED_TRUTH = "truth.jsonl"
"""The answer key `trailgraph simulate` writes beside the AWSLogs/ it generates: not CloudTrail."""


def _is_simulated_truth(path: Path) -> bool:
    return path.name == SIMULATED_TRUTH and (path.parent / "AWSLogs").is_dir()


def iter_file_blobs(files: list[str]) -> Iterator[Blob | Problem]:
    for name in files:
        if name == "-":
            yield Blob("<stdin>", sys.stdin.buffer.read())
            continue
        if _is_simulated_truth(Path(name)):
            yield Problem(
                name,
                None,
                "skipped",
                "skipped: the ground truth `trailgraph simulate` writes, not CloudTrail",
            )
            continue
        try:
            data = Path(name).read_bytes()
        except OSError as exc:
            yield Problem(name, None, "rejected", f"cannot read: {exc.strerror or exc}")
            continue
        yield Blob(name, data)
