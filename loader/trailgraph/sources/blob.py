"""The unit every source hands to the parser: one named chunk of bytes, as stored (maybe gzipped)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Blob:
    """A file, an S3 object, a LookupEvents page or standard input.

    `name` is what problem reports show the user (a path, `s3://bucket/key`, `lookup-events:...`).
    """

    name: str
    data: bytes
