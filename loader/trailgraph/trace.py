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


def build_trace(call: Node, nodes: list[Node], rels: list[Rel]) -> dict[str, Any]:
    """The trace answer for one API call from its path (nodes[0] is the origin, nodes[-1] the call)."""
    top = nodes[0]
    origin, complete = _origin(top, nodes)
    principal_idx = [i for i, n in enumerate(nodes) if n["label"] != "APICall"]
    actor_node = nodes[principal_idx[-1]] if principal_idx else top
    chain: list[dict[str, Any]] = []
    for a, b in pairwise(principal_idx):
        into = rels[b - 1]  # the edge that reaches principal b
        step_call = nodes[b - 1] if nodes[b - 1]["label"] == "APICall" else None
        evidence = list(into.get("evidence") or [])
        if into["type"] == "OPENED" and b + 1 < len(nodes):
            evidence = [nodes[b + 1]["eventId"]]
        chain.append(
            {
                "from": describe(nodes[a]),
                "to": describe(nodes[b]),
                "via": into.get("via") or into["type"],
                "at": step_call.get("eventTime") if step_call else nodes[b].get("creationDate"),
                "linkedBy": into.get("rule"),
                "confidence": into.get("confidence"),
                "evidence": evidence,
            }
        )
    copies = [r for r in rels if r["type"] == "COPIED_TO"]
    if copies:
        last = copies[-1]
        chain.append(
            {
                "from": describe(actor_node),
                "to": {"type": "APICall", "id": call.get("eventId"), "account": call.get("account")},
                "via": "cross-account copy",
                "at": call.get("eventTime"),
                "linkedBy": last.get("rule"),
                "confidence": last.get("confidence"),
                "evidence": list(last.get("evidence") or []),
            }
        )
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
            **decode(call),
        },
        "actor": describe(actor_node),
        "origin": origin,
        "chain": chain,
        "complete": complete,
        "gaps": _gaps(top, nodes),
    }
