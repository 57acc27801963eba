"""The ML rule pack: each rule passes a compliant bare template and flags a non-compliant one."""

from __future__ import annotations

import copy
import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kinesis as kinesis

from posture.checks import acknowledge, register_packs
from posture.contracts.model import Assembly
from posture.ml_pack import (
    Settings,
    alarm_action,
    all_rules,
    endpoint_config_encryption,
    evaluate,
    glue_security_configuration,
    lake_formation_registration,
    model_vpc_isolation,
    monitoring_job_encryption,
    pipeline_job_encryption,
    stream_encryption,
    variant_redundancy,
    vpc_reachability,
)
from posture.report import read_posture

REGION = "eu-west-1"
KEY = {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {}}}
KEY_ARN = {"Fn::GetAtt": ["Key", "Arn"]}


def problems(rule, resources: dict, settings: Settings | None = None) -> list[str]:
    asm = Assembly.of_templates({"Bare": {"Resources": {"Key": KEY, **resources}}}, REGION)
    return [p for found in evaluate(asm, settings or Settings(), [rule]).values() for _, p in found]


def model(**props) -> dict:
    return {"Type": "AWS::SageMaker::Model", "Properties": {"ExecutionRoleArn": "arn:aws:iam::123456789012:role/r",
                                                            "PrimaryContainer": {"Image": "img"}, **props}}  # fmt: skip


def test_model_in_the_vpc_with_network_isolation() -> None:
    vpc = {"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}
    assert problems(model_vpc_isolation.RULE, {"M": model(VpcConfig=vpc, EnableNetworkIsolation=True)}) == []
    found = problems(model_vpc_isolation.RULE, {"M": model()})
    assert len(found) == 2 and "VpcConfig" in found[0] and "EnableNetworkIsolation" in found[1]


def endpoint_config(count: int = 2, **props) -> dict:
    variant = {
        "VariantName": "Champion",
        "ModelName": "m",
        "InitialInstanceCount": count,
        "InstanceType": "ml.m5.large",
    }
    return {"Type": "AWS::SageMaker::EndpointConfig", "Properties": {"ProductionVariants": [variant], **props}}


def test_endpoint_config_with_a_key_and_encrypted_capture() -> None:
    capture = {"EnableCapture": True, "DestinationS3Uri": "s3://b/c", "InitialSamplingPercentage": 100}
    good = endpoint_config(KmsKeyId=KEY_ARN, DataCaptureConfig={**capture, "KmsKeyId": KEY_ARN})
    assert problems(endpoint_config_encryption.RULE, {"C": good}) == []
    bad = endpoint_config(KmsKeyId=KEY_ARN, DataCaptureConfig=capture)
    assert problems(endpoint_config_encryption.RULE, {"C": bad}) == ["data capture is on without a KmsKeyId"]
    assert problems(endpoint_config_encryption.RULE, {"C": endpoint_config()}) == [
        "no KmsKeyId for the instance storage volumes"
    ]


def test_two_instances_per_variant_only_where_the_profile_is_production() -> None:
    production = Settings(production=True)
    assert problems(variant_redundancy.RULE, {"C": endpoint_config(2)}, production) == []
    assert problems(variant_redundancy.RULE, {"C": endpoint_config(1)}, Settings(production=False)) == []
    (found,) = problems(variant_redundancy.RULE, {"C": endpoint_config(1)}, production)
    assert "Champion" in found


PROCESSING = {
    "Name": "Preprocess",
    "Type": "Processing",
    "Arguments": {
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "VolumeKmsKeyId": "key"}},
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "train"}], "KmsKeyId": "key"},
        "NetworkConfig": {"EnableInterContainerTrafficEncryption": True},
    },
}
TUNING = {
    "Name": "Tune",
    "Type": "Tuning",
    "Arguments": {
        "TrainingJobDefinition": {
            "ResourceConfig": {"VolumeKmsKeyId": "key"},
            "OutputDataConfig": {"KmsKeyId": "key", "S3OutputPath": "s3://b/o"},
            "EnableInterContainerTrafficEncryption": True,
        }
    },
}


def pipeline(*steps: dict) -> dict:
    body = json.dumps({"Version": "2020-12-01", "Steps": list(steps)})
    return {"Type": "AWS::SageMaker::Pipeline", "Properties": {"PipelineDefinition": {"PipelineDefinitionBody": body}}}


def test_pipeline_jobs_encrypt_volumes_outputs_and_inter_container_traffic() -> None:
    condition = {"Name": "Gate", "Type": "Condition", "Arguments": {"IfSteps": [TUNING], "ElseSteps": []}}
    assert problems(pipeline_job_encryption.RULE, {"P": pipeline(PROCESSING, condition)}) == []
    open_step = copy.deepcopy(TUNING)
    del open_step["Arguments"]["TrainingJobDefinition"]["EnableInterContainerTrafficEncryption"]
    bare = copy.deepcopy(PROCESSING)
    del bare["Arguments"]["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"]
    found = problems(pipeline_job_encryption.RULE, {"P": pipeline(bare, {**condition, "Arguments": {"IfSteps": [open_step]}})})  # fmt: skip
    assert found == ["step Preprocess: no VolumeKmsKeyId", "step Tune: inter-container traffic encryption is off"]


