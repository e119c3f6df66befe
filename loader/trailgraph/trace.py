"""From a walked path (origin ... action) to the answer an investigator reads. Pure.

Both engines return the same path rows (the `trace` canned query); this module alone turns them into
origin, chain, gaps and completeness, so the two backends cannot disagree on interpretation.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from trailgraph.details import decode
from trailgraph.extract import account_of_arn

Node = dict[str, Any]
Rel = dict[str, Any]

_WORKLOAD_HINTS = ("token.actions.githubusercontent.com", "oidc.eks.", "gitlab", "circleci", "bitbucket")


def describe(node: Node) -> dict[str, Any]:
    """A principal as shown in chains: enough to recognise it, no internals."""
    label = node["label"]
    if label == "Session":
        kind = node.get("kind")
        return {
            "type": {
                "role": "AssumedRole",
                "federated": "FederatedUser",
                "iamuser": "IAMUserSession",
                "root": "RootSession",
                "assumed-root": "AssumedRoot",
            }.get(str(kind), "Session"),
            "id": node.get("arn") or node["id"],
            "arn": node.get("arn"),
            "name": node.get("name"),
            "account": node.get("account"),
            "accessKeyId": node.get("accessKeyId"),
            "creationDate": node.get("creationDate"),
            "mfa": node.get("mfa"),
            "sourceIdentity": node.get("sourceIdentity"),
        }
    if label == "ExternalIdentity":
        return {
            "type": node.get("type"),
            "id": node.get("userId") or node.get("subject"),
            "arn": None,
            "name": node.get("subject"),
            "account": None,
            "provider": node.get("provider"),
        }
    if label == "AccountPrincipal":
        return {
            "type": "AWSAccount",
            "id": node.get("account"),
            "arn": None,
            "name": node.get("principalId"),
            "account": node.get("account"),
        }
    if label == "Service":
        return {"type": "AWSService", "id": node["id"], "arn": None, "name": node["id"], "account": None}
    return {
        "type": label,
        "id": node.get("arn") or node["id"],
        "arn": node.get("arn"),
        "name": node.get("name"),
        "account": node.get("account"),
    }


def _origin(top: Node, path_nodes: list[Node]) -> tuple[dict[str, Any], bool]:
    label = top["label"]
    desc = describe(top)
    human: bool | None
    complete = True
    if label in ("IAMUser", "Root"):
        human = True
    elif label == "ExternalIdentity":
        kind = top.get("type")
        if kind == "IdentityCenterUser":
            user_id = top.get("userId") or next(
                (n.get("onBehalfOfUserId") for n in path_nodes if n.get("onBehalfOfUserId")), None
            )
            desc["id"] = user_id or top.get("subject")
            human = True
        elif kind == "SAMLUser":
            human = True
        elif kind == "WebIdentityUser":
            provider = str(top.get("provider") or "")
            human = False if any(h in provider for h in _WORKLOAD_HINTS) else None
        elif kind == "Anonymous":
            human = None  # nobody signed the request: the answer is complete, and it is "anonymous"
        else:
            human, complete = None, False
            desc["type"] = "Unknown"
    elif label == "Service":
        human = False
    elif label == "AccountPrincipal":
        human, complete = None, False
    else:
        human, complete = None, False
        desc = {
            "type": "Unknown",
            "id": desc["id"],
            "arn": desc.get("arn"),
            "name": desc.get("name"),
            "account": desc.get("account"),
        }
    origin = {
        "type": desc["type"],
        "id": desc["id"],
        "arn": desc.get("arn"),
        "name": desc.get("name"),
        "account": desc.get("account"),
        "human": human,
    }
    return origin, complete


def _gaps(top: Node, path_nodes: list[Node]) -> list[dict[str, Any]]:
    label = top["label"]
    if label == "AccountPrincipal":
        call = next((n for n in path_nodes if n["label"] == "APICall"), None)
        what = f"{call.get('eventName')} {call.get('eventId')}" if call else "this call"
        shared = f" (sharedEventID {call.get('sharedEventId')})" if call and call.get("sharedEventId") else ""
        source_identity = next((n.get("sourceIdentity") for n in path_nodes if n.get("sourceIdentity")), None)
        hint = f"; sessions downstream carry sourceIdentity {source_identity!r}" if source_identity else ""
        return [
            {
                "account": top.get("account"),
                "reason": f"the caller {top.get('principalId')} made {what}{shared} from account "
                f"{top.get('account')}, whose trail is not loaded: load that account's CloudTrail "
                f"to continue{hint}",
            }
        ]
    if label == "Session":
        status = top.get("link") or "missing"
        account = top.get("account") or account_of_arn(top.get("arn"))
        note = top.get("linkNote") or f"no STS event issuing this session is loaded ({status})"
        if status in ("missing", "unmatched-key"):
            note += (
                f"; the issuing STS call is logged in account {account} (us-east-1 or the regional STS "
                "endpoint used)"
            )
        return [{"account": account, "reason": note}]
    if label == "ExternalIdentity" and top.get("type") == "Unknown":
        return [{"account": top.get("provider"), "reason": "CloudTrail recorded no identity for this caller"}]
    return []


ATTRIBUTION = ("originLabel", "originId", "originType", "complete", "depth", "gapAccount", "gapReason")
"""What every Session keeps of its walk back (`attribution`), so questions about people read an index."""


def attribution(nodes: list[Node]) -> dict[str, Any]:
    """A session's kept attribution from its path (nodes[0] the origin, nodes[-1] the session): what a
    trace of any call it made says of its origin, completeness and first gap, and its depth (principal
    hops from the origin). The trace path itself, with its evidence, is never replaced by this."""
    top = nodes[0]
    origin, complete = _origin(top, nodes)
    gaps = _gaps(top, nodes)
    return {
        "originLabel": top["label"],
        "originId": top["id"],
        "originType": origin["type"],
        "complete": complete,
        "depth": sum(1 for n in nodes if n["label"] != "APICall") - 1,
        "gapAccount": gaps[0]["account"] if gaps else None,
        "gapReason": gaps[0]["reason"] if gaps else None,
    }


def _step(actor: Node, call: Node, rel: Rel) -> dict[str, Any]:
    """A hop from a principal to a call that is not its own (a copy, or a caller vouched for)."""
    return {
        "from": describe(actor),
        "to": {"type": "APICall", "id": call.get("eventId"), "account": call.get("account")},
        "via": rel.get("via") or rel["type"],
        "at": call.get("eventTime"),
        "linkedBy": rel.get("rule"),
        "confidence": rel.get("confidence"),
        "evidence": list(rel.get("evidence") or []),
        "sourceIPAddress": call.get("sourceIPAddress"),
        "userAgent": call.get("userAgent"),
    }


def _with_key(actor: dict[str, Any], call: Node) -> dict[str, Any]:
    """The actor with the key this call used: a console session holds several, the call names one."""
    if actor.get("accessKeyId") is None and call.get("accessKeyId") and actor["type"] != "AWSAccount":
        return {**actor, "accessKeyId": call["accessKeyId"]}
    return actor


def _unconfirmed(rel: Rel) -> dict[str, Any]:
    return {
        "account": rel.get("unconfirmedAccount"),
        "reason": f"linked by {rel['rule']} ({rel.get('via')}), not by that account's own records: "
        "its CloudTrail would confirm this hop",
    }


def failed_sign_in(call: Node) -> bool:
    """A sign-in that failed: an attempt with a name, which proves nothing about who typed it."""
    return call.get("eventSource") == "signin.amazonaws.com" and (
        call.get("outcome") == "Failure" or bool(call.get("errorMessage") or call.get("errorCode"))
    )


def build_trace(call: Node, nodes: list[Node], rels: list[Rel]) -> dict[str, Any]:
    """The trace answer for one API call from its path (nodes[0] is the origin, nodes[-1] the call)."""
    top = nodes[0]
    origin, complete = _origin(top, nodes)
    gaps = _gaps(top, nodes)
    if failed_sign_in(call):
        named = origin.get("arn") or origin.get("name")
        origin = {**origin, "type": "Unknown", "human": None}
        complete = False
        gaps = [
            {
                "account": None,
                "reason": f"failed sign-in ({call.get('eventName')}: "
                f"{call.get('errorMessage') or call.get('outcome') or call.get('errorCode')}) with the name "
                f"{named}: an attempt proves nothing about who typed it, and no log can tell",
            }
        ]
    principal_idx = [i for i, n in enumerate(nodes) if n["label"] != "APICall"]
    actor_node = nodes[principal_idx[-1]] if principal_idx else top
    chain: list[dict[str, Any]] = []
    for a, b in pairwise(principal_idx):
        for i in range(a, b - 1):  # a link between them that is not an issuance: vouched by sourceIdentity
            if rels[i]["type"] == "PERFORMED" and rels[i].get("rule"):
                chain.append(_step(nodes[a], nodes[i + 1], rels[i]))
                gaps.append(_unconfirmed(rels[i]))
        into = rels[b - 1]  # the edge that reaches principal b
        step_call = nodes[b - 1] if nodes[b - 1]["label"] == "APICall" else None
        evidence = list(into.get("evidence") or [])
        if into["type"] == "OPENED" and b + 1 < len(nodes):
            evidence = [nodes[b + 1]["eventId"]]
        # Where the hop was made from: the issuing call, or for a sign-in session the call that shows it.
        seen_in = step_call or (nodes[b + 1] if into["type"] == "OPENED" and b + 1 < len(nodes) else {})
        chain.append(
            {
                "from": describe(nodes[a]),
                "to": describe(nodes[b]),
                "via": into.get("via") or into["type"],
                "at": step_call.get("eventTime") if step_call else nodes[b].get("creationDate"),
                "linkedBy": into.get("rule"),
                "confidence": into.get("confidence"),
                "evidence": evidence,
                "sourceIPAddress": seen_in.get("sourceIPAddress"),
                "userAgent": seen_in.get("userAgent"),
            }
        )
    copies = [r for r in rels if r["type"] == "COPIED_TO"]
    last = rels[-1] if rels else None
    if copies:
        chain.append(_step(actor_node, call, copies[-1]))
    elif last is not None and last["type"] == "PERFORMED" and last.get("rule"):
        chain.append(_step(actor_node, call, last))
        gaps.append(_unconfirmed(last))
    return {
        "event": {
            "eventId": call.get("eventId"),
            "eventName": call.get("eventName"),
            "eventSource": call.get("eventSource"),
            "eventTime": call.get("eventTime"),
            "account": call.get("account"),
            "region": call.get("region"),
            "sourceIPAddress": call.get("sourceIPAddress"),
            "userAgent": call.get("userAgent"),
            "readOnly": call.get("readOnly"),
            "eventType": call.get("eventType"),
            "errorCode": call.get("errorCode"),
            "errorMessage": call.get("errorMessage"),
            "outcome": call.get("outcome"),
            **decode(call),
        },
        "actor": _with_key(describe(actor_node), call),
        "origin": origin,
        "chain": chain,
        "complete": complete,
        "gaps": gaps,
    }
