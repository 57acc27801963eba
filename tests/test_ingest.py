"""Ingest stack: encrypted on-demand stream, validating Firehose into raw, alarms."""

from __future__ import annotations

import pytest

from config import PROFILES
from tests.conftest import Assembly


def _one(assembly: Assembly, cfn_type: str) -> dict:
    (resource,) = assembly.resources("ingest", cfn_type).values()
    return resource["Properties"]


def _output_of(value: dict) -> str:
    return value["Fn::GetStackOutput"]["OutputName"]


def test_stream_capacity_follows_the_profile_and_is_encrypted_with_the_data_key(assembly: Assembly) -> None:
    stream = _one(assembly, "AWS::Kinesis::Stream")
    shards = PROFILES[assembly.profile].ingest.stream_shards
    if shards is None:
        assert stream["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"} and "ShardCount" not in stream
    else:
        assert stream["StreamModeDetails"] == {"StreamMode": "PROVISIONED"} and stream["ShardCount"] == shards
    assert stream["StreamEncryption"]["EncryptionType"] == "KMS"
    assert "DataKey" in _output_of(stream["StreamEncryption"]["KeyId"])
    assert stream["RetentionPeriodHours"] == PROFILES[assembly.profile].ingest.stream_retention_hours


def test_firehose_lands_valid_events_by_date_and_failures_under_errors(assembly: Assembly) -> None:
    settings = PROFILES[assembly.profile].ingest
    stream = _one(assembly, "AWS::KinesisFirehose::DeliveryStream")
    assert stream["DeliveryStreamType"] == "KinesisStreamAsSource"
    s3 = stream["ExtendedS3DestinationConfiguration"]
    assert "RawZoneBucket" in _output_of(s3["BucketARN"])
    assert s3["Prefix"] == "events/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
    assert s3["ErrorOutputPrefix"].startswith("errors/!{firehose:error-output-type}/")
    assert s3["BufferingHints"] == {"IntervalInSeconds": settings.buffer_seconds, "SizeInMBs": settings.buffer_mb}
    assert s3["CompressionFormat"] == "GZIP"
    assert "DataKey" in _output_of(s3["EncryptionConfiguration"]["KMSEncryptionConfig"]["AWSKMSKeyARN"])
    assert s3["CloudWatchLoggingOptions"]["Enabled"] is True
    (processor,) = s3["ProcessingConfiguration"]["Processors"]
    params = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    assert processor["Type"] == "Lambda"
    assert params["LambdaArn"]["Fn::GetAtt"][0].startswith("TransformFunction")
    assert params["NumberOfRetries"] == "3"


def test_transform_lambda_runs_where_the_profile_says_with_limits_and_encrypted_logs(assembly: Assembly) -> None:
    fn = _one(assembly, "AWS::Lambda::Function")
    assert fn["Runtime"] == "python3.14" and fn["Architectures"] == ["arm64"]
    assert fn["Handler"] == "firehose_transform.handler.lambda_handler"
    if PROFILES[assembly.profile].functions_in_vpc:
        assert len(fn["VpcConfig"]["SubnetIds"]) == len(PROFILES[assembly.profile].availability_zones)
    else:
        assert "VpcConfig" not in fn
    assert fn.get("ReservedConcurrentExecutions") == PROFILES[assembly.profile].lambda_reserved_concurrency
    assert fn["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"] == "MlPlatform/Ingest"
    assert len(fn["Layers"]) == 1
    groups = assembly.resources("ingest", "AWS::Logs::LogGroup")
    group = groups[fn["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"]
    assert "LogsKey" in _output_of(group["KmsKeyId"])
    assert group["RetentionInDays"] == PROFILES[assembly.profile].log_retention_days


def test_transform_security_group_has_no_ingress_and_no_egress(assembly: Assembly) -> None:
    groups = [
        g for k, g in assembly.resources("ingest", "AWS::EC2::SecurityGroup").items() if k.startswith("Transform")
    ]
    if not PROFILES[assembly.profile].functions_in_vpc:
        assert groups == []
        return
    (sg,) = groups
    assert "SecurityGroupIngress" not in sg["Properties"]
    assert sg["Properties"]["SecurityGroupEgress"][0]["CidrIp"] == "255.255.255.255/32"


@pytest.mark.parametrize(
    ("alarm", "metric", "threshold"),
    [
        ("IteratorAge", "GetRecords.IteratorAgeMilliseconds", lambda s: s.iterator_age_alarm_seconds * 1000),
        ("WriteThrottles", "WriteProvisionedThroughputExceeded", lambda s: 0),
        ("DeliveryFreshness", "DeliveryToS3.DataFreshness", lambda s: s.buffer_seconds + 900),
        ("TransformErrors", "Errors", lambda s: 0),
        ("TransformThrottles", "Throttles", lambda s: 0),
    ],
)
def test_alarms_watch_the_path_and_notify_the_topic(assembly: Assembly, alarm: str, metric: str, threshold) -> None:
    settings = PROFILES[assembly.profile].ingest
    alarms = assembly.resources("ingest", "AWS::CloudWatch::Alarm")
    (props,) = [a["Properties"] for k, a in alarms.items() if k.startswith(f"{alarm}Alarm")]
    assert props["MetricName"] == metric
    assert props["Threshold"] == threshold(settings)
    assert "AlarmTopic" in _output_of(props["AlarmActions"][0])


def test_every_ingest_alarm_notifies_the_topic(assembly: Assembly) -> None:
    alarms = assembly.resources("ingest", "AWS::CloudWatch::Alarm")
    assert len(alarms) == 8
    for props in (a["Properties"] for a in alarms.values()):
        assert "AlarmTopic" in _output_of(props["AlarmActions"][0])


def test_failed_record_ratio_alarm_uses_the_lambda_metrics(assembly: Assembly) -> None:
    alarms = assembly.resources("ingest", "AWS::CloudWatch::Alarm")
    (props,) = [a["Properties"] for k, a in alarms.items() if k.startswith("FailedRecordRatioAlarm")]
    assert props["Threshold"] == PROFILES[assembly.profile].ingest.failed_record_ratio_alarm
    names = {q["MetricStat"]["Metric"]["MetricName"] for q in props["Metrics"] if "MetricStat" in q}
    assert names == {"RecordsOk", "RecordsFailed"}


def test_no_stack_has_an_inline_iam_policy(assembly: Assembly) -> None:
    for stack in ("network", "data-lake", "alerts", "ingest", "training", "serving"):
        assert assembly.resources(stack, "AWS::IAM::Policy") == {}, stack
        for rid, role in assembly.resources(stack, "AWS::IAM::Role").items():
            assert "Policies" not in role["Properties"] or rid.startswith("CustomVpcRestrictDefaultSG"), (stack, rid)
