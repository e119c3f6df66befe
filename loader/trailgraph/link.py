"""The linking rules: which event issued each session, decided from stored facts. Pure.

A session *slot* is (principalId, creationDate). Everything that can link a session lives in its slot:
the STS calls that issued credentials for it (`issuedSlot`), the sessions seen using it, and console
SwitchRole events. Cross-account copies group by sharedEventID. The linker re-decides a whole group
each time any of its facts arrives, so load order never matters and a re-run changes nothing.

Rules (each derived edge records `rule`, `confidence`, `evidence` and the `basis` it rests on):
- issued-key (exact): the session's key is the one the STS call returned, same principal and second.
- console-switchrole / console-credentials (strong): the console mints its own keys, which never appear
  in an STS response, so the only issuing call of the slot links by principal + creation second, but
  only where the record shows console credentials (a call of the session with
  sessionCredentialFromConsole or a console agent, a SwitchRole in the slot, or the STS call made by
  AWS Internal / signin), and never when that call's own key is in use.
- same-service (strong): a session without a key whose every same-second issuance was made by one AWS
  service (service-linked roles: only that service can assume them).
- named-in-record (exact): IAM user and root sessions, and federated users whose issuer the record names.
- caller-copy (exact): the role account's copy of a call (userIdentity AWSAccount) continues at the
  caller account's copy with the same sharedEventID.
- source-identity (strong): where that caller copy is missing (its account's logs are not loaded) and
  the caller is a role session (`AROA...:name`) carrying a sourceIdentity, the copy continues at the
  session of the one loaded issuance that returned that principal, alive at the time, with the same
  sourceIdentity (role chaining cannot change it). The missing account stays named as the confirmation.
No link, and the trace stops saying why: `unmatched-key` (an SDK key no loaded call returned: its
issuance is not loaded), `ambiguous` (several issuances, nothing decides), `no-key` (no key, no console
evidence), `missing` (no issuance loaded).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from trailgraph.extract import user_or_root_label
from trailgraph.facts import GraphBatch, NodeRef
from trailgraph.vouching import PRINCIPAL_GROUP, is_alive, names_in_hours, wanted_hours

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


def copy_groups(facts: LinkFacts, shared: set[str]) -> set[str]:
    """The sharedEventIDs to decide: those named, and those of calls made from another account by a
    role session, in an hour, named by a principal group (`vouching.py`), whose issuance may now vouch
    for them."""
    wanted = wanted_hours(shared)
    named = {k for k in shared if not k.startswith(PRINCIPAL_GROUP)}
    return named | {
        c["sharedEventId"] for c in facts.calls if c.get("sharedEventId") and names_in_hours(c, wanted)
    }


def decided_groups(facts: LinkFacts, slots: set[str], shared: set[str]) -> set[str]:
    """Every derived-edge group `link` decides whole for these facts (to replace in the store)."""
    return slots | {f"shared:{s}" for s in copy_groups(facts, shared)}


def link(facts: LinkFacts, slots: set[str], shared: set[str]) -> GraphBatch:
    """Derived edges and link status for every session in `slots` and every copy group in `shared`
    (sharedEventIDs, and `pid:` principal groups, see `copy_groups`)."""
    out = GraphBatch()
    shared = copy_groups(facts, shared)
    by_principal: dict[str, list[Props]] = defaultdict(list)
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
        if call.get("issuedPrincipalId"):
            by_principal[call["issuedPrincipalId"]].append(call)
    by_slot: dict[str, list[Props]] = defaultdict(list)
    for session in facts.sessions:
        if session.get("slot") in slots:
            by_slot[session["slot"]].append(session)
    for slot, sessions in by_slot.items():
        _link_slot(out, slot, sessions, issuances.get(slot, {}), switches.get(slot, []))
    for shared_id, group in copies.items():
        _link_copies(out, shared_id, group, by_principal)
    return out


def _console_basis(session: Props, switch_ids: list[str], issued: list[Props]) -> list[str]:
    """Why a session's key is console-minted (and so never in an STS response), or [] if nothing says so."""
    basis = []
    if session.get("console"):
        basis.append("its calls were made with console credentials (sessionCredentialFromConsole / agent)")
    if switch_ids:
        basis.append("console SwitchRole in the same second")
    if any(c.get("consoleIssued") for c in issued):
        basis.append("the STS call was made by the console (AWS Internal / signin)")
    return basis


def _service_of(copies: list[Props]) -> str | None:
    actors = {c.get("actor") for c in copies}
    if len(actors) == 1:
        (actor,) = actors
        if isinstance(actor, str) and actor.startswith("Service:"):
            return actor
    return None


