"""The everyday API calls that make up most of a trail, grouped into menus by who makes them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .ids import Ids

JSON = dict[str, Any]
Params = Callable[[str, str, Ids], JSON | None]


@dataclass(frozen=True, slots=True)
class Call:
    source: str  # eventSource
    name: str
    read_only: bool
    global_: bool  # IAM, STS global endpoint, Organizations ...: always logged in us-east-1
    params: Params | None = None


def _none(_a: str, _r: str, _i: Ids) -> None:
    return None


def _const(value: JSON) -> Params:
    return lambda _a, _r, _i: value


_BUCKETS = ("logs", "artifacts", "data", "backups")


def _bucket(suffix: str) -> Params:
    def make(account: str, region: str, ids: Ids) -> JSON:
        name = f"acme-{_BUCKETS[int(ids.hex(1), 16) & 3]}-{account}-{region}"
        return {"bucketName": name, "Host": f"{name}.s3.{region}.amazonaws.com", suffix: ""}

    return make


def _instance(_a: str, _r: str, ids: Ids) -> JSON:
    return {
        "filterSet": {
            "items": [{"name": "resource-id", "valueSet": {"items": [{"value": f"i-0{ids.hex(16)}"}]}}]
        }
    }


def _tags(_a: str, _r: str, ids: Ids) -> JSON:
    return {
        "resourcesSet": {"items": [{"resourceId": f"i-0{ids.hex(16)}"}]},
        "tagSet": {"items": [{"key": "owner", "value": f"team-{ids.lower(4)}"}]},
    }


def _role_name(_a: str, _r: str, ids: Ids) -> JSON:
    return {"roleName": f"app-{ids.lower(6)}"}


def _secret(account: str, region: str, ids: Ids) -> JSON:
    return {"secretId": f"arn:aws:secretsmanager:{region}:{account}:secret:app/db-{ids.alnum(6)}"}


def _parameter(_a: str, _r: str, ids: Ids) -> JSON:
    return {"name": f"/app/{ids.lower(5)}/config", "withDecryption": False}


def _ssm_update(_a: str, _r: str, ids: Ids) -> JSON:
    return {
        "instanceId": f"i-0{ids.hex(16)}",
        "agentVersion": "3.3.1142.0",
        "agentStatus": "Active",
        "platformType": "Linux",
        "platformName": "Amazon Linux",
        "platformVersion": "2023",
        "iPAddress": "10.0.3.17",
        "computerName": "ip-10-0-3-17.ec2.internal",
        "agentName": "amazon-ssm-agent",
    }


def _log_stream(_a: str, _r: str, ids: Ids) -> JSON:
    return {
        "logGroupName": f"/aws/lambda/{ids.lower(8)}",
        "logStreamName": f"2026/01/05/[$LATEST]{ids.hex(32)}",
    }


def _stack(_a: str, _r: str, ids: Ids) -> JSON:
    return {"stackName": f"app-{ids.lower(5)}-stack"}


def _function(_a: str, _r: str, ids: Ids) -> JSON:
    return {"functionName": f"app-{ids.lower(6)}"}


def _table(_a: str, _r: str, ids: Ids) -> JSON:
    return {"tableName": f"orders-{ids.lower(3)}"}


def _decrypt(_a: str, _r: str, _i: Ids) -> JSON:
    return {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}


def _ec2(name: str, sets: tuple[str, ...]) -> Call:
    return Call("ec2.amazonaws.com", name, True, False, _const({s: {} for s in sets}))


# Reads people make, from the CLI or the console.
DESCRIBE_INSTANCES = _ec2("DescribeInstances", ("instancesSet", "filterSet"))
READS = (
    DESCRIBE_INSTANCES,
    DESCRIBE_INSTANCES,
    _ec2("DescribeSecurityGroups", ("securityGroupSet", "securityGroupIdSet", "filterSet")),
    _ec2("DescribeVpcs", ("vpcSet", "filterSet")),
    _ec2("DescribeSubnets", ("subnetSet", "filterSet")),
    _ec2("DescribeVolumes", ("volumeSet", "filterSet")),
    _ec2("DescribeRegions", ("regionSet",)),
    Call("s3.amazonaws.com", "ListBuckets", True, True, _const({"Host": "s3.amazonaws.com"})),
    Call("s3.amazonaws.com", "GetBucketLocation", True, False, _bucket("location")),
    Call("s3.amazonaws.com", "GetBucketPolicy", True, False, _bucket("policy")),
    Call("s3.amazonaws.com", "GetBucketAcl", True, False, _bucket("acl")),
    Call("iam.amazonaws.com", "ListRoles", True, True, _const({"maxItems": 1000})),
    Call("iam.amazonaws.com", "GetRole", True, True, _role_name),
    Call("iam.amazonaws.com", "ListAttachedRolePolicies", True, True, _role_name),
    Call("iam.amazonaws.com", "ListPolicies", True, True, _const({"scope": "Local", "onlyAttached": False})),
    Call("iam.amazonaws.com", "GetAccountSummary", True, True, _none),
    Call("sts.amazonaws.com", "GetCallerIdentity", True, True, _none),
    Call("lambda.amazonaws.com", "ListFunctions20150331", True, False, _none),
    Call("lambda.amazonaws.com", "GetFunction20150331v2", True, False, _function),
    Call("cloudformation.amazonaws.com", "DescribeStacks", True, False, _stack),
    Call("cloudformation.amazonaws.com", "ListStacks", True, False, _none),
    Call("rds.amazonaws.com", "DescribeDBInstances", True, False, _none),
    Call("kms.amazonaws.com", "ListKeys", True, False, _none),
    Call("logs.amazonaws.com", "DescribeLogGroups", True, False, _const({"limit": 50})),
    Call("monitoring.amazonaws.com", "DescribeAlarms", True, False, _const({"maxRecords": 100})),
    Call("ssm.amazonaws.com", "DescribeInstanceInformation", True, False, _const({"maxResults": 50})),
    Call("dynamodb.amazonaws.com", "ListTables", True, False, _none),
    Call("secretsmanager.amazonaws.com", "ListSecrets", True, False, _none),
    Call("ecr.amazonaws.com", "DescribeRepositories", True, False, _none),
)
WRITES = (
    Call("ec2.amazonaws.com", "CreateTags", False, False, _tags),
    Call("s3.amazonaws.com", "PutBucketTagging", False, False, _bucket("tagging")),
    Call(
        "iam.amazonaws.com",
        "AttachRolePolicy",
        False,
        True,
        lambda a, r, i: {**_role_name(a, r, i), "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
    ),
    Call(
        "ssm.amazonaws.com",
        "PutParameter",
        False,
        False,
        lambda a, r, i: {"name": f"/app/{i.lower(5)}/flag", "type": "String", "overwrite": True},
    ),
    Call("cloudformation.amazonaws.com", "UpdateStack", False, False, _stack),
)
CONSOLE_EXTRA = (
    Call(
        "health.amazonaws.com",
        "DescribeEventAggregates",
        True,
        True,
        _const({"aggregateField": "eventTypeCategory", "filter": {"eventStatusCodes": ["open", "upcoming"]}}),
    ),
    Call(
        "ce.amazonaws.com",
        "GetCostAndUsage",
        True,
        True,
        _const(
            {
                "granularity": "MONTHLY",
                "metrics": ["UnblendedCost"],
                "timePeriod": {"start": "2025-12-01", "end": "2026-01-01"},
            }
        ),
    ),
    Call("notifications.amazonaws.com", "ListNotificationHubs", True, True, _none),
)
IDENTITY_READS = (
    Call("iam.amazonaws.com", "GetUser", True, True, _none),
    Call("iam.amazonaws.com", "ListMFADevices", True, True, _none),
    Call("iam.amazonaws.com", "ListAccessKeys", True, True, _none),
    Call("iam.amazonaws.com", "ListUsers", True, True, _none),
    Call("iam.amazonaws.com", "GetAccountSummary", True, True, _none),
    Call("sts.amazonaws.com", "GetCallerIdentity", True, True, _none),
    Call("s3.amazonaws.com", "ListBuckets", True, True, _const({"Host": "s3.amazonaws.com"})),
)
MANAGEMENT_READS = (
    Call("organizations.amazonaws.com", "ListAccounts", True, True, _none),
    Call("organizations.amazonaws.com", "DescribeOrganization", True, True, _none),
    Call("organizations.amazonaws.com", "ListRoots", True, True, _none),
    Call("sso.amazonaws.com", "ListPermissionSets", True, False, _const({"maxResults": 100})),
)
CI_CALLS = (
    Call("sts.amazonaws.com", "GetCallerIdentity", True, True, _none),
    Call("cloudformation.amazonaws.com", "DescribeStacks", True, False, _stack),
    Call("cloudformation.amazonaws.com", "DescribeStackEvents", True, False, _stack),
    Call("cloudformation.amazonaws.com", "CreateChangeSet", False, False, _stack),
    Call("cloudformation.amazonaws.com", "ExecuteChangeSet", False, False, _stack),
    Call("ecr.amazonaws.com", "GetAuthorizationToken", True, False, _none),
    Call("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", False, False, _function),
    Call("iam.amazonaws.com", "GetRole", True, True, _role_name),
    Call("s3.amazonaws.com", "ListBuckets", True, True, _const({"Host": "s3.amazonaws.com"})),
)
INSTANCE_CALLS = (
    Call("ssm.amazonaws.com", "UpdateInstanceInformation", False, False, _ssm_update),
    Call("ssm.amazonaws.com", "UpdateInstanceInformation", False, False, _ssm_update),
    Call("ssm.amazonaws.com", "ListInstanceAssociations", True, False, _const({"maxResults": 20})),
    Call("ec2.amazonaws.com", "DescribeTags", True, False, _instance),
    DESCRIBE_INSTANCES,
    Call("secretsmanager.amazonaws.com", "GetSecretValue", True, False, _secret),
    Call("kms.amazonaws.com", "Decrypt", True, False, _decrypt),
    Call("sts.amazonaws.com", "GetCallerIdentity", True, True, _none),
)
FUNCTION_CALLS = (
    Call("logs.amazonaws.com", "CreateLogStream", False, False, _log_stream),
    Call("dynamodb.amazonaws.com", "DescribeTable", True, False, _table),
    Call("secretsmanager.amazonaws.com", "GetSecretValue", True, False, _secret),
    Call("kms.amazonaws.com", "Decrypt", True, False, _decrypt),
    Call("ssm.amazonaws.com", "GetParameter", True, False, _parameter),
)
ROOT_CALLS = (
    Call("iam.amazonaws.com", "GetAccountSummary", True, True, _none),
    Call("iam.amazonaws.com", "ListAccessKeys", True, True, _none),
    Call("iam.amazonaws.com", "ListMFADevices", True, True, _none),
    Call("account.amazonaws.com", "GetContactInformation", True, True, _none),
    CONSOLE_EXTRA[1],
)

Menu = tuple[Call, ...]
CLI: Menu = READS * 6 + WRITES
CONSOLE: Menu = READS * 3 + CONSOLE_EXTRA + WRITES
IDENTITY: Menu = IDENTITY_READS
MANAGEMENT: Menu = MANAGEMENT_READS + READS
FEDERATED: Menu = tuple(c for c in READS if c.source != "iam.amazonaws.com")  # no IAM for federated users
CI: Menu = CI_CALLS
INSTANCE: Menu = INSTANCE_CALLS
FUNCTION: Menu = FUNCTION_CALLS
ROOT: Menu = ROOT_CALLS

LAMBDA_UA = (
    "Boto3/1.34.145 md/Botocore#1.34.145 ua/2.0 os/linux#5.10.227-239.884.amzn2.x86_64 md/arch#x86_64 "
    "lang/python#3.12.7 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy "
    "Botocore/1.34.145"
)
INSTANCE_UAS = (
    "aws-sdk-go/1.55.5 (go1.22.7; linux; amd64) amazon-ssm-agent/3.3.1142.0",
    "aws-cli/2.17.18 md/awscrt#0.20.11 ua/2.0 os/linux#6.1.112-124.190.amzn2023.x86_64 md/arch#x86_64 "
    "lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#amzn.2023",
)
CI_UA = "aws-sdk-nodejs/2.1692.0 linux/v20.18.1 configure-aws-credentials-for-github-actions promise"
TERRAFORM_UA = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.80.0 "
    "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.6 ua/2.1 os/linux "
    "lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64"
)
CONSOLE_UA = "AWS Internal"
