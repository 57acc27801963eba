"""Every security pattern matches the CloudTrail record it is for, and not its near miss.

The CIS metric filters run in CloudWatch Logs on trail records; the ML rules run
in EventBridge on "AWS API Call via CloudTrail" events (the record under
``detail``). Both evaluators are tested first, on the syntax the patterns use.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ml_constructs.security_signals import API_CALL, CIS_FILTERS, ml_patterns
from tests.matchers import PatternError, event_matches, log_filter_matches

ACCOUNT = "123456789012"
CFN_EXEC = f"arn:aws:iam::{ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-{ACCOUNT}-eu-west-1"
APPROVER = f"arn:aws:iam::{ACCOUNT}:role/MlApprover"
PROMOTION = f"arn:aws:iam::{ACCOUNT}:role/mlops-dev-serving-PromotionRole"
ENDPOINT_DEPLOY = f"arn:aws:iam::{ACCOUNT}:role/mlops-dev-serving-DeployRole"
SCIENTIST = f"arn:aws:iam::{ACCOUNT}:role/DataScientist"
RAW_BUCKET = "mlops-dev-data-lake-rawzonebucket-abc123"
DATA_KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1111aaaa-2222-bbbb-3333-cccc4444dddd"
OTHER_KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/9999ffff-8888-eeee-7777-dddd6666cccc"


# --- the evaluators -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "record", "expected"),
    [
        ('{ $.a = "x" }', {"a": "x"}, True),
        ("{ $.a = x }", {"a": "y"}, False),
        ('{ $.a = "*Unauthorized" }', {"a": "Client.UnauthorizedOperation"}, False),
        ('{ $.a = "*UnauthorizedOperation" }', {"a": "Client.UnauthorizedOperation"}, True),
        ('{ $.a = "AccessDenied*" }', {"a": "AccessDeniedException"}, True),
        ('{ $.a = "AccessDenied*" }', {"a": "NotAccessDenied"}, False),
        ('{ $.a != "x" }', {"a": "y"}, True),
        ('{ $.a != "x" }', {"a": "x"}, False),
        ('{ $.a != "x" }', {}, False),
        ('{ $.a = "x" }', {}, False),
        ("{ $.a NOT EXISTS }", {}, True),
        ("{ $.a NOT EXISTS }", {"a": "x"}, False),
        ("{ $.a EXISTS }", {"a": None}, True),
        ("{ $.a IS NULL }", {"a": None}, True),
        ("{ $.a IS TRUE }", {"a": True}, True),
        ("{ $.a.b[1] = 2 }", {"a": {"b": [1, 2]}}, True),
        ("{ $.n >= 10 }", {"n": 10}, True),
        ("{ $.n < 10 }", {"n": 10}, False),
        # && binds tighter than ||: true || (false && false)
        ("{ $.a = 1 || $.b = 1 && $.c = 1 }", {"a": 1, "b": 0, "c": 0}, True),
        ("{ ($.a = 1 || $.b = 1) && $.c = 1 }", {"a": 1, "b": 0, "c": 0}, False),
        ("{ ($.s = kms.amazonaws.com) && (($.e = A) || ($.e = B)) }", {"s": "kms.amazonaws.com", "e": "B"}, True),
        ("{ ($.s = kms.amazonaws.com) && (($.e = A) || ($.e = B)) }", {"s": "s3.amazonaws.com", "e": "B"}, False),
    ],
)
def test_log_filter_evaluator(pattern: str, record: dict, expected: bool) -> None:
    assert log_filter_matches(pattern, record) is expected


@pytest.mark.parametrize("pattern", ["$.a = 1", "{ ($.a = 1 }", "{ $.a = }", "{ $.a = 1 ) }", "{ a = 1 }"])
def test_log_filter_evaluator_rejects_bad_syntax(pattern: str) -> None:
    with pytest.raises(PatternError):
        log_filter_matches(pattern, {"a": 1})


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        ({"a": ["x", "y"]}, {"a": "y"}, True),
        ({"a": ["x"]}, {"a": ["z", "x"]}, True),
        ({"a": ["x"]}, {}, False),
        ({"a": [{"prefix": "ml-"}]}, {"a": "ml-dev"}, True),
        ({"a": [{"prefix": "ml-"}]}, {"a": "dev-ml"}, False),
        ({"a": [{"suffix": ".png"}]}, {"a": "x.png"}, True),
        ({"a": [{"anything-but": ["x", "y"]}]}, {"a": "z"}, True),
        ({"a": [{"anything-but": ["x", "y"]}]}, {"a": "x"}, False),
        ({"a": [{"anything-but": ["x"]}]}, {}, False),
        ({"a": [{"anything-but": {"prefix": "x"}}]}, {"a": "xy"}, False),
        ({"a": [{"exists": False}]}, {}, True),
        ({"a": [{"exists": True}]}, {}, False),
        ({"a": {"b": [{"exists": False}]}}, {}, True),
        ({"a": {"b": ["x"]}}, {}, False),
        ({"r": {"ARN": ["k1"]}}, {"r": [{"ARN": "k0"}, {"ARN": "k1"}]}, True),
        ({"r": {"ARN": ["k1"]}}, {"r": [{"ARN": "k0"}]}, False),
        ({"$or": [{"a": ["1"]}, {"b": ["1"]}]}, {"b": "1"}, True),
        ({"$or": [{"a": ["1"]}, {"b": ["1"]}]}, {"b": "2"}, False),
        ({"d": {"x": ["1"], "$or": [{"a": ["1"]}, {"a": [{"exists": False}]}]}}, {"d": {"x": "1"}}, True),
    ],
)
def test_event_pattern_evaluator(pattern: dict, event: dict, expected: bool) -> None:
    assert event_matches(pattern, event) is expected


# --- CIS metric filters (Security Hub CloudWatch.1-14) ------------------------------------------


def record(event_name: str, source: str, **fields: Any) -> dict[str, Any]:
    """A CloudTrail record of an IAM role session, as delivered to the trail's log group."""
    base = {
        "eventVersion": "1.10",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLE:session",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/DataScientist/session",
            "accountId": ACCOUNT,
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "arn": SCIENTIST, "accountId": ACCOUNT, "userName": "DataScientist"},
                "attributes": {"creationDate": "2026-11-27T10:00:00Z", "mfaAuthenticated": "false"},
            },
        },
        "eventTime": "2026-11-27T10:05:00Z",
        "eventSource": source,
        "eventName": event_name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "192.0.2.10",
        "userAgent": "aws-cli/2.22",
        "requestParameters": {},
        "responseElements": None,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }
    return {**base, **fields}


