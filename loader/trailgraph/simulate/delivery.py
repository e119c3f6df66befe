"""How CloudTrail hands records over: per account and region, about every 5 minutes, unordered, some late,
and, where an account also has its own trail, everything twice. Pure: decides paths and contents only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from operator import itemgetter

from .config import SimConfig
from .emitter import Emitted, Slice
from .org import Org
from .timefmt import SLOT, file_stamp

LATE_RATE = 0.03  # records that miss their file and come in the next one
MAX_RECORDS = 5000  # a busy slot is split over several files, as CloudTrail does
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_by_time = itemgetter(0)


@dataclass(frozen=True, slots=True)
class Batch:
    """One log file: where it goes (relative to the output directory) and the records in it.

    `truth` holds the truth lines of records seen here for the first time (organisation trail only).
    """

    path: str
    records: list[bytes]
    truth: list[bytes]


class Delivery:
    def __init__(self, config: SimConfig, org: Org) -> None:
        self._cfg = config
        self._org = org
        self._rng = random.Random(f"trailgraph-simulate-delivery:{config.seed}")
        self._late: dict[tuple[bool, str, str], list[Emitted]] = {}
        self.late_records = 0
        self.duplicate_records = 0

    def deliver(self, s: Slice) -> list[Batch]:
        """Files due at the end of slot `s.slot`: its records minus late ones, plus last slot's late ones."""
        out: list[Batch] = []
        keys = set(s.groups) | {(a, r) for _, a, r in self._late}
        for account, region in sorted(keys):
            items = s.groups.get((account, region), [])
            out += self._files(True, account, region, s.slot, items)
            if account in self._org.account_trails:
                dup = self._files(False, account, region, s.slot, items)
                self.duplicate_records += sum(len(b.records) for b in dup)
                out += dup
        return out

    def _files(
        self, org_trail: bool, account: str, region: str, slot: int, items: list[Emitted]
    ) -> list[Batch]:
        carry = (org_trail, account, region)
        batch = self._late.pop(carry, [])
        if self._cfg.out_of_order:
            late: list[Emitted] = []
            rnd = self._rng.random
            for e in items:
                (late if rnd() < LATE_RATE else batch).append(e)
            if late:
                self._late[carry] = late
                self.late_records += len(late) if org_trail else 0
            self._rng.shuffle(batch)
        else:
            batch = sorted(batch + items, key=_by_time)
        if not batch:
            return []
        day, stamp = file_stamp((slot + 1) * SLOT)
        prefix = f"AWSLogs/{self._org.org_id}/{account}" if org_trail else f"AWSLogs/{account}"
        out = []
        for i in range(0, len(batch), MAX_RECORDS):
            chunk = batch[i : i + MAX_RECORDS]
            name = f"{account}_CloudTrail_{region}_{stamp}_{''.join(self._rng.choices(_ALNUM, k=16))}.json.gz"
            out.append(
                Batch(
                    f"{prefix}/CloudTrail/{region}/{day}/{name}",
                    [e[1] for e in chunk],
                    [e[2] for e in chunk] if org_trail else [],
                )
            )
        return out