def test_the_checked_in_pipeline_definition_passes() -> None:
    from pathlib import Path

    body = json.loads((Path(__file__).parents[1] / "pipelines/training/definition.json").read_text())
    assert pipeline_job_encryption.steps_problems(body) == []


def schedule(job: dict) -> dict:
    target = {"Arn": f"arn:aws:scheduler:::{monitoring_job_encryption.CREATE_PROCESSING_JOB}", "RoleArn": "r",
              "Input": json.dumps(job)}  # fmt: skip
    return {"Type": "AWS::Scheduler::Schedule", "Properties": {"ScheduleExpression": "rate(1 day)", "Target": target}}


def test_monitoring_jobs_encrypt_like_pipeline_jobs_on_either_engine() -> None:
    job = PROCESSING["Arguments"]
    assert problems(monitoring_job_encryption.RULE, {"S": schedule(job)}) == []
    found = problems(monitoring_job_encryption.RULE, {"S": schedule({**job, "NetworkConfig": {}})})
    assert found == ["inter-container traffic encryption is off"]
    definition = {
        "JobResources": {"ClusterConfig": {"VolumeKmsKeyId": "key"}},
        "DataQualityJobOutputConfig": {"KmsKeyId": "key"},
        "NetworkConfig": {"EnableInterContainerTrafficEncryption": True, "EnableNetworkIsolation": True},
    }
    dq = {"Type": "AWS::SageMaker::DataQualityJobDefinition", "Properties": definition}
    assert problems(monitoring_job_encryption.RULE, {"D": dq}) == []
    dq_open = {**dq, "Properties": {**definition, "NetworkConfig": {"EnableInterContainerTrafficEncryption": True}}}
    assert problems(monitoring_job_encryption.RULE, {"D": dq_open}) == ["network isolation is off"]


def test_streams_and_delivery_streams_encrypt_with_kms() -> None:
    stream = {"Type": "AWS::Kinesis::Stream", "Properties": {"StreamEncryption": {"EncryptionType": "KMS", "KeyId": KEY_ARN}}}  # fmt: skip
    s3 = {"BucketARN": "arn:aws:s3:::b", "RoleARN": "r",
          "EncryptionConfiguration": {"KMSEncryptionConfig": {"AWSKMSKeyARN": KEY_ARN}}}  # fmt: skip
    fed = {"Type": "AWS::KinesisFirehose::DeliveryStream",
           "Properties": {"DeliveryStreamType": "KinesisStreamAsSource", "ExtendedS3DestinationConfiguration": s3}}  # fmt: skip
    assert problems(stream_encryption.RULE, {"S": stream, "F": fed}) == []
    direct = {"Type": "AWS::KinesisFirehose::DeliveryStream",
              "Properties": {"ExtendedS3DestinationConfiguration": {**s3, "EncryptionConfiguration": {}}}}  # fmt: skip
    found = problems(stream_encryption.RULE, {"S": {"Type": "AWS::Kinesis::Stream", "Properties": {}}, "F": direct})
    assert len(found) == 3


SECURITY_CONFIG = {
    "Type": "AWS::Glue::SecurityConfiguration",
    "Properties": {
        "Name": "etl",
        "EncryptionConfiguration": {
            "S3Encryptions": [{"S3EncryptionMode": "SSE-KMS", "KmsKeyArn": KEY_ARN}],
            "CloudWatchEncryption": {"CloudWatchEncryptionMode": "SSE-KMS", "KmsKeyArn": KEY_ARN},
            "JobBookmarksEncryption": {"JobBookmarksEncryptionMode": "CSE-KMS", "KmsKeyArn": KEY_ARN},
        },
    },
}


def test_glue_jobs_run_with_a_kms_security_configuration() -> None:
    job = {"Type": "AWS::Glue::Job", "Properties": {"Role": "r", "Command": {"Name": "glueetl"}, "SecurityConfiguration": "etl"}}  # fmt: skip
    assert problems(glue_security_configuration.RULE, {"C": SECURITY_CONFIG, "J": job}) == []
    weak = copy.deepcopy(SECURITY_CONFIG)
    weak["Properties"]["EncryptionConfiguration"]["JobBookmarksEncryption"] = {"JobBookmarksEncryptionMode": "DISABLED"}
    assert problems(glue_security_configuration.RULE, {"C": weak, "J": job}) == [
        "security configuration etl: job bookmarks encryption is not CSE-KMS"
    ]
    bare = {**job, "Properties": {k: v for k, v in job["Properties"].items() if k != "SecurityConfiguration"}}
    assert problems(glue_security_configuration.RULE, {"J": bare}) == ["no security configuration"]


