"""Lake Formation governance: administrators, registered locations, and grants.

Every grant depends on the data-lake settings, so the deployment role is an
administrator before CloudFormation asks Lake Formation for anything, and Glue
resources that use the grants depend on them in turn (``GovernedLake.gate``).
"""

from __future__ import annotations

from aws_cdk import Aws, CfnResource, Fn
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lakeformation as lf
from aws_cdk import aws_s3 as s3
from constructs import Construct, DependencyGroup

from ml_constructs.access import BucketAccessPolicy
from ml_constructs.iam import account_service

# The CloudFormation execution role of the default CDK bootstrap; it must be a
# Lake Formation administrator to create grants.
_CFN_EXEC_ROLE = (
    "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-${Qualifier}-cfn-exec-role-${AWS::AccountId}-${AWS::Region}"
)


class GovernedLake(Construct):
    """Lake Formation settings, registered S3 locations, and least-privilege grants.

    Administrators are *appended* to the account's (``MutationType: APPEND``):
    the profile's ``lake_admin_arns`` and the CDK deployment role. Existing
    administrators are never replaced.

    Attributes: ``settings``, ``data_access_role``, ``gate`` (a dependable to
    make Glue resources wait for settings, locations and grants).

    :param admin_arns: extra administrators (IAM role or user ARNs).
    :param locations: buckets to register, each with its KMS key.
    :param qualifier: the CDK bootstrap qualifier (default ``hnb659fds``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        admin_arns: tuple[str, ...],
        locations: dict[str, tuple[s3.IBucket, kms.IKey]],
        qualifier: str = "hnb659fds",
    ) -> None:
        super().__init__(scope, construct_id)
        deploy_role = Fn.sub(_CFN_EXEC_ROLE, {"Qualifier": qualifier})
        self.settings = lf.CfnDataLakeSettings(
            self,
            "Settings",
            admins=[
                lf.CfnDataLakeSettings.DataLakePrincipalProperty(data_lake_principal_identifier=arn)
                for arn in (*admin_arns, deploy_role)
            ],
            mutation_type="APPEND",
        )
        self.data_access_role = iam.Role(
            self,
            "DataAccessRole",
            assumed_by=account_service(self, "lakeformation.amazonaws.com"),
            description="Lake Formation vends credentials for the registered data-lake locations with this role",
        )
        self.locations: dict[str, CfnResource] = {}
        for name, (bucket, key) in locations.items():
            access = BucketAccessPolicy(
                self,
                f"{name}Access",
                bucket=bucket,
                key=key,
                read_prefixes=("",),
                write_prefixes=("",),
                description=f"Lake Formation data access to the {name} zone",
            )
            self.data_access_role.add_managed_policy(access.policy)
            location = lf.CfnResource(
                self,
                f"{name}Location",
                resource_arn=bucket.bucket_arn,
                role_arn=self.data_access_role.role_arn,
                use_service_linked_role=False,
                hybrid_access_enabled=False,
            )
            location.add_resource_dependency(self.settings)
            self.locations[name] = location
        self.gate = DependencyGroup(self.settings, *self.locations.values())

    def grant(
        self,
        construct_id: str,
        *,
        principal_arn: str,
        permissions: list[str],
        database: str | None = None,
        table: str | None = None,
        all_tables: bool = False,
        excluded_columns: tuple[str, ...] = (),
        location: s3.IBucket | None = None,
    ) -> lf.CfnPrincipalPermissions:
        """Grant ``permissions`` on one database, one table (optionally without some columns),
        every table of a database, or a registered location."""
        catalog = Aws.ACCOUNT_ID
        P = lf.CfnPrincipalPermissions
        if location is not None:
            resource = P.ResourceProperty(
                data_location=P.DataLocationResourceProperty(catalog_id=catalog, resource_arn=location.bucket_arn)
            )
        elif table and excluded_columns:
            resource = P.ResourceProperty(
                table_with_columns=P.TableWithColumnsResourceProperty(
                    catalog_id=catalog,
                    database_name=database,
                    name=table,
                    column_wildcard=P.ColumnWildcardProperty(excluded_column_names=list(excluded_columns)),
                )
            )
        elif table or all_tables:
            resource = P.ResourceProperty(
                table=P.TableResourceProperty(
                    catalog_id=catalog,
                    database_name=database,
                    **({"name": table} if table else {"table_wildcard": {}}),
                )
            )
        else:
            resource = P.ResourceProperty(database=P.DatabaseResourceProperty(catalog_id=catalog, name=database))
        grant = lf.CfnPrincipalPermissions(
            self,
            construct_id,
            principal=P.DataLakePrincipalProperty(data_lake_principal_identifier=principal_arn),
            resource=resource,
            permissions=sorted(permissions),
            permissions_with_grant_option=[],
        )
        grant.add_resource_dependency(self.settings)
        for registered in self.locations.values():
            grant.add_resource_dependency(registered)
        self.gate.add(grant)
        return grant
