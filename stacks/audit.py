"""Audit stack: the account's trail, the CIS security alarms and the ML control-plane alerts."""

from __future__ import annotations

from aws_cdk import ArnFormat, CfnOutput, DefaultStackSynthesizer, Duration, Fn
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from config import names
from ml_constructs.access import acknowledge_wildcards
from ml_constructs.alarms import AT_LEAST, AlarmSpec
from ml_constructs.audit_trail import AuditTrail
from ml_constructs.cfn import l1
from ml_constructs.events import DeadLetterQueue, notify_topic
from ml_constructs.security_signals import CIS_FILTERS, ml_patterns
from stacks.base import PlatformStack


class AuditStack(PlatformStack):
    """Who did what in the account, and who hears of it.

    - ``security_topic``: KMS-encrypted, TLS-only, the profile's security emails;
      apart from the operations alarm topic.
    - With ``audit.trail = "own"``: ``trail`` (an ``AuditTrail``: multi-region,
      log file validation, management events and selected S3 data events, its
      own bucket and a KMS-encrypted log group), the Security Hub CloudWatch.1-14
      metric filters and ``cis_alarms`` on its log group, and ``trail_reader_policy``
      (read and validate the log files). With ``"organization"`` an organization
      trail records the account and none of these exist here.
    - ``rules``: EventBridge rules on "AWS API Call via CloudTrail" events (they
      work with either trail) for Lake Formation grants, model approvals outside
      the approvers, endpoint, pipeline, bucket and key changes outside deploys.

    :param raw_bucket, curated_bucket: object writes are recorded.
    :param artifact_bucket: object reads and writes are recorded (models, data capture).
    :param access_logs_bucket: the data lake's access-log bucket (its controls are watched).
    :param audit_key: the data lake's CloudTrail key.
    :param logs_key: the key of the account's log groups.
    :param platform_keys: the platform's KMS keys whose policy or state must not change outside deploys.
    :param weight_setter_arns: roles that shift variant weights (the promotion function).
    :param endpoint_deployer_arns: roles that change endpoints besides ``cdk deploy`` (the
        serving stack's CloudFormation role for approvals).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        raw_bucket: s3.IBucket,
        curated_bucket: s3.IBucket,
        artifact_bucket: s3.IBucket,
        access_logs_bucket: s3.IBucket,
        audit_key: kms.IKey,
        logs_key: kms.IKey,
        platform_keys: list[kms.IKey],
        weight_setter_arns: list[str],
        endpoint_deployer_arns: list[str],
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, stateful=True, **kwargs)
        profile = self.profile
        settings = profile.audit
        prefix = names.resource_prefix(profile.name)

        topic_name = f"{prefix}-security"
        topic_key = self.service_key("SecurityTopicKey", description="Security notifications", alias_name="security")
        # Named, so the key policy can name the topic without a reference cycle.
        topic_key.allow_topic_publishers(self.format_arn(service="sns", resource=topic_name))
        self.security_topic = sns.Topic(
            self,
            "SecurityTopic",
            topic_name=topic_name,
            display_name=f"ML platform security ({profile.name})",
            master_key=topic_key.kms_key,
            enforce_ssl=True,
        )
        self._admit_publishers()
        for email in settings.security_emails:
            self.security_topic.add_subscription(subscriptions.EmailSubscription(email))

        buckets = [raw_bucket, curated_bucket, artifact_bucket, access_logs_bucket]
        self.trail: AuditTrail | None = None
        self.cis_alarms: dict[str, cw.Alarm] = {}
        self.trail_reader_policy: iam.ManagedPolicy | None = None
        if settings.trail == "own":
            self.trail = AuditTrail(
                self,
                "Trail",
                trail_name=f"{prefix}-trail",
                settings=settings,
                key=audit_key,
                logs_key=logs_key,
                log_retention=self.log_retention,
                access_log_expiry_days=profile.lifecycle.access_log_expiry_days,
                write_buckets=[raw_bucket, curated_bucket],
                read_write_buckets=[artifact_bucket],
            )
            buckets.append(self.trail.bucket)
            self.cis_alarms = self._cis_alarms(self.trail.log_group, names.metric_namespace(profile.name, "security"))
            self.trail_reader_policy = self._trail_reader_policy(self.trail, audit_key)
            CfnOutput(self, "TrailArn", value=self.trail.trail_arn)
            CfnOutput(self, "TrailBucketName", value=self.trail.bucket.bucket_name)
            CfnOutput(self, "TrailLogGroupName", value=self.trail.log_group.log_group_name)

        # cdk deploy changes stacks through the bootstrap's CloudFormation execution role.
        synthesizer = self.synthesizer
        if not isinstance(synthesizer, DefaultStackSynthesizer):
            raise TypeError("the audit stack names the bootstrap's execution role: use the default synthesizer")
        deployers = [Fn.sub(synthesizer.cloud_formation_execution_role_arn)]
        self.dead_letters = DeadLetterQueue(self, "AlertDeadLetters", purpose="the security alert rules")
        self.rules: dict[str, events.Rule] = {}
        patterns = ml_patterns(
            deployers=deployers,
            approvers=list(settings.approver_arns),
            weight_setters=weight_setter_arns,
            endpoint_deployers=endpoint_deployer_arns,
            pipeline_prefix=f"{prefix}-",
            buckets=[b.bucket_name for b in buckets],
            keys=[k.key_arn for k in (*platform_keys, topic_key.kms_key)],
        )
        for rule_id, (description, pattern) in patterns.items():
            rule = events.Rule(self, rule_id, description=description, event_pattern=events.EventPattern(source=["-"]))
            # Raw pattern: the L2 EventPattern has no "$or".
            l1(rule, events.CfnRule).event_pattern = pattern
            notify_topic(rule, self.security_topic, self.dead_letters)
            self.rules[rule_id] = rule
        CfnOutput(self, "SecurityTopicArn", value=self.security_topic.topic_arn)

    def _admit_publishers(self) -> None:
        """This account's EventBridge rules and CloudWatch alarms may publish to the security topic."""
        topic = self.security_topic
        account = {"aws:SourceAccount": self.account}
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgeRules", principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sns:Publish"], resources=[topic.topic_arn], conditions={"StringEquals": account},
            )
        )  # fmt: skip
        alarms = self.format_arn(
            service="cloudwatch", resource="alarm", resource_name="*", arn_format=ArnFormat.COLON_RESOURCE_NAME
        )
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarms",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={"StringEquals": account, "ArnLike": {"aws:SourceArn": alarms}},
            )
        )

    def _cis_alarms(self, log_group: logs.ILogGroup, namespace: str) -> dict[str, cw.Alarm]:
        """One metric filter and one alarm per Security Hub control CloudWatch.1-14."""
        alarms = {}
        for cis in CIS_FILTERS:
            number = cis.control.split(".")[1]
            metric_filter = logs.MetricFilter(
                self,
                f"Cis{number}Filter",
                log_group=log_group,
                filter_pattern=logs.FilterPattern.literal(cis.pattern),
                metric_namespace=namespace,
                metric_name=cis.metric,
                metric_value="1",
            )
            alarms[cis.control] = AlarmSpec(
                construct_id=f"Cis{number}Alarm",
                alarm_name=names.alarm_name(self.profile.name, "security", cis.metric),
                description=f"{cis.control}: {cis.title} (CIS, via the trail's log group)",
                metric=metric_filter.metric(statistic="Sum", period=Duration.minutes(5)),
                threshold=1,
                comparison=AT_LEAST,
                topic=self.security_topic,
            ).build(self)
        return alarms

    def _trail_reader_policy(self, trail: AuditTrail, key: kms.IKey) -> iam.ManagedPolicy:
        """Read the trail's log and digest files and validate them (``aws cloudtrail validate-logs``)."""
        objects = trail.bucket.arn_for_objects("AWSLogs/*")
        policy = iam.ManagedPolicy(
            self,
            "TrailReaders",
            description="Read and validate the trail's log files",
            statements=[
                iam.PolicyStatement(
                    sid="List", actions=["s3:ListBucket", "s3:GetBucketLocation"], resources=[trail.bucket.bucket_arn]
                ),
                iam.PolicyStatement(sid="Read", actions=["s3:GetObject"], resources=[objects]),
                iam.PolicyStatement(
                    sid="Decrypt",
                    actions=["kms:Decrypt"],
                    resources=[key.key_arn],
                    conditions={"StringEquals": {"kms:EncryptionContext:aws:cloudtrail:arn": trail.trail_arn}},
                ),
                iam.PolicyStatement(
                    sid="Validate", actions=["cloudtrail:ListPublicKeys", "cloudtrail:DescribeTrails"], resources=["*"]
                ),
            ],
        )
        acknowledge_wildcards(
            policy,
            [objects, "*"],
            "Read-only: the objects of the trail's own log prefix, and CloudTrail's public-key and trail "
            "listings, which have no resource-level permissions and which log file validation needs.",
        )
        return policy
