"""Every linking rule, on records shaped like real ones, on both backends."""

from __future__ import annotations

from tests.builders import assume_role, call, role_session_identity, user_identity
from tests.conftest import SEED, load_paths
from tests.lineage_helpers import load_records, trace_one
from trailgraph.store.base import GraphStore

IDENT, DEV, PROD, AUDIT = "111111111111", "222222222222", "333333333333", "444444444444"
T0 = "2024-03-01T10:00:00Z"


def test_seed_investigation_traces_createuser_to_bob(any_store: GraphStore) -> None:
    load_paths(any_store, SEED)
    answer = trace_one(any_store, "38d0221b-61e0-47d6-9c45-7eb2dc55125b")
    assert answer["origin"]["type"] == "IAMUser"
    assert answer["origin"]["id"] == "arn:aws:iam::203016562928:user/bob@example.com"
    assert answer["origin"]["human"] is True
    assert answer["complete"] is True and answer["gaps"] == []
    assert answer["actor"]["mfa"] is True
    hop = answer["chain"][-1]
    assert hop["linkedBy"] == "console-switchrole"
    assert "assume-admin-role-example" in hop["to"]["arn"]
    assert set(hop["evidence"]) == {
        "14fb06e3-5649-4fc3-a274-226ba85c8be6",
        "40b4d219-0448-436f-9420-cdd3dc654b44",
        "70627092-0c9c-4163-9975-42ffcc50a37a",
    }


def test_role_account_copy_continues_at_callers_copy(any_store: GraphStore) -> None:
    load_paths(any_store, SEED)
    answer = trace_one(any_store, "40b4d219-0448-436f-9420-cdd3dc654b44")
    assert answer["origin"]["id"] == "arn:aws:iam::203016562928:user/bob@example.com"
    assert answer["chain"][-1]["linkedBy"] == "caller-copy"


def test_key_decides_between_two_people_with_same_session_name_and_second(any_store: GraphStore) -> None:
    alice = user_identity(IDENT, "alice", "AKIAALICE0000000001")
    carol = user_identity(IDENT, "carol", "AKIACAROL0000000001")
    records = assume_role(alice, T0, DEV, "deploy", "ci", "ASIAKEYALICE0000001")
    records += assume_role(carol, T0, DEV, "deploy", "ci", "ASIAKEYCAROL0000001")
    by_alice = call(
        role_session_identity(DEV, "deploy", "ci", "ASIAKEYALICE0000001", T0), "2024-03-01T10:05:00Z"
    )
    by_carol = call(
        role_session_identity(DEV, "deploy", "ci", "ASIAKEYCAROL0000001", T0), "2024-03-01T10:06:00Z"
    )
    console = call(
        role_session_identity(DEV, "deploy", "ci", "ASIACONSOLEKEY00001", T0), "2024-03-01T10:07:00Z"
    )
    load_records(any_store, [by_carol, console, *records, by_alice])
    assert trace_one(any_store, by_alice["eventID"])["origin"]["id"].endswith("user/alice")
    assert trace_one(any_store, by_carol["eventID"])["origin"]["id"].endswith("user/carol")
    unknown = trace_one(any_store, console["eventID"])
    assert unknown["complete"] is False and unknown["origin"]["type"] == "Unknown"
    assert "none of the 2 loaded issuance(s)" in unknown["gaps"][0]["reason"]


def test_reused_temporary_key_id_links_by_creation_time(any_store: GraphStore) -> None:
    alice = user_identity(IDENT, "alice", "AKIAALICE0000000001")
    bob = user_identity(IDENT, "bob", "AKIABOB00000000001")
    first = assume_role(alice, "2024-03-01T08:00:00Z", IDENT, "ops", "a", "ASIAREUSED000000001")
    second = assume_role(bob, "2024-03-02T08:00:00Z", IDENT, "ops", "b", "ASIAREUSED000000001")
    use1 = call(
        role_session_identity(IDENT, "ops", "a", "ASIAREUSED000000001", "2024-03-01T08:00:00Z"),
        "2024-03-01T08:10:00Z",
    )
    use2 = call(
        role_session_identity(IDENT, "ops", "b", "ASIAREUSED000000001", "2024-03-02T08:00:00Z"),
        "2024-03-02T08:10:00Z",
    )
    load_records(any_store, [use2, use1, *second, *first])
    assert trace_one(any_store, use1["eventID"])["origin"]["id"].endswith("user/alice")
    assert trace_one(any_store, use2["eventID"])["origin"]["id"].endswith("user/bob")


