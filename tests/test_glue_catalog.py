"""Lake Formation governance and the Glue catalog, crawler, ETL job and triggers (data-lake stack)."""

from __future__ import annotations

import dataclasses
import json
import re

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from config import PROFILES
from pipelines.data import spec as specs
from tests.conftest import Assembly, app_with_project_flags


def _of_type(assembly: Assembly, cfn_type: str) -> dict[str, dict]:
    return assembly.resources("data-lake", cfn_type)


def _one(assembly: Assembly, cfn_type: str) -> tuple[str, dict]:
    ((rid, resource),) = _of_type(assembly, cfn_type).items()
    return rid, resource


def test_admins_are_appended_never_replaced(assembly: Assembly) -> None:
    _, settings = _one(assembly, "AWS::LakeFormation::DataLakeSettings")
    assert settings["Properties"]["MutationType"] == "APPEND"
    (admin,) = settings["Properties"]["Admins"]
    assert "cfn-exec-role" in admin["DataLakePrincipalIdentifier"]["Fn::Sub"][0]


def test_raw_and_curated_are_registered_with_a_dedicated_role(assembly: Assembly) -> None:
    locations = _of_type(assembly, "AWS::LakeFormation::Resource")
    assert len(locations) == 2
    for location in locations.values():
        props = location["Properties"]
        assert props["UseServiceLinkedRole"] is False and props["HybridAccessEnabled"] is False
        assert props["RoleArn"]["Fn::GetAtt"][0].startswith("GovernanceDataAccessRole")
    role = next(r for k, r in _of_type(assembly, "AWS::IAM::Role").items() if k.startswith("GovernanceDataAccessRole"))
    statement = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"Service": "lakeformation.amazonaws.com"}


def test_every_grant_waits_for_the_settings_and_locations(assembly: Assembly) -> None:
    settings_id, _ = _one(assembly, "AWS::LakeFormation::DataLakeSettings")
    locations = set(_of_type(assembly, "AWS::LakeFormation::Resource"))
    grants = _of_type(assembly, "AWS::LakeFormation::PrincipalPermissions")
    assert len(grants) >= 8
    for grant in grants.values():
        assert {settings_id, *locations} <= set(grant["DependsOn"])
        assert grant["Properties"]["PermissionsWithGrantOption"] == []


def test_glue_resources_wait_for_every_grant(assembly: Assembly) -> None:
    grants = set(_of_type(assembly, "AWS::LakeFormation::PrincipalPermissions"))
    for cfn_type in ("AWS::Glue::Job", "AWS::Glue::Crawler"):
        _, resource = _one(assembly, cfn_type)
        assert grants <= set(resource["DependsOn"]), cfn_type


def test_analysts_see_the_curated_table_without_pii(assembly: Assembly, dataset: specs.DataSet) -> None:
    grants = _of_type(assembly, "AWS::LakeFormation::PrincipalPermissions")
    (grant,) = [g["Properties"] for k, g in grants.items() if k.startswith("GovernanceAnalystCuratedTable")]
    assert grant["Permissions"] == ["SELECT"]
    pii = [f.name for f in dataset.fields if f.pii]
    if pii:  # every column but the PII ones
        columns = grant["Resource"]["TableWithColumns"]
        assert columns["ColumnWildcard"] == {"ExcludedColumnNames": pii}
    else:  # nothing to hide: the whole table
        columns = grant["Resource"]["Table"]
    assert columns["Name"] == f"{dataset.name}_features"
    role = next(r for k, r in _of_type(assembly, "AWS::IAM::Role").items() if k.startswith("AnalystRole"))
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


def test_job_role_gets_only_what_it_needs_from_lake_formation(assembly: Assembly) -> None:
    grants = _of_type(assembly, "AWS::LakeFormation::PrincipalPermissions")
    job = {k: g["Properties"] for k, g in grants.items() if k.startswith("GovernanceJob")}
    perms = {k.removeprefix("Governance").rstrip("0123456789ABCDEF"): sorted(v["Permissions"]) for k, v in job.items()}
    assert perms == {
        "JobCuratedDatabase": ["DESCRIBE"],
        "JobCuratedTable": ["ALTER", "DESCRIBE", "INSERT", "SELECT"],
        "JobCuratedLocation": ["DATA_LOCATION_ACCESS"],
    }


