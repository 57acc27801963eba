"""Python Lambda functions the way the platform runs them.

In the VPC's workload subnets with no egress by default, arm64, Python 3.14,
reserved concurrency, a KMS-encrypted log group with retention, a role with
written-out permissions (no inline policy), and the dependencies layer built
by ``make`` (Powertools, pydantic and the data-set spec) without Docker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from ml_constructs.events import DeadLetterQueue
from ml_constructs.iam import ManagedRole, logs_write
from posture.checks import acknowledge_all_packs
from posture.triage import FUNCTION_OUTSIDE_VPC

ROOT = Path(__file__).resolve().parents[1]
LAMBDAS_DIR = ROOT / "lambdas"
LAYER_DIR = ROOT / ".build" / "lambda-layer"
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64

# Creating and cleaning up the function's network interfaces; these EC2 actions
# take no resource-level scoping (they act before the interface exists).
_ENI_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]


@dataclass(frozen=True)
class AsyncInvocation:
    """How an asynchronously invoked function retries, and where its failures go.

    :param alarm_topic: notified as soon as a failed invocation lands in the on-failure queue.
    :param retry_attempts: Lambda's retries after a failed attempt (0-2, default 2).
    :param max_event_age: how long Lambda keeps an event it could not run yet (default 1 hour).
    """

    alarm_topic: sns.ITopic
    retry_attempts: int = 2
    max_event_age: Duration = Duration.hours(1)  # noqa: RUF009 - immutable value


def dependencies_layer(scope: Construct) -> lambda_.ILayerVersion:
    """The stack's one copy of the dependencies layer."""
    stack = Stack.of(scope)
    existing = stack.node.try_find_child("LambdaDependencies")
    if existing is not None:
        return existing  # type: ignore[return-value]
    if not (LAYER_DIR / ".built").exists():
        raise FileNotFoundError(f"{LAYER_DIR} is missing: run `make install` to build the Lambda dependencies layer")
    return lambda_.LayerVersion(
        stack,
        "LambdaDependencies",
        code=lambda_.Code.from_asset(str(LAYER_DIR), exclude=[".built"]),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        description="aws-lambda-powertools, pydantic and the platform's data-set specs",
    )


