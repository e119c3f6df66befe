"""One CloudTrail record -> graph facts. Pure: no I/O, no knowledge of other records.

Everything a later linking step needs is put on the nodes here (session slots, issued keys,
sharedEventID), so records can arrive in any order and the linker can re-decide from stored facts.
Session tokens are never read into the facts.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from trailgraph.details import detail_props
from trailgraph.facts import EdgeKey, GraphBatch, NodeRef, bounded, merge_props
from trailgraph.records import Record
from trailgraph.vouching import principal_groups

ISSUING_EVENTS = frozenset(
    {
        "AssumeRole",
        "AssumeRoleWithSAML",
        "AssumeRoleWithWebIdentity",
        "GetFederationToken",
        "GetSessionToken",
        "AssumeRoot",
    }
)
WORKLOAD_PROVIDERS = ("token.actions.githubusercontent.com", "oidc.eks.", "sts.windows.net", "gitlab")
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
ANONYMOUS = "ANONYMOUS_PRINCIPAL"
CONSOLE_AGENTS = frozenset({"AWS Internal", "console.amazonaws.com", "signin.amazonaws.com"})
"""User agents (and source addresses) the console's own calls carry. Browsers' `Mozilla/...` agents are
not on the list: the JavaScript SDK sends them too."""
CONSOLE_ISSUERS = frozenset({"AWS Internal", "signin.amazonaws.com"})
CONSOLE_KEY = "console"
"""The key part of a console session's id: one node per sign-in, whichever keys it carried."""
"""`invokedBy` / `sourceIPAddress` of an STS call the console made for a SwitchRole or sign-in."""

_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.\d+)?\s*(Z|[+-]\d{2}:?\d{2})?$")


def normalize_time(value: Any) -> str | None:
    """CloudTrail times to `YYYY-MM-DDTHH:MM:SSZ` (second precision, UTC), or None if not a time."""
    if not isinstance(value, str):
        return None
    return _normalize_time(value)


@lru_cache(maxsize=1 << 16)
def _normalize_time(value: str) -> str | None:
    """Pure, and the same few seconds recur in every file: cached."""
    m = _TIME.match(value.strip())
    if not m:
        return None
    day, clock, zone = m.groups()
    if zone in (None, "Z", "+00:00", "+0000", "-00:00"):
        return f"{day}T{clock}Z"
    zone = zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
    try:
        parsed = datetime.fromisoformat(f"{day}T{clock}{zone}").astimezone(UTC)
    except ValueError:
        return None
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")


_HUMAN_TIME_FORMATS = ("%b %d, %Y %I:%M:%S %p", "%b %d, %Y, %I:%M:%S %p")


_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_HUMAN_TIME = re.compile(
    r"([A-Z][a-z]{2}) ([1-9]|[12][0-9]|3[01]), ([0-9]{4}),? ([1-9]|1[0-2]):([0-5][0-9]):([0-5][0-9]) ([AP]M)"
)