def _link_slot(
    out: GraphBatch, slot: str, sessions: list[Props], issued: dict[str, list[Props]], switches: list[Props]
) -> None:
    used_keys = {s.get("accessKeyId") for s in sessions if s.get("used")}
    switch_ids = sorted(c["eventId"] for c in switches)
    switch_from = sorted({c["switchFrom"] for c in switches})
    candidates = [c for copies in issued.values() for c in copies]
    for session in sorted(sessions, key=lambda s: s["id"]):
        ref: NodeRef = ("Session", session["id"])
        key = session.get("accessKeyId")
        kind = session.get("kind")
        at = session.get("creationDate")
        status, note = "linked", None
        basis = _console_basis(session, switch_ids, candidates) if key not in issued else []
        if key and key in issued:
            _issued_edge(out, slot, ref, issued[key], "issued-key", "exact", [], "the key it returned")
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
        elif not issued and kind == "federated" and user_or_root_label(str(session.get("issuerArn") or "")):
            issuer = str(session["issuerArn"])
            out.edge(
                "OPENED",
                (str(user_or_root_label(issuer)), issuer),
                ref,
                rule="named-in-record",
                confidence="exact",
                via="GetFederationToken",
                group=slot,
                evidence=[],
            )
        elif not issued:
            status = "missing"
            what = session.get("arn") or session["id"]
            note = f"no STS event issuing {what} at {at or 'an unknown time'} is loaded"
        elif basis and len(issued) == 1 and not used_keys.intersection(issued):
            ((_issued_key, copies),) = issued.items()
            rule = "console-switchrole" if switch_ids else "console-credentials"
            _issued_edge(out, slot, ref, copies, rule, "strong", switch_ids, "; ".join(basis))
            for arn in switch_from:
                if target_label := user_or_root_label(arn):
                    out.edge("SWITCHED_FROM", ref, (target_label, arn), group=slot, evidence=switch_ids)
        elif not key and not basis and (service := _service_of(candidates)):
            # Only the service can assume its service-linked role: every candidate names the same origin.
            _issued_edge(
                out,
                slot,
                ref,
                candidates,
                "same-service",
                "strong",
                [],
                f"no key; all {len(issued)} issuances of this session name in this second "
                f"were made by {service.partition(':')[2]}",
            )
        elif not basis and not key:
            status = "no-key"
            note = (
                f"the record carries no access key and nothing shows console credentials: the "
                f"{len(issued)} loaded issuance(s) of {session.get('name')} at {at} cannot be told "
                "from one that is not loaded"
            )
        elif not basis:
            status = "unmatched-key"
            note = (
                f"key {key} was returned by none of the {len(issued)} loaded issuance(s) of "
                f"{session.get('name')} at {at}, and nothing shows console credentials: the STS call that "
                "returned it is not loaded"
            )
        elif basis and len(issued) == 1:
            status = "unmatched-key"
            note = (
                f"key {key or '(none)'} is not the one issued at {at} ({next(iter(issued))}, itself in use): "
                "another issuance of this session name in this second is not loaded"
            )
        else:
            status = "ambiguous"
            note = (
                f"{len(issued)} sessions named {session.get('name')} were issued at {at} and "
                f"{'key ' + key if key else 'the record (no key)'} matches none of them"
            )
        regions = sorted({str(c["region"]) for c in candidates if c.get("region")})
        if status != "linked" and regions:
            note = f"{note}; loaded issuances of this slot were logged in {', '.join(regions)}"
        out.node("Session", session["id"], link=status, linkNote=note or "")


def _issued_edge(
    out: GraphBatch,
    slot: str,
    target: NodeRef,
    copies: list[Props],
    rule: str,
    confidence: str,
    extra: list[str],
    basis: str,
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
        basis=basis,
    )


def _link_copies(
    out: GraphBatch, shared_id: str, group: list[Props], by_principal: dict[str, list[Props]]
) -> None:
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
        elif vouched := _vouched(call, by_principal.get(str(call.get("callerPrincipalId")), [])):
            session, issuance = vouched
            account = _ref(call["actor"])[1].split("|", 1)[0]
            out.edge(
                "PERFORMED",
                ("Session", session),
                ("APICall", call["id"]),
                rule="source-identity",
                confidence="strong",
                via=f"sourceIdentity {call.get('callerSourceIdentity')!r} through account {account}",
                group=group_key,
                evidence=sorted({c["eventId"] for c in issuance} | {call["eventId"]}),
                basis=f"account {account}'s logs are not loaded; the caller {call.get('callerPrincipalId')} "
                "is the session the only loaded issuance of that principal alive at the time returned, "
                "with the same sourceIdentity (which role chaining cannot change)",
                unconfirmedAccount=account,
            )
        else:
            out.edge("PERFORMED", _ref(call["actor"]), ("APICall", call["id"]), group=group_key)


def _vouched(call: Props, issuances: list[Props]) -> tuple[str, list[Props]] | None:
    """The one loaded issuance of the caller's principal alive at the call, if its sourceIdentity is the
    one the call carries: its session, and the copies of that issuance (evidence)."""
    source_identity, at = call.get("callerSourceIdentity"), str(call.get("eventTime"))
    if not source_identity:
        return None
    alive: dict[str, list[Props]] = defaultdict(list)
    for c in issuances:
        if is_alive(c, at) and c.get("issuedSession"):
            alive[c["issuedSession"]].append(c)
    if len(alive) != 1:
        return None
    ((session, copies),) = alive.items()
    if {c.get("issuedSourceIdentity") for c in copies} != {source_identity}:
        return None
    return session, copies
