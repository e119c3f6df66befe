"""Attribution accuracy against a simulated organisation's ground truth, beside the manual-method baseline.

    python bench/accuracy.py --events 100000            # simulate, load (embedded), trace every event
    python bench/accuracy.py --dir /tmp/org --reuse     # an already simulated organisation

precision: of the origins named (complete answers), how many are right.
recall: of the events whose origin the loaded logs can reach (truth complete), how many are named right.
gap accuracy: of the events the logs cannot reach, how often the answer is incomplete and names the
missing account. The baseline is the seed's manual method: "take the closest AssumeRole for this role
before the event", repeated up the chain, on the same records.
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from trailgraph.load import load_blobs
from trailgraph.simulate import SimConfig, simulate
from trailgraph.sources.files import expand, iter_file_blobs
from trailgraph.store.embedded import EmbeddedStore
from trailgraph.tracing import trace_events

Origin = tuple[str, str]
ISSUERS = ("AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity")


@dataclass
class Score:
    named: int = 0
    named_right: int = 0
    knowable: int = 0
    knowable_right: int = 0
    unknowable: int = 0
    gap_right: int = 0

    def row(self) -> list[str]:
        precision = self.named_right / self.named if self.named else 1.0
        recall = self.knowable_right / self.knowable if self.knowable else 1.0
        gaps = self.gap_right / self.unknowable if self.unknowable else 1.0
        return [
            f"{precision:.4f}",
            f"{recall:.4f}",
            f"{gaps:.4f}",
            f"{self.named - self.named_right:,}",
            f"{self.knowable - self.knowable_right:,}",
        ]


def records(root: Path) -> Iterator[dict[str, Any]]:
    """Distinct records of the trail (org and account trails deliver some twice)."""
    seen: set[tuple[str, str]] = set()
    for path in sorted(root.rglob("*.json.gz")):
        for record in orjson.loads(gzip.decompress(path.read_bytes()))["Records"]:
            key = (record["eventID"], record["recipientAccountId"])
            if key not in seen:
                seen.add(key)
                yield record


def _direct(ui: dict[str, Any]) -> Origin | None:
    kind = ui.get("type")
    if kind in ("IAMUser", "Root"):
        return (kind, ui.get("arn", ""))
    if kind == "AWSService" or (kind is None and ui.get("invokedBy")):
        return ("AWSService", ui.get("invokedBy", ""))
    if kind in ("SAMLUser", "WebIdentityUser"):
        return (kind, ui.get("userName", ""))
    if kind == "AWSAccount":
        if ui.get("accountId") == "ANONYMOUS_PRINCIPAL":
            return ("Anonymous", "ANONYMOUS_PRINCIPAL")
        return ("AWSAccount", ui.get("accountId", ""))
    if kind == "FederatedUser":
        return ("IAMUser", ui["sessionContext"]["sessionIssuer"]["arn"])
    return None


def baseline(root: Path) -> dict[tuple[str, str], Origin]:
    """The manual method: the closest earlier AssumeRole into the session's role names its caller."""
    by_role: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    callers: dict[str, dict[str, Any]] = {}
    issuing = []
    for record in records(root):
        if record["eventName"] in ISSUERS and record.get("responseElements"):
            issuing.append(record)
            if record["userIdentity"].get("type") != "AWSAccount" and record.get("sharedEventID"):
                callers[record["sharedEventID"]] = record["userIdentity"]
    for record in issuing:
        role = (record.get("requestParameters") or {}).get("roleArn")
        ui = record["userIdentity"]
        if ui.get("type") == "AWSAccount":  # an investigator opens the caller's copy when there is one
            ui = callers.get(record.get("sharedEventID", ""), ui)
        if role:
            by_role[role].append((record["eventTime"], ui))
    for calls in by_role.values():
        calls.sort(key=lambda c: c[0])
    times = {role: [c[0] for c in calls] for role, calls in by_role.items()}

    def origin(ui: dict[str, Any], at: str, depth: int = 0) -> Origin:
        direct = _direct(ui)
        if direct is not None or depth > 8:
            return direct or ("Unknown", "")
        role = str(ui.get("sessionContext", {}).get("sessionIssuer", {}).get("arn", ""))
        i = bisect.bisect_right(times.get(role, []), at) - 1
        if i < 0:
            return ("Unknown", str(ui.get("arn")))
        issued_at, caller = by_role[role][i]
        return origin(caller, issued_at, depth + 1)

    return {
        (r["eventID"], r["recipientAccountId"]): origin(r["userIdentity"], r["eventTime"])
        for r in records(root)
    }