def normalize_expiration(value: Any) -> str | None:
    """Credential expirations come as ISO or as `Sep 17, 2020 8:04:10 PM`."""
    iso = normalize_time(value)
    if iso or not isinstance(value, str):
        return iso
    stripped = value.strip()
    m = _HUMAN_TIME.fullmatch(stripped)
    if m and m.group(1) in _MONTHS:
        # The common shape without strptime (slow, and the same answer whenever this matches).
        month, day, year, hour, minute, second, half = m.groups()
        try:
            at = datetime(
                int(year),
                _MONTHS[month],
                int(day),
                int(hour) % 12 + (12 if half == "PM" else 0),
                int(minute),
                int(second),
            )
        except ValueError:
            pass
        else:
            return at.strftime("%Y-%m-%dT%H:%M:%SZ")
    for fmt in _HUMAN_TIME_FORMATS:
        try:
            return datetime.strptime(stripped, fmt).strftime("%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            continue
    return None


def session_id(who: str, creation: str, key: str) -> str:
    """Session key: ARN (or principalId) | creationDate | access key id. Temporary key ids get reused,
    so a key alone never names a session."""
    return bounded(f"{who}|{creation}|{key}")


def slot_of(who: str, creation: str) -> str:
    """Where issuance and use meet: the session ARN and its creation second, without the key."""
    return bounded(f"{who}|{creation}")


@dataclass
class Extracted:
    """Facts of one record plus the linker groups it touches."""

    call: NodeRef
    batch: GraphBatch
    slots: set[str] = field(default_factory=set)
    shared: set[str] = field(default_factory=set)


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def account_of_arn(arn: str | None) -> str | None:
    if arn and arn.startswith("arn:"):
        parts = arn.split(":")
        if len(parts) > 4 and parts[4]:
            return parts[4]
    return None


def role_of_arn(arn: str | None) -> str | None:
    """The role a session ARN names (`...:assumed-role/ROLE/session`), for people reading the graph."""
    if arn and ":assumed-role/" in arn:
        return arn.split(":assumed-role/", 1)[1].split("/", 1)[0] or None
    return None


def user_or_root_label(arn: str) -> str | None:
    """`Root` or `IAMUser` for ARNs that name one (SwitchFrom, sessionIssuer), else None."""
    if arn.endswith(":root"):
        return "Root"
    return "IAMUser" if ":user/" in arn else None


def _principal_node(batch: GraphBatch, arn: str) -> NodeRef | None:
    """An IAM user or root named by ARN (SwitchFrom, sessionIssuer)."""
    label = user_or_root_label(arn)
    if label is None:
        return None
    account = account_of_arn(arn)
    ref = batch.node(
        label, arn, arn=arn, account=account, name="root" if label == "Root" else arn.rsplit("/", 1)[-1]
    )
    if account:
        batch.edge("IN_ACCOUNT", ref, batch.node("Account", account))
    return ref


def _role_node(batch: GraphBatch, role_arn: str) -> NodeRef:
    account = account_of_arn(role_arn)
    ref = batch.node("Role", role_arn, arn=role_arn, account=account, name=role_arn.rsplit("/", 1)[-1])
    if account:
        batch.edge("IN_ACCOUNT", ref, batch.node("Account", account))
    return ref


def _role_from_session_arn(arn: str) -> str | None:
    """`arn:aws:sts::A:assumed-role/R/S` -> `arn:aws:iam::A:role/R` (path unknown: only a fallback)."""
    m = re.match(r"^arn:(aws[\w-]*):sts::(\d+):assumed-role/([^/]+)/", arn)
    return f"arn:{m.group(1)}:iam::{m.group(2)}:role/{m.group(3)}" if m else None


def _session_arn(role_arn: str, session_name: str) -> str | None:
    """`arn:aws:iam::A:role/path/R` + session -> `arn:aws:sts::A:assumed-role/R/session` (path dropped)."""
    m = re.match(r"^arn:(aws[\w-]*):iam::(\d+):role/(?:.*/)?([^/]+)$", role_arn)
    return (
        f"arn:{m.group(1)}:sts::{m.group(2)}:assumed-role/{m.group(3)}/{session_name}"
        if m and session_name
        else None
    )


def external_identity_ref(
    batch: GraphBatch, kind: str, provider: str | None, subject: str, **props: Any
) -> NodeRef:
    node_id = f"{kind}|{subject}" if kind == "IdentityCenterUser" else f"{kind}|{provider or ''}|{subject}"
    return batch.node(
        "ExternalIdentity", node_id, type=kind, provider=provider, subject=subject, name=subject, **props
    )


def _is_identity_center(provider: str | None, role_arn: str | None) -> bool:
    return bool(
        (provider and provider.startswith("AWSSSO_")) or (role_arn and "/AWSReservedSSO_" in role_arn)
    )


def record_digest(record: Record) -> str:
    """The record's content, hashed: two records with one eventID and account but different digests are
    a conflict to report, never a duplicate to drop silently."""
    try:
        body = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        body = repr(record).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(body, digest_size=10).hexdigest()


@dataclass(frozen=True, slots=True)
class Head:
    """What decides whether a record can be loaded, and which APICall it is."""

    event_id: str
    event_time: str
    ui: dict[str, Any]
    account: str
    digest: str

    @property
    def call_id(self) -> str:
        return f"{self.account}:{self.event_id}"


def check(record: Record) -> Head | str:
    """The record's APICall identity, or the one-line reason it cannot be loaded."""
    event_id = _s(record.get("eventID"))
    if event_id is None:
        return "missing eventID"
    raw_time = record.get("eventTime")
    if raw_time is None:
        return "missing eventTime"
    event_time = normalize_time(raw_time)
    if event_time is None:
        return f"eventTime {str(raw_time)[:40]!r} is not an ISO 8601 time"
    ui = record.get("userIdentity")
    if not isinstance(ui, dict):
        return "missing userIdentity" if ui is None else "userIdentity is not an object"
    account = _s(record.get("recipientAccountId")) or _s(ui.get("accountId")) or "-"
    return Head(event_id, event_time, ui, account, record_digest(record))


def extract(record: Record) -> Extracted | str:
    """Facts for one record, or the one-line reason it cannot be loaded."""
    head = check(record)
    if isinstance(head, str):
        return head
    ext = Extracted(call=("APICall", head.call_id), batch=GraphBatch())
    _facts(record, head, ext)
    return ext


def extract_into(record: Record, head: Head, batch: GraphBatch, slots: set[str], shared: set[str]) -> None:
    """`extract` merged straight into `batch` (and the linker groups into `slots`, `shared`): the same
    result as `batch.merge(extract(record).batch)`, without building and merging a batch per record."""
    _facts(record, head, Extracted(("APICall", head.call_id), batch, slots, shared))


def _facts(record: Record, head: Head, ext: Extracted) -> None:
    batch = ext.batch
    event_id, event_time, ui, account = head.event_id, head.event_time, head.ui, head.account
    event_name = _s(record.get("eventName")) or "?"
    event_source = _s(record.get("eventSource")) or "?"
    shared = _s(record.get("sharedEventID"))
    read_only = record.get("readOnly")
    error_code = _s(record.get("errorCode"))
    user_agent = _s(record.get("userAgent"))
    from_console = str(record.get("sessionCredentialFromConsole")).lower() == "true"
    call_props: dict[str, Any] = {
        "eventId": event_id,
        "digest": head.digest,
        "eventName": event_name,
        "eventSource": event_source,
        "eventTime": event_time,
        "account": account,
        "region": _s(record.get("awsRegion")),
        "sourceIPAddress": _s(record.get("sourceIPAddress")),
        "userAgent": user_agent,
        "errorCode": error_code,
        "errorMessage": _s(record.get("errorMessage")),
        "outcome": _s(_d(record.get("responseElements")).get("ConsoleLogin"))
        if event_source == "signin.amazonaws.com"
        else None,
        "readOnly": read_only if isinstance(read_only, bool) else None,
        "eventType": _s(record.get("eventType")),
        "requestId": _s(record.get("requestID")),
        "sharedEventId": shared,
        "actorType": _s(ui.get("type")) or ("AWSService" if _s(ui.get("invokedBy")) else "Unknown"),
        "fromConsole": from_console or None,
        **detail_props(record),
    }
    if account != "-":
        batch.node("Account", account)
    # Console credentials: one session per sign-in, whatever keys the console mints for it (see _session).
    console = from_console or user_agent in CONSOLE_AGENTS or event_source == "signin.amazonaws.com"
    actor = _memo_actor(batch, ui, event_time, record, call_props, ext, console)
    if shared:
        ext.shared.add(shared)
    if actor is not None:
        call_props["actor"] = f"{actor[0]}:{actor[1]}"
        if actor[0] == "Session":
            call_props["actorSlot"] = batch.nodes[actor]["slot"]
        if not (call_props["actorType"] == "AWSAccount" and shared):
            batch.edge("PERFORMED", actor, ext.call, accessKeyId=call_props.get("accessKeyId"))
        elif (pid := _s(ui.get("principalId"))) and pid.startswith("AROA") and ":" in pid:
            # A role session seen from the other account: its own issuance may vouch for it (link.py).
            call_props["callerPrincipalId"] = pid
            call_props["callerSourceIdentity"] = _source_identity(record)
            ext.shared.update(principal_groups(call_props))
    if event_source == "sts.amazonaws.com" and event_name in ISSUING_EVENTS:
        _issuance(batch, record, event_name, event_time, ui, actor, call_props, ext)
        if actor is not None and call_props.get("issuedSlot"):
            # Who made this issuance, indexed: the sessions it issued follow that principal's attribution.
            call_props["issuerActor"] = call_props["actor"]
    batch.node("APICall", head.call_id, **call_props)


@dataclass(frozen=True, slots=True)
class _ActorFacts:
    """What `_actor` does for one userIdentity (and the few record fields it reads): replayable."""

    actor: NodeRef | None
    nodes: list[tuple[NodeRef, dict[str, Any]]]
    edges: list[tuple[EdgeKey, dict[str, Any]]]
    access_key: str | None
    switch_from: str | None
    slots: tuple[str, ...]


_ACTOR_MEMO: dict[tuple[Any, ...], _ActorFacts] = {}
_ACTOR_MEMO_MAX = 20_000


def _memo_actor(
    batch: GraphBatch,
    ui: dict[str, Any],
    event_time: str,
    record: Record,
    call: dict[str, Any],
    ext: Extracted,
    console: bool,
) -> NodeRef | None:
    """`_actor`, remembered: every call of a session carries the same userIdentity, so its facts are
    computed once and replayed (the same updates, in the same order, as computing them again).

    The key is everything `_actor` reads: the userIdentity (as JSON), whether the call is a console
    SwitchRole, whether it shows console credentials, the event time for sign-in events, and three
    record fields some identity types use."""
    try:
        ui_json = orjson.dumps(ui)
    except (TypeError, orjson.JSONEncodeError):
        return _actor(batch, ui, event_time, record, {**call, "console": console}, ext)
    aed = _d(record.get("additionalEventData"))
    key = (
        ui_json,
        call["eventName"] == "SwitchRole",
        console,
        event_time if call["eventSource"] == "signin.amazonaws.com" else None,
        _s(aed.get("SwitchFrom")),
        _s(aed.get("UserName")),
        _s(_d(record.get("requestParameters")).get("roleArn")),
    )
    facts = _ACTOR_MEMO.get(key)
    if facts is None:
        local = Extracted(call=ext.call, batch=GraphBatch())
        scratch: dict[str, Any] = {
            "actorType": call["actorType"],
            "eventName": call["eventName"],
            "eventSource": call["eventSource"],
            "console": console,
        }
        actor = _actor(local.batch, ui, event_time, record, scratch, local)
        facts = _ActorFacts(
            actor,
            list(local.batch.nodes.items()),
            list(local.batch.edges.items()),
            scratch.get("accessKeyId"),
            scratch.get("switchFrom"),
            tuple(local.slots),
        )
        if len(_ACTOR_MEMO) >= _ACTOR_MEMO_MAX:
            _ACTOR_MEMO.clear()
        _ACTOR_MEMO[key] = facts
    merge_props(batch.nodes, facts.nodes, copy=True)  # copies: the remembered facts are replayed again
    merge_props(batch.edges, facts.edges, copy=True)
    call["accessKeyId"] = facts.access_key
    if facts.switch_from is not None:
        call["switchFrom"] = facts.switch_from
    ext.slots.update(facts.slots)
    return facts.actor


def _actor(
    batch: GraphBatch,
    ui: dict[str, Any],
    event_time: str,
    record: Record,
    call: dict[str, Any],
    ext: Extracted,
) -> NodeRef | None:
    kind = call["actorType"]
    arn = _s(ui.get("arn"))
    principal_id = _s(ui.get("principalId"))
    ui_account = _s(ui.get("accountId")) or account_of_arn(arn)
    key = _s(ui.get("accessKeyId"))
    if key == "HIDDEN_DUE_TO_SECURITY_REASONS":
        key = None
    call["accessKeyId"] = key
    ctx = _d(ui.get("sessionContext"))
    attrs = _d(ctx.get("attributes"))
    creation = normalize_time(attrs.get("creationDate"))
    mfa = str(attrs.get("mfaAuthenticated")).lower() == "true" if "mfaAuthenticated" in attrs else None
    issuer = _d(ctx.get("sessionIssuer"))

    if kind == "IAMUser" and HIDDEN in (_s(ui.get("userName")), arn):
        return _unknown(batch, HIDDEN, ui_account)  # a failed sign-in's unknown name: nobody
    if kind in ("IAMUser", "Root"):
        if not arn and kind == "IAMUser" and ui_account and _s(ui.get("userName")):
            arn = f"arn:aws:iam::{ui_account}:user/{ui['userName']}"
        if not arn and kind == "Root" and ui_account:
            arn = f"arn:aws:iam::{ui_account}:root"
        if not arn:
            return _unknown(batch, principal_id or "unknown", ui_account)
        label = "IAMUser" if kind == "IAMUser" else "Root"
        name = _s(ui.get("userName")) or ("root" if kind == "Root" else arn.rsplit("/", 1)[-1])
        user = batch.node(label, arn, arn=arn, account=ui_account, name=name, principalId=principal_id)
        if ui_account:
            batch.edge("IN_ACCOUNT", user, batch.node("Account", ui_account))
        if key and key.startswith("ASIA") and creation:
            assumed_root = str(ctx.get("assumedRoot")).lower() == "true"
            pid = (ui_account or "") if assumed_root or kind == "Root" else (principal_id or arn)
            return _session(
                batch,
                ext,
                pid,
                creation,
                key,
                arn=arn,
                account=ui_account,
                kind="assumed-root" if assumed_root else kind.lower(),
                owner=user,
                mfa=mfa,
                name=name,
                source_identity=_s(ctx.get("sourceIdentity")),
                console=call["console"],
            )
        if key:
            kind_of_key = "long-term" if key.startswith("AKIA") else "temporary"
            batch.edge("KEY_OF", batch.node("AccessKey", key, kind=kind_of_key), user)
        return user

    if kind in ("AssumedRole", "FederatedUser"):
        if not principal_id:
            return _unknown(batch, arn or "unknown", ui_account)
        if event_time and not creation and call["eventSource"] == "signin.amazonaws.com":
            creation = event_time  # SwitchRole and console sign-ins happen at the session's creation
        switch_from = _s(_d(record.get("additionalEventData")).get("SwitchFrom"))
        if call["eventName"] == "SwitchRole" and switch_from:
            call["switchFrom"] = switch_from
            _principal_node(batch, switch_from)
        issuer_arn = _s(issuer.get("arn"))
        owner: NodeRef | None = None
        if kind == "AssumedRole":
            role_arn = issuer_arn or (_role_from_session_arn(arn) if arn else None)
            owner = _role_node(batch, role_arn) if role_arn else None
        elif issuer_arn:
            owner = _principal_node(batch, issuer_arn)
        ref = _session(
            batch,
            ext,
            principal_id,
            creation or "",
            key or "",
            arn=arn,
            account=ui_account,
            kind="role" if kind == "AssumedRole" else "federated",
            owner=owner,
            mfa=mfa,
            name=principal_id.split(":", 1)[-1],
            source_identity=_s(ctx.get("sourceIdentity")),
            console=call["console"],
            issuer_arn=issuer_arn if kind == "FederatedUser" else None,
            ec2=_s(ctx.get("ec2RoleDelivery")),
        )
        behalf = _d(ui.get("onBehalfOf"))
        user_id = _s(behalf.get("userId"))
        if user_id:
            batch.node(ref[0], ref[1], onBehalfOfUserId=user_id)
            session_name = principal_id.split(":", 1)[-1]
            if kind == "AssumedRole" and _is_identity_center(None, issuer_arn):
                external_identity_ref(batch, "IdentityCenterUser", None, session_name, userId=user_id)
        return ref

    if kind == "AWSAccount" and ANONYMOUS in (principal_id, ui_account):
        return external_identity_ref(batch, "Anonymous", None, ANONYMOUS)
    if kind == "AWSAccount":
        acct = ui_account or "unknown"
        pid = principal_id or "unknown"
        ref = batch.node("AccountPrincipal", f"{acct}|{pid}", account=acct, principalId=pid)
        if ui_account:
            batch.edge("IN_ACCOUNT", ref, batch.node("Account", ui_account))
        return ref

    if kind == "AWSService":
        # Also a userIdentity of only accountId + invokedBy: a service acting on its own (AwsServiceEvent).
        service = _s(ui.get("invokedBy")) or principal_id or "unknown-service"
        return batch.node("Service", service, name=service)

    if kind in ("SAMLUser", "WebIdentityUser"):
        subject = _s(ui.get("userName")) or principal_id or "unknown"
        provider = _s(ui.get("identityProvider"))
        role_arn = _s(_d(record.get("requestParameters")).get("roleArn"))
        if kind == "SAMLUser" and _is_identity_center(provider, role_arn):
            return external_identity_ref(batch, "IdentityCenterUser", provider, subject)
        return external_identity_ref(batch, kind, provider, subject)

    if kind == "IdentityCenterUser":
        behalf = _d(ui.get("onBehalfOf"))
        user_id = _s(behalf.get("userId"))
        user_name = _s(_d(record.get("additionalEventData")).get("UserName"))
        subject = user_name or user_id or "unknown"
        return external_identity_ref(batch, "IdentityCenterUser", None, subject, userId=user_id)

    return _unknown(batch, principal_id or _s(ui.get("userName")) or "unknown", ui_account)


def _source_identity(record: Record) -> str | None:
    """sourceIdentity as the record carries it: the caller's session context, else the STS call's."""
    ctx = _d(_d(record.get("userIdentity")).get("sessionContext"))
    return (
        _s(ctx.get("sourceIdentity"))
        or _s(_d(record.get("responseElements")).get("sourceIdentity"))
        or _s(_d(record.get("requestParameters")).get("sourceIdentity"))
    )


def _unknown(batch: GraphBatch, who: str, account: str | None) -> NodeRef:
    return external_identity_ref(batch, "Unknown", account, who)


def _session(
    batch: GraphBatch,
    ext: Extracted,
    principal_id: str,
    creation: str,
    key: str,
    *,
    arn: str | None,
    account: str | None,
    kind: str,
    owner: NodeRef | None,
    mfa: bool | None,
    name: str,
    source_identity: str | None,
    console: bool,
    issuer_arn: str | None = None,
    ec2: str | None = None,
) -> NodeRef:
    """A session as a call shows it. Console credentials name one node per sign-in (the console mints
    several keys for it, none in an STS response; its keys hang off it as AccessKeys); any other key
    names its own node, so a key proven to belong to another issuance stays with that one."""
    who = arn or principal_id
    slot = slot_of(who, creation)
    ref = batch.node(
        "Session",
        session_id(who, creation, CONSOLE_KEY if console else key),
        slot=slot,
        principalId=principal_id,
        creationDate=creation or None,
        accessKeyId=None if console else key or None,
        console=console or None,
        arn=arn,
        account=account,
        kind=kind,
        name=name,
        role=role_of_arn(arn),
        mfa=mfa,
        sourceIdentity=source_identity,
        issuerArn=issuer_arn,
        ec2RoleDelivery=ec2,
        used=True,
    )
    ext.slots.add(slot)
    if owner is not None:
        batch.edge("SESSION_OF", ref, owner)
    if key:
        batch.edge("KEY_OF", batch.node("AccessKey", key, kind="temporary"), ref)
    return ref


def _issuance(
    batch: GraphBatch,
    record: Record,
    event_name: str,
    event_time: str,
    ui: dict[str, Any],
    actor: NodeRef | None,
    call: dict[str, Any],
    ext: Extracted,
) -> None:
    """The session an STS call issued: the same Session node its later uses will name."""
    rp = _d(record.get("requestParameters"))
    re_ = _d(record.get("responseElements"))
    creds = _d(re_.get("credentials"))
    key = _s(creds.get("accessKeyId"))
    role_arn = _s(rp.get("roleArn"))
    role = _role_node(batch, role_arn) if role_arn else None
    call.update(
        roleArn=role_arn,
        roleSessionName=_s(rp.get("roleSessionName")),
        requestedSourceIdentity=_s(rp.get("sourceIdentity")),
    )
    if key is None or call["errorCode"]:
        return  # a failed call issued nothing (even one that echoes credentials), as a record without them
    if role is not None and actor is not None:
        batch.edge("ASSUMED", actor, role)
    if CONSOLE_ISSUERS.intersection((_s(ui.get("invokedBy")), _s(record.get("sourceIPAddress")))):
        call["consoleIssued"] = True
    expiration = normalize_expiration(creds.get("expiration"))
    assumed = _d(re_.get("assumedRoleUser"))
    federated = _d(re_.get("federatedUser"))
    owner: NodeRef | None = role
    session_name = _s(rp.get("roleSessionName"))
    if assumed or (event_name == "AssumeRole" and role_arn and session_name):
        # AWS services' AssumeRole responses omit assumedRoleUser: the session ARN follows from the request.
        principal_id, kind = _s(assumed.get("assumedRoleId")), "role"
        arn = _s(assumed.get("arn")) or _session_arn(role_arn or "", session_name or "")
    elif federated:
        principal_id, arn, kind = _s(federated.get("federatedUserId")), _s(federated.get("arn")), "federated"
        owner = _principal_node(batch, _s(ui.get("arn")) or "")
    elif event_name == "GetSessionToken":
        principal_id, arn = _s(ui.get("principalId")), _s(ui.get("arn"))
        kind = "root" if ui.get("type") == "Root" else "iamuser"
        if kind == "root":
            principal_id = _s(ui.get("accountId"))
        owner = _principal_node(batch, arn or "")
    elif event_name == "AssumeRoot":
        principal_id = _s(rp.get("targetPrincipal"))
        arn = f"arn:aws:iam::{principal_id}:root" if principal_id else None
        kind = "assumed-root"
        owner = _principal_node(batch, arn or "")
    else:
        return
    who = arn or principal_id
    if not who:
        return
    slot = slot_of(who, event_time)
    console = bool(call.get("consoleIssued"))  # the console's session: its uses carry keys of its own
    sid = session_id(who, event_time, CONSOLE_KEY if console else key)
    ref = batch.node(
        "Session",
        sid,
        slot=slot,
        principalId=principal_id,
        creationDate=event_time,
        accessKeyId=None if console else key,
        console=console or None,
        arn=arn,
        account=account_of_arn(arn),
        kind=kind,
        name=who.rsplit("/", 1)[-1].split(":", 1)[-1],
        role=role_of_arn(arn),
        expiration=expiration,
        sourceIdentity=_s(re_.get("sourceIdentity")) or _s(rp.get("sourceIdentity")),
        issued=True,
    )
    if owner is not None:
        batch.edge("SESSION_OF", ref, owner)
    batch.edge("KEY_OF", batch.node("AccessKey", key, kind="temporary"), ref)
    call.update(issuedSlot=slot, issuedSession=sid, issuedKey=key, issuedArn=arn, expiration=expiration)
    ext.slots.add(slot)
    if kind == "role" and principal_id:
        call.update(
            issuedPrincipalId=principal_id, issuedSourceIdentity=batch.nodes[ref].get("sourceIdentity")
        )
        ext.shared.update(principal_groups(call))
