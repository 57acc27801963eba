"""Stateful resources keep their logical ids: a change here replaces (or orphans) data.

If this test fails, a construct id or its place in the tree changed. Do not
update the ids below unless you mean to migrate the data (see README).
"""

from __future__ import annotations

import pytest

from config import PROFILES
from tests.conftest import Assembly

PINNED = {
    "data-lake": {
        "DataKey2A0DE9E6": "AWS::KMS::Key",
        "LogsKeyFE4C4A83": "AWS::KMS::Key",
        "AuditKey55555D67": "AWS::KMS::Key",
        "AccessLogsBucketCD784A59": "AWS::S3::Bucket",
        "RawZoneBucketD23CD850": "AWS::S3::Bucket",
        "CuratedZoneBucketBB71C901": "AWS::S3::Bucket",
        "ArtifactsBucket88671897": "AWS::S3::Bucket",
        "ChurnEtlRawDatabase07F2ED5E": "AWS::Glue::Database",
        "ChurnEtlCuratedDatabase6FBC9650": "AWS::Glue::Database",
        "ChurnEtlCuratedTable3BE4DE42": "AWS::Glue::Table",
        "EtlRunMetricsOutputLogs0CC5D34C": "AWS::Logs::LogGroup",
    },
    "network": {
        "FlowLogKey162F5411": "AWS::KMS::Key",
        "FlowLogGroup3E25AA51": "AWS::Logs::LogGroup",
    },
    "alerts": {
        "TopicKeyAA4F1745": "AWS::KMS::Key",
    },
    "training": {
        "ModelPackageGroup": "AWS::SageMaker::ModelPackageGroup",
        "RetrainingDecisionsC9682CFE": "AWS::DynamoDB::GlobalTable",
        "GuardLogsC534EA0D": "AWS::Logs::LogGroup",
    },
    "serving": {
        "PromotionLogsFD209C50": "AWS::Logs::LogGroup",
        "DeployerLogs228AA106": "AWS::Logs::LogGroup",
    },
    "audit": {
        "SecurityTopicKey7A965FA9": "AWS::KMS::Key",
        "TrailAccessLogsBucketF49E6493": "AWS::S3::Bucket",
        "TrailBucket6C1E344E": "AWS::S3::Bucket",
        "TrailLogGroup4CBE3AF5": "AWS::Logs::LogGroup",
        "Trail8987F129": "AWS::CloudTrail::Trail",
    },
    "ingest": {
        "EventStream271A91DB": "AWS::Kinesis::Stream",
        "TransformLogs6C6200D4": "AWS::Logs::LogGroup",
        "DeliveryLogsAB0E43B0": "AWS::Logs::LogGroup",
    },
}
STATEFUL_TYPES = {
    "AWS::KMS::Key", "AWS::S3::Bucket", "AWS::Logs::LogGroup", "AWS::Kinesis::Stream",
    "AWS::Glue::Database", "AWS::Glue::Table", "AWS::DynamoDB::GlobalTable", "AWS::SageMaker::ModelPackageGroup",
    "AWS::CloudTrail::Trail",
}  # fmt: skip


@pytest.mark.parametrize("stack", sorted(PINNED))
def test_stateful_logical_ids_are_pinned(assembly: Assembly, stack: str) -> None:
    resources = assembly.template(stack)["Resources"]
    actual = {k: v["Type"] for k, v in resources.items() if v["Type"] in STATEFUL_TYPES}
    expected = dict(PINNED[stack])
    if stack == "serving" and not PROFILES[assembly.profile].serving.challenger:
        del expected["PromotionLogsFD209C50"]  # no promotion function without a challenger
    assert actual == expected