Answer = tuple[Origin, bool, list[str], set[str] | None]
"""origin, complete, gap accounts, and the evidence of the hop into the actor (None: not checked)."""


def _right(t: dict[str, Any], origin: Origin, evidence: set[str] | None) -> bool:
    """The right origin through the true issuing event: a right name reached by the wrong issuance is
    an error, since the next person it names could as well be wrong."""
    issuer = t.get("issuer")
    return origin == (t["origin"]["type"], t["origin"]["id"]) and (
        issuer is None or evidence is None or issuer in evidence
    )


def score(truth: list[dict[str, Any]], answers: dict[tuple[str, str], Answer]) -> Score:
    s = Score()
    for t in truth:
        got = answers.get((t["eventId"], t["account"]))
        if got is None:
            continue
        origin, complete, gap_accounts, evidence = got
        right = _right(t, origin, evidence)
        if complete:
            s.named += 1
            s.named_right += right
        if t["complete"]:
            s.knowable += 1
            s.knowable_right += complete and right
        else:
            s.unknowable += 1
            # A failed sign-in has no account to load: stopping is the whole of the right answer.
            where = t["origin"]["type"] == "FailedSignIn" or t["origin"]["id"] in gap_accounts
            s.gap_right += (not complete) and where
    return s


def actor_evidence(answer: dict[str, Any]) -> set[str] | None:
    """Evidence of the hop that reaches the actor (None when the actor is its own origin)."""
    actor = (answer["actor"]["type"], answer["actor"]["id"])
    hops = [h for h in answer["chain"] if (h["to"]["type"], h["to"]["id"]) == actor]
    return set(hops[-1]["evidence"]) if hops else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dir", type=Path, default=None, help="organisation directory (default: a temp dir)")
    ap.add_argument("--reuse", action="store_true", help="use an already simulated --dir as it is")
    args = ap.parse_args()
    console = Console()
    out = args.dir or Path(tempfile.mkdtemp(prefix="trailgraph-accuracy-"))
    started = time.perf_counter()
    hazards: dict[str, int] = {}
    if not args.reuse:
        hazards = simulate(SimConfig(seed=args.seed, events=args.events), out).noise
    truth = [orjson.loads(line) for line in (out / "truth.jsonl").read_bytes().splitlines()]
    simulated = time.perf_counter()
    (out / "bench.db").unlink(missing_ok=True)
    store = EmbeddedStore(out / "bench.db")
    summary = load_blobs(store, iter_file_blobs(expand([str(out / "AWSLogs")])))
    loaded = time.perf_counter()
    found, missing = trace_events(store, sorted({t["eventId"] for t in truth}))
    traced = time.perf_counter()
    ours: dict[tuple[str, str], Answer] = {
        (a["event"]["eventId"], a["event"]["account"]): (
            (a["origin"]["type"], a["origin"]["id"]),
            a["complete"],
            [g["account"] for g in a["gaps"]],
            actor_evidence(a),
        )
        for a in found
    }
    theirs: dict[tuple[str, str], Answer] = {
        key: (origin, True, [], None) for key, origin in baseline(out / "AWSLogs").items()
    }
    table = Table(
        "method",
        "precision",
        "recall",
        "gap accuracy",
        "wrong origins named",
        "knowable missed",
        title=f"attribution on {len(truth):,} events ({out})",
    )
    table.add_row("trailgraph", *score(truth, ours).row())
    table.add_row("closest AssumeRole (manual)", *score(truth, theirs).row())
    console.print(table)
    console.print(
        f"simulate {simulated - started:.1f}s, load {loaded - simulated:.1f}s "
        f"({summary.records:,} records, {summary.rejected} rejected), trace {traced - loaded:.1f}s; "
        f"ids not found: {len(missing)}"
    )
    misses: Counter[tuple[str, bool, str, bool]] = Counter()
    for t in truth:
        got = ours.get((t["eventId"], t["account"]))
        if got and (got[1] != t["complete"] or (got[1] and not _right(t, got[0], got[3]))):
            misses[(t["origin"]["type"], t["complete"], got[0][0], got[1])] += 1
    for (want_type, want_complete, got_type, got_complete), n in misses.most_common(10):
        console.print(
            f"  miss x{n}: truth {want_type} complete={want_complete} -> "
            f"answer {got_type} complete={got_complete}"
        )
    if hazards:
        console.print("hazards generated: " + ", ".join(f"{k} {v:,}" for k, v in sorted(hazards.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