def test_catalogued_buckets_are_registered_with_lake_formation() -> None:
    bucket = {"Type": "AWS::S3::Bucket", "Properties": {}}
    database = {"Type": "AWS::Glue::Database", "Properties": {"CatalogId": "1", "DatabaseInput": {
        "LocationUri": {"Fn::Join": ["", ["s3://", {"Ref": "Data"}, "/curated/"]]}}}}  # fmt: skip
    registration = {"Type": "AWS::LakeFormation::Resource",
                    "Properties": {"ResourceArn": {"Fn::GetAtt": ["Data", "Arn"]}, "UseServiceLinkedRole": False}}  # fmt: skip
    other = {"Type": "AWS::S3::Bucket", "Properties": {}}
    resources = {"Data": bucket, "Db": database, "Other": other}
    assert problems(lake_formation_registration.RULE, {**resources, "Lf": registration}) == []
    (found,) = problems(lake_formation_registration.RULE, resources)
    assert "not registered" in found


def alarm(**props) -> dict:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {"AlarmName": "mlops-dev-retrain-drift", "Threshold": 1, **props}}  # fmt: skip


def test_every_alarm_acts_through_an_action_a_rule_or_a_rollback() -> None:
    assert problems(alarm_action.RULE, {"A": alarm(AlarmActions=["arn:aws:sns:eu-west-1:123456789012:t"])}) == []
    rule = {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {
        "source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {"alarmName": [{"prefix": "mlops-dev-retrain-"}]}}}}  # fmt: skip
    assert problems(alarm_action.RULE, {"A": alarm(), "R": rule}) == []
    endpoint = {"Type": "AWS::SageMaker::Endpoint", "Properties": {"EndpointConfigName": "c", "DeploymentConfig": {
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "mlops-dev-retrain-drift"}]}}}}  # fmt: skip
    assert problems(alarm_action.RULE, {"A": alarm(), "E": endpoint}) == []
    (found,) = problems(alarm_action.RULE, {"A": alarm(AlarmActions=["arn"], ActionsEnabled=False)})
    assert "no alarm action" in found


def network(*, egress_to_s3: bool) -> dict:
    """A VPC with one isolated subnet, an S3 gateway endpoint, and a function's security group."""
    egress = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "10.0.0.0/16"}]
    if egress_to_s3:
        egress.append({"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"})
    role_policy = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}
    return {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.0.0/24"}},
        "Table": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        "Assoc": {"Type": "AWS::EC2::SubnetRouteTableAssociation",
                  "Properties": {"SubnetId": {"Ref": "Subnet"}, "RouteTableId": {"Ref": "Table"}}},
        "S3": {"Type": "AWS::EC2::VPCEndpoint", "Properties": {"VpcId": {"Ref": "Vpc"}, "VpcEndpointType": "Gateway",
               "ServiceName": "com.amazonaws.eu-west-1.s3", "RouteTableIds": [{"Ref": "Table"}]}},
        "Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "fn", "VpcId": {"Ref": "Vpc"},
               "SecurityGroupEgress": egress}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {},
                 "Policies": [{"PolicyName": "p", "PolicyDocument": role_policy}]}},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]},
               "VpcConfig": {"SubnetIds": [{"Ref": "Subnet"}], "SecurityGroupIds": [{"Fn::GetAtt": ["Sg", "GroupId"]}]}}},
    }  # fmt: skip


def test_vpc_functions_reach_the_services_their_role_names() -> None:
    assert problems(vpc_reachability.RULE, network(egress_to_s3=True)) == []
    (found,) = problems(vpc_reachability.RULE, network(egress_to_s3=False))
    assert "cannot reach s3" in found


def test_every_rule_module_is_registered_once() -> None:
    names = [r.rule_name for r in all_rules()]
    assert len(names) == len(set(names)) == 10


def test_the_pack_runs_in_synth_and_takes_acknowledgments(tmp_path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Canary", env=cdk.Environment(region=REGION))
    kinesis.CfnStream(stack, "Plain", shard_count=1)
    known = kinesis.CfnStream(stack, "Known", shard_count=1)
    acknowledge(known, "MLOps-StreamEncryption", "A canary stream that carries no data, only here to test the gate.")
    register_packs(app)
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    posture = read_posture(tmp_path)
    flagged = {(f.pack, f.rule, f.path) for f in posture.errors}
    assert ("MLOps", "MLOps-StreamEncryption", "Canary/Plain") in flagged
    assert not any(path.startswith("Canary/Known") for pack, _, path in flagged if pack == "MLOps")
    assert any(rule == "MLOps-StreamEncryption" for _, _, rule, _ in posture.acknowledgments)
