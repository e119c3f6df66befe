"""People on the CLI and SDKs: access keys, AssumeRole chains, same-second collisions, STS tokens."""

from __future__ import annotations

from . import catalog as C
from . import records as R
from .actors import (
    COLLISION_RATE,
    FEDERATION_POLICY,
    LONG_DURATION,
    after,
    call_count,
    human_role,
    iam_user,
    person,
    session_name,
)
from .catalog import JSON
from .org import HUMAN_REGIONS, Role
from .world import Session, World


def cli(w: World, t: int) -> None:
    """IAM user (AKIA) -> AssumeRole -> role session, chained 1 to 4 hops across accounts."""
    if (
        w.cfg.same_second_collisions
        and len(w.org.people) >= 2
        and (w.stories["cli_collision"] == 0 or w.rng.random() < COLLISION_RATE)
    ):
        collision(w, t)
        return
    w.stories["cli"] += 1
    p = person(w)
    caller = iam_user(w, p, t)
    if w.rng.random() < 0.3:
        caller.menu = C.IDENTITY
        t = w.calls(caller, t, call_count(w, 2, 6))
    hops = w.rng.choices((1, 2, 3, 4), (55, 25, 12, 8))[0]
    role: Role | None = None
    for hop in range(hops):
        if hop == 0:
            cross = w.rng.random() < 0.9
            role = w.org.human_roles[0] if not cross else human_role(w, caller.account, True)
        else:
            role = human_role(w, caller.account, w.rng.random() < 0.75, role)
        s = w.assume_role(caller, role, t, session_name(w, p, t), menu=C.CLI, regions=HUMAN_REGIONS)
        n = call_count(w, 8, 60)
        if hop == hops - 1:
            w.calls(s, s.created, n, fresh=True)
            break
        before = int(w.rng.random() * n)
        last = w.calls(s, s.created, before, fresh=True)
        hop_t = after(w, last, 20) if before else s.created + w.first_gap()
        w.calls(s, hop_t, n - before)
        if hop_t > s.limit:
            break
        caller, t = s, hop_t
        w.count["chain_hops"] += 1


def collision(w: World, t: int) -> None:
    """Several people assume one role with the CLI's default session name in the same second.

    principalId, ARN and creationDate are identical; only each session's own key tells them apart.
    """
    w.stories["cli_collision"] += 1
    role = human_role(w, w.org.identity, True)
    members = w.rng.sample(w.org.people, w.rng.randint(2, min(4, len(w.org.people))))
    name = f"botocore-session-{t}"
    t = w.claim(role.arn, name, t)
    for p in members:
        s = w.assume_role(iam_user(w, p, t), role, t, name, menu=C.CLI, regions=HUMAN_REGIONS, forced=True)
        w.calls(s, s.created, call_count(w, 5, 15), fresh=True)
    w.count["collision_groups"] += 1
    w.count["collision_sessions"] += len(members)


def iam_user_direct(w: World, t: int) -> None:
    """An IAM user's own calls with its access key, no session at all."""
    w.stories["iam_user_direct"] += 1
    s = iam_user(w, person(w), t)
    s.menu = C.IDENTITY
    w.calls(s, t - 1, call_count(w, 4, 15))  # gaps are >= 1 s: the first call lands at t or later


def session_token(w: World, t: int) -> None:
    """GetSessionToken (MFA) -> IAMUser calls on an ASIA key; sometimes that session assumes a role."""
    w.stories["session_token"] += 1
    p = person(w)
    u, me = p.user, iam_user(w, p, t)
    expires = t + LONG_DURATION
    key = w.issued_key(t, expires)
    params: JSON = {
        "durationSeconds": LONG_DURATION,
        "serialNumber": f"arn:aws:iam::{u.account}:mfa/{u.name}",
    }
    response = {"credentials": w.credentials(key, expires)}
    w.sts_solo(
        t,
        "GetSessionToken",
        me.identity,
        ip=p.ip,
        ua=p.cli,
        params=params,
        response=response,
        account=u.account,
        truth=me.truth,
    )
    s = Session(
        u.account,
        u.user_id,
        R.iam_user_session(u, key, w.iso(t), "true"),
        key,
        t,
        expires,
        me.truth,
        p.ip,
        p.cli,
        C.IDENTITY,
        HUMAN_REGIONS,
        u.arn,
        "true",
    )
    last = w.calls(s, t, call_count(w, 3, 10), fresh=True)
    if w.rng.random() < 0.4:
        hop_t = after(w, last, 30)
        if hop_t <= s.limit:
            r = w.assume_role(
                s,
                human_role(w, u.account, True),
                hop_t,
                session_name(w, p, hop_t),
                menu=C.CLI,
                regions=HUMAN_REGIONS,
            )
            w.calls(r, r.created, call_count(w, 6, 40), fresh=True)


def federation_token(w: World, t: int) -> None:
    """GetFederationToken -> FederatedUser calls; the IAM user that asked is the origin."""
    w.stories["federation_token"] += 1
    p = person(w)
    u, me = p.user, iam_user(w, p, t)
    name = p.short.split(".")[0] + "-fed"
    expires = t + LONG_DURATION
    key = w.issued_key(t, expires)
    response = {
        "credentials": w.credentials(key, expires),
        "federatedUser": {
            "arn": f"arn:aws:sts::{u.account}:federated-user/{name}",
            "federatedUserId": f"{u.account}:{name}",
        },
        "packedPolicySize": 4,
    }
    params = {"name": name, "durationSeconds": LONG_DURATION, "policy": FEDERATION_POLICY}
    w.sts_solo(
        t,
        "GetFederationToken",
        me.identity,
        ip=p.ip,
        ua=p.cli,
        params=params,
        response=response,
        account=u.account,
        truth=me.truth,
    )
    s = Session(
        u.account,
        f"{u.account}:{name}",
        R.federated(u, name, key, w.iso(t)),
        key,
        t,
        expires,
        me.truth,
        p.ip,
        p.cli,
        C.FEDERATED,
        HUMAN_REGIONS,
        f"arn:aws:sts::{u.account}:federated-user/{name}",
    )
    w.calls(s, t, call_count(w, 6, 30), fresh=True)
