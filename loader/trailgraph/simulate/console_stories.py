"""People in the console: IAM sign-in and SwitchRole, SAML federation, Identity Center, root."""

from __future__ import annotations

from . import catalog as C
from . import records as R
from .actors import LONG_DURATION, STS_DURATION, after, call_count, human_role, menu_for, mfa_flag, person
from .catalog import JSON
from .org import HUMAN_REGIONS, Federation, Person, Role
from .world import Session, World


def _console_login(w: World, s: Session, t: int, ident: JSON, extra: JSON, browser: str) -> None:
    rec = R.signin_record(
        ident,
        w.iso(t),
        "ConsoleLogin",
        s.ip,
        browser,
        {"ConsoleLogin": "Success"},
        extra,
        w.ids.uuid(),
        s.account,
    )
    w.out.emit(t, s.account, "us-east-1", rec, s.truth)


def console_switchrole(w: World, t: int) -> None:
    """ConsoleLogin -> IAM user console session -> SwitchRole into workload roles (the seed's pattern)."""
    w.stories["console_switchrole"] += 1
    p = person(w)
    u, mfa = p.user, mfa_flag(p)
    key = w.ids.key("ASIA")  # console-minted: never in any STS response
    me = Session(
        u.account,
        u.user_id,
        R.iam_user_session(u, key, w.iso(t), mfa),
        key,
        t,
        t + LONG_DURATION,
        w.truth("IAMUser", u.arn),
        p.ip,
        C.CONSOLE_UA,
        C.IDENTITY,
        HUMAN_REGIONS,
        u.arn,
        mfa,
        console=True,
    )
    extra: JSON = {
        "LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
        "MobileVersion": "No",
        "MFAUsed": "Yes" if p.mfa else "No",
    }
    if p.mfa:
        extra["MFAIdentifier"] = f"arn:aws:iam::{u.account}:mfa/{u.name}"
    _console_login(
        w,
        me,
        t,
        {
            "type": "IAMUser",
            "principalId": u.user_id,
            "arn": u.arn,
            "accountId": u.account,
            "userName": u.name,
        },
        extra,
        p.browser,
    )
    last = w.calls(me, t, call_count(w, 1, 5), fresh=True) if w.rng.random() < 0.5 else t
    for _ in range(w.rng.choices((1, 2, 3), (60, 28, 12))[0]):
        last = after(w, last, 60)
        if last > me.limit:
            break
        role = human_role(w, u.account, True)
        s = w.assume_role(me, role, last, u.name, menu=C.CONSOLE, regions=HUMAN_REGIONS, switch=True)
        ident = {
            "type": "AssumedRole",
            "principalId": s.principal_id,
            "arn": s.arn,
            "accountId": role.account,
        }
        rec = R.signin_record(
            ident,
            w.iso(s.created),
            "SwitchRole",
            p.ip,
            p.browser,
            {"SwitchRole": "Success"},
            {"SwitchFrom": u.arn, "RedirectTo": "https://console.aws.amazon.com/console/home"},
            w.ids.uuid(),
            role.account,
        )
        w.out.emit(s.created, role.account, "us-east-1", rec, s.truth)
        w.calls(s, s.created, call_count(w, 10, 60), fresh=True)
        last = s.created


def _federated_login(
    w: World,
    t: int,
    role: Role,
    fed: Federation,
    subject: str,
    p: Person,
    origin: tuple[str, str],
    console: bool,
) -> Session:
    """AssumeRoleWithSAML (corporate IdP or Identity Center) and, for the console, its ConsoleLogin."""
    t = w.claim(role.arn, subject, t)
    expires = t + STS_DURATION
    key = w.issued_key(t, expires)
    rid = f"{role.role_id}:{subject}"
    params = {
        "sAMLAssertionID": f"_{w.ids.hex(32)}",
        "roleSessionName": subject,
        "durationSeconds": STS_DURATION,
        "roleArn": role.arn,
        "principalArn": fed.provider_arn,
    }
    response = {
        "subjectType": "persistent",
        "issuer": fed.issuer,
        "credentials": w.credentials(key, expires),
        "nameQualifier": fed.name_qualifier,
        "assumedRoleUser": {"assumedRoleId": rid, "arn": role.session_arn(subject)},
        "subject": subject,
        "audience": "https://signin.aws.amazon.com/saml",
    }
    resources = [
        R.role_resource(role),
        {"accountId": role.account, "type": "AWS::IAM::SAMLProvider", "ARN": fed.provider_arn},
    ]
    truth = w.truth(*origin)
    ua = p.browser if console else p.cli
    w.sts_solo(
        t,
        "AssumeRoleWithSAML",
        R.saml_user(fed.name_qualifier, subject),
        ip=p.ip,
        ua=ua,
        params=params,
        response=response,
        account=role.account,
        truth=truth,
        resources=resources,
    )
    use = w.ids.key("ASIA") if console else key
    s = Session(
        role.account,
        rid,
        R.assumed_role(role, subject, use, w.iso(t), "false"),
        use,
        t,
        expires,
        truth,
        p.ip,
        C.CONSOLE_UA if console else p.cli,
        menu_for(w, role.account, C.CONSOLE if console else C.CLI),
        HUMAN_REGIONS,
        role.session_arn(subject),
        console=console,
    )
    return s


