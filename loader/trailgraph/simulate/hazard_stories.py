"""The traps of real trails that are not a way in: failed sign-ins, services acting on their own, key-less
service-linked-role sessions, anonymous reads. Each is on unless its SimConfig switch is off."""

from __future__ import annotations

from . import catalog as C
from . import records as R
from .actors import after, call_count, iam_user, person
from .catalog import JSON
from .org import HUMAN_REGIONS, Role
from .world import Session, World

HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
SLR_SERVICES = (
    ("rds.amazonaws.com", "AWSServiceRoleForRDS", "SLRManagement"),
    ("inspector2.amazonaws.com", "AWSServiceRoleForAmazonInspector2", "MandoService"),
)
SERVICE_EVENTS = (
    ("secretsmanager.amazonaws.com", "RotationSucceeded"),
    ("ec2.amazonaws.com", "SharedSnapshotCopyInitiated"),
    ("kms.amazonaws.com", "RotateKey"),
)


def failed_signin(w: World, t: int) -> None:
    """Someone types a user name (or one AWS hides) and a wrong password: an attempt, not that person."""
    if not w.cfg.failed_signins:
        return
    w.stories["failed_signin"] += 1
    p = w.org.people[int(w.rng.random() * len(w.org.people))]
    u = p.user
    hidden = w.rng.random() < 0.3
    ident: JSON = (
        {"type": "IAMUser", "principalId": "", "accountId": u.account, "accessKeyId": "", "userName": HIDDEN}
        if hidden
        else {
            "type": "IAMUser",
            "principalId": u.user_id,
            "arn": u.arn,
            "accountId": u.account,
            "userName": u.name,
        }
    )
    rec = R.signin_record(
        ident,
        w.iso(t),
        "ConsoleLogin",
        w.ids.ip(),
        p.browser,
        {"ConsoleLogin": "Failure"},
        {"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": "No"},
        w.ids.uuid(),
        u.account,
    )
    rec["errorMessage"] = "No username found in supplied account" if hidden else "Failed authentication"
    w.out.emit(t, u.account, "us-east-1", rec, w.truth("FailedSignIn", u.account, False))
    w.count["failed_signins_hidden" if hidden else "failed_signins"] += 1


def service_event(w: World, t: int) -> None:
    """A service acting on its own in a workload account: userIdentity is accountId + invokedBy only."""
    if not w.cfg.service_events:
        return
    w.stories["service_event"] += 1
    account = w.org.workloads[int(w.rng.random() * len(w.org.workloads))]
    service, name = SERVICE_EVENTS[int(w.rng.random() * len(SERVICE_EVENTS))]
    rec: JSON = {
        "eventVersion": "1.08",
        "userIdentity": {"accountId": account, "invokedBy": service},
        "eventTime": w.iso(t),
        "eventSource": service,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": service,
        "userAgent": service,
        "requestParameters": None,
        "responseElements": None,
        "eventID": w.ids.uuid(),
        "readOnly": False,
        "eventType": "AwsServiceEvent",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    w.out.emit(t, account, "us-east-1", rec, w.truth("AWSService", service))
    w.count["service_events"] += 1


def keyless_service_session(w: World, t: int) -> None:
    """A service assumes its service-linked role two or three times in one second and works with
    credentials whose calls show no key: every candidate issuance names that service."""
    if not w.cfg.keyless_service_sessions:
        return
    w.stories["keyless_service_session"] += 1
    account = w.org.workloads[int(w.rng.random() * len(w.org.workloads))]
    service, role_name, session = SLR_SERVICES[int(w.rng.random() * len(SLR_SERVICES))]
    role = Role(
        account,
        role_name,
        f"/aws-service-role/{service}/",
        f"AROA{account[:8]}SLR{role_name[-6:].upper()}",
        "slr",
    )
    t = w.claim(role.arn, session, t)
    truth = w.truth("AWSService", service)
    issuers = []
    for _ in range(w.rng.randint(2, 3)):
        key = w.issued_key(t, t + 3600)
        issuers.append(
            w.sts_solo(
                t,
                "AssumeRole",
                R.aws_service(service),
                ip=service,
                ua=service,
                params={"roleArn": role.arn, "roleSessionName": session},
                response={"credentials": w.credentials(key, t + 3600)},
                account=account,
                truth=truth,
                resources=[R.role_resource(role)],
                shared=True,
            )
        )
    identity = R.assumed_role(role, session, "", w.iso(t), "false")
    del identity["accessKeyId"]
    s = Session(
        account,
        identity["principalId"],
        identity,
        "",
        t,
        t + 3600,
        truth.issued_by(issuers[0]),
        service,
        service,
        C.IDENTITY,
        ("us-east-1",),
        role.session_arn(session),
        denials=False,
    )
    w.calls(s, t, call_count(w, 2, 6), fresh=True)
    w.count["keyless_service_sessions"] += 1
    w.count["keyless_same_second_issuances"] += len(issuers)


def anonymous_read(w: World, t: int) -> None:
    """An unauthenticated S3 GetObject: nobody signed it, so there is no account to load."""
    if not w.cfg.anonymous_reads:
        return
    w.stories["anonymous_read"] += 1
    account = w.org.workloads[int(w.rng.random() * len(w.org.workloads))]
    rec: JSON = {
        "eventVersion": "1.08",
        "userIdentity": {"type": "AWSAccount", "principalId": "", "accountId": "ANONYMOUS_PRINCIPAL"},
        "eventTime": w.iso(t),
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "us-east-1",
        "sourceIPAddress": w.ids.ip(),
        "userAgent": "curl/8.4.0",
        "requestParameters": {"bucketName": f"public-assets-{account}", "key": "index.html"},
        "responseElements": None,
        "requestID": w.ids.request_id_s3(),
        "eventID": w.ids.uuid(),
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": account,
        "sharedEventID": w.ids.uuid(),
        "eventCategory": "Data",
    }
    w.out.emit(t, account, "us-east-1", rec, w.truth("Anonymous", "ANONYMOUS_PRINCIPAL"))
    w.count["anonymous_reads"] += 1


def through_missing_account(w: World, t: int) -> None:
    """A person assumes a role in an account whose logs are missing, and from there a role in a logged
    one. With a sourceIdentity (half of them) the logged side still names her; without, the trail ends
    at the missing account."""
    middles = [r for r in w.org.human_roles if r.account in w.org.missing]
    ends = [r for r in w.org.human_roles if r.account not in w.org.missing and r.account != w.org.identity]
    if not w.cfg.source_identity_chains or not middles or not ends:
        return
    w.stories["through_missing_account"] += 1
    p = person(w)
    with_source = w.rng.random() < 0.5
    name = f"{p.short}-{t}"  # one issuance per principal: the rule needs exactly one alive
    middle = w.assume_role(
        iam_user(w, p, t),
        middles[int(w.rng.random() * len(middles))],
        t,
        name,
        menu=C.CLI,
        regions=HUMAN_REGIONS,
        plain=True,
        source_identity=p.short if with_source else None,
    )
    last = w.calls(middle, middle.created, call_count(w, 2, 6), fresh=True)  # never written: account missing
    end = w.assume_role(
        middle,
        ends[int(w.rng.random() * len(ends))],
        after(w, last, 20),
        name,
        menu=C.CLI,
        regions=HUMAN_REGIONS,
        plain=True,
    )
    w.calls(end, end.created, call_count(w, 4, 20), fresh=True)
    w.count["chains_with_source_identity" if with_source else "chains_without_source_identity"] += 1