def _three_hop_chain() -> tuple[list[dict[str, object]], dict[str, object], dict[str, object]]:
    alice = user_identity(IDENT, "alice", "AKIAALICE0000000001")
    hop1 = assume_role(alice, T0, DEV, "hop1", "alice", "ASIAHOP1000000000001")
    s1 = role_session_identity(DEV, "hop1", "alice", "ASIAHOP1000000000001", T0)
    hop2 = assume_role(s1, "2024-03-01T10:01:00Z", PROD, "hop2", "alice", "ASIAHOP2000000000001")
    s2 = role_session_identity(PROD, "hop2", "alice", "ASIAHOP2000000000001", "2024-03-01T10:01:00Z")
    hop3 = assume_role(s2, "2024-03-01T10:02:00Z", AUDIT, "hop3", "alice", "ASIAHOP3000000000001")
    s3 = role_session_identity(AUDIT, "hop3", "alice", "ASIAHOP3000000000001", "2024-03-01T10:02:00Z")
    action = call(s3, "2024-03-01T10:03:00Z", "DeleteTrail", "cloudtrail.amazonaws.com")
    return [*hop1, *hop2, *hop3, action], action, {"hop2": hop2}


def test_three_hop_cross_account_chain(any_store: GraphStore) -> None:
    records, action, _ = _three_hop_chain()
    load_records(any_store, records[::-1])
    answer = trace_one(any_store, str(action["eventID"]))
    assert answer["origin"]["id"] == f"arn:aws:iam::{IDENT}:user/alice" and answer["complete"]
    roles = [hop["to"]["arn"] for hop in answer["chain"]]
    assert roles == [
        f"arn:aws:sts::{a}:assumed-role/{r}/alice"
        for a, r in ((DEV, "hop1"), (PROD, "hop2"), (AUDIT, "hop3"))
    ]
    assert all(hop["linkedBy"] == "issued-key" and hop["confidence"] == "exact" for hop in answer["chain"])
    assert all(hop["evidence"] for hop in answer["chain"])


def test_chain_with_middle_account_missing_stops_at_that_account(any_store: GraphStore) -> None:
    records, action, _ = _three_hop_chain()
    kept = [r for r in records if r["recipientAccountId"] != PROD]
    load_records(any_store, kept)
    answer = trace_one(any_store, str(action["eventID"]))
    assert answer["complete"] is False
    assert answer["origin"] == {
        "type": "AWSAccount",
        "id": PROD,
        "arn": None,
        "name": answer["origin"]["name"],
        "account": PROD,
        "human": None,
    }
    assert [g["account"] for g in answer["gaps"]] == [PROD]


def test_caller_account_logs_absent(any_store: GraphStore) -> None:
    alice = user_identity(IDENT, "alice", "AKIAALICE0000000001")
    copies = assume_role(alice, T0, DEV, "admin", "alice", "ASIAADMIN0000000001")
    action = call(
        role_session_identity(DEV, "admin", "alice", "ASIAADMIN0000000001", T0), "2024-03-01T10:09:00Z"
    )
    load_records(any_store, [copies[1], action])
    answer = trace_one(any_store, action["eventID"])
    assert answer["complete"] is False and answer["origin"]["type"] == "AWSAccount"
    assert answer["gaps"][0]["account"] == IDENT
    assert IDENT in answer["gaps"][0]["reason"]


