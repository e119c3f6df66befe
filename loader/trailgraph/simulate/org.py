"""The simulated organisation: accounts, people, roles and workloads, fixed up front from the seed."""

from __future__ import annotations

import hashlib
import random
from base64 import b64encode
from dataclasses import dataclass, field

from .config import SimConfig
from .ids import Ids

REGIONS = ("us-east-1", "eu-west-1", "us-west-2")
# Where people's service calls land: mostly the home region, some Europe, a little Oregon.
HUMAN_REGIONS = ("us-east-1",) * 11 + ("eu-west-1",) * 7 + ("us-west-2",) * 2

_FIRST = (
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "niaj",
    "olivia",
    "peggy",
    "rupert",
    "sybil",
    "trent",
    "victor",
    "walter",
    "yusuf",
    "zoe",
    "amir",
    "bea",
    "chen",
    "dmitri",
    "esra",
    "farid",
    "gita",
    "hana",
    "ines",
    "jonas",
    "kofi",
    "lena",
    "mateo",
    "noor",
)
_LAST = (
    "nguyen",
    "smith",
    "garcia",
    "kim",
    "okafor",
    "rossi",
    "muller",
    "tanaka",
    "silva",
    "novak",
    "haddad",
    "larsen",
    "kowalski",
    "dubois",
    "patel",
    "fischer",
    "ito",
    "costa",
    "ahmed",
    "berg",
    "moreau",
    "singh",
)
_BROWSERS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    "Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    "Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
    "Safari/605.1.15",
)
_CLIS = (
    "aws-cli/2.22.4 md/awscrt#0.22.0 ua/2.0 os/macos#24.1.0 md/arch#arm64 lang/python#3.12.6 "
    "md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off",
    "aws-cli/2.18.0 md/awscrt#0.21.5 ua/2.0 os/linux#6.8.0-49-generic md/arch#x86_64 lang/python#3.12.6 "
    "md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off",
    "Boto3/1.35.76 md/Botocore#1.35.76 ua/2.0 os/linux#6.5.0-1014-aws md/arch#x86_64 lang/python#3.11.8 "
    "md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.76",
    "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.80.0 "
    "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.6 ua/2.1 os/macos "
    "lang/go#1.23.3 md/GOOS#darwin md/GOARCH#arm64 api/sts#1.33.2",
)
_PERMISSION_SETS = ("AdministratorAccess", "ReadOnlyAccess", "PowerUserAccess")
_FUNCTIONS = (
    "orders-processor",
    "thumbnailer",
    "audit-forwarder",
    "invoice-mailer",
    "cost-reporter",
    "user-sync",
    "queue-drainer",
    "dns-updater",
)
_REPOS = (
    "platform-infra",
    "web-frontend",
    "payments-api",
    "data-pipeline",
    "terraform-modules",
    "mobile-backend",
)
_REFS = ("ref:refs/heads/main", "ref:refs/heads/main", "environment:production", "pull_request")
GITHUB = "token.actions.githubusercontent.com"


@dataclass(frozen=True, slots=True)
class Role:
    account: str
    name: str
    path: str  # "/" or "/teams/" ...; the assumed-role ARN drops it, the role ARN keeps it
    role_id: str  # AROA...
    kind: str  # human | saml | sso | ci | ec2 | lambda

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role{self.path}{self.name}"

    def session_arn(self, session: str) -> str:
        return f"arn:aws:sts::{self.account}:assumed-role/{self.name}/{session}"


@dataclass(frozen=True, slots=True)
class IamUser:
    account: str
    name: str
    user_id: str  # AIDA...
    access_key: str  # AKIA...

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:user/{self.name}"


@dataclass(frozen=True, slots=True)
class Person:
    """One human with every way in: an IAM user, a SAML subject and an Identity Center user."""

    short: str
    email: str
    user: IamUser
    idc_user_id: str
    saml_subject: str
    ip: str
    browser: str
    cli: str
    mfa: bool


@dataclass(frozen=True, slots=True)
class Instance:
    account: str
    region: str
    instance_id: str
    ip: str
    role: Role


@dataclass(frozen=True, slots=True)
class Function:
    account: str
    region: str
    name: str
    ip: str
    role: Role


@dataclass(frozen=True, slots=True)
class Repo:
    subject: str  # repo:org/name:ref:refs/heads/main
    role: Role  # the OIDC-trusted CI role


@dataclass(frozen=True, slots=True)
class Federation:
    """A SAML provider in one account: IAM Identity Center's or the corporate IdP's."""

    provider_arn: str
    issuer: str
    name_qualifier: str


@dataclass
class Org:
    org_id: str
    management: str
    identity: str
    workloads: list[str]
    missing: frozenset[str]
    account_trails: frozenset[str]
    identity_store_arn: str
    people: list[Person]
    human_roles: list[Role]  # assumable by people on the CLI and by role chains
    saml_roles: dict[str, list[Role]] = field(default_factory=dict)
    sso_roles: dict[str, list[Role]] = field(default_factory=dict)
    saml: dict[str, Federation] = field(default_factory=dict)
    sso: dict[str, Federation] = field(default_factory=dict)
    instances: list[Instance] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    repos: list[Repo] = field(default_factory=list)

    @property
    def accounts(self) -> list[str]:
        return [self.management, self.identity, *self.workloads]


