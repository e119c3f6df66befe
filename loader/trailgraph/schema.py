"""The graph model, declared once.

The Neo4j writer (constraints, indexes, MERGE statements), the embedded store and `docs/schema.md`
are all generated from these declarations, so a label or edge type cannot drift between them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NodeSpec:
    label: str
    meaning: str
    key_example: str
    indexed: tuple[str, ...] = ()
    """Looked up by the loader and the canned queries: a Neo4j range index each."""
    searched: tuple[str, ...] = ()
    """Looked up by `find` and name resolution: an index each on both backends (the embedded store's
    are expression indexes over the stored JSON). Like `indexed` ones, values are cut at MAX_KEY."""
    verbatim: tuple[str, ...] = ()
    """Looked up by `find` and name resolution but kept whole whatever their length (a hostile session
    name or eventName can exceed a Neo4j index key): an index on the embedded store only; Neo4j
    compares them within the label, or along the eventTime index for calls."""
    summarised: tuple[str, ...] = ()
    """Read by the whole-trail summaries (`gaps`, `chains`) to find their few starting nodes without
    reading every node of the label: an index each on both backends."""

    def all_indexed(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.indexed, *self.searched, *self.summarised)))


@dataclass(frozen=True, slots=True)
class EdgeSpec:
    type: str
    sources: tuple[str, ...]
    targets: tuple[str, ...]
    meaning: str
    on_trace_path: bool = False
    derived: bool = False


KEY = "id"
"""Every node has a unique string `id` within its label."""

PRINCIPAL_LABELS = ("IAMUser", "Root", "ExternalIdentity", "Service", "AccountPrincipal")

NODES: tuple[NodeSpec, ...] = (
    NodeSpec("Account", "An AWS account.", "776613361644"),
    NodeSpec(
        "IAMUser",
        "An IAM user: a person (or a script holding its long-term key).",
        "arn:aws:iam::203016562928:user/bob@example.com",
        ("principalId",),
        (),
        ("name",),
    ),
    NodeSpec("Root", "An account's root user.", "arn:aws:iam::203016562928:root"),
    NodeSpec("Role", "An IAM role (ARN with its path).", "arn:aws:iam::776613361644:role/admin"),
    NodeSpec(
        "Session",
        "One issuance of temporary credentials: role session, federated user, IAM user or root session. "
        "Key: session ARN|creationDate|accessKeyId, so the issuing event and every later use name the "
        "same node without needing each other; for console credentials (a sign-in, SwitchRole, or calls "
        "the record marks as console) the key part is `console`: one node per sign-in, with every key "
        "the console minted for it as an AccessKey (KEY_OF). `link` says how its issuer was decided. It "
        "keeps its attribution (`originLabel`, `originId`, `originType`, `complete`, `depth`, `gapAccount`, "
        "`gapReason`: what a trace of its calls reaches) and its calls (`callCount`, `firstCall`, "
        "`lastCall`, and `sharedCalls`: those with a sharedEventID, the only ones a cross-account copy can "
        "have), both kept right in the transaction that changes them.",
        "arn:aws:sts::776613361644:assumed-role/assume-admin-role-example/bob@example.com"
        "|2020-09-17T19:04:10Z|console",
        ("slot", "arn", "accessKeyId"),
        ("arn", "onBehalfOfUserId"),
        ("name",),
        ("depth",),
    ),
    NodeSpec(
        "AccessKey",
        "An access key id (AKIA long-term or ASIA temporary; ASIA ids get reused).",
        "AKIAIOSFODNN7EXAMPLE",
    ),
    NodeSpec(
        "APICall",
        "One CloudTrail event, keyed by recipient account and eventID (the two copies of a cross-account "
        "call are two nodes). Besides the event's scalar fields it keeps what the call did: "
        "`requestParameters`, `responseElements`, `resources` and `additionalEventData` as JSON text "
        "(secrets stripped, each cut at 16 KB), `errorCode`, `errorMessage`, `userAgent`, `readOnly`, "
        "`eventType`.",
        "776613361644:38d0221b-61e0-47d6-9c45-7eb2dc55125b",
        (
            "eventId",
            "eventTime",
            "sharedEventId",
            "issuedSlot",
            "actorSlot",
            "callerPrincipalId",
            "issuedPrincipalId",
            "issuerActor",
        ),
        ("eventTime",),
        ("eventName",),
    ),
    NodeSpec(
        "ExternalIdentity",
        "A SAML subject, web-identity subject or IAM Identity Center user: a principal outside IAM.",
        "SAMLUser|okta|alice@example.com",
        ("subject", "userId"),
        ("subject", "userId"),
    ),
    NodeSpec("Service", "An AWS service principal acting on its own behalf.", "ec2.amazonaws.com"),
    NodeSpec(
        "AccountPrincipal",
        "A caller seen only from the other side of a cross-account call (userIdentity type AWSAccount): "
        "its account and unique id, nothing more.",
        "203016562928|AIDAS6RF25DXSM2CA5KAD",
    ),
)

EDGES: tuple[EdgeSpec, ...] = (
    EdgeSpec(
        "PERFORMED",
        ("IAMUser", "Root", "Session", "ExternalIdentity", "Service", "AccountPrincipal"),
        ("APICall",),
        "The principal that made the call (its userIdentity).",
        on_trace_path=True,
    ),
    EdgeSpec(
        "ISSUED",
        ("APICall",),
        ("Session",),
        "This STS call issued the session's credentials. Carries rule, confidence, evidence (event ids) and "
        "basis (the evidence in words: the returned key, which console evidence, or the agreeing service).",
        on_trace_path=True,
        derived=True,
    ),
    EdgeSpec(
        "OPENED",
        ("IAMUser", "Root"),
        ("Session",),
        "The record itself names the user behind this session (IAM user console or "
        "GetSessionToken session, root session, federated user's issuer).",
        on_trace_path=True,
        derived=True,
    ),
    EdgeSpec(
        "COPIED_TO",
        ("APICall",),
        ("APICall",),
        "The caller account's copy of a cross-account call, to the other account's copy "
        "(same sharedEventID, different eventID).",
        on_trace_path=True,
        derived=True,
    ),
    EdgeSpec(
        "BEHIND",
        (*PRINCIPAL_LABELS, "Session"),
        ("Session",),
        "Kept attribution: the origin a trace of this session's calls reaches (a person, service or "
        "external identity; for an incomplete one, where the walk back stops). An index for questions "
        "about people, re-decided with every link above the session; the trace path and its evidence "
        "stay the answer.",
        derived=True,
    ),
    EdgeSpec(
        "ASSUMED",
        (*PRINCIPAL_LABELS, "Session"),
        ("Role",),
        "This principal assumed the role (at least once).",
    ),
    EdgeSpec(
        "SWITCHED_FROM",
        ("Session",),
        ("IAMUser", "Root"),
        "Console SwitchRole: this session was switched into from that principal "
        "(additionalEventData.SwitchFrom).",
        derived=True,
    ),
    EdgeSpec(
        "SESSION_OF",
        ("Session",),
        ("Role", "IAMUser", "Root"),
        "The role (or user) whose permissions the session carries.",
    ),
    EdgeSpec(
        "KEY_OF",
        ("AccessKey",),
        ("IAMUser", "Session"),
        "The key belongs to this user (AKIA) or this session (ASIA).",
    ),
    EdgeSpec(
        "IN_ACCOUNT", ("IAMUser", "Root", "Role", "AccountPrincipal"), ("Account",), "Account membership."
    ),
)

TRACE_PATH_TYPES = tuple(e.type for e in EDGES if e.on_trace_path)
DERIVED_TYPES = tuple(e.type for e in EDGES if e.derived)
NODE_LABELS = tuple(n.label for n in NODES)
EDGE_TYPES = tuple(e.type for e in EDGES)


def node_spec(label: str) -> NodeSpec:
    return next(n for n in NODES if n.label == label)


def edge_spec(edge_type: str) -> EdgeSpec:
    return next(e for e in EDGES if e.type == edge_type)


def schema_markdown() -> str:
    """docs/schema.md, generated (a test keeps the committed file equal to this)."""
    lines = [
        "# trailgraph graph schema",
        "",
        "Generated from `loader/trailgraph/schema.py` by `trailgraph schema`; do not edit by hand.",
        f"Every node has a unique `{KEY}` within its label.",
        "",
        "## Nodes",
        "",
        "`indexed` properties have a Neo4j range index; `searched` ones (what `find` and name resolution "
        "look up) have an index on both backends, those marked * on the embedded store only (kept whole "
        "whatever their length, so Neo4j compares them while reading the label or the eventTime index); "
        "`summarised` ones (where `gaps` and `chains` start) have an index on both backends.",
        "",
        "| label | meaning | `id` example | indexed | searched | summarised |",
        "|---|---|---|---|---|---|",
    ]
    for n in NODES:
        lines.append(
            f"| `{n.label}` | {n.meaning} | `{n.key_example}` | {', '.join(n.indexed) or '-'} | "
            f"{', '.join([*n.searched, *(f'{p}*' for p in n.verbatim)]) or '-'} | "
            f"{', '.join(n.summarised) or '-'} |"
        )
    lines += [
        "",
        "## Edges",
        "",
        "Edges on the trace path all point from the origin towards the action, so "
        "`MATCH p = (origin)-[:" + "|".join(TRACE_PATH_TYPES) + "*]->(call)` walks any call back to its "
        "origin. Derived edges are written by the linker, which re-decides them whenever related events "
        "arrive; each carries `rule`, `confidence` and `evidence` (event ids).",
        "",
        "| type | from | to | meaning | trace path | derived |",
        "|---|---|---|---|---|---|",
    ]
    for e in EDGES:
        lines.append(
            f"| `{e.type}` | {', '.join(e.sources)} | {', '.join(e.targets)} | {e.meaning} | "
            f"{'yes' if e.on_trace_path else ''} | {'yes' if e.derived else ''} |"
        )
    return "\n".join(lines) + "\n"
