"""A person by the name people use: ARN, user name, Identity Center user, SAML subject, session name
or access key id, to the one value the canned queries start from. Pure over `GraphStore.named` rows.

Names are tried in tiers, and the first tier with a match decides: exact ids and ARNs (and access key
ids), then principals' own names (IAM user name, Identity Center user name or id, SAML or web-identity
subject), then role session names. So `bob@example.com` is the IAM user bob even though his role
sessions carry the same name; give the session ARN to mean a session. Several matches in the deciding
tier are never guessed between: the caller lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trailgraph.store.base import GraphStore

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One thing a name can mean: `value` is what the canned queries' `principal` takes."""

    value: str
    kind: str
    arn: str
    matched: str

    def line(self) -> str:
        return f"{self.kind} {self.arn} (matched by {self.matched})"


_KIND = {"IAMUser": "IAM user", "Root": "root user", "Service": "AWS service", "AccessKey": "access key"}


def _external_kind(row: Row) -> str:
    return {
        "IdentityCenterUser": "Identity Center user",
        "SAMLUser": "SAML subject",
        "WebIdentityUser": "web-identity subject",
    }.get(str(row.get("type")), "unknown caller")


def _display(row: Row) -> str:
    return str(row.get("arn") or row.get("userId") or row.get("subject") or row["id"])


def _sessions_by_arn(rows: list[Row], matched: str) -> list[Candidate]:
    arns = sorted({str(r.get("arn") or r["id"]) for r in rows})
    return [Candidate(arn, "role session", arn, matched) for arn in arns]


def candidates(name: str, rows: list[Row]) -> list[Candidate]:
    """What `name` can mean, from the nodes `named(name)` returned (first matching tier only)."""
    exact: list[Candidate] = []
    for r in rows:
        label = r["label"]
        if label in ("IAMUser", "Root", "Service", "ExternalIdentity") and r["id"] == name:
            kind = _external_kind(r) if label == "ExternalIdentity" else _KIND[label]
            exact.append(Candidate(name, kind, _display(r), "id" if label == "ExternalIdentity" else "ARN"))
        elif label == "Session" and r["id"] == name:
            exact.append(Candidate(name, "session", _display(r), "session id"))
        elif label == "AccessKey":
            holders = sorted({str(h[1]).split("|", 1)[0] for h in r.get("holders") or []})
            kind = f"access key ({r.get('kind') or 'unknown kind'})"
            exact.append(Candidate(name, kind, ", ".join(holders) or "-", "key id"))
    if not any(r["label"] in ("IAMUser", "Root") and r["id"] == name for r in rows):
        # an IAM user's (or root's) own sessions carry its ARN: then the ARN means the user
        sessions = [r for r in rows if r["label"] == "Session" and r.get("arn") == name]
        exact += _sessions_by_arn(sessions, "ARN")
    if exact:
        return exact
    named: list[Candidate] = []
    for r in rows:
        label = r["label"]
        if label == "IAMUser" and r.get("name") == name:
            named.append(Candidate(r["id"], _KIND[label], _display(r), "IAM user name"))
        elif label == "ExternalIdentity" and name in (r.get("subject"), r.get("userId")):
            how = "user id" if r.get("userId") == name else "subject"
            named.append(Candidate(r["id"], _external_kind(r), _display(r), how))
    people = {r.get("userId") for r in rows if r["label"] == "ExternalIdentity"}
    on_behalf = [r for r in rows if r["label"] == "Session" and r.get("onBehalfOfUserId") == name]
    if on_behalf and name not in people:
        named.append(Candidate(name, "Identity Center user", name, "user id (on its sessions)"))
    if named:
        return named
    sessions = [r for r in rows if r["label"] == "Session" and r.get("name") == name]
    return _sessions_by_arn(sessions, "session name")


def store_place(store: GraphStore) -> str:
    """The store named so a reader can find it: the embedded file's absolute path, or Neo4j's URI."""
    path = getattr(store, "path", None)
    if isinstance(path, Path):
        return f"embedded store {path.resolve()}"
    return store.describe()


@dataclass(frozen=True, slots=True)
class Resolution:
    chosen: Candidate | None
    options: list[Candidate]
    message: str


def resolve(store: GraphStore, name: str) -> Resolution:
    """One candidate (chosen), several (listed) or none (a message naming the store and its size)."""
    found = candidates(name, store.named(name))
    if len(found) == 1:
        return Resolution(found[0], found, f"{name!r} is the {found[0].line()}")
    if found:
        lines = "\n".join(f"  {c.value}    {c.line()}" for c in found)
        return Resolution(
            None, found, f"{name!r} names {len(found)} principals; give one of these instead:\n{lines}"
        )
    return Resolution(
        None,
        [],
        f"no principal, session or access key named {name!r} in {store_place(store)} "
        f"({store.event_count():,} events)",
    )
