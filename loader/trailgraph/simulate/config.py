"""What to simulate, and what came out: the simulator's only public data types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)

HAZARDS: dict[str, str] = {
    "sdk_double_assume": "SDKs assuming a role twice in one second (two keys returned, one used).",
    "missing_regional_sts": "AssumeRole through a regional STS endpoint whose region's logs are missing "
    "(half of them retried, and logged, at the global endpoint in the same second).",
    "denied_assume": "Denied AssumeRole calls in the same role, session name and second as a real one.",
    "failed_signins": "Failed ConsoleLogins: real user names typed by someone, and the hidden user name.",
    "service_events": "Service events whose userIdentity is only accountId + invokedBy.",
    "keyless_service_sessions": "Service-linked-role sessions with no access key, issued several times "
    "in one second by their service.",
    "anonymous_reads": "Anonymous S3 reads (ANONYMOUS_PRINCIPAL).",
    "source_identity_chains": "Role chains through a missing account, half of them carrying a "
    "sourceIdentity (which continues the trail), half not (which ends it).",
}
"""The traps of real trails that an accuracy figure must face: each on by default (`--no-...` to drop)."""


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
    sdk_double_assume: bool = True
    missing_regional_sts: bool = True
    denied_assume: bool = True
    failed_signins: bool = True
    service_events: bool = True
    keyless_service_sessions: bool = True
    anonymous_reads: bool = True
    source_identity_chains: bool = True

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
