"""CloudTrail record and userIdentity shapes, copied from real logs (see /work/shared/corpora).

Pure builders: ids and times come in as arguments, so every shape can be read (and tested) on its own.
Key order follows real records, so files look like CloudTrail's and diff cleanly between runs.
"""

from __future__ import annotations

from typing import Any

from .org import IamUser, Role

JSON = dict[str, Any]
EMPTY: JSON = {}


def iam_user(user: IamUser, key: str) -> JSON:
    """An IAM user with its long-term AKIA key."""
    return {
        "type": "IAMUser",
        "principalId": user.user_id,
        "arn": user.arn,
        "accountId": user.account,
        "accessKeyId": key,
        "userName": user.name,
    }


def iam_user_session(user: IamUser, key: str, created: str, mfa: str) -> JSON:
    """An IAM user on temporary ASIA credentials: a console sign-in or GetSessionToken."""
    return {
        "type": "IAMUser",
        "principalId": user.user_id,
        "arn": user.arn,
        "accountId": user.account,
        "accessKeyId": key,
        "userName": user.name,
        "sessionContext": {
            "sessionIssuer": EMPTY,
            "webIdFederationData": EMPTY,
            "attributes": {"creationDate": created, "mfaAuthenticated": mfa},
        },
    }


def root(account: str, key: str | None = None, created: str | None = None) -> JSON:
    ident: JSON = {
        "type": "Root",
        "principalId": account,
        "arn": f"arn:aws:iam::{account}:root",
        "accountId": account,
    }
    if key is not None:
        ident["accessKeyId"] = key
        ident["sessionContext"] = {"attributes": {"creationDate": created, "mfaAuthenticated": "true"}}
    return ident


def assumed_role(
    role: Role,
    session: str,
    key: str,
    created: str,
    mfa: str,
    *,
    ec2: bool = False,
    web_provider: str | None = None,
) -> JSON:
    """A role session as its own calls show it; `ec2` marks instance-profile credentials."""
    context: JSON = {
        "sessionIssuer": {
            "type": "Role",
            "principalId": role.role_id,
            "arn": role.arn,
            "accountId": role.account,
            "userName": role.name,
        },
        "webIdFederationData": {"federatedProvider": web_provider, "attributes": EMPTY}
        if web_provider
        else EMPTY,
        "attributes": {"creationDate": created, "mfaAuthenticated": mfa},
    }
    if ec2:
        context["ec2RoleDelivery"] = "2.0"
    return {
        "type": "AssumedRole",
        "principalId": f"{role.role_id}:{session}",
        "arn": role.session_arn(session),
        "accountId": role.account,
        "accessKeyId": key,
        "sessionContext": context,
    }


def on_behalf_of(identity: JSON, user_id: str, store_arn: str) -> JSON:
    """The same identity with the Identity Center user it acts for (identity-aware console sessions)."""
    return {**identity, "onBehalfOf": {"userId": user_id, "identityStoreArn": store_arn}}


def federated(user: IamUser, name: str, key: str, created: str) -> JSON:
    """A GetFederationToken session: principalId `<account>:<name>`, issued by the IAM user."""
    return {
        "type": "FederatedUser",
        "principalId": f"{user.account}:{name}",
        "arn": f"arn:aws:sts::{user.account}:federated-user/{name}",
        "accountId": user.account,
        "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {
                "type": "IAMUser",
                "principalId": user.user_id,
                "arn": user.arn,
                "accountId": user.account,
                "userName": user.name,
            },
            "webIdFederationData": EMPTY,
            "attributes": {"creationDate": created, "mfaAuthenticated": "false"},
        },
    }


def aws_account(principal_id: str, account: str) -> JSON:
    """The caller as the other account of a cross-account call sees it: nothing but ids."""
    return {"type": "AWSAccount", "principalId": principal_id, "accountId": account}


def aws_service(service: str) -> JSON:
    return {"type": "AWSService", "invokedBy": service}


