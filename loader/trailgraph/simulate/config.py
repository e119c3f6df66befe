"""What to simulate, and what came out: the simulator's only public data types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)


@dataclass(frozen=True)
class SimConfig:
    """An organisation and its noise. Noise switches default to on at realistic rates.

    `accounts` counts the management (Identity Center) account and the identity account (IAM users);
    the rest are workload accounts, of which `missing_accounts` never have their logs written.
    `events` is the number of records generated (those of missing accounts included), approximately.
    """

    seed: int = 1
    accounts: int = 6
    people: int = 20
    events: int = 10_000
    days: int = 2
    start: datetime = DEFAULT_START
    same_second_collisions: bool = True
    key_reuse: bool = True
    out_of_order: bool = True
    duplicates: bool = True
    missing_accounts: int = 1
    clock_edges: bool = True

    def __post_init__(self) -> None:
        if self.accounts < 3:
            raise ValueError("accounts must be at least 3 (management, identity and one workload account)")
        if not 0 <= self.missing_accounts <= self.accounts - 3:
            raise ValueError(
                f"missing_accounts must be between 0 and {self.accounts - 3} (one workload stays)"
            )
        if self.people < 1:
            raise ValueError("people must be at least 1")
        if self.events < 0 or self.days < 1:
            raise ValueError("events must be >= 0 and days >= 1")
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC)")


@dataclass(frozen=True)
class SimSummary:
    """What `simulate` wrote. `events` counts every record written (duplicates included); `distinct_events`
    counts distinct (eventID, recipient account) pairs, which is also the number of truth lines."""

    out_dir: Path
    org_id: str
    accounts: dict[str, str]  # account id -> "management" | "identity" | "workload"
    missing_accounts: tuple[str, ...]
    account_trails: tuple[str, ...]  # accounts whose records are also written under AWSLogs/<account>/
    files: int
    events: int
    distinct_events: int
    bytes: int
    generated_events: int
    seconds: float
    scenarios: dict[str, int] = field(default_factory=dict)  # stories started, per scenario
    noise: dict[str, int] = field(default_factory=dict)  # collisions, key reuse, late records, ...
