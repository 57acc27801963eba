"""Alerts stack: the encrypted SNS topic every alarm of the platform notifies."""

from __future__ import annotations

from aws_cdk import Annotations, CfnOutput
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from config.profiles import missing_contacts
from stacks.base import PlatformStack


class AlertsStack(PlatformStack):
    """One topic for operators, encrypted with its own key and TLS-only.

    It stands apart from the monitoring stack so that every stack, monitoring
    included, can alarm into it without a dependency cycle.

    Attributes: ``alarm_topic``, ``topic_key`` (the key that encrypts it).
    """

    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        key = self.service_key("TopicKey", description="Alarm notifications", alias_name="alerts")
        key.allow_alarm_publishers()
        self.topic_key = key.kms_key
        self.alarm_topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"ML platform alarms ({self.profile.name})",
            master_key=key.kms_key,
            enforce_ssl=True,
        )
        # Alarms of this account, and EventBridge rules of this account (Glue, SageMaker and
        # pipeline failures), may publish; both services send the source's ARN and account.
        for sid, service, sources in (
            ("AlarmPublish", "cloudwatch.amazonaws.com", key.alarm_arns()),
            ("EventPublish", "events.amazonaws.com",
             self.format_arn(service="events", resource="rule", resource_name="*")),
        ):  # fmt: skip
            self.alarm_topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    principals=[iam.ServicePrincipal(service)],
                    actions=["sns:Publish"],
                    resources=[self.alarm_topic.topic_arn],
                    conditions={
                        "StringEquals": {"aws:SourceAccount": self.account},
                        "ArnLike": {"aws:SourceArn": sources},
                    },
                )
            )
        for email in self.profile.alarm_emails:
            self.alarm_topic.add_subscription(subscriptions.EmailSubscription(email))
        # A warning, not an error: every profile synthesizes; `make deploy` refuses where data is kept.
        if why := missing_contacts(self.profile).get("alarm_emails"):
            Annotations.of(self).add_warning_v2("mlops:alarm-emails", f"profile '{self.profile.name}': {why}")
        CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic_arn)