def console_login(*, user_type: str, mfa: str, result: str) -> dict[str, Any]:
    return record(
        "ConsoleLogin",
        "signin.amazonaws.com",
        userIdentity={"type": user_type, "arn": f"arn:aws:iam::{ACCOUNT}:user/alice", "accountId": ACCOUNT},
        eventType="AwsConsoleSignIn",
        additionalEventData={"MFAUsed": mfa, "MobileVersion": "No"},
        responseElements={"ConsoleLogin": result},
        **({"errorMessage": "Failed authentication"} if result == "Failure" else {}),
    )


ROOT = {"type": "Root", "arn": f"arn:aws:iam::{ACCOUNT}:root", "accountId": ACCOUNT}
CIS_SAMPLES: dict[str, tuple[dict, dict]] = {
    "CloudWatch.1": (
        record("ListBuckets", "s3.amazonaws.com", userIdentity=ROOT),
        record("ListBuckets", "s3.amazonaws.com", userIdentity={**ROOT, "invokedBy": "support.amazonaws.com"}),
    ),
    "CloudWatch.2": (
        record("DescribeInstances", "ec2.amazonaws.com", errorCode="Client.UnauthorizedOperation"),
        record("DescribeInstances", "ec2.amazonaws.com", errorCode="Client.InvalidParameterValue"),
    ),
    "CloudWatch.3": (
        console_login(user_type="IAMUser", mfa="No", result="Success"),
        console_login(user_type="IAMUser", mfa="Yes", result="Success"),
    ),
    "CloudWatch.4": (record("PutRolePolicy", "iam.amazonaws.com"), record("GetRolePolicy", "iam.amazonaws.com")),
    "CloudWatch.5": (record("StopLogging", "cloudtrail.amazonaws.com"), record("LookupEvents", "cloudtrail.amazonaws.com")),
    "CloudWatch.6": (
        console_login(user_type="IAMUser", mfa="No", result="Failure"),
        console_login(user_type="IAMUser", mfa="No", result="Success"),
    ),
    "CloudWatch.7": (
        record("ScheduleKeyDeletion", "kms.amazonaws.com"),
        record("ScheduleKeyDeletion", "cloudhsm.amazonaws.com"),
    ),
    "CloudWatch.8": (record("PutBucketPolicy", "s3.amazonaws.com"), record("GetBucketPolicy", "s3.amazonaws.com")),
    "CloudWatch.9": (
        record("StopConfigurationRecorder", "config.amazonaws.com"),
        record("StartConfigurationRecorder", "config.amazonaws.com"),
    ),
    "CloudWatch.10": (
        record("AuthorizeSecurityGroupIngress", "ec2.amazonaws.com"),
        record("DescribeSecurityGroups", "ec2.amazonaws.com"),
    ),
    "CloudWatch.11": (record("ReplaceNetworkAclEntry", "ec2.amazonaws.com"), record("DescribeNetworkAcls", "ec2.amazonaws.com")),
    "CloudWatch.12": (record("AttachInternetGateway", "ec2.amazonaws.com"), record("CreateNatGateway", "ec2.amazonaws.com")),
    "CloudWatch.13": (record("CreateRoute", "ec2.amazonaws.com"), record("DescribeRouteTables", "ec2.amazonaws.com")),
    "CloudWatch.14": (record("ModifyVpcAttribute", "ec2.amazonaws.com"), record("ModifySubnetAttribute", "ec2.amazonaws.com")),
}  # fmt: skip


