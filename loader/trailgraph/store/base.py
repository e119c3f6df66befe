"""What every graph store offers the loader and the query layer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from trailgraph.facts import GraphBatch
from trailgraph.link import LinkFacts

Row = dict[str, Any]


class StoreError(Exception):
    """A store problem the user can act on (unreachable server, corrupt or locked file)."""


class GraphStore(Protocol):
    backend: str

    def describe(self) -> str:
        """One line for stderr: which backend and where."""
        ...

    def write(self, batch: GraphBatch) -> int:
        """Merge the batch; return how many of its APICall nodes were new."""
        ...

    def ingest(self, batch: GraphBatch, slots: set[str], shared: set[str]) -> int:
        """Merge the batch, then re-decide the linker groups it touched (`slots`, `shared`), in one
        transaction; return how many of its APICall nodes were new."""
        ...

    def digests(self, call_ids: list[str]) -> dict[str, str | None]:
        """The content digest of each of these APICalls the store holds (absent ids are left out)."""
        ...

    def link_facts(self, slots: set[str], shared: set[str]) -> LinkFacts: ...

    def run(self, query: str, params: dict[str, Any]) -> Sequence[Row]:
        """Run a canned query by name (a long answer's rows may be made as they are read)."""
        ...

    def named(self, name: str) -> list[Row]:
        """Principal-like nodes (IAMUser, Root, Service, ExternalIdentity, Session, AccessKey) that
        `name` is the id, ARN, user name, subject, Identity Center user id or session name of, each
        as its properties plus `label`, `id` and `holders` (an access key's: label and id pairs)."""
        ...

    def event_count(self) -> int:
        """How many APICall nodes the store holds."""
        ...

    def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """Node counts by label, edge counts by type."""
        ...

    def close(self) -> None: ...