def test_session_with_no_issuer_names_the_role_account(any_store: GraphStore) -> None:
    action = call(role_session_identity(DEV, "admin", "x", "ASIANOISSUER0000001", T0), "2024-03-01T10:09:00Z")
    load_records(any_store, [action])
    answer = trace_one(any_store, action["eventID"])
    assert answer["complete"] is False and answer["origin"]["type"] == "Unknown"
    assert answer["gaps"][0]["account"] == DEV


def test_unmatched_console_key_is_not_pinned_on_the_only_loaded_issuance(any_store: GraphStore) -> None:
    alice = user_identity(IDENT, "alice", "AKIAALICE0000000001")
    copies = assume_role(alice, T0, IDENT, "ops", "shared", "ASIAALICEISSUED0001")
    alice_use = call(role_session_identity(IDENT, "ops", "shared", "ASIAALICEISSUED0001", T0), T0)
    stranger = call(role_session_identity(IDENT, "ops", "shared", "ASIASTRANGER0000001", T0), T0)
    load_records(any_store, [*copies, alice_use, stranger])
    assert trace_one(any_store, alice_use["eventID"])["complete"] is True
    answer = trace_one(any_store, stranger["eventID"])
    assert answer["complete"] is False and answer["origin"]["type"] == "Unknown"


def test_duplicates_and_reloads_change_nothing(any_store: GraphStore) -> None:
    records, action, _ = _three_hop_chain()
    first = load_records(any_store, records + records[:3])
    assert first.loaded == len(records) and first.duplicates == 3
    before = any_store.counts()
    again = load_records(any_store, records)
    assert again.loaded == 0 and again.duplicates == len(records)
    assert any_store.counts() == before
    assert trace_one(any_store, str(action["eventID"]))["complete"]


def test_saml_web_identity_and_identity_center_origins(any_store: GraphStore) -> None:
    saml = {
        "type": "SAMLUser",
        "principalId": "abc:alice@corp.example",
        "userName": "alice@corp.example",
        "identityProvider": "arn:aws:iam::222222222222:saml-provider/Okta",
    }
    saml_issue = assume_role(
        saml,
        T0,
        DEV,
        "saml-admin",
        "alice@corp.example",
        "ASIASAML0000000001",
        event_name="AssumeRoleWithSAML",
    )
    saml_use = call(  # console-minted key: the record says so, as every console call does since 2021
        role_session_identity(DEV, "saml-admin", "alice@corp.example", "ASIASAMLCONSOLE0001", T0),
        "2024-03-01T10:01:00Z",
        sessionCredentialFromConsole="true",
    )
    web = {
        "type": "WebIdentityUser",
        "principalId": "token.actions.githubusercontent.com:sts.amazonaws.com:x",
        "userName": "repo:org/app:ref:refs/heads/main",
        "identityProvider": "token.actions.githubusercontent.com",
    }
    web_issue = assume_role(
        web, T0, DEV, "gha", "GitHubActions", "ASIAWEB00000000001", event_name="AssumeRoleWithWebIdentity"
    )
    web_use = call(
        role_session_identity(DEV, "gha", "GitHubActions", "ASIAWEB00000000001", T0), "2024-03-01T10:02:00Z"
    )
    sso = {
        "type": "SAMLUser",
        "principalId": "x:dana@corp.example",
        "userName": "dana@corp.example",
        "identityProvider": "AWSSSO_0123456789abcdef_DO_NOT_DELETE",
    }
    sso_role = "AWSReservedSSO_Admin_0123456789abcdef"
    sso_issue = assume_role(
        sso, T0, PROD, sso_role, "dana@corp.example", "ASIASSO0000000001", event_name="AssumeRoleWithSAML"
    )
    sso_use = call(
        role_session_identity(
            PROD,
            sso_role,
            "dana@corp.example",
            "ASIASSOCONSOLE00001",
            T0,
            onBehalfOf={
                "userId": "9067-dana-id",
                "identityStoreArn": "arn:aws:identitystore::1:identitystore/d-1",
            },
        ),
        "2024-03-01T10:03:00Z",
        sessionCredentialFromConsole="true",
    )
    load_records(any_store, [saml_use, web_use, sso_use, *saml_issue, *web_issue, *sso_issue])
    o = trace_one(any_store, saml_use["eventID"])["origin"]
    assert (o["type"], o["id"], o["human"]) == ("SAMLUser", "alice@corp.example", True)
    o = trace_one(any_store, web_use["eventID"])["origin"]
    assert (o["type"], o["id"], o["human"]) == ("WebIdentityUser", "repo:org/app:ref:refs/heads/main", False)
    o = trace_one(any_store, sso_use["eventID"])["origin"]
    assert (o["type"], o["id"], o["name"], o["human"]) == (
        "IdentityCenterUser",
        "9067-dana-id",
        "dana@corp.example",
        True,
    )