def test_the_table_holds_cloudwatch_1_to_14_once_each() -> None:
    assert [f.control for f in CIS_FILTERS] == [f"CloudWatch.{n}" for n in range(1, 15)]
    assert len({f.metric for f in CIS_FILTERS}) == 14
    assert set(CIS_SAMPLES) == {f.control for f in CIS_FILTERS}


@pytest.mark.parametrize("cis", CIS_FILTERS, ids=lambda f: f.control)
def test_cis_filter_matches_its_record_and_not_the_near_miss(cis) -> None:
    hit, miss = CIS_SAMPLES[cis.control]
    assert log_filter_matches(cis.pattern, hit)
    assert not log_filter_matches(cis.pattern, miss)


def test_root_filter_ignores_aws_service_events() -> None:
    (root,) = [f for f in CIS_FILTERS if f.control == "CloudWatch.1"]
    assert not log_filter_matches(
        root.pattern, record("Rotate", "kms.amazonaws.com", userIdentity=ROOT, eventType="AwsServiceEvent")
    )


def test_unauthorized_filter_matches_access_denied_too() -> None:
    (unauthorized,) = [f for f in CIS_FILTERS if f.control == "CloudWatch.2"]
    assert log_filter_matches(unauthorized.pattern, record("GetObject", "s3.amazonaws.com", errorCode="AccessDenied"))


# --- ML control-plane rules (EventBridge) ---------------------------------------------------------


PATTERNS = ml_patterns(
    deployers=[CFN_EXEC],
    approvers=[APPROVER],
    weight_setters=[PROMOTION],
    endpoint_deployers=[ENDPOINT_DEPLOY],
    pipeline_prefix="mlops-dev-",
    buckets=[RAW_BUCKET],
    keys=[DATA_KEY],
)


def event(detail: dict[str, Any]) -> dict[str, Any]:
    """The EventBridge envelope of a CloudTrail record."""
    source = "aws." + detail["eventSource"].split(".")[0]
    return {
        "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": API_CALL, "source": source,
        "account": ACCOUNT, "time": detail["eventTime"], "region": "eu-west-1", "resources": [], "detail": detail,
    }  # fmt: skip


