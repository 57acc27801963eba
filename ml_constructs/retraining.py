"""The retraining guard and what starts it (created in the training stack's scope, so its ids stay)."""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from config import Profile
from ml_constructs.cfn import l1
from ml_constructs.events import DeadLetterQueue, object_created
from ml_constructs.lambdas import AsyncInvocation, PythonFunction
from posture.checks import acknowledge_all_packs


def retraining_guard(
    stack: Stack,
    *,
    profile: Profile,
    function_settings: dict,
    removal_policy: RemovalPolicy,
    pipeline_name: str,
    pipeline_arn: str,
    data_key: kms.IKey,
    logs_key: kms.IKey,
    vpc: ec2.IVpc,
    subnets: ec2.SubnetSelection,
    alarm_topic: sns.ITopic,
) -> tuple[dynamodb.ITable, PythonFunction]:
    table = dynamodb.TableV2(
        stack,
        "RetrainingDecisions",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        billing=dynamodb.Billing.on_demand(),
        encryption=dynamodb.TableEncryptionV2.customer_managed_key(data_key),
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_attribute="expires_at",
        deletion_protection=profile.retain_data,
        removal_policy=removal_policy,
    )
    acknowledge_all_packs(
        l1(table, dynamodb.CfnGlobalTable),
        "DynamoDBInBackupPlan",
        "The table holds the guard's lock and a 90-day log of retraining decisions; point-in-time "
        "recovery covers it, and nothing in it must outlive the decisions' expiry.",
        packs=("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"),
    )
    guard = PythonFunction(
        stack,
        "Guard",
        package="retraining_guard",
        description="Starts the training pipeline unless it is running or in cool-down; records why",
        vpc=vpc,
        subnets=subnets,
        logs_key=logs_key,
        **function_settings,
        api_cidr=profile.vpc_cidr,
        gateway_egress=True,
        async_invocation=AsyncInvocation(alarm_topic=alarm_topic),
        environment={
            "PIPELINE_NAME": pipeline_name,
            "DECISIONS_TABLE": table.table_name,
            "COOLDOWN_MINUTES": str(profile.training.cooldown_minutes),
            "PIPELINE_PARAMETERS": json.dumps({}),
            "POWERTOOLS_METRICS_NAMESPACE": "MlPlatform/Retraining",
        },
        statements=[
            iam.PolicyStatement(
                actions=["sagemaker:ListPipelineExecutions", "sagemaker:StartPipelineExecution"],
                resources=[pipeline_arn],
            ),
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                resources=[table.table_arn],
            ),
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[data_key.key_arn],
            ),
        ],
    )
    return table, guard


def retraining_triggers(
    stack: Stack,
    *,
    guard: PythonFunction,
    schedule: str,
    retrain_alarm_prefix: str,
    curated_bucket: s3.IBucket,
    curated_prefix: str,
    alarm_topic: sns.ITopic,
) -> DeadLetterQueue:
    """The schedule, new curated data and retraining alarms, each through the guard (retries, a
    dead-letter queue); alarms on the guard's errors and on undeliverable triggers."""
    dead_letters = DeadLetterQueue(stack, "TriggerDeadLetters", purpose="the retraining triggers")
    target = targets.LambdaFunction(
        guard.function,
        dead_letter_queue=dead_letters.queue,
        retry_attempts=4,
        max_event_age=Duration.hours(1),
    )
    events.Rule(
        stack, "OnSchedule", description="Retrain on the profile's schedule",
        schedule=events.Schedule.expression(schedule), targets=[target],
    )  # fmt: skip
    events.Rule(
        stack,
        "OnCuratedData",
        description="Retrain when the ETL lands new curated data (the guard absorbs the burst)",
        event_pattern=object_created(curated_bucket, {"prefix": curated_prefix}),
        targets=[target],
    )
    events.Rule(
        stack,
        "OnRetrainAlarm",
        description="Retrain when a drift or model-quality alarm goes into ALARM",
        event_pattern=events.EventPattern(
            source=["aws.cloudwatch"],
            detail_type=["CloudWatch Alarm State Change"],
            detail={"alarmName": [{"prefix": retrain_alarm_prefix}], "state": {"value": ["ALARM"]}},
        ),
        targets=[target],
    )
    for name, metric, description in (
        ("GuardErrors", guard.function.metric_errors(period=Duration.minutes(5)), "The retraining guard failed"),
        ("TriggerDeadLetters", dead_letters.queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
         "Retraining triggers could not be delivered (see the dead-letter queue)"),
    ):  # fmt: skip
        alarm = cw.Alarm(
            stack, f"{name}Alarm", metric=metric, threshold=0, evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING, alarm_description=description,
        )  # fmt: skip
        alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))
    return dead_letters