def saml_user(qualifier: str, subject: str) -> JSON:
    return {
        "type": "SAMLUser",
        "principalId": f"{qualifier}:{subject}",
        "userName": subject,
        "identityProvider": qualifier,
    }


def web_identity_user(provider: str, audience: str, subject: str) -> JSON:
    return {
        "type": "WebIdentityUser",
        "principalId": f"{provider}:{audience}:{subject}",
        "userName": subject,
        "identityProvider": provider,
    }


def identity_center_user(account: str, user_id: str, store_arn: str, credential_id: str) -> JSON:
    return {
        "type": "IdentityCenterUser",
        "accountId": account,
        "onBehalfOf": {"userId": user_id, "identityStoreArn": store_arn},
        "credentialId": credential_id,
    }


def role_resource(role: Role) -> JSON:
    return {"accountId": role.account, "type": "AWS::IAM::Role", "ARN": role.arn}


def tls(host: str) -> JSON:
    return {
        "tlsVersion": "TLSv1.3",
        "cipherSuite": "TLS_AES_128_GCM_SHA256",
        "clientProvidedHostHeader": host,
    }


def sts_record(
    ident: JSON,
    when: str,
    name: str,
    ip: str,
    ua: str,
    params: JSON,
    response: JSON | None,
    request_id: str,
    event_id: str,
    resources: list[JSON] | None,
    recipient: str,
    shared: str | None,
) -> JSON:
    """One copy of an STS call. Both copies of a cross-account call differ only in identity, id, recipient."""
    rec: JSON = {
        "eventVersion": "1.08",
        "userIdentity": ident,
        "eventTime": when,
        "eventSource": "sts.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": ua,
        "requestParameters": params,
        "responseElements": response,
        "requestID": request_id,
        "eventID": event_id,
        "readOnly": True,
    }
    if resources is not None:
        rec["resources"] = resources
    rec["eventType"] = "AwsApiCall"
    rec["managementEvent"] = True
    rec["recipientAccountId"] = recipient
    if shared is not None:
        rec["sharedEventID"] = shared
    rec["eventCategory"] = "Management"
    if ip != ua:  # requests from "AWS Internal" or a service principal carry no TLS details
        rec["tlsDetails"] = tls("sts.amazonaws.com")
    return rec


def signin_record(
    ident: JSON,
    when: str,
    name: str,
    ip: str,
    ua: str,
    response: JSON,
    extra: JSON,
    event_id: str,
    recipient: str,
) -> JSON:
    """A console sign-in event (ConsoleLogin, SwitchRole): logged in us-east-1, no requestID."""
    return {
        "eventVersion": "1.08",
        "userIdentity": ident,
        "eventTime": when,
        "eventSource": "signin.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": ua,
        "requestParameters": None,
        "responseElements": response,
        "additionalEventData": extra,
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsConsoleSignIn",
        "managementEvent": True,
        "recipientAccountId": recipient,
        "eventCategory": "Management",
        "tlsDetails": tls("signin.aws.amazon.com"),
    }


def user_authentication(
    ident: JSON,
    when: str,
    ip: str,
    ua: str,
    user_name: str,
    flow: str,
    request_id: str,
    event_id: str,
    recipient: str,
) -> JSON:
    """Identity Center's own sign-in, in the management account."""
    return {
        "eventVersion": "1.08",
        "userIdentity": ident,
        "eventTime": when,
        "eventSource": "signin.amazonaws.com",
        "eventName": "UserAuthentication",
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": ua,
        "requestParameters": None,
        "responseElements": None,
        "additionalEventData": {
            "AuthWorkflowID": flow,
            "UserName": user_name,
            "LoginTo": "https://example-sso.awsapps.com/start/",
            "CredentialType": "PASSWORD",
        },
        "requestID": request_id,
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsServiceEvent",
        "managementEvent": True,
        "recipientAccountId": recipient,
        "serviceEventDetails": {"UserAuthentication": "Success"},
        "eventCategory": "Management",
    }
