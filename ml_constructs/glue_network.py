"""Where the Glue job and crawler run and what they run: security configuration, network, scripts."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3_assets as assets
from constructs import Construct

from posture.checks import acknowledge

ROOT = Path(__file__).resolve().parents[1]
JOB_SCRIPT = ROOT / "pipelines" / "glue" / "curate.py"
# The data-set spec ships as a zip holding spec.py and datasets/*.json at its root (--extra-py-files);
# the job imports it as ``spec`` there (``pipelines.data.spec`` in the repo) and loads the data set
# its ``--dataset`` argument names.
SPEC_DIR = ROOT / "pipelines" / "data"
SPEC_FILES = ["*", "!spec.py", "!datasets", "!datasets/*.json"]


class EtlNetwork(Construct):
    """KMS security configuration, the job's security group and VPC connection, the script assets.

    Attributes: ``security_configuration``, ``security_group``, ``connection``,
    ``connection_name``, ``connection_arn`` (all four None outside the VPC), ``script`` and
    ``spec_module`` (S3 assets).

    :param prefix: name prefix for named Glue resources.
    :param data_key, logs_key: encryption for data, bookmarks and logs.
    :param vpc, subnets: where the job and crawler run (the first subnet of the group).
    :param in_vpc: run in ``subnets`` through a network connection (default True); False runs them
        in Glue's own network, which reaches S3 and the AWS APIs without VPC endpoints.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        data_key: kms.IKey,
        logs_key: kms.IKey,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        in_vpc: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        self.security_configuration = glue.CfnSecurityConfiguration(
            self,
            "SecurityConfiguration",
            name=f"{prefix}-etl",
            encryption_configuration=glue.CfnSecurityConfiguration.EncryptionConfigurationProperty(
                s3_encryptions=[
                    glue.CfnSecurityConfiguration.S3EncryptionProperty(
                        s3_encryption_mode="SSE-KMS", kms_key_arn=data_key.key_arn
                    )
                ],
                cloud_watch_encryption=glue.CfnSecurityConfiguration.CloudWatchEncryptionProperty(
                    cloud_watch_encryption_mode="SSE-KMS", kms_key_arn=logs_key.key_arn
                ),
                job_bookmarks_encryption=glue.CfnSecurityConfiguration.JobBookmarksEncryptionProperty(
                    job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=data_key.key_arn
                ),
            ),
        )
        # Scripts, as CDK assets (plain files: no bundling).
        self.script = assets.Asset(self, "JobScript", path=str(JOB_SCRIPT))
        self.spec_module = assets.Asset(self, "SchemaModule", path=str(SPEC_DIR), exclude=SPEC_FILES)
        self.security_group: ec2.SecurityGroup | None = None
        self.connection: glue.CfnConnection | None = None
        self.connection_name: str | None = None
        self.connection_arn: str | None = None
        if in_vpc:
            self._connect(prefix, vpc, subnets)

    def _connect(self, prefix: str, vpc: ec2.IVpc, subnets: ec2.SubnetSelection) -> None:
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description="Glue job and crawler", allow_all_outbound=False
        )
        # Spark executors talk to each other; Glue requires a self-referencing rule.
        self.security_group.add_ingress_rule(self.security_group, ec2.Port.all_tcp(), "Glue workers")
        self.security_group.add_egress_rule(self.security_group, ec2.Port.all_tcp(), "Glue workers")
        # The subnets are isolated: HTTPS reaches only the VPC endpoints (S3 gateway included).
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS APIs via VPC endpoints")
        subnet = vpc.select_subnets(subnet_group_name=subnets.subnet_group_name).subnets[0]
        self.connection_name = f"{prefix}-vpc"
        self.connection = glue.CfnConnection(
            self,
            "Connection",
            catalog_id=Aws.ACCOUNT_ID,
            connection_input=glue.CfnConnection.ConnectionInputProperty(
                name=self.connection_name,
                connection_type="NETWORK",
                physical_connection_requirements=glue.CfnConnection.PhysicalConnectionRequirementsProperty(
                    subnet_id=subnet.subnet_id,
                    availability_zone=subnet.availability_zone,
                    security_group_id_list=[self.security_group.security_group_id],
                ),
            ),
        )
        acknowledge(
            self.connection,
            "CloudFormation-Validate::W3010",
            "The zone is the workload subnet's, from the profile, so synth needs no lookup.",
        )
        self.connection_arn = Stack.of(self).format_arn(
            service="glue", resource="connection", resource_name=self.connection_name
        )