def test_federation_session_token_and_service_origins(any_store: GraphStore) -> None:
    fed_user = user_identity(IDENT, "feduser", "AKIAFED00000000001")
    fed_issue = call(
        fed_user,
        T0,
        "GetFederationToken",
        "sts.amazonaws.com",
        requestParameters={"name": "contractor"},
        responseElements={
            "credentials": {
                "accessKeyId": "ASIAFED00000000001",
                "sessionToken": "x",
                "expiration": "Mar 1, 2024, 11:00:00 AM",
            },
            "federatedUser": {
                "federatedUserId": f"{IDENT}:contractor",
                "arn": f"arn:aws:sts::{IDENT}:federated-user/contractor",
            },
        },
    )
    fed_ui = {
        "type": "FederatedUser",
        "principalId": f"{IDENT}:contractor",
        "accountId": IDENT,
        "arn": f"arn:aws:sts::{IDENT}:federated-user/contractor",
        "accessKeyId": "ASIAFED00000000001",
        "sessionContext": {
            "sessionIssuer": {
                "type": "IAMUser",
                "arn": fed_user["arn"],
                "accountId": IDENT,
                "userName": "feduser",
            },
            "attributes": {"creationDate": T0, "mfaAuthenticated": "false"},
        },
    }
    fed_use = call(fed_ui, "2024-03-01T10:04:00Z")
    gst_ui = dict(user_identity(IDENT, "tokenuser", "ASIAGST00000000001"))
    gst_ui["sessionContext"] = {"attributes": {"creationDate": T0, "mfaAuthenticated": "true"}}
    gst_use = call(gst_ui, "2024-03-01T10:05:00Z")
    ec2 = {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}
    ec2_issue = call(
        ec2,
        T0,
        "AssumeRole",
        "sts.amazonaws.com",
        account=DEV,
        requestParameters={"roleArn": f"arn:aws:iam::{DEV}:role/web", "roleSessionName": "i-0abc"},
        responseElements={
            "credentials": {
                "accessKeyId": "ASIAEC2000000000001",
                "sessionToken": "x",
                "expiration": "Mar 1, 2024 4:00:00 PM",
            }
        },
    )
    ec2_use = call(
        role_session_identity(
            DEV,
            "web",
            "i-0abc",
            "ASIAEC2000000000001",
            T0,
        ),
        "2024-03-01T10:00:00Z",
    )
    load_records(any_store, [fed_use, fed_issue, gst_use, ec2_use, ec2_issue])
    fed = trace_one(any_store, fed_use["eventID"])
    assert fed["origin"]["id"] == fed_user["arn"] and fed["chain"][-1]["linkedBy"] == "issued-key"
    gst = trace_one(any_store, gst_use["eventID"])
    assert gst["origin"]["id"].endswith("user/tokenuser") and gst["complete"]
    svc = trace_one(any_store, ec2_use["eventID"])
    assert (svc["origin"]["type"], svc["origin"]["id"], svc["origin"]["human"]) == (
        "AWSService",
        "ec2.amazonaws.com",
        False,
    )