class PythonFunction(Construct):
    """A Lambda function from ``lambdas/<package>``.

    Attributes: ``function``, ``log_group``, ``security_group`` (None outside the VPC), ``role``
    (a ``ManagedRole``: add statements for what the function calls),
    ``failures`` (the on-failure queue of asynchronous invocations, or None).

    :param package: folder under ``lambdas/`` holding ``handler.py``.
    :param description: what the function does.
    :param vpc: the VPC; ``subnets`` selects where it runs.
    :param in_vpc: run in ``subnets`` (default True). False (a profile whose ``vpc_workloads`` is
        "sagemaker"): the function runs in Lambda's own network and reaches AWS APIs at their
        public endpoints (TLS, IAM); ``vpc``, ``subnets``, ``api_cidr`` and ``gateway_egress`` are then unused.
    :param logs_key: key for the log group.
    :param log_retention: how long its logs are kept.
    :param removal_policy: for the log group.
    :param statements: permissions beyond writing its own logs (default none).
    :param environment: extra environment variables (default none).
    :param reserved_concurrency: concurrency reserved for the function (default None:
        none; a new account may have nothing to reserve).
    :param timeout: default 60 seconds.
    :param memory_size: default 512 MB.
    :param api_cidr: the VPC's CIDR (a literal), when the function calls AWS APIs: HTTPS to
        the interface endpoints is then allowed (default None: no egress at all).
    :param gateway_egress: the function calls DynamoDB or S3 through the VPC's gateway endpoints: HTTPS
        to any address is allowed (default False). The endpoints' prefix lists have no id at synth
        without a lookup; in isolated subnets the route tables lead out of the VPC only through the
        gateway endpoints (the DynamoDB endpoint's policy admits this account's tables only).
    :param async_invocation: for a function invoked asynchronously (EventBridge): retries, and an
        on-failure destination (an encrypted, TLS-only SQS queue kept 14 days) with an alarm on its
        depth (default None: invoked synchronously, its caller keeps what fails).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        package: str,
        description: str,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        logs_key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        statements: list[iam.PolicyStatement] | None = None,
        environment: dict[str, str] | None = None,
        reserved_concurrency: int | None = None,
        timeout: Duration = Duration.seconds(60),  # noqa: B008 - immutable value
        memory_size: int = 512,
        api_cidr: str | None = None,
        gateway_egress: bool = False,
        async_invocation: AsyncInvocation | None = None,
        in_vpc: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        if not (LAMBDAS_DIR / package / "handler.py").exists():
            raise FileNotFoundError(f"lambdas/{package}/handler.py not found")
        self.log_group = logs.LogGroup(
            self, "Logs", encryption_key=logs_key, retention=log_retention, removal_policy=removal_policy
        )
        self.role = ManagedRole(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=description,
            statements=[
                logs_write(self.log_group),
                *([iam.PolicyStatement(actions=_ENI_ACTIONS, resources=["*"])] if in_vpc else []),
                *(statements or []),
            ],
        )
        self.security_group = (
            self._network(package, vpc=vpc, api_cidr=api_cidr, gateway_egress=gateway_egress) if in_vpc else None
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=f"{package}.handler.lambda_handler",
            code=lambda_.Code.from_asset(str(LAMBDAS_DIR), exclude=["**/__pycache__", "**/*.pyc"]),
            layers=[dependencies_layer(self)],
            role=self.role.role,
            log_group=self.log_group,
            vpc=vpc if in_vpc else None,
            vpc_subnets=subnets if in_vpc else None,
            security_groups=[self.security_group] if self.security_group else None,
            reserved_concurrent_executions=reserved_concurrency,
            timeout=timeout,
            memory_size=memory_size,
            environment={
                "POWERTOOLS_SERVICE_NAME": package,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **(environment or {}),
            },
        )
        if reserved_concurrency is None:
            acknowledge_all_packs(
                self.function.node.default_child,
                "LambdaConcurrency",
                "Reserved concurrency comes from the profile; this one reserves none because a new "
                "account's Lambda quota (as low as 10) leaves nothing to reserve. Prod reserves it.",
                packs=("HIPAA.Security", "NIST.800.53.R5"),
            )
        if not in_vpc:
            acknowledge_all_packs(
                self.function.node.default_child,
                "LambdaInsideVPC",
                FUNCTION_OUTSIDE_VPC,
            )
        self.failures = self._async_failures(package, async_invocation) if async_invocation else None
        acknowledge_all_packs(
            self.function.node.default_child,
            "LambdaDLQ",
            (
                "Invoked asynchronously with an on-failure destination (an encrypted SQS queue with an "
                "alarm): it keeps the whole invocation record, event and error, which a dead-letter "
                "queue would not."
            )
            if async_invocation
            else (
                "Invoked synchronously by its caller, which keeps failed records itself (Firehose error "
                "prefix); a dead-letter queue only receives asynchronous invocations."
            ),
            packs=("HIPAA.Security", "NIST.800.53.R5"),
        )

    def _network(self, package: str, *, vpc: ec2.IVpc, api_cidr: str | None, gateway_egress: bool) -> ec2.SecurityGroup:
        self.role.acknowledge(
            "AwsSolutions-IAM5[Resource::*]",
            "The EC2 network-interface actions of a VPC Lambda use '*': the interface does not exist yet, "
            "and the API supports no resource-level scoping. Any other '*' is acknowledged where it is granted.",
        )
        group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description=f"{package} Lambda: no ingress", allow_all_outbound=False
        )
        if api_cidr:
            group.add_egress_rule(ec2.Peer.ipv4(api_cidr), ec2.Port.tcp(443), "AWS APIs via VPC endpoints")
        if gateway_egress:
            group.add_egress_rule(
                ec2.Peer.any_ipv4(),
                ec2.Port.tcp(443),
                "DynamoDB and S3 via their gateway endpoints (prefix-list routes)",
            )
        return group

    def _async_failures(self, package: str, settings: AsyncInvocation) -> DeadLetterQueue:
        # SQS-managed encryption: Lambda sends the record as the function's role, which needs
        # sqs:SendMessage only (a customer key would need its policy to admit every such role).
        failures = DeadLetterQueue(
            self, "FailedInvocations", purpose=f"the {package} Lambda's asynchronous invocations"
        )
        self.function.configure_async_invoke(
            on_failure=destinations.SqsDestination(failures.queue),
            retry_attempts=settings.retry_attempts,
            max_event_age=settings.max_event_age,
        )
        # Lambda checks the role may send to the destination when the config is created.
        self.function.node.find_child("EventInvokeConfig").node.add_dependency(self.role.role)
        alarm = cw.Alarm(
            self,
            "FailedInvocationsAlarm",
            alarm_description=f"An asynchronous invocation of the {package} Lambda failed (see its on-failure queue)",
            metric=failures.queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
            threshold=0,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(settings.alarm_topic))
        return failures
