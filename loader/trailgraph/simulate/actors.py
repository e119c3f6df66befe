"""Shared pieces of stories: picking people and roles, session names, call counts and durations."""

from __future__ import annotations

from . import catalog as C
from . import records as R
from .org import HUMAN_REGIONS, Person, Role
from .world import Session, World

COLLISION_RATE = 0.03  # CLI stories that are several people hitting the same role, name and second
STS_DURATION = 3600
SERVICE_DURATION = 6 * 3600
LONG_DURATION = 12 * 3600
FEDERATION_POLICY = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:List*","Resource":"*"}]}'
)


def person(w: World) -> Person:
    people = w.org.people
    return people[int(w.rng.random() * len(people))]


def mfa_flag(p: Person) -> str:
    return "true" if p.mfa else "false"


def call_count(w: World, mean: float, cap: int) -> int:
    """A call count: mostly short bursts, sometimes long sessions."""
    return min(cap, 1 + int(w.rng.expovariate(1.0 / mean)))


def after(w: World, t: int, mean: float) -> int:
    return t + 1 + int(w.rng.expovariate(1.0 / mean))


def iam_user(w: World, p: Person, t: int) -> Session:
    """A person's IAM user on its long-term AKIA key (usable from `t` for a story's length)."""
    u = p.user
    return Session(
        u.account,
        u.user_id,
        R.iam_user(u, u.access_key),
        u.access_key,
        t,
        t + LONG_DURATION,
        w.truth("IAMUser", u.arn),
        p.ip,
        p.cli,
        C.CLI,
        HUMAN_REGIONS,
        u.arn,
        mfa_flag(p),
    )


def human_role(w: World, avoid: str | None, cross: bool, current: Role | None = None) -> Role:
    """A role people assume: in another account than `avoid` when `cross`, else in the same one."""
    roles = [
        r
        for r in w.org.human_roles
        if (r.account != avoid if cross else r.account == avoid)
        and r is not current
        and r.account != w.org.identity
    ]
    if not roles:
        roles = [r for r in w.org.human_roles if r.account != w.org.identity]
    return roles[int(w.rng.random() * len(roles))]


def session_name(w: World, p: Person, t: int) -> str:
    r = w.rng.random()
    if r < 0.35:
        return p.short
    if r < 0.7:
        return f"botocore-session-{t}"  # the AWS CLI's default: same second, same name
    if r < 0.85:
        return f"aws-go-sdk-{t}{w.rng.randrange(10**9):09d}"
    return f"{p.short}-{w.ids.lower(6)}"


def menu_for(w: World, account: str, menu: C.Menu) -> C.Menu:
    return C.MANAGEMENT if account == w.org.management else menu