def by(detail: dict[str, Any], issuer: str) -> dict[str, Any]:
    changed = copy.deepcopy(detail)
    changed["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = issuer
    return changed


def by_iam_user(detail: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(detail)
    changed["userIdentity"] = {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/bob", "accountId": ACCOUNT}
    return changed


approve = record(
    "UpdateModelPackage", "sagemaker.amazonaws.com",
    requestParameters={
        "modelPackageArn": f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:model-package/mlops-dev-churn/7",
        "modelApprovalStatus": "Approved",
    },
)  # fmt: skip
update_endpoint = record("UpdateEndpoint", "sagemaker.amazonaws.com", requestParameters={"endpointName": "churn"})
weights = record("UpdateEndpointWeightsAndCapacities", "sagemaker.amazonaws.com")
pipeline = record(
    "UpdatePipeline", "sagemaker.amazonaws.com", requestParameters={"pipelineName": "mlops-dev-churn-training"}
)
bucket_policy = record(
    "PutBucketPolicy", "s3.amazonaws.com", requestParameters={"bucketName": RAW_BUCKET, "policy": "{}"}
)
key_policy = record(
    "PutKeyPolicy", "kms.amazonaws.com",
    requestParameters={"keyId": DATA_KEY, "policyName": "default"},
    resources=[{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": DATA_KEY}],
)  # fmt: skip
grant = record("GrantPermissions", "lakeformation.amazonaws.com", requestParameters={"permissions": ["SELECT"]})

# rule -> (events that must alert, events that must not)
ML_SAMPLES: dict[str, tuple[list[dict], list[dict]]] = {
    "LakeFormationPermissions": (
        [grant, record("BatchRevokePermissions", "lakeformation.amazonaws.com")],
        [record("GetDataAccess", "lakeformation.amazonaws.com")],
    ),
    "ModelApprovedOutsideApprovers": (
        [approve, by_iam_user(approve), record("CreateModelPackage", "sagemaker.amazonaws.com",
                                                requestParameters={"modelApprovalStatus": "Approved"})],
        [by(approve, APPROVER), {**approve, "requestParameters": {"modelApprovalStatus": "Rejected"}}],
    ),
    "EndpointChangedOutsideDeploy": (
        [update_endpoint, by_iam_user(update_endpoint), record("DeleteEndpointConfig", "sagemaker.amazonaws.com")],
        [by(update_endpoint, CFN_EXEC), by(update_endpoint, ENDPOINT_DEPLOY), record("DescribeEndpoint", "sagemaker.amazonaws.com")],
    ),
    "EndpointWeightsChangedOutsidePromotion": (
        [weights, by_iam_user(weights)],
        [by(weights, PROMOTION), by(weights, CFN_EXEC)],
    ),
    "PipelineChangedOutsideDeploy": (
        [pipeline, by_iam_user(pipeline)],
        [by(pipeline, CFN_EXEC), {**pipeline, "requestParameters": {"pipelineName": "team-experiment"}}],
    ),
    "BucketControlsChangedOutsideDeploy": (
        [bucket_policy, by_iam_user(bucket_policy), {**bucket_policy, "eventName": "DeleteBucketEncryption"}],
        [by(bucket_policy, CFN_EXEC), {**bucket_policy, "requestParameters": {"bucketName": "someone-elses"}}],
    ),
    "KeyControlsChangedOutsideDeploy": (
        [key_policy, by_iam_user(key_policy), {**key_policy, "eventName": "ScheduleKeyDeletion"}],
        [by(key_policy, CFN_EXEC),
         {**key_policy, "resources": [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": OTHER_KEY}]}],
    ),
}  # fmt: skip


def test_every_rule_has_samples() -> None:
    assert set(ML_SAMPLES) == set(PATTERNS)


@pytest.mark.parametrize("rule", sorted(ML_SAMPLES))
def test_ml_rule_alerts_on_its_events_only(rule: str) -> None:
    _, pattern = PATTERNS[rule]
    hits, misses = ML_SAMPLES[rule]
    for detail in hits:
        assert event_matches(pattern, event(detail)), (rule, detail["eventName"], detail["userIdentity"])
    for detail in misses:
        assert not event_matches(pattern, event(detail)), (rule, detail["eventName"], detail["userIdentity"])


def test_without_approvers_every_approval_alerts() -> None:
    _, pattern = ml_patterns(
        deployers=[CFN_EXEC], approvers=[], weight_setters=[], endpoint_deployers=[], pipeline_prefix="x-",
        buckets=[RAW_BUCKET], keys=[DATA_KEY],
    )["ModelApprovedOutsideApprovers"]  # fmt: skip
    assert event_matches(pattern, event(by(approve, APPROVER)))
    assert "$or" not in pattern["detail"]


def test_rules_match_cloudtrail_api_call_events_only() -> None:
    for _, pattern in PATTERNS.values():
        assert pattern["detail-type"] == [API_CALL]
    state_change = {**event(approve), "detail-type": "SageMaker Model Package State Change"}
    assert not event_matches(PATTERNS["ModelApprovedOutsideApprovers"][1], state_change)
