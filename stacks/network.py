"""Network stack: the VPC every workload runs in, with private paths to AWS APIs."""

from __future__ import annotations

from aws_cdk import CfnOutput
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from ml_constructs.iam import ManagedRole
from posture.checks import acknowledge
from stacks.base import PlatformStack

WORKLOAD_SUBNETS = "workloads"

# Every AWS API the workloads call, reached through the VPC, never the internet.
INTERFACE_ENDPOINTS: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "SageMakerApi": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API,
    "SageMakerRuntime": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME,
    "Sts": ec2.InterfaceVpcEndpointAwsService.STS,
    "CloudWatchLogs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "CloudWatchMonitoring": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
    "Kms": ec2.InterfaceVpcEndpointAwsService.KMS,
    "EcrApi": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "Glue": ec2.InterfaceVpcEndpointAwsService.GLUE,
    "Kinesis": ec2.InterfaceVpcEndpointAwsService.KINESIS_STREAMS,
    "Firehose": ec2.InterfaceVpcEndpointAwsService.KINESIS_FIREHOSE,
    "EventBridge": ec2.InterfaceVpcEndpointAwsService.EVENTBRIDGE,
    # The approval deployer updates the serving stack.
    "CloudFormation": ec2.InterfaceVpcEndpointAwsService.CLOUDFORMATION,
}


class NetworkStack(PlatformStack):
    """VPC over the profile's zones with workload subnets in each.

    Without NAT gateways in the profile the workload subnets are isolated: no
    route leaves the VPC except through the S3 and DynamoDB gateway endpoints
    and the interface endpoints. With NAT gateways, public subnets hold the gateways
    and the workload subnets route out through them. A profile whose ``vpc_workloads`` is
    "sagemaker" puts only SageMaker jobs and endpoint models in the VPC: they reach S3 through
    its gateway endpoint, and no interface endpoint is made (``endpoint_security_group`` is None).

    Attributes: ``vpc``, ``workload_subnets`` (a selection for every workload),
    ``endpoint_security_group``, ``flow_log_group``.
    """

    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        profile = self.profile

        subnets = [
            ec2.SubnetConfiguration(
                name=WORKLOAD_SUBNETS,
                subnet_type=(
                    ec2.SubnetType.PRIVATE_WITH_EGRESS if profile.internet_egress else ec2.SubnetType.PRIVATE_ISOLATED
                ),
                cidr_mask=20,
            )
        ]
        if profile.internet_egress:
            subnets.insert(0, ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24))

        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(profile.vpc_cidr),
            availability_zones=list(profile.availability_zones),
            nat_gateways=profile.nat_gateways,
            subnet_configuration=subnets,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            restrict_default_security_group=True,
        )
        self.workload_subnets = ec2.SubnetSelection(subnet_group_name=WORKLOAD_SUBNETS)
        acknowledge(
            self.vpc,
            "CloudFormation-Validate::W3010",
            "Zone names come from the profile on purpose: synth stays hermetic (no lookup), and the "
            "profile is the one place an operator picks the zones of the account the stacks deploy to.",
        )

        self._flow_logs()
        self._endpoints()

        CfnOutput(self, "VpcId", value=self.vpc.vpc_id)

    def _flow_logs(self) -> None:
        key = self.service_key("FlowLogKey", description="VPC flow logs", alias_name="flow-logs")
        key.allow_cloudwatch_logs()
        self.flow_log_key = key.kms_key
        self.flow_log_group = logs.LogGroup(
            self,
            "FlowLogGroup",
            encryption_key=key.kms_key,
            retention=self.log_retention,
            removal_policy=self.data_removal_policy,
        )
        role = ManagedRole(
            self,
            "FlowLogRole",
            assumed_by=iam.ServicePrincipal(
                "vpc-flow-logs.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": self.account},
                    "ArnLike": {
                        "aws:SourceArn": self.format_arn(service="ec2", resource="vpc-flow-log", resource_name="*")
                    },
                },
            ),
            description="Lets VPC Flow Logs write to the flow log group",
            statements=[
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    resources=[self.flow_log_group.log_group_arn],
                )
            ],
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group, role.role),
            traffic_type=ec2.FlowLogTrafficType.ALL,
            max_aggregation_interval=ec2.FlowLogMaxAggregationInterval.ONE_MINUTE,
        )

    def _endpoints(self) -> None:
        self.vpc.add_gateway_endpoint(
            "S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[self.workload_subnets]
        )
        # DynamoDB has no interface endpoint in the list: its gateway endpoint is free. Only this
        # account's tables are reachable through it (the retraining guard's decisions table).
        dynamodb = self.vpc.add_gateway_endpoint(
            "DynamoDbEndpoint", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets=[self.workload_subnets]
        )
        dynamodb.add_to_policy(
            iam.PolicyStatement(
                sid="ThisAccountsTables",
                principals=[iam.AnyPrincipal()],
                actions=["dynamodb:*"],
                resources=[self.format_arn(service="dynamodb", resource="table", resource_name="*")],
                conditions={"StringEquals": {"aws:PrincipalAccount": self.account}},
            )
        )
        self.endpoint_security_group: ec2.SecurityGroup | None = None
        if self.profile.functions_in_vpc:
            self._interface_endpoints()

    def _interface_endpoints(self) -> None:
        self.endpoint_security_group = group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="Interface endpoints: HTTPS from inside the VPC only",
            allow_all_outbound=False,
        )
        # The CIDR comes from the profile as a literal, so the rule carries no token.
        group.add_ingress_rule(ec2.Peer.ipv4(self.profile.vpc_cidr), ec2.Port.tcp(443), "HTTPS from the VPC")
        for name, service in INTERFACE_ENDPOINTS.items():
            self.vpc.add_interface_endpoint(
                f"{name}Endpoint",
                service=service,
                subnets=self.workload_subnets,
                security_groups=[group],
                private_dns_enabled=True,
                open=False,
            )
