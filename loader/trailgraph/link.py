"""The linking rules: which event issued each session, decided from stored facts. Pure.

A session *slot* is (principalId, creationDate). Everything that can link a session lives in its slot:
the STS calls that issued credentials for it (`issuedSlot`), the sessions seen using it, and console
SwitchRole events. Cross-account copies group by sharedEventID. The linker re-decides a whole group
each time any of its facts arrives, so load order never matters and a re-run changes nothing.

Rules (each derived edge records `rule`, `confidence` and `evidence`):
- issued-key (exact): the session's key is the one the STS call returned, same principal and second.
- principal-and-creation-time / console-switchrole (strong): console and Identity Center keys never
  appear in an STS response; one issuing call in the slot links by principalId + creationDate.
  Refused when that call's own key is in use (then another, unloaded issuance exists).
- ambiguous: several issuing calls in the slot and the key matches none: no link, never a pick.
- named-in-record (exact): IAM user and root sessions, and federated users whose issuer the record names.
- caller-copy (exact): the role account's copy of a call (userIdentity AWSAccount) continues at the
  caller account's copy with the same sharedEventID.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from trailgraph.extract import user_or_root_label
from trailgraph.facts import GraphBatch, NodeRef

Props = dict[str, Any]


@dataclass(frozen=True)
class LinkFacts:
    """What the store holds for the groups being re-decided."""

    calls: list[Props]  # APICall props with "id"
    sessions: list[Props]  # Session props with "id"


def _ref(actor: str) -> NodeRef:
    label, _, node_id = actor.partition(":")
    return (label, node_id)


def _canonical(copies: list[Props]) -> Props:
    """The copy to walk through: the caller's (it names the caller), else any, deterministically."""
    return min(copies, key=lambda c: (c.get("actorType") == "AWSAccount", c["id"]))


def link(facts: LinkFacts, slots: set[str], shared: set[str]) -> GraphBatch:
    """Derived edges and link status for every session in `slots` and every copy group in `shared`."""
    out = GraphBatch()
    issuances: dict[str, dict[str, list[Props]]] = defaultdict(lambda: defaultdict(list))
    switches: dict[str, list[Props]] = defaultdict(list)
    copies: dict[str, list[Props]] = defaultdict(list)
    for call in facts.calls:
        slot = call.get("issuedSlot")
        if slot in slots and call.get("issuedKey"):
            issuances[slot][call["issuedKey"]].append(call)
        if call.get("switchFrom") and call.get("actorSlot") in slots:
            switches[call["actorSlot"]].append(call)
        if call.get("sharedEventId") in shared:
            copies[call["sharedEventId"]].append(call)
    by_slot: dict[str, list[Props]] = defaultdict(list)
    for session in facts.sessions:
        if session.get("slot") in slots:
            by_slot[session["slot"]].append(session)
    for slot, sessions in by_slot.items():
        _link_slot(out, slot, sessions, issuances.get(slot, {}), switches.get(slot, []))
    for shared_id, group in copies.items():
        _link_copies(out, shared_id, group)
    return out


def _link_slot(
    out: GraphBatch, slot: str, sessions: list[Props], issued: dict[str, list[Props]], switches: list[Props]
) -> None:
    used_keys = {s.get("accessKeyId") for s in sessions if s.get("used")}
    switch_ids = sorted(c["eventId"] for c in switches)
    switch_from = sorted({c["switchFrom"] for c in switches})
    for session in sorted(sessions, key=lambda s: s["id"]):
        ref: NodeRef = ("Session", session["id"])
        key = session.get("accessKeyId")
        kind = session.get("kind")
        status, note = "linked", None
        if key and key in issued:
            _issued_edge(out, slot, ref, issued[key], "issued-key", "exact", [])
        elif kind in ("iamuser", "root"):
            owner_label = "Root" if kind == "root" else "IAMUser"
            out.edge(
                "OPENED",
                (owner_label, session["arn"]),
                ref,
                rule="named-in-record",
                confidence="exact",
                via="sign-in session",
                group=slot,
                evidence=[],
            )
        elif len(issued) == 1:
            ((issued_key, copies),) = issued.items()
            if issued_key in used_keys:
                status = "unmatched-key"
                note = (
                    f"key {key or '(none)'} is not the one issued at {session.get('creationDate')} "
                    f"({issued_key}, itself in use): another issuance of this session name in this "
                    "second is not loaded"
                )
            else:
                rule = "console-switchrole" if switch_ids else "principal-and-creation-time"
                _issued_edge(out, slot, ref, copies, rule, "strong", switch_ids)
                for arn in switch_from:
                    if target_label := user_or_root_label(arn):
                        out.edge("SWITCHED_FROM", ref, (target_label, arn), group=slot, evidence=switch_ids)
        elif not issued:
            issuer = str(session.get("issuerArn") or "")
            label = user_or_root_label(issuer) if kind == "federated" else None
            if label:
                out.edge(
                    "OPENED",
                    (label, issuer),
                    ref,
                    rule="named-in-record",
                    confidence="exact",
                    via="GetFederationToken",
                    group=slot,
                    evidence=[],
                )
            else:
                status = "missing"
                note = (
                    f"no STS event issuing {session.get('arn') or session['id']} at "
                    f"{session.get('creationDate') or 'an unknown time'} is loaded"
                )
        else:
            status = "ambiguous"
            note = (
                f"{len(issued)} sessions named {session.get('name')} were issued at "
                f"{session.get('creationDate')} and key {key or '(none)'} matches none of them"
            )
        out.node("Session", session["id"], link=status, linkNote=note or "")


def _issued_edge(
    out: GraphBatch,
    slot: str,
    target: NodeRef,
    copies: list[Props],
    rule: str,
    confidence: str,
    extra: list[str],
) -> None:
    chosen = _canonical(copies)
    evidence = sorted({c["eventId"] for c in copies} | set(extra))
    via = (
        f"{chosen.get('eventName')} (console SwitchRole)"
        if rule == "console-switchrole"
        else str(chosen.get("eventName"))
    )
    out.edge(
        "ISSUED",
        ("APICall", chosen["id"]),
        target,
        rule=rule,
        confidence=confidence,
        via=via,
        group=slot,
        evidence=evidence,
    )


def _link_copies(out: GraphBatch, shared_id: str, group: list[Props]) -> None:
    group_key = f"shared:{shared_id}"
    callers = [c for c in group if c.get("actorType") != "AWSAccount"]
    for call in group:
        if call.get("actorType") != "AWSAccount" or not call.get("actor"):
            continue
        candidates = [
            c
            for c in callers
            if c.get("account") != call.get("account") and c.get("eventTime") == call.get("eventTime")
        ]
        if len(candidates) == 1:
            source = candidates[0]
            out.edge(
                "COPIED_TO",
                ("APICall", source["id"]),
                ("APICall", call["id"]),
                rule="caller-copy",
                confidence="exact",
                via="cross-account copy",
                group=group_key,
                evidence=sorted([source["eventId"], call["eventId"]]),
            )
        else:
            out.edge("PERFORMED", _ref(call["actor"]), ("APICall", call["id"]), group=group_key)
