"""Training stack: the SageMaker pipeline, its role, the model registry, retraining triggers."""

from __future__ import annotations

from aws_cdk import CfnOutput
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lakeformation as lf
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from ml_constructs.events import notify_topic
from ml_constructs.retraining import retraining_guard, retraining_triggers
from ml_constructs.training_pipeline import TrainingPipeline
from ml_constructs.training_roles import pipeline_execution_role
from pipelines.data import spec as specs
from stacks.base import PlatformStack


class TrainingStack(PlatformStack):
    """The training pipeline (of the profile's data set) and what starts it.

    - ``execution_role``: the one role the pipeline and its jobs run as, scoped
      to the curated table's prefix, the pipeline's artifact prefix, the data
      key, its own jobs and its model package group.
    - ``model_package_group`` (retained where the profile keeps data), ``pipeline``.
    - ``guard``: the retraining guard Lambda; EventBridge rules for the
      schedule, new curated data and retraining alarms all go through it
      (retries, dead-letter queue). ``decisions_table`` keeps each decision.
    - A failed pipeline execution notifies the alarm topic.

    Alarms whose name starts with ``retrain_alarm_prefix`` (the monitoring
    stack's drift and model-quality alarms) trigger retraining.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        workload_subnets: ec2.SubnetSelection,
        curated_bucket: s3.IBucket,
        artifact_bucket: s3.IBucket,
        data_key: kms.IKey,
        logs_key: kms.IKey,
        training_data_policy: iam.IManagedPolicy,
        pipeline_artifacts_policy: iam.IManagedPolicy,
        curated_database: str,
        curated_table: str,
        alarm_topic: sns.ITopic,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        profile = self.profile
        settings = profile.training
        dataset = specs.load(profile.dataset)
        name = f"mlops-{profile.name}-churn"
        self.model_package_group_name = name
        self.retrain_alarm_prefix = f"mlops-{profile.name}-retrain-"

        self.security_group = ec2.SecurityGroup(
            self, "JobSecurityGroup", vpc=vpc, description="SageMaker jobs of the training pipeline",
            allow_all_outbound=False,
        )  # fmt: skip
        self.security_group.add_ingress_rule(self.security_group, ec2.Port.all_tcp(), "Between job instances")
        self.security_group.add_egress_rule(self.security_group, ec2.Port.all_tcp(), "Between job instances")
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS APIs via VPC endpoints")

        self.model_package_group = sagemaker.CfnModelPackageGroup(
            self, "ModelPackageGroup", model_package_group_name=name,
            model_package_group_description="Churn classifiers that passed the pipeline's AUC gate",
        )  # fmt: skip
        self.model_package_group.apply_removal_policy(self.data_removal_policy)

        self.execution_role = pipeline_execution_role(
            self, name, data_key, training_data_policy, pipeline_artifacts_policy
        )
        subnets = vpc.select_subnets(subnet_group_name=workload_subnets.subnet_group_name).subnet_ids
        self.pipeline = TrainingPipeline(
            self,
            "Training",
            pipeline_name=f"{name}-training",
            role_arn=self.execution_role.iam_role.role_arn,
            values={
                "ARTIFACT_BUCKET": artifact_bucket.bucket_name,
                "CURATED_BUCKET": curated_bucket.bucket_name,
                "KMS_KEY_ARN": data_key.key_arn,
                "SUBNET_IDS": subnets,
                "SECURITY_GROUP_IDS": [self.security_group.security_group_id],
                "MODEL_PACKAGE_GROUP": name,
            },
            settings=settings,
            dataset=dataset,
            curated_table=curated_table,
            curated_columns=[column for column, _ in specs.curated_columns(dataset)],
        )
        self.pipeline.pipeline.add_resource_dependency(self.model_package_group)
        bundle = self.pipeline.code_bundle
        # The processing steps read the bundle as an S3Prefix input: SageMaker lists its key first.
        self.execution_role.add_statements(
            iam.PolicyStatement(
                sid="CodeBundle",
                actions=["s3:GetObject"],
                resources=[bundle.bucket.arn_for_objects(bundle.s3_object_key)],
            ),
            iam.PolicyStatement(
                sid="CodeBundleList",
                actions=["s3:ListBucket"],
                resources=[bundle.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{bundle.s3_object_key}*"]}},
            ),
        )
        pipeline_arn = self.format_arn(service="sagemaker", resource="pipeline", resource_name=f"{name}-training")

        # The pipeline reads the curated table through Lake Formation too (Athena, Data Wrangler).
        lf.CfnPrincipalPermissions(
            self,
            "CuratedTableGrant",
            principal=lf.CfnPrincipalPermissions.DataLakePrincipalProperty(
                data_lake_principal_identifier=self.execution_role.iam_role.role_arn
            ),
            resource=lf.CfnPrincipalPermissions.ResourceProperty(
                table=lf.CfnPrincipalPermissions.TableResourceProperty(
                    catalog_id=self.account, database_name=curated_database, name=curated_table
                )
            ),
            permissions=["DESCRIBE", "SELECT"],
            permissions_with_grant_option=[],
        )

        self.decisions_table, self.guard = retraining_guard(
            self, profile=profile, function_settings=self.function_settings, removal_policy=self.data_removal_policy,
            pipeline_name=self.pipeline.pipeline_name, pipeline_arn=pipeline_arn, data_key=data_key,
            logs_key=logs_key, vpc=vpc, subnets=workload_subnets, alarm_topic=alarm_topic,
        )  # fmt: skip
        self.dead_letters = retraining_triggers(
            self, guard=self.guard, schedule=settings.retrain_schedule, retrain_alarm_prefix=self.retrain_alarm_prefix,
            curated_bucket=curated_bucket, curated_prefix=f"{curated_table}/", alarm_topic=alarm_topic,
        )  # fmt: skip
        self.dead_letter_queue = self.dead_letters.queue
        self._failure_notifications(pipeline_arn, alarm_topic)

        CfnOutput(self, "PipelineName", value=self.pipeline.pipeline_name)
        CfnOutput(self, "ModelPackageGroupName", value=name)

    def _failure_notifications(self, pipeline_arn: str, alarm_topic: sns.ITopic) -> None:
        rule = events.Rule(
            self,
            "OnPipelineFailure",
            description="A failed training pipeline execution notifies the alarm topic",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Building Pipeline Execution Status Change"],
                detail={"pipelineArn": [pipeline_arn], "currentPipelineExecutionStatus": ["Failed"]},
            ),
        )
        notify_topic(rule, alarm_topic, self.dead_letters)
