"""Customer-managed KMS keys whose policies name the AWS services that use them."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

# What a service needs to write and read data it encrypts with the key.
_DATA_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:DescribeKey"]


class ServiceKey(Construct):
    """A symmetric KMS key with yearly rotation and narrow service-principal grants.

    The key policy keeps CDK's default (the account administers the key, and
    IAM policies grant use to roles). Services that call KMS as themselves are
    added with the ``allow_*`` methods, each scoped to this account and region.

    :param description: shown in the KMS console.
    :param alias: ``alias/...`` name; part of the interface operators use.
    :param removal_policy: RETAIN for anything that protects retained data.
    :param pending_window_days: days before a deleted key is gone (default 30).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        description: str,
        alias: str,
        removal_policy: RemovalPolicy,
        pending_window_days: int = 30,
    ) -> None:
        super().__init__(scope, construct_id)
        self.kms_key = kms.Key(
            self,
            "Key",
            description=description,
            alias=alias,
            enable_key_rotation=True,
            pending_window=Duration.days(pending_window_days),
            removal_policy=removal_policy,
        )

    @property
    def _stack(self) -> Stack:
        return Stack.of(self)

    def allow_cloudwatch_logs(self) -> None:
        """Let CloudWatch Logs encrypt this account's log groups in this region."""
        stack = self._stack
        self.kms_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsEncryptLogGroups",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )

    def allow_cloudtrail(self) -> None:
        """Let CloudTrail encrypt the trails of this account, and nothing else."""
        stack = self._stack
        trail_arns = f"arn:{stack.partition}:cloudtrail:*:{stack.account}:trail/*"
        self.kms_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailEncryptTrails",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trail_arns},
                },
            )
        )
        self.kms_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailDescribeKey",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["kms:DescribeKey"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )

    def allow_services(self, sid: str, services: list[str]) -> None:
        """Let AWS services (``firehose``, ``glue``, ``sagemaker``) use the key for this account only.

        Grants they create must be for AWS resources, so a service can attach
        the key to a job or endpoint volume but never hand it to a person.
        """
        stack = self._stack
        principals = [iam.ServicePrincipal(f"{s}.amazonaws.com") for s in services]
        source = {"StringEquals": {"aws:SourceAccount": stack.account}}
        self.kms_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"{sid}Use", principals=principals, actions=_DATA_ACTIONS, resources=["*"], conditions=source
            )
        )
        self.kms_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"{sid}Grants",
                principals=principals,
                actions=["kms:CreateGrant"],
                resources=["*"],
                conditions={**source, "Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )

    def allow_topic_publishers(self, topic_arn: str) -> None:
        """Let this account's alarms and EventBridge rules publish to the topic ``topic_arn`` encrypted with this key.

        SNS binds each message to its topic (encryption context ``aws:sns:topicArn``).
        CloudWatch passes ``aws:SourceAccount`` and ``aws:SourceArn`` to KMS; EventBridge
        passes neither, so its statement rests on the topic alone (the topic policy
        limits publishers to this account's rules).
        """
        stack = self._stack
        actions = ["kms:Decrypt", "kms:GenerateDataKey*"]
        topic = {"kms:EncryptionContext:aws:sns:topicArn": topic_arn}
        alarms = self.alarm_arns()
        self.kms_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=actions,
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account, **topic},
                    "ArnLike": {"aws:SourceArn": alarms},
                },
            )
        )
        self.kms_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgeRulesPublish",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=actions,
                resources=["*"],
                conditions={"StringEquals": topic},
            )
        )

    def alarm_arns(self) -> str:
        """Every CloudWatch alarm of this account and region (``aws:SourceArn`` of an alarm's notice)."""
        return self._stack.format_arn(
            service="cloudwatch", resource="alarm", resource_name="*", arn_format=ArnFormat.COLON_RESOURCE_NAME
        )

    def allow_alarm_publishers(self) -> None:
        """Let CloudWatch alarms and EventBridge rules publish to topics encrypted with this key.

        CloudWatch sends ``aws:SourceAccount`` and the alarm's ``aws:SourceArn``, so
        its statement is scoped to this account's alarms. EventBridge sends neither
        when it uses the key of an encrypted topic (SNS developer guide, encrypted
        topics and AWS services): a condition on them would drop every notice.
        """
        stack = self._stack
        self.kms_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlarmPublishers",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": self.alarm_arns()},
                },
            )
        )
        self.kms_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventPublishers",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