def saml(w: World, t: int) -> None:
    """A corporate IdP user: AssumeRoleWithSAML, then console (console key) or CLI (issued key) calls."""
    w.stories["saml"] += 1
    p = person(w)
    acct = w.org.workloads[int(w.rng.random() * len(w.org.workloads))]
    roles = w.org.saml_roles[acct]
    console = w.rng.random() < 0.5
    s = _federated_login(
        w,
        t,
        roles[int(w.rng.random() * len(roles))],
        w.org.saml[acct],
        p.saml_subject,
        p,
        ("SAMLUser", p.saml_subject),
        console,
    )
    start = s.created
    if console:
        start += w.first_gap()
        _console_login(
            w,
            s,
            start,
            s.identity,
            {
                "LoginTo": "https://console.aws.amazon.com/console/home",
                "MobileVersion": "No",
                "MFAUsed": "No",
                "SamlProviderArn": w.org.saml[acct].provider_arn,
            },
            p.browser,
        )
    w.calls(s, start, call_count(w, 10, 60), fresh=not console)


def identity_center(w: World, t: int) -> None:
    """Identity Center sign-in, then console sessions in one to three accounts, on the user's behalf."""
    w.stories["identity_center"] += 1
    p = person(w)
    org = w.org
    origin = ("IdentityCenterUser", p.idc_user_id)
    ident = R.identity_center_user(org.management, p.idc_user_id, org.identity_store_arn, w.ids.uuid())
    rec = R.user_authentication(
        ident, w.iso(t), p.ip, p.browser, p.email, w.ids.uuid(), w.ids.uuid(), w.ids.uuid(), org.management
    )
    w.out.emit(t, org.management, "us-east-1", rec, w.truth(*origin))
    targets = [org.management, *org.workloads]
    last = t
    for acct in w.rng.sample(targets, min(len(targets), w.rng.choices((1, 2, 3), (60, 28, 12))[0])):
        last = after(w, last, 20)
        roles = org.sso_roles[acct]
        s = _federated_login(
            w, last, roles[int(w.rng.random() * len(roles))], org.sso[acct], p.email, p, origin, True
        )
        s.obo = R.on_behalf_of(s.identity, p.idc_user_id, org.identity_store_arn)
        s.obo_pending = True
        start = s.created + w.first_gap()
        _console_login(
            w,
            s,
            start,
            s.identity,
            {
                "LoginTo": "https://console.aws.amazon.com/console/home",
                "MobileVersion": "No",
                "MFAUsed": "No",
                "SamlProviderArn": org.sso[acct].provider_arn,
            },
            p.browser,
        )
        w.calls(s, start, call_count(w, 10, 60))
        if s.obo_pending:  # every Identity Center session shows its user at least once
            w.call(s, start + 1, C.READS[0])
        last = s.created


def root(w: World, t: int) -> None:
    """Rare: someone signs in as an account's root user."""
    w.stories["root"] += 1
    org = w.org
    acct = [org.management, *org.workloads][int(w.rng.random() * (1 + len(org.workloads)))]
    p = person(w)
    key = w.ids.key("ASIA")
    s = Session(
        acct,
        acct,
        R.root(acct, key, w.iso(t)),
        key,
        t,
        t + STS_DURATION,
        w.truth("Root", f"arn:aws:iam::{acct}:root"),
        p.ip,
        C.CONSOLE_UA,
        C.ROOT,
        ("us-east-1",),
        f"arn:aws:iam::{acct}:root",
        "true",
        denials=False,
        console=True,
    )
    _console_login(
        w,
        s,
        t,
        R.root(acct),
        {"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": "Yes"},
        p.browser,
    )
    w.calls(s, t, call_count(w, 3, 8), fresh=True)
