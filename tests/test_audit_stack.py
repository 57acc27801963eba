"""Audit stack: what CloudTrail, S3, KMS, CloudWatch and SNS require for the trail and its alerts to work."""

from __future__ import annotations

import dataclasses
import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from config import PROFILES, AuditSettings, ProfileError, get_profile
from ml_constructs.security_signals import API_CALL, CIS_FILTERS
from stacks.audit import AuditStack
from tests.conftest import Assembly, app_with_project_flags

STACK = "audit"


def one(assembly: Assembly, cfn_type: str) -> tuple[str, dict]:
    (item,) = assembly.resources(STACK, cfn_type).items()
    return item


def trail_bucket(assembly: Assembly) -> tuple[str, dict]:
    buckets = assembly.resources(STACK, "AWS::S3::Bucket")
    (item,) = [(k, v) for k, v in buckets.items() if "LoggingConfiguration" in v["Properties"]]
    return item


def statements(document: dict) -> list[dict]:
    return document["Statement"]


def trail_arn(assembly: Assembly) -> dict:
    """The ARN CloudTrail gives the trail, from its name (the bucket policy cannot reference the trail)."""
    _, trail = one(assembly, "AWS::CloudTrail::Trail")
    name = trail["Properties"]["TrailName"]
    return {"Fn::Join": ["", ["arn:aws:cloudtrail:eu-west-1:", {"Ref": "AWS::AccountId"}, f":trail/{name}"]]}


# --- the trail --------------------------------------------------------------------------------


def test_trail_is_multi_region_validated_encrypted_and_logging(assembly: Assembly) -> None:
    _, trail = one(assembly, "AWS::CloudTrail::Trail")
    props = trail["Properties"]
    assert props["IsMultiRegionTrail"] is True
    assert props["IncludeGlobalServiceEvents"] is True
    assert props["EnableLogFileValidation"] is True
    assert props["IsLogging"] is True
    assert "AuditKey" in json.dumps(props["KMSKeyId"])
    assert "EventSelectors" not in props  # CloudTrail refuses basic and advanced selectors together


def test_selectors_record_management_events_and_only_the_data_events_that_matter(assembly: Assembly) -> None:
    _, trail = one(assembly, "AWS::CloudTrail::Trail")
    selectors = trail["Properties"]["AdvancedEventSelectors"]
    by_category = {}
    for selector in selectors:
        fields = {f["Field"]: f for f in selector["FieldSelectors"]}
        by_category.setdefault(fields["eventCategory"]["Equals"][0], []).append(fields)
    (management,) = by_category["Management"]
    assert set(management) == {"eventCategory"}  # no readOnly field: read and write
    data = by_category["Data"]
    assert all(d["resources.type"]["Equals"] == ["AWS::S3::Object"] for d in data)
    prefixes = {
        json.dumps(p): d.get("readOnly", {}).get("Equals") for d in data for p in d["resources.ARN"]["StartsWith"]
    }
    writes = {k for k, v in prefixes.items() if v == ["false"]}
    both = {k for k, v in prefixes.items() if v is None}
    assert len(writes) == 2 and all("RawZone" in k or "CuratedZone" in k for k in writes)
    assert len(both) == 1 and all("Artifacts" in k for k in both)
    # Object ARNs start with the bucket ARN and a slash; the trail's own bucket is never recorded (a loop).
    assert all(k.endswith('"/"]]}') for k in prefixes)
    bucket_id, _ = trail_bucket(assembly)
    assert bucket_id not in json.dumps(selectors)


