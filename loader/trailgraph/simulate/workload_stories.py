"""Machines: GitHub Actions via OIDC, EC2 instance profiles, Lambda execution roles."""

from __future__ import annotations

from . import catalog as C
from . import records as R
from .actors import SERVICE_DURATION, STS_DURATION, after, call_count
from .org import GITHUB, Role
from .world import Session, World


def web_identity(w: World, t: int) -> None:
    """A GitHub Actions run: AssumeRoleWithWebIdentity, calls, sometimes a hop into a deploy role."""
    w.stories["web_identity"] += 1
    repo = w.org.repos[int(w.rng.random() * len(w.org.repos))]
    role, name = repo.role, "GitHubActions"
    t = w.claim(role.arn, name, t)
    expires = t + STS_DURATION
    key = w.issued_key(t, expires)
    rid = f"{role.role_id}:{name}"
    provider_arn = f"arn:aws:iam::{role.account}:oidc-provider/{GITHUB}"
    response = {
        "subjectFromWebIdentityToken": repo.subject,
        "assumedRoleUser": {"assumedRoleId": rid, "arn": role.session_arn(name)},
        "provider": provider_arn,
        "audience": "sts.amazonaws.com",
        "credentials": w.credentials(key, expires),
    }
    params = {"roleArn": role.arn, "roleSessionName": name, "durationSeconds": STS_DURATION}
    ip = w.ids.ip(aws=True)  # a GitHub-hosted runner
    truth = w.truth("WebIdentityUser", repo.subject)
    ident = R.web_identity_user(GITHUB, "sts.amazonaws.com", repo.subject)
    w.sts_solo(
        t,
        "AssumeRoleWithWebIdentity",
        ident,
        ip=ip,
        ua=C.CI_UA,
        params=params,
        response=response,
        account=role.account,
        truth=truth,
        resources=[R.role_resource(role)],
    )
    s = Session(
        role.account,
        rid,
        R.assumed_role(role, name, key, w.iso(t), "false", web_provider=provider_arn),
        key,
        t,
        expires,
        truth,
        ip,
        C.TERRAFORM_UA,
        C.CI,
        ("us-east-1", "eu-west-1"),
        role.session_arn(name),
        pace=6.0,
        denials=False,
    )
    last = w.calls(s, t, call_count(w, 6, 25), fresh=True)
    if w.rng.random() < 0.35 and (hop_t := after(w, last, 5)) <= s.limit:
        deploy = [r for r in w.org.human_roles if r.name == "Deploy" and r.account != role.account]
        if deploy:
            d = w.assume_role(
                s,
                deploy[int(w.rng.random() * len(deploy))],
                hop_t,
                f"deploy-{w.ids.hex(8)}",
                menu=C.CI,
                regions=s.regions,
            )
            w.calls(d, d.created, call_count(w, 10, 40), fresh=True)
            w.count["chain_hops"] += 1


def _service_session(
    w: World, t: int, service: str, role: Role, name: str, ip: str, ua: str, menu: C.Menu, region: str
) -> Session:
    """An AWS service assumes a role for an instance or a function (one record, in the role's account)."""
    t = w.claim(role.arn, name, t)
    expires = t + SERVICE_DURATION
    key = w.issued_key(t, expires)
    rid = f"{role.role_id}:{name}"
    response = {
        "credentials": w.credentials(key, expires),
        "assumedRoleUser": {"assumedRoleId": rid, "arn": role.session_arn(name)},
    }
    truth = w.truth("AWSService", service)
    params = {"roleArn": role.arn, "roleSessionName": name}
    w.sts_solo(
        t,
        "AssumeRole",
        R.aws_service(service),
        ip=service,
        ua=service,
        params=params,
        response=response,
        account=role.account,
        truth=truth,
        resources=[R.role_resource(role)],
        shared=True,
    )
    ident = R.assumed_role(role, name, key, w.iso(t), "false", ec2=service == "ec2.amazonaws.com")
    return Session(
        role.account,
        rid,
        ident,
        key,
        t,
        expires,
        truth,
        ip,
        ua,
        menu,
        (region,),
        role.session_arn(name),
        pace=90.0,
        denials=False,
    )


def ec2_instance(w: World, t: int) -> None:
    """Instance-profile credentials: AssumeRole by ec2.amazonaws.com, session name = instance id."""
    w.stories["ec2_instance"] += 1
    i = w.org.instances[int(w.rng.random() * len(w.org.instances))]
    ua = C.INSTANCE_UAS[int(w.rng.random() * len(C.INSTANCE_UAS))]
    s = _service_session(w, t, "ec2.amazonaws.com", i.role, i.instance_id, i.ip, ua, C.INSTANCE, i.region)
    w.calls(s, s.created, call_count(w, 10, 40), fresh=True)


def lambda_function(w: World, t: int) -> None:
    """A function's execution role: AssumeRole by lambda.amazonaws.com, session name = function name."""
    w.stories["lambda"] += 1
    f = w.org.functions[int(w.rng.random() * len(w.org.functions))]
    s = _service_session(
        w, t, "lambda.amazonaws.com", f.role, f.name, f.ip, C.LAMBDA_UA, C.FUNCTION, f.region
    )
    w.calls(s, s.created, call_count(w, 6, 30), fresh=True)
