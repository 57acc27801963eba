"""Data-lake storage: customer keys with narrow grants, and locked-down zone buckets."""

from __future__ import annotations

import pytest

from config import PROFILES
from tests.conftest import Assembly

ZONES = ("RawZone", "CuratedZone", "Artifacts")


def _by_prefix(resources: dict[str, dict], prefix: str) -> dict:
    (match,) = [v for k, v in resources.items() if k.startswith(prefix)]
    return match


def _statements(key: dict) -> dict[str, dict]:
    return {s.get("Sid", ""): s for s in key["Properties"]["KeyPolicy"]["Statement"]}


@pytest.mark.parametrize("zone", ZONES)
def test_zone_bucket_is_encrypted_private_versioned_and_logged(assembly: Assembly, zone: str) -> None:
    buckets = assembly.resources("data-lake", "AWS::S3::Bucket")
    props = _by_prefix(buckets, f"{zone}Bucket")["Properties"]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]["Fn::GetAtt"][0].startswith("DataKey")
    assert rule["BucketKeyEnabled"] is True
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }  # fmt: skip
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    logging = props["LoggingConfiguration"]
    assert logging["DestinationBucketName"]["Ref"].startswith("AccessLogsBucket")
    assert logging["LogFilePrefix"] == f"{zone}/"


@pytest.mark.parametrize("zone", ZONES)
def test_zone_bucket_policy_denies_plain_http_and_old_tls(assembly: Assembly, zone: str) -> None:
    policies = assembly.resources("data-lake", "AWS::S3::BucketPolicy")
    statements = _by_prefix(policies, f"{zone}BucketPolicy")["Properties"]["PolicyDocument"]["Statement"]
    denies = [
        s for s in statements if s["Effect"] == "Deny" and s["Principal"] == {"AWS": "*"} and s["Action"] == "s3:*"
    ]
    conditions = [s["Condition"] for s in denies]
    assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
    assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in conditions


def test_lifecycle_expires_old_versions_and_tiers_cold_data(assembly: Assembly) -> None:
    lc = PROFILES[assembly.profile].lifecycle
    buckets = assembly.resources("data-lake", "AWS::S3::Bucket")
    for zone in ZONES:
        (rule,) = _by_prefix(buckets, f"{zone}Bucket")["Properties"]["LifecycleConfiguration"]["Rules"]
        assert rule["Status"] == "Enabled"
        assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": lc.noncurrent_version_expiry_days}
        assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": lc.abort_incomplete_upload_days}
        tiers = {t["StorageClass"]: t["TransitionInDays"] for t in rule.get("Transitions", [])}
        if zone == "Artifacts":
            assert tiers == {}
        else:
            assert tiers == {"STANDARD_IA": lc.infrequent_access_after_days, "GLACIER_IR": lc.glacier_after_days}


def test_access_log_bucket_accepts_log_delivery_by_policy_only(assembly: Assembly) -> None:
    buckets = assembly.resources("data-lake", "AWS::S3::Bucket")
    props = _by_prefix(buckets, "AccessLogsBucket")["Properties"]
    assert "AccessControl" not in props
    sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse == {"SSEAlgorithm": "AES256"}  # S3 log delivery cannot write SSE-KMS
    policy = _by_prefix(assembly.resources("data-lake", "AWS::S3::BucketPolicy"), "AccessLogsBucketPolicy")
    delivery = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}
    ]
    assert delivery and all("aws:SourceAccount" in s["Condition"]["StringEquals"] for s in delivery)


def test_every_key_rotates(assembly: Assembly) -> None:
    keys = assembly.resources("data-lake", "AWS::KMS::Key")
    assert len(keys) == 3
    assert all(k["Properties"]["EnableKeyRotation"] for k in keys.values())


def test_key_policies_name_only_their_services_with_conditions(assembly: Assembly) -> None:
    region = PROFILES[assembly.profile].region
    keys = assembly.resources("data-lake", "AWS::KMS::Key")
    services = {
        prefix: {
            s["Principal"]["Service"]
            if isinstance(s["Principal"]["Service"], str)
            else tuple(sorted(s["Principal"]["Service"]))
            for s in _statements(_by_prefix(keys, prefix)).values()
            if "Service" in s.get("Principal", {})
        }
        for prefix in ("DataKey", "LogsKey", "AuditKey")
    }
    assert services["DataKey"] == {("firehose.amazonaws.com", "glue.amazonaws.com", "sagemaker.amazonaws.com")}
    assert services["LogsKey"] == {f"logs.{region}.amazonaws.com"}
    assert services["AuditKey"] == {"cloudtrail.amazonaws.com"}
    for prefix in ("DataKey", "LogsKey", "AuditKey"):
        for sid, statement in _statements(_by_prefix(keys, prefix)).items():
            if "Service" in statement.get("Principal", {}):
                assert statement.get("Condition"), f"{prefix}/{sid} grants a service without a condition"
    grants = _statements(_by_prefix(keys, "DataKey"))["DataServicesGrants"]
    assert grants["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}
    trail = _statements(_by_prefix(keys, "AuditKey"))["CloudTrailEncryptTrails"]
    assert "kms:EncryptionContext:aws:cloudtrail:arn" in trail["Condition"]["StringLike"]


def test_prod_retains_data_and_protects_the_stack(prod: Assembly, dev: Assembly) -> None:
    for res in prod.template("data-lake")["Resources"].values():
        if res["Type"] in ("AWS::S3::Bucket", "AWS::KMS::Key"):
            assert res["DeletionPolicy"] == "Retain" and res["UpdateReplacePolicy"] == "Retain"
    artifacts = prod.manifest["artifacts"]
    assert artifacts[prod.stack_name("data-lake")]["properties"]["terminationProtection"] is True
    assert artifacts[prod.stack_name("network")]["properties"].get("terminationProtection") is not True
    assert dev.manifest["artifacts"][dev.stack_name("data-lake")]["properties"].get("terminationProtection") is not True


def test_profile_tags_are_on_every_taggable_resource(assembly: Assembly) -> None:
    expected = PROFILES[assembly.profile].tags
    bucket = _by_prefix(assembly.resources("data-lake", "AWS::S3::Bucket"), "RawZoneBucket")
    tags = {t["Key"]: t["Value"] for t in bucket["Properties"]["Tags"]}
    assert expected.items() <= tags.items()