def test_bucket_policy_admits_cloudtrail_for_this_trail_only(assembly: Assembly) -> None:
    bucket_id, _ = trail_bucket(assembly)
    policies = assembly.resources(STACK, "AWS::S3::BucketPolicy")
    (policy,) = [p for p in policies.values() if p["Properties"]["Bucket"] == {"Ref": bucket_id}]
    allows = [s for s in statements(policy["Properties"]["PolicyDocument"]) if s["Effect"] == "Allow"]
    assert {s["Action"] for s in allows} == {"s3:GetBucketAcl", "s3:PutObject"}
    for statement in allows:
        assert statement["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
        assert statement["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn(assembly)
    (write,) = [s for s in allows if s["Action"] == "s3:PutObject"]
    assert write["Condition"]["StringEquals"]["s3:x-amz-acl"] == "bucket-owner-full-control"
    assert write["Resource"]["Fn::Join"][1][1:] == ["/AWSLogs/", {"Ref": "AWS::AccountId"}, "/*"]


def test_trail_deploys_after_its_bucket_policy_and_delivery_role(assembly: Assembly) -> None:
    _, trail = one(assembly, "AWS::CloudTrail::Trail")
    bucket_id, _ = trail_bucket(assembly)
    policies = assembly.resources(STACK, "AWS::S3::BucketPolicy")
    (policy_id,) = [k for k, p in policies.items() if p["Properties"]["Bucket"] == {"Ref": bucket_id}]
    role_id = trail["Properties"]["CloudWatchLogsRoleArn"]["Fn::GetAtt"][0]
    assert policy_id in trail["DependsOn"] and role_id in trail["DependsOn"]
    # ...and nothing in the policy refers back to the trail (that would be a cycle).
    assert "AWS::CloudTrail::Trail" not in json.dumps(policies[policy_id])


def test_trail_bucket_is_tls_only_versioned_logged_tiered_and_retained(assembly: Assembly) -> None:
    bucket_id, bucket = trail_bucket(assembly)
    props = bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain"
    assert props["VersioningConfiguration"]["Status"] == "Enabled"
    assert props["LoggingConfiguration"]["DestinationBucketName"]["Ref"] != bucket_id
    assert props["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    settings = get_profile(assembly.profile).audit
    assert rule["Transitions"] == [{"StorageClass": "GLACIER", "TransitionInDays": settings.cold_after_days}]
    assert rule["ExpirationInDays"] == settings.expiry_days
    policies = assembly.resources(STACK, "AWS::S3::BucketPolicy")
    (policy,) = [p for p in policies.values() if p["Properties"]["Bucket"] == {"Ref": bucket_id}]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements(policy["Properties"]["PolicyDocument"])
    )


def test_access_logs_of_the_trail_bucket_outlive_the_stack_too(assembly: Assembly) -> None:
    _, bucket = trail_bucket(assembly)
    target = assembly.template(STACK)["Resources"][
        bucket["Properties"]["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
    ]
    assert target["DeletionPolicy"] == "Retain"


def test_object_lock_in_prod_only(dev: Assembly, prod: Assembly) -> None:
    _, prod_bucket = trail_bucket(prod)
    lock = prod_bucket["Properties"]["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
    assert prod_bucket["Properties"]["ObjectLockEnabled"] is True
    assert lock == {"Mode": "GOVERNANCE", "Days": get_profile("prod").audit.object_lock_days}
    _, dev_bucket = trail_bucket(dev)
    assert "ObjectLockEnabled" not in dev_bucket["Properties"]


def test_log_group_is_encrypted_with_the_profiles_retention(assembly: Assembly) -> None:
    group_id, group = one(assembly, "AWS::Logs::LogGroup")
    assert "LogsKey" in json.dumps(group["Properties"]["KmsKeyId"])
    assert group["Properties"]["RetentionInDays"] == get_profile(assembly.profile).log_retention_days
    _, trail = one(assembly, "AWS::CloudTrail::Trail")
    assert trail["Properties"]["CloudWatchLogsLogGroupArn"] == {"Fn::GetAtt": [group_id, "Arn"]}


def test_delivery_role_lets_cloudtrail_write_to_that_log_group_only(assembly: Assembly) -> None:
    _, trail = one(assembly, "AWS::CloudTrail::Trail")
    resources = assembly.template(STACK)["Resources"]
    role_id = trail["Properties"]["CloudWatchLogsRoleArn"]["Fn::GetAtt"][0]
    role = resources[role_id]
    (trust,) = statements(role["Properties"]["AssumeRolePolicyDocument"])
    assert trust["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert "Policies" not in role["Properties"]
    # Customer-managed policies name the role (ManagedRole) or the role names them.
    attached = [
        res for key, res in resources.items()
        if res["Type"] == "AWS::IAM::ManagedPolicy"
        and ({"Ref": role_id} in res["Properties"].get("Roles", [])
             or {"Ref": key} in role["Properties"].get("ManagedPolicyArns", []))
    ]  # fmt: skip
    (policy,) = attached
    (statement,) = statements(policy["Properties"]["PolicyDocument"])
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == trail["Properties"]["CloudWatchLogsLogGroupArn"]


def test_audit_key_admits_cloudtrail_with_the_encryption_context(assembly: Assembly) -> None:
    keys = assembly.resources("data-lake", "AWS::KMS::Key")
    key = next(v for k, v in keys.items() if k.startswith("AuditKey"))
    by_sid = {s.get("Sid"): s for s in statements(key["Properties"]["KeyPolicy"])}
    encrypt = by_sid["CloudTrailEncryptTrails"]
    assert encrypt["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert encrypt["Action"] == "kms:GenerateDataKey*"
    context = encrypt["Condition"]["StringLike"]["kms:EncryptionContext:aws:cloudtrail:arn"]
    assert context["Fn::Join"][1][-1] == ":trail/*"
    assert "aws:SourceAccount" in encrypt["Condition"]["StringEquals"]
    assert by_sid["CloudTrailDescribeKey"]["Action"] == "kms:DescribeKey"
    # Readers decrypt through IAM (the key policy delegates to the account), with the same context.
    assert any(s["Principal"] == {"AWS": {"Fn::Join": ["", ["arn:aws:iam::", {"Ref": "AWS::AccountId"}, ":root"]]}}
               for s in statements(key["Properties"]["KeyPolicy"]))  # fmt: skip


def test_reader_policy_decrypts_only_this_trails_files_and_can_validate_them(assembly: Assembly) -> None:
    policies = assembly.resources(STACK, "AWS::IAM::ManagedPolicy")
    reader = next(p for k, p in policies.items() if k.startswith("TrailReaders"))
    by_sid = {s["Sid"]: s for s in statements(reader["Properties"]["PolicyDocument"])}
    assert by_sid["Decrypt"]["Condition"]["StringEquals"]["kms:EncryptionContext:aws:cloudtrail:arn"] == trail_arn(
        assembly
    )
    assert set(by_sid["Validate"]["Action"]) == {"cloudtrail:ListPublicKeys", "cloudtrail:DescribeTrails"}


# --- CIS metric filters and alarms --------------------------------------------------------------


def test_cis_filters_use_security_hubs_exact_patterns_on_the_trails_log_group(assembly: Assembly) -> None:
    group_id, _ = one(assembly, "AWS::Logs::LogGroup")
    filters = assembly.resources(STACK, "AWS::Logs::MetricFilter").values()
    assert sorted(f["Properties"]["FilterPattern"] for f in filters) == sorted(c.pattern for c in CIS_FILTERS)
    for f in filters:
        assert f["Properties"]["LogGroupName"] == {"Ref": group_id}
        (transform,) = f["Properties"]["MetricTransformations"]
        assert transform["MetricValue"] == "1"


def test_every_cis_alarm_fires_on_one_event_and_notifies_the_security_topic(assembly: Assembly) -> None:
    topic_id, _ = one(assembly, "AWS::SNS::Topic")
    filters = assembly.resources(STACK, "AWS::Logs::MetricFilter").values()
    metrics = {f["Properties"]["MetricTransformations"][0]["MetricName"] for f in filters}
    alarms = assembly.resources(STACK, "AWS::CloudWatch::Alarm").values()
    assert {a["Properties"]["MetricName"] for a in alarms} == metrics
    for alarm in alarms:
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": topic_id}]
        assert props["Threshold"] == 1 and props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert props["Statistic"] == "Sum" and props["TreatMissingData"] == "notBreaching"


# --- security topic ------------------------------------------------------------------------------


def test_security_topic_is_its_own_encrypted_tls_only_topic(assembly: Assembly) -> None:
    key_id, key = one(assembly, "AWS::KMS::Key")
    _, topic = one(assembly, "AWS::SNS::Topic")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert topic["Properties"]["TopicName"] == f"mlops-{assembly.profile}-security"
    _, policy = one(assembly, "AWS::SNS::TopicPolicy")
    document = statements(policy["Properties"]["PolicyDocument"])
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in document)
    by_service = {s["Principal"]["Service"]: s for s in document if s["Effect"] == "Allow"}
    assert by_service["events.amazonaws.com"]["Action"] == "sns:Publish"
    assert "aws:SourceAccount" in by_service["events.amazonaws.com"]["Condition"]["StringEquals"]
    alarms = by_service["cloudwatch.amazonaws.com"]["Condition"]
    assert "aws:SourceAccount" in alarms["StringEquals"] and ":alarm:*" in json.dumps(alarms["ArnLike"])


def test_security_key_admits_alarms_with_source_and_rules_by_topic_context(assembly: Assembly) -> None:
    _, key = one(assembly, "AWS::KMS::Key")
    by_sid = {s.get("Sid"): s for s in statements(key["Properties"]["KeyPolicy"])}
    topic_arn = {
        "Fn::Join": ["", ["arn:aws:sns:eu-west-1:", {"Ref": "AWS::AccountId"}, f":mlops-{assembly.profile}-security"]]
    }
    rules = by_sid["EventBridgeRulesPublish"]
    assert rules["Principal"] == {"Service": "events.amazonaws.com"}
    # EventBridge passes neither aws:SourceAccount nor aws:SourceArn to KMS for an encrypted topic.
    assert rules["Condition"] == {"StringEquals": {"kms:EncryptionContext:aws:sns:topicArn": topic_arn}}
    alarms = by_sid["CloudWatchAlarmsPublish"]
    assert alarms["Condition"]["StringEquals"]["kms:EncryptionContext:aws:sns:topicArn"] == topic_arn
    assert (
        "aws:SourceAccount" in alarms["Condition"]["StringEquals"] and "aws:SourceArn" in alarms["Condition"]["ArnLike"]
    )
    assert sorted(rules["Action"]) == sorted(alarms["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]


# --- ML control-plane rules -----------------------------------------------------------------------


def test_rules_notify_the_security_topic_with_retries_and_dead_letters(assembly: Assembly) -> None:
    topic_id, _ = one(assembly, "AWS::SNS::Topic")
    queue_id, _ = one(assembly, "AWS::SQS::Queue")
    rules = assembly.resources(STACK, "AWS::Events::Rule")
    assert len(rules) == 7
    for rule in rules.values():
        pattern = rule["Properties"]["EventPattern"]
        assert pattern["detail-type"] == [API_CALL]
        (target,) = rule["Properties"]["Targets"]
        assert target["Arn"] == {"Ref": topic_id}
        assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    _, queue_policy = one(assembly, "AWS::SQS::QueuePolicy")
    admitted = json.dumps(queue_policy["Properties"]["PolicyDocument"])
    assert all(rule_id in admitted for rule_id in rules)


def test_changes_by_cdk_deploy_are_expected_everywhere_else_alert(assembly: Assembly) -> None:
    rules = assembly.resources(STACK, "AWS::Events::Rule")
    exec_role = {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-hnb659fds-cfn-exec-role-${AWS::AccountId}-eu-west-1"
    }
    for rule_id, rule in rules.items():
        if rule_id.startswith(("LakeFormation", "ModelApproved")):
            continue
        (expected, absent) = rule["Properties"]["EventPattern"]["detail"]["$or"]
        issuer = expected["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
        assert exec_role in issuer[0]["anything-but"], rule_id
        assert absent["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] == [{"exists": False}]


def test_endpoint_rules_expect_the_serving_roles(assembly: Assembly) -> None:
    rules = assembly.resources(STACK, "AWS::Events::Rule")
    endpoint = json.dumps(next(r for k, r in rules.items() if k.startswith("EndpointChanged")))
    weights = next(r for k, r in rules.items() if k.startswith("EndpointWeights"))
    assert f"mlops-{assembly.profile}-serving" in endpoint
    assert "Promotion" not in endpoint
    # Without a challenger there is no promotion function: only deploys may change weights.
    excluded = json.dumps(weights["Properties"]["EventPattern"])
    assert ("Promotion" in excluded) == PROFILES[assembly.profile].serving.challenger


# --- profile settings and the organization-trail variant ----------------------------------------


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"trail": "none"}, "audit.trail"),
        ({"cold_after_days": 90, "expiry_days": 120}, "audit.expiry_days"),
        ({"object_lock_days": 5000}, "audit.object_lock_days"),
        ({"approver_arns": ("arn:aws:iam::111122223333:user/alice",)}, "audit.approver_arns"),
        ({"security_emails": ("not-an-email",)}, "audit.security_emails"),
    ],
)
def test_audit_settings_are_validated(change: dict, key: str) -> None:
    profile = get_profile("dev")
    with pytest.raises(ProfileError) as error:
        dataclasses.replace(profile, audit=dataclasses.replace(profile.audit, **change))
    assert error.value.key == key


@pytest.fixture(scope="module")
def organization_template() -> Template:
    dev = get_profile("dev")
    profile = dataclasses.replace(
        dev, audit=AuditSettings(trail="organization", cold_after_days=90, expiry_days=400,
                                 security_emails=("security@example.com",))
    )  # fmt: skip
    app = app_with_project_flags()
    env = cdk.Environment(account="123456789012", region=profile.region)
    lake = cdk.Stack(app, "Lake", env=env)
    bucket = {name: s3.Bucket(lake, name) for name in ("Raw", "Curated", "Artifacts", "Logs")}
    key = kms.Key(lake, "Key")
    stack = AuditStack(
        app, "Org", profile=profile, env=env, description="organization trail variant",
        raw_bucket=bucket["Raw"], curated_bucket=bucket["Curated"], artifact_bucket=bucket["Artifacts"],
        access_logs_bucket=bucket["Logs"], audit_key=key, logs_key=key, platform_keys=[key],
        weight_setter_arns=[], endpoint_deployer_arns=[],
    )  # fmt: skip
    return Template.from_stack(stack)


def test_with_an_organization_trail_no_second_trail_but_the_same_rules(organization_template: Template) -> None:
    for cfn_type in ("AWS::CloudTrail::Trail", "AWS::S3::Bucket", "AWS::Logs::LogGroup", "AWS::Logs::MetricFilter"):
        organization_template.resource_count_is(cfn_type, 0)
    organization_template.resource_count_is("AWS::Events::Rule", 7)
    organization_template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "security@example.com"}
    )
