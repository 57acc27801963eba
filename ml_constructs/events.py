"""EventBridge plumbing shared by the stacks: dead-letter queues and alarm-topic targets."""

from __future__ import annotations

from aws_cdk import CfnResource, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ml_constructs.cfn import l1
from posture.checks import acknowledge

RETRIES = 8
MAX_EVENT_AGE = Duration.hours(1)


class DeadLetterQueue(Construct):
    """Where EventBridge keeps what it could not deliver: encrypted, TLS-only, 14 days.

    Attributes: ``queue``.

    :param purpose: whose dead letters these are (it goes into the acknowledgment's reason).
    """

    def __init__(self, scope: Construct, construct_id: str, *, purpose: str) -> None:
        super().__init__(scope, construct_id)
        self.queue = sqs.Queue(
            self, "Queue", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            retention_period=Duration.days(14),
        )  # fmt: skip
        self._rules: list[str] = []
        acknowledge(
            l1(self.queue, CfnResource),
            "AwsSolutions-SQS3",
            f"This queue is itself the dead-letter queue of {purpose}; messages stay 14 days for an "
            "operator to inspect and replay.",
        )

    def allow(self, *rules: events.IRule) -> None:
        """Let these rules' raw targets send their dead letters here (L2 targets do it themselves)."""
        self.queue.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.queue.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": [rule.rule_arn for rule in rules]}},
            )
        )

    def raw_target(self, target_id: str, arn: str, role_arn: str | None = None) -> events.CfnRule.TargetProperty:
        """A rule target with retries and this dead-letter queue, for targets without an L2 class."""
        return events.CfnRule.TargetProperty(
            id=target_id,
            arn=arn,
            role_arn=role_arn,
            retry_policy=events.CfnRule.RetryPolicyProperty(
                maximum_retry_attempts=RETRIES, maximum_event_age_in_seconds=int(MAX_EVENT_AGE.to_seconds())
            ),
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=self.queue.queue_arn),
        )


def object_created(bucket: s3.IBucket, key_filter: dict) -> events.EventPattern:
    """S3 "Object Created" events (EventBridge notifications on ``bucket``) whose key matches ``key_filter``,
    for example ``{"prefix": "events/"}`` or ``{"wildcard": "reports/*/report.json"}``."""
    return events.EventPattern(
        source=["aws.s3"],
        detail_type=["Object Created"],
        detail={"bucket": {"name": [bucket.bucket_name]}, "object": {"key": [key_filter]}},
    )


def notify_topic(rule: events.Rule, topic: sns.ITopic, dead_letters: DeadLetterQueue) -> None:
    """Send ``rule``'s events to the alarm topic.

    A raw target: the topic lives in the alerts stack, whose policy already admits
    this account's rules; an L2 target would edit that policy from here (a cycle).
    """
    l1(rule, events.CfnRule).targets = [dead_letters.raw_target("alarm-topic", topic.topic_arn)]
    dead_letters.allow(rule)
