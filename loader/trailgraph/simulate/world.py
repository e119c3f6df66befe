"""Simulation state and the primitives stories are built from: sessions, STS calls, everyday calls.

Truth is carried, never inferred: every session holds the origin of whoever really obtained it, and an
event's truth is its actor's. The one adjustment is the missing-account rule, applied where a
cross-account STS call is written: if the caller's account is missing, the role side can only name
that account (`AWSAccount`, incomplete), and everything the new session does inherits that.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from dataclasses import dataclass, field

from . import records as R
from .catalog import CONSOLE_UA, JSON, Call, Menu
from .config import SimConfig
from .emitter import Emitter, Truth
from .ids import Ids
from .org import Org, Role, build_org
from .timefmt import SLOT, IsoCache, human

HORIZON = 3600  # a session's calls stay within an hour of its creation (buffers stay an hour deep)
EDGE_RATE = 0.12  # share of sessions whose first call falls in their creation second
REUSE_RATE = 0.01  # share of issued keys that recycle an expired key id
ERROR_RATE = 0.02  # people's calls denied now and then
OBO_RATE = 0.5  # Identity Center calls that carry onBehalfOf (the first one always does)
DOUBLE_RATE = 0.05  # SDK AssumeRoles sent twice in the same second (a retry): two keys, one used
REGIONAL_RATE = 0.01  # SDK AssumeRoles sent to the regional endpoint of a region no trail logs
DENIED_RATE = 0.02  # SDK AssumeRoles shadowed by someone else's denied call in the same slot


@dataclass(slots=True, eq=False)
class Session:
    """Credentials in use: who they show as (`identity`), where their calls land, and whose they are."""

    account: str
    principal_id: str  # how the other account of a cross-account call names this caller
    identity: JSON
    key: str
    created: int
    expires: int
    truth: Truth
    ip: str
    ua: str
    menu: Menu
    regions: tuple[str, ...]
    arn: str
    mfa: str = "false"
    pace: float = 25.0  # mean seconds between calls
    denials: bool = True  # people's calls are sometimes denied; services' and root's are not
    console: bool = False
    obo: JSON | None = None  # identity variant carrying onBehalfOf (Identity Center)
    obo_pending: bool = False
    source_identity: str | None = None  # set once in a chain, copied along it by AWS
    limit: int = field(init=False)

    def __post_init__(self) -> None:
        self.limit = min(self.expires - 1, self.created + HORIZON)


class World:
    """All mutable state of one run; only `rng` decides, so a seed replays exactly."""

    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg
        self.rng = random.Random(f"trailgraph-simulate:{cfg.seed}")
        self.ids = Ids(self.rng)
        self.org: Org = build_org(cfg, self.rng, self.ids)
        self.iso = IsoCache()
        self.out = Emitter(self.org.missing)
        self.count: Counter[str] = Counter()  # noise actually injected
        self.stories: Counter[str] = Counter()  # stories played, per scenario
        self._truths: dict[tuple[str, str, bool], Truth] = {}
        self._taken: dict[int, set[tuple[str, str]]] = {}
        self._expired: list[tuple[int, str]] = []  # heap of (expiry, issued key) for key reuse
        self._params: dict[tuple[int, str, str], list[JSON | None]] = {}
        self._tls: dict[str, JSON] = {}

    # ---- bookkeeping -------------------------------------------------------------------------------
    def truth(self, type_: str, id_: str, complete: bool = True) -> Truth:
        k = (type_, id_, complete)
        t = self._truths.get(k)
        if t is None:
            t = self._truths[k] = Truth.of(type_, id_, complete)
        return t

    def claim(self, role_arn: str, name: str, t: int, forced: bool = False) -> int:
        """Reserve (role, session name, second). Unforced sessions move to the next free second, so the
        only same-second twins are the deliberate CLI collisions."""
        k = (role_arn, name)
        while True:
            taken = self._taken.get(t)
            if taken is None:
                taken = self._taken[t] = set()
            if forced or k not in taken:
                taken.add(k)
                return t
            t += 1

    def issued_key(self, t: int, expires: int) -> str:
        """A key for an STS response; sometimes the id of a key that expired before `t` (real, and a trap)."""
        pool = self._expired
        if (
            self.cfg.key_reuse
            and pool
            and pool[0][0] < t
            and (self.count["key_reuse"] == 0 or self.rng.random() < REUSE_RATE)
        ):
            key = heapq.heappop(pool)[1]
            self.count["key_reuse"] += 1
        else:
            key = self.ids.key("ASIA")
        heapq.heappush(pool, (expires, key))
        if len(pool) > 100_000:
            heapq.heappop(pool)
        return key

    def credentials(self, key: str, expires: int) -> JSON:
        return {
            "accessKeyId": key,
            "expiration": human(expires, comma=self.rng.random() < 0.2),
            "sessionToken": self.ids.token(),
        }

    def first_gap(self) -> int:
        """Seconds from a session's creation to its first use: sometimes 0 (the clock-edge trap)."""
        if self.cfg.clock_edges and (self.count["clock_edges"] == 0 or self.rng.random() < EDGE_RATE):
            self.count["clock_edges"] += 1
            return 0
        return 1 + int(self.rng.expovariate(0.2))

    def forget_before(self, slot: int) -> None:
        """Drop state no later event can need: claims on seconds already past."""
        start = slot * SLOT
        for t in [t for t in self._taken if t < start]:
            del self._taken[t]

    # ---- STS ---------------------------------------------------------------------------------------
    def sts_solo(
        self,
        t: int,
        name: str,
        ident: JSON,
        *,
        ip: str,
        ua: str,
        params: JSON,
        response: JSON,
        account: str,
        truth: Truth,
        resources: list[JSON] | None = None,
        shared: bool = False,
    ) -> str:
        """An STS call written once: no role (session tokens) or a role assumed without an AWS caller.
        Returns its eventID."""
        ids = self.ids
        rec = R.sts_record(
            ident,
            self.iso(t),
            name,
            ip,
            ua,
            params,
            response,
            ids.uuid(),
            ids.uuid(),
            resources,
            account,
            ids.uuid() if shared else None,
        )
        self.out.emit(t, account, "us-east-1", rec, truth)
        return str(rec["eventID"])

    def sts_copies(
        self,
        t: int,
        name: str,
        caller: Session,
        ident: JSON,
        role: Role,
        params: JSON,
        response: JSON,
        ip: str,
        ua: str,
        region: str = "us-east-1",
        vouched: bool = False,
    ) -> Truth:
        """Write an STS call by `caller` on `role`: one record in-account, two across accounts.

        Returns the truth as seen from the role's side, with this call as issuer, which the new session
        inherits.
        """
        ids, when = self.ids, self.iso(t)
        resources = [R.role_resource(role)]
        req = ids.uuid()
        if caller.account == role.account:
            rec = R.sts_record(
                ident, when, name, ip, ua, params, response, req, ids.uuid(), resources, role.account, None
            )
            rec["awsRegion"] = region
            self.out.emit(t, role.account, region, rec, caller.truth)
            return caller.truth.issued_by(rec["eventID"])
        shared = ids.uuid()
        mine = R.sts_record(
            ident, when, name, ip, ua, params, response, req, ids.uuid(), resources, caller.account, shared
        )
        mine["awsRegion"] = region
        self.out.emit(t, caller.account, region, mine, caller.truth)
        seen = caller.truth
        if caller.account in self.org.missing and not vouched:
            seen = self.truth("AWSAccount", caller.account, False)
        theirs = R.sts_record(
            R.aws_account(caller.principal_id, caller.account),
            when,
            name,
            ip,
            ua,
            params,
            response,
            req,
            ids.uuid(),
            resources,
            role.account,
            shared,
        )
        theirs["awsRegion"] = region
        self.out.emit(t, role.account, region, theirs, seen)
        self.count["cross_account_pairs"] += 1
        # The copy an answer can cite: the role account's, unless that account's logs are missing.
        return seen.issued_by(mine["eventID"] if role.account in self.org.missing else theirs["eventID"])

    def assume_role(
        self,
        caller: Session,
        role: Role,
        t: int,
        name: str,
        *,
        menu: Menu,
        regions: tuple[str, ...],
        forced: bool = False,
        switch: bool = False,
        plain: bool = False,
        source_identity: str | None = None,
    ) -> Session:
        """AssumeRole by a user or role session; `switch` is the console's SwitchRole (console-minted key)."""
        t = self.claim(role.arn, name, t, forced)
        expires = t + 3600
        rnd, cfg = self.rng.random, self.cfg
        sdk = not switch and not plain and caller.ua not in (CONSOLE_UA,)
        regional = sdk and cfg.missing_regional_sts and rnd() < REGIONAL_RATE
        retried = regional and rnd() < 0.5
        double = sdk and (retried or (cfg.sdk_double_assume and rnd() < DOUBLE_RATE))
        region = Emitter.MISSING_REGION if regional else "us-east-1"
        key = self.issued_key(t, expires)
        rid = f"{role.role_id}:{name}"
        params: JSON = {"roleArn": role.arn, "roleSessionName": name}
        if not switch:
            params["durationSeconds"] = 3600
        if switch:
            ident, ip, ua = {**caller.identity, "invokedBy": "AWS Internal"}, "AWS Internal", "AWS Internal"
        else:
            ident, ip, ua = caller.identity, caller.ip, caller.ua
        if sdk and cfg.denied_assume and rnd() < DENIED_RATE and caller.denials:
            self._denied_twin(role, t, name, params, caller)
        if double:  # the retry that lands: its key is returned, and never used
            twin_key = self.issued_key(t, expires)
            twin = {
                "credentials": self.credentials(twin_key, expires),
                "assumedRoleUser": {"assumedRoleId": rid, "arn": role.session_arn(name)},
            }
            self.sts_copies(t, "AssumeRole", caller, ident, role, params, twin, ip, ua)
            self.count["sdk_double_assume"] += 1
        response: JSON = {
            "credentials": self.credentials(key, expires),
            "assumedRoleUser": {"assumedRoleId": rid, "arn": role.session_arn(name)},
        }
        chained = source_identity or caller.source_identity
        if source_identity:
            params["sourceIdentity"] = source_identity
        if chained:
            response["sourceIdentity"] = chained
        seen = self.sts_copies(
            t,
            "AssumeRole",
            caller,
            ident,
            role,
            params,
            response,
            ip,
            ua,
            region,
            vouched=chained is not None,
        )
        if regional:
            self.count["missing_regional_sts"] += 1
            # Its issuing call is not written: the logs can only say the trail stops at the role's account.
            seen = self.truth("Unknown", role.account, False)
        use = self.ids.key("ASIA") if switch else key
        identity = R.assumed_role(role, name, use, self.iso(t), caller.mfa)
        if chained:
            identity["sessionContext"]["sourceIdentity"] = chained
        session = Session(
            role.account,
            rid,
            identity,
            use,
            t,
            expires,
            seen,
            caller.ip,
            CONSOLE_UA if switch else caller.ua,
            menu,
            regions,
            role.session_arn(name),
            caller.mfa,
            caller.pace,
            caller.denials,
            switch,
        )
        session.source_identity = chained
        return session

    def _denied_twin(self, role: Role, t: int, name: str, params: JSON, caller: Session) -> None:
        """Someone else's AssumeRole of the same role and session name in the same second, denied: it
        issues nothing, whatever it looks like."""
        other = self.org.people[int(self.rng.random() * len(self.org.people))].user
        ident = R.iam_user(other, other.access_key)
        rec = R.sts_record(
            ident,
            self.iso(t),
            "AssumeRole",
            caller.ip,
            caller.ua,
            params,
            None,
            self.ids.uuid(),
            self.ids.uuid(),
            None,
            other.account,
            None,
        )
        rec["errorCode"] = "AccessDenied"
        rec["errorMessage"] = (
            f"User: {other.arn} is not authorized to perform: sts:AssumeRole on resource: {role.arn}"
        )
        self.out.emit(t, other.account, "us-east-1", rec, self.truth("IAMUser", other.arn))
        self.count["denied_assume"] += 1

    # ---- everyday calls ----------------------------------------------------------------------------
    def calls(self, s: Session, t: int, n: int, *, fresh: bool = False) -> int:
        """Up to `n` calls by `s` after `t` (at `t` itself only when `fresh` and the clock edge hits)."""
        rnd, expo, menu = self.rng.random, self.rng.expovariate, s.menu
        rate = 1.0 / s.pace
        for i in range(n):
            t += self.first_gap() if fresh and i == 0 else 1 + int(expo(rate))
            if t > s.limit:
                break
            self.call(s, t, menu[int(rnd() * len(menu))])
        return t

    def call(self, s: Session, t: int, spec: Call) -> None:
        rnd = self.rng.random
        region = "us-east-1" if spec.global_ else s.regions[int(rnd() * len(s.regions))]
        params = self._param(spec, s.account, region)
        ident = s.identity
        if s.obo is not None and (s.obo_pending or rnd() < OBO_RATE):
            ident, s.obo_pending = s.obo, False
        src = spec.source
        host = src if spec.global_ else f"{src[:-14]}.{region}.amazonaws.com"
        tls = self._tls.get(host)
        if tls is None:
            tls = self._tls[host] = R.tls(host)
        ids = self.ids
        rec: JSON = {
            "eventVersion": "1.08",
            "userIdentity": ident,
            "eventTime": self.iso(t),
            "eventSource": src,
            "eventName": spec.name,
            "awsRegion": region,
            "sourceIPAddress": s.ip,
            "userAgent": s.ua,
        }
        if s.denials and rnd() < ERROR_RATE:
            svc = src[:-14]
            rec["errorCode"] = "AccessDenied"
            rec["errorMessage"] = (
                f"User: {s.arn} is not authorized to perform: {svc}:{spec.name} because no "
                f"identity-based policy allows the {svc}:{spec.name} action"
            )
        rec["requestParameters"] = params
        rec["responseElements"] = None
        rec["requestID"] = ids.request_id_s3() if src == "s3.amazonaws.com" else ids.uuid()
        rec["eventID"] = ids.uuid()
        rec["readOnly"] = spec.read_only
        rec["eventType"] = "AwsApiCall"
        rec["managementEvent"] = True
        rec["recipientAccountId"] = s.account
        rec["eventCategory"] = "Management"
        rec["tlsDetails"] = tls
        if s.console:
            rec["sessionCredentialFromConsole"] = "true"
        self.out.emit(t, s.account, region, rec, s.truth)

    def _param(self, spec: Call, account: str, region: str) -> JSON | None:
        """requestParameters from a few cached variants per call, account and region (cheap, varied)."""
        if spec.params is None:
            return None
        k = (id(spec), account, region)  # specs are module constants: their ids are stable for a run
        variants = self._params.get(k)
        if variants is None:
            variants = self._params[k] = []
        i = int(self.rng.random() * 4)
        if i >= len(variants):
            variants.append(spec.params(account, region, self.ids))
            return variants[-1]
        return variants[i]
