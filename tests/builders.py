"""Real-shaped CloudTrail records for rule tests (modelled on the seed and stratus-red-team corpora)."""

from __future__ import annotations

import itertools
from typing import Any

Record = dict[str, Any]
_ids = itertools.count(1)


def eid() -> str:
    return f"00000000-0000-4000-8000-{next(_ids):012d}"


def user_identity(account: str, name: str, key: str = "AKIAEXAMPLEUSER00001") -> Record:
    return {
        "type": "IAMUser",
        "principalId": f"AIDA{name.upper()[:8]:0<8}EXAMPLE",
        "accountId": account,
        "arn": f"arn:aws:iam::{account}:user/{name}",
        "userName": name,
        "accessKeyId": key,
    }


def role_session_identity(
    account: str, role: str, session: str, key: str, created: str, mfa: bool = False, **extra: Any
) -> Record:
    ui: Record = {
        "type": "AssumedRole",
        "principalId": f"AROA{role.upper()[:8]:0<8}EXAMPLE:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": f"AROA{role.upper()[:8]:0<8}EXAMPLE",
                "arn": f"arn:aws:iam::{account}:role/{role}",
                "accountId": account,
                "userName": role,
            },
            "attributes": {"creationDate": created, "mfaAuthenticated": str(mfa).lower()},
        },
    }
    ui.update(extra)
    return ui


def call(
    ui: Record,
    at: str,
    name: str = "ListBuckets",
    source: str = "s3.amazonaws.com",
    account: str | None = None,
    **extra: Any,
) -> Record:
    record: Record = {
        "eventVersion": "1.08",
        "userIdentity": ui,
        "eventTime": at,
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": None,
        "responseElements": None,
        "requestID": eid(),
        "eventID": eid(),
        "eventType": "AwsApiCall",
        "recipientAccountId": account or ui.get("accountId"),
    }
    record.update(extra)
    return record


def assume_role(
    caller: Record,
    at: str,
    role_account: str,
    role: str,
    session: str,
    key: str,
    event_name: str = "AssumeRole",
    **extra: Any,
) -> list[Record]:
    """Caller copy, and a role-account copy (userIdentity AWSAccount) when the call crosses accounts."""
    caller_account = caller.get("accountId")
    response = {
        "credentials": {
            "accessKeyId": key,
            "sessionToken": "IQoJb3JpZ2luX2VjSECRET" + key,
            "expiration": "Sep 17, 2020 8:04:10 PM",
        },
        "assumedRoleUser": {
            "assumedRoleId": f"AROA{role.upper()[:8]:0<8}EXAMPLE:{session}",
            "arn": f"arn:aws:sts::{role_account}:assumed-role/{role}/{session}",
        },
    }
    params = {"roleArn": f"arn:aws:iam::{role_account}:role/{role}", "roleSessionName": session}
    shared, request = eid(), eid()
    first = call(
        caller,
        at,
        event_name,
        "sts.amazonaws.com",
        account=caller_account,
        requestParameters=params,
        responseElements=response,
        requestID=request,
        **extra,
    )
    if caller_account == role_account or caller.get("type") in ("SAMLUser", "WebIdentityUser", "AWSService"):
        first["recipientAccountId"] = role_account
        return [first]
    first["sharedEventID"] = shared
    other = call(
        {"type": "AWSAccount", "principalId": caller.get("principalId"), "accountId": caller_account},
        at,
        event_name,
        "sts.amazonaws.com",
        account=role_account,
        requestParameters=params,
        responseElements=response,
        requestID=request,
        sharedEventID=shared,
    )
    return [first, other]