def test_databases_give_no_default_iam_access(assembly: Assembly) -> None:
    databases = _of_type(assembly, "AWS::Glue::Database")
    names = sorted(d["Properties"]["DatabaseInput"]["Name"] for d in databases.values())
    assert names == [f"mlops_{assembly.profile}_curated", f"mlops_{assembly.profile}_raw"]
    for database in databases.values():
        assert database["Properties"]["DatabaseInput"]["CreateTableDefaultPermissions"] == []


def test_curated_table_declares_what_the_job_writes(assembly: Assembly, dataset: specs.DataSet) -> None:
    _, table = _one(assembly, "AWS::Glue::Table")
    table_input = table["Properties"]["TableInput"]
    storage = table_input["StorageDescriptor"]
    assert table_input["Name"] == specs.curated_table(dataset)
    assert [(c["Name"], c["Type"]) for c in storage["Columns"]] == specs.curated_columns(dataset)
    assert [(c["Name"], c["Type"]) for c in table_input["PartitionKeys"]] == specs.partition_keys(dataset)
    hive_types = {"string", "int", "double", "timestamp", "date"}
    assert {c["Type"] for c in [*storage["Columns"], *table_input["PartitionKeys"]]} <= hive_types
    assert storage["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")


def test_security_configuration_encrypts_output_logs_and_bookmarks(assembly: Assembly) -> None:
    _, config = _one(assembly, "AWS::Glue::SecurityConfiguration")
    enc = config["Properties"]["EncryptionConfiguration"]
    assert enc["S3Encryptions"][0]["S3EncryptionMode"] == "SSE-KMS"
    assert enc["S3Encryptions"][0]["KmsKeyArn"]["Fn::GetAtt"][0].startswith("DataKey")
    assert enc["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS"
    assert enc["CloudWatchEncryption"]["KmsKeyArn"]["Fn::GetAtt"][0].startswith("LogsKey")
    assert enc["JobBookmarksEncryption"]["JobBookmarksEncryptionMode"] == "CSE-KMS"


def test_etl_job_is_glue_5_bookmarked_where_the_profile_says_with_metrics_and_logs(
    assembly: Assembly, dataset: specs.DataSet
) -> None:
    settings = PROFILES[assembly.profile].etl
    _, job = _one(assembly, "AWS::Glue::Job")
    props = job["Properties"]
    args = props["DefaultArguments"]
    assert props["GlueVersion"] == "5.0" and props["Command"]["Name"] == "glueetl"
    assert props["WorkerType"] == settings.worker_type and props["NumberOfWorkers"] == settings.number_of_workers
    assert props["Timeout"] == settings.timeout_minutes
    assert props["SecurityConfiguration"] == f"mlops_{assembly.profile}-etl"
    if PROFILES[assembly.profile].functions_in_vpc:
        assert props["Connections"] == {"Connections": [f"mlops_{assembly.profile}-vpc"]}
    else:
        assert "Connections" not in props and _of_type(assembly, "AWS::Glue::Connection") == {}
    assert args["--job-bookmark-option"] == "job-bookmark-enable"
    assert args["--enable-metrics"] == args["--enable-observability-metrics"] == "true"
    assert args["--curated_table"] == f"{dataset.name}_features" and args["--dataset"] == dataset.name
    _, ruleset = _one(assembly, "AWS::Glue::DataQualityRuleset")
    assert args["--dq_ruleset"] == ruleset["Properties"]["Name"]
    assert ruleset["Properties"]["Ruleset"] == specs.dq_rules(dataset)
    assert ruleset["Properties"]["TargetTable"]["TableName"] == f"{dataset.name}_features"


@pytest.mark.parametrize("name", specs.known())
def test_quality_rules_name_only_curated_columns(name: str) -> None:
    dataset = specs.load(name)
    columns = {column for column, _ in specs.curated_columns(dataset)}
    rules = specs.dq_rules(dataset)
    named = set(re.findall(r'^\s*(?:IsComplete|ColumnValues|Uniqueness) ((?:"[a-z0-9_]+" ?)+)', rules, re.MULTILINE))
    named = {n for group in named for n in group.split('"')[1::2]}
    assert named and named <= columns
    assert {spec_field.name for spec_field in dataset.fields if spec_field.required} <= named


def test_glue_security_group_talks_to_itself_and_https_only(assembly: Assembly) -> None:
    found = [k for k in _of_type(assembly, "AWS::EC2::SecurityGroup") if k.startswith("ChurnEtlSecurityGroup")]
    assert len(found) == int(PROFILES[assembly.profile].functions_in_vpc)
    if not found:
        return
    (sg_id,) = found
    sg = _of_type(assembly, "AWS::EC2::SecurityGroup")[sg_id]["Properties"]
    assert sg["SecurityGroupEgress"] == [
        {
            "CidrIp": "0.0.0.0/0",
            "Description": "AWS APIs via VPC endpoints",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]
    (ingress,) = _of_type(assembly, "AWS::EC2::SecurityGroupIngress").values()
    assert ingress["Properties"]["SourceSecurityGroupId"]["Fn::GetAtt"][0] == sg_id


def test_workflow_runs_crawler_then_job_on_batched_events(assembly: Assembly) -> None:
    settings = PROFILES[assembly.profile].etl
    triggers = {t["Properties"]["Type"]: t["Properties"] for t in _of_type(assembly, "AWS::Glue::Trigger").values()}
    crawler_id, _ = _one(assembly, "AWS::Glue::Crawler")
    job_id, _ = _one(assembly, "AWS::Glue::Job")
    assert triggers["EVENT"]["EventBatchingCondition"] == {
        "BatchSize": settings.batch_size, "BatchWindow": settings.batch_window_seconds
    }  # fmt: skip
    assert triggers["EVENT"]["Actions"] == [{"CrawlerName": {"Ref": crawler_id}}]
    condition = triggers["CONDITIONAL"]["Predicate"]["Conditions"][0]
    assert condition == {"CrawlState": "SUCCEEDED", "CrawlerName": {"Ref": crawler_id}, "LogicalOperator": "EQUALS"}
    assert triggers["CONDITIONAL"]["Actions"] == [{"JobName": {"Ref": job_id}}]


def test_new_raw_data_and_the_schedule_start_the_workflow(assembly: Assembly) -> None:
    rules = {k: r["Properties"] for k, r in _of_type(assembly, "AWS::Events::Rule").items()}
    on_data = next(v for k, v in rules.items() if k.startswith("ChurnEtlOnRawData"))
    on_schedule = next(v for k, v in rules.items() if k.startswith("ChurnEtlOnSchedule"))
    assert on_data["EventPattern"]["detail"]["object"] == {"key": [{"prefix": "events/"}]}
    assert on_schedule["ScheduleExpression"] == PROFILES[assembly.profile].etl.schedule
    for rule in (on_data, on_schedule):
        (target,) = rule["Targets"]
        assert ":workflow/" in json.dumps(target["Arn"])
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
        assert target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0].startswith("ChurnEtlEventsDeadLetters")
    buckets = _of_type(assembly, "AWS::S3::Bucket")
    for zone in ("RawZoneBucket", "CuratedZoneBucket"):
        props = next(b["Properties"] for k, b in buckets.items() if k.startswith(zone))
        assert props["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}


def test_failures_notify_the_alarm_topic(assembly: Assembly) -> None:
    rules = {k: r["Properties"] for k, r in _of_type(assembly, "AWS::Events::Rule").items()}
    failure = next(v for k, v in rules.items() if k.startswith("ChurnEtlOnFailure"))
    assert "Glue Job State Change" in failure["EventPattern"]["detail-type"]
    assert "AlarmTopic" in json.dumps(failure["Targets"][0]["Arn"])


def test_profile_admins_are_appended_too() -> None:
    from stacks.data_lake import DataLakeStack
    from stacks.network import NetworkStack

    admin = "arn:aws:iam::111122223333:role/DataPlatformAdmin"
    profile = dataclasses.replace(PROFILES["dev"], lake_admin_arns=(admin,))
    app = app_with_project_flags()
    env = cdk.Environment(region=profile.region)
    network = NetworkStack(app, "N", profile=profile, env=env, description="n")
    topic_stack = cdk.Stack(app, "T", env=env)
    topic = cdk.aws_sns.Topic(topic_stack, "Topic")
    lake = DataLakeStack(
        app, "L", profile=profile, env=env, description="l",
        vpc=network.vpc, workload_subnets=network.workload_subnets, alarm_topic=topic,
    )  # fmt: skip
    Template.from_stack(lake).has_resource_properties(
        "AWS::LakeFormation::DataLakeSettings",
        {"MutationType": "APPEND", "Admins": Match.array_with([{"DataLakePrincipalIdentifier": admin}])},
    )


@pytest.mark.parametrize("bad", ["arn:aws:iam::1234:role/x", "admin"])
def test_bad_admin_arn_is_refused(bad: str) -> None:
    from config import ProfileError

    with pytest.raises(ProfileError, match="lake_admin_arns"):
        dataclasses.replace(PROFILES["dev"], lake_admin_arns=(bad,))