def _qualifier(issuer: str, account: str, provider: str) -> str:
    """NameQualifier as STS computes it: BASE64(SHA1(issuer + account + "/" + provider name))."""
    return b64encode(hashlib.sha1(f"{issuer}{account}/{provider}".encode()).digest()).decode()


def _people(n: int, rng: random.Random, ids: Ids, identity: str) -> list[Person]:
    names = [(f, la) for f in _FIRST for la in _LAST]
    rng.shuffle(names)
    out: list[Person] = []
    for i in range(n):
        first, last = names[i % len(names)]
        suffix = "" if i < len(names) else str(i // len(names))
        short = f"{first}.{last}{suffix}"
        email = f"{short}@example.com"
        user = IamUser(identity, email, ids.unique_id("AIDA"), ids.key("AKIA"))
        idc = f"{ids.hex(8)}-{ids.hex(4)}-{ids.hex(4)}-{ids.hex(4)}-{ids.hex(12)}"
        out.append(
            Person(
                short,
                email,
                user,
                idc,
                f"{first[0]}{last}{suffix}@corp.example.com",
                ids.ip(),
                rng.choice(_BROWSERS),
                rng.choice(_CLIS),
                rng.random() < 0.8,
            )
        )
    return out


def build_org(cfg: SimConfig, rng: random.Random, ids: Ids) -> Org:
    """Lay out the organisation. Only `rng` decides, so the same seed gives the same organisation."""
    accounts: list[str] = []
    while len(accounts) < cfg.accounts:
        a = ids.account_id()
        if a not in accounts:
            accounts.append(a)
    management, identity, workloads = accounts[0], accounts[1], accounts[2:]
    missing = frozenset(rng.sample(workloads, cfg.missing_accounts))
    written = [a for a in accounts if a not in missing and a != identity]
    trails = frozenset([identity, *rng.sample(written, len(written) // 2)]) if cfg.duplicates else frozenset()
    org = Org(
        f"o-{ids.lower(10)}",
        management,
        identity,
        workloads,
        missing,
        trails,
        f"arn:aws:identitystore::{management}:identitystore/d-{ids.hex(10)}",
        _people(cfg.people, rng, ids, identity),
        [],
    )

    def role(account: str, name: str, path: str, kind: str) -> Role:
        return Role(account, name, path, ids.unique_id("AROA"), kind)

    org.human_roles.append(role(identity, "identity-admin", "/", "human"))
    portal = f"https://portal.sso.us-east-1.amazonaws.com/saml/assertion/{ids.alnum(32)}"
    okta = f"http://www.okta.com/exk{ids.alnum(17)}"
    for acct in [management, *workloads]:
        prov = f"AWSSSO_{ids.hex(16)}_DO_NOT_DELETE"
        org.sso[acct] = Federation(
            f"arn:aws:iam::{acct}:saml-provider/{prov}", portal, _qualifier(portal, acct, prov)
        )
        org.sso_roles[acct] = [
            role(acct, f"AWSReservedSSO_{ps}_{ids.hex(16)}", "/aws-reserved/sso.amazonaws.com/", "sso")
            for ps in _PERMISSION_SETS
        ]
    for acct in workloads:
        org.human_roles += [
            role(acct, "OrganizationAccountAccessRole", "/", "human"),
            role(acct, "Admin", "/", "human"),
            role(acct, "ReadOnly", "/teams/", "human"),
            role(acct, "Deploy", "/ci/", "human"),
        ]
        org.saml[acct] = Federation(
            f"arn:aws:iam::{acct}:saml-provider/CorpOkta", okta, _qualifier(okta, acct, "CorpOkta")
        )
        org.saml_roles[acct] = [
            role(acct, "SAML-ReadOnly", "/", "saml"),
            role(acct, "SAML-PowerUser", "/", "saml"),
        ]
        instance_roles = [
            role(acct, "app-instance-role", "/", "ec2"),
            role(acct, "ssm-managed-instance", "/", "ec2"),
        ]
        for _ in range(rng.randint(2, 5)):
            org.instances.append(
                Instance(
                    acct,
                    rng.choice(REGIONS[:2]),
                    f"i-0{ids.hex(16)}",
                    ids.ip(aws=True),
                    rng.choice(instance_roles),
                )
            )
        for fn in rng.sample(_FUNCTIONS, rng.randint(2, 3)):
            org.functions.append(
                Function(
                    acct,
                    rng.choice(REGIONS),
                    fn,
                    ids.ip(aws=True),
                    role(acct, f"{fn}-role-{ids.lower(8)}", "/service-role/", "lambda"),
                )
            )
    gh_org = rng.choice(("acme-corp", "example-inc", "northwind"))
    for repo in _REPOS:
        acct = rng.choice(workloads)
        ci = role(acct, f"github-{repo}", "/ci/", "ci")
        for ref in rng.sample(_REFS, 2):
            org.repos.append(Repo(f"repo:{gh_org}/{repo}:{ref}", ci))
    return org
