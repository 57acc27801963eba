"""Training stack: the SageMaker pipeline, its role, the model registry, retraining triggers."""

from __future__ import annotations

import json

from aws_cdk import ArnFormat, CfnOutput, Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lakeformation as lf
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from ml_constructs.access import acknowledge_wildcards
from ml_constructs.events import DeadLetterQueue, notify_topic, object_created
from ml_constructs.iam import VPC_ATTACH_ACTIONS, ManagedRole, account_service, sagemaker_metrics, volume_key_grants
from ml_constructs.lambdas import AsyncInvocation, PythonFunction
from ml_constructs.training_pipeline import TrainingPipeline
from pipelines.data import spec as specs
from posture.checks import acknowledge_all_packs
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

        self.execution_role = self._execution_role(name, data_key, training_data_policy, pipeline_artifacts_policy)
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

        self.decisions_table, self.guard = self._guard(
            pipeline_arn, data_key, logs_key, vpc, workload_subnets, alarm_topic
        )
        self._triggers(curated_bucket, f"{curated_table}/", alarm_topic)
        self._failure_notifications(pipeline_arn, alarm_topic)

        CfnOutput(self, "PipelineName", value=self.pipeline.pipeline_name)
        CfnOutput(self, "ModelPackageGroupName", value=name)

    def _execution_role(
        self, name: str, data_key: kms.IKey, training_data: iam.IManagedPolicy, artifacts: iam.IManagedPolicy
    ) -> ManagedRole:
        def arn(resource: str, resource_name: str = "*") -> str:
            return self.format_arn(service="sagemaker", resource=resource, resource_name=resource_name)

        sagemaker_logs = self.format_arn(
            service="logs", resource="log-group", resource_name="/aws/sagemaker/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )  # fmt: skip
        job_resources = [arn("processing-job"), arn("hyper-parameter-tuning-job"), arn("training-job")]
        package_resources = [arn("model-package-group", name), arn("model-package", f"{name}/*")]
        role = ManagedRole(
            self,
            "ExecutionRole",
            assumed_by=account_service(self, "sagemaker.amazonaws.com"),
            description="SageMaker pipeline and its jobs: curated data in, models and reports out",
            statements=[
                iam.PolicyStatement(
                    sid="Jobs",
                    actions=[
                        "sagemaker:CreateProcessingJob",
                        "sagemaker:DescribeProcessingJob",
                        "sagemaker:StopProcessingJob",
                        "sagemaker:CreateHyperParameterTuningJob",
                        "sagemaker:DescribeHyperParameterTuningJob",
                        "sagemaker:StopHyperParameterTuningJob",
                        "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
                        "sagemaker:CreateTrainingJob",
                        "sagemaker:DescribeTrainingJob",
                        "sagemaker:StopTrainingJob",
                        "sagemaker:AddTags",
                        "sagemaker:ListTags",
                    ],
                    resources=job_resources,
                ),
                iam.PolicyStatement(
                    sid="Registry",
                    actions=[
                        "sagemaker:CreateModelPackage",
                        "sagemaker:DescribeModelPackage",
                        "sagemaker:DescribeModelPackageGroup",
                        "sagemaker:AddTags",
                    ],
                    resources=package_resources,
                ),
                iam.PolicyStatement(
                    sid="PassSelf",
                    actions=["iam:PassRole"],
                    resources=[self.format_arn(service="iam", region="", resource="role", resource_name="*")],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                ),
                iam.PolicyStatement(sid="Network", actions=VPC_ATTACH_ACTIONS, resources=["*"]),
                iam.PolicyStatement(
                    sid="Logs",
                    actions=[
                        "logs:CreateLogGroup",
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogStreams",
                    ],
                    resources=[sagemaker_logs],
                ),
                sagemaker_metrics(),
                volume_key_grants(data_key),
                iam.PolicyStatement(sid="LakeFormation", actions=["lakeformation:GetDataAccess"], resources=["*"]),
            ],
        )
        for policy in (training_data, artifacts):
            role.iam_role.add_managed_policy(policy)
        acknowledge_wildcards(
            role,
            ["*", sagemaker_logs, *job_resources, package_resources[1],
             self.format_arn(service="iam", region="", resource="role", resource_name="*")],
            "Wildcards only where names are generated per run: the pipeline's processing, tuning and "
            "training jobs, its model package versions and log streams; iam:PassRole is limited to "
            "SageMaker by condition; EC2 network-interface actions and lakeformation:GetDataAccess "
            "have no resource-level permissions.",
        )  # fmt: skip
        return role

    def _guard(
        self,
        pipeline_arn: str,
        data_key: kms.IKey,
        logs_key: kms.IKey,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        alarm_topic: sns.ITopic,
    ) -> tuple[dynamodb.ITable, PythonFunction]:
        table = dynamodb.TableV2(
            self,
            "RetrainingDecisions",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(),
            encryption=dynamodb.TableEncryptionV2.customer_managed_key(data_key),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute="expires_at",
            deletion_protection=self.profile.retain_data,
            removal_policy=self.data_removal_policy,
        )
        acknowledge_all_packs(
            table.node.default_child,
            "DynamoDBInBackupPlan",
            "The table holds the guard's lock and a 90-day log of retraining decisions; point-in-time "
            "recovery covers it, and nothing in it must outlive the decisions' expiry.",
            packs=("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"),
        )
        guard = PythonFunction(
            self,
            "Guard",
            package="retraining_guard",
            description="Starts the training pipeline unless it is running or in cool-down; records why",
            vpc=vpc,
            subnets=subnets,
            logs_key=logs_key,
            **self.function_settings,
            api_cidr=self.profile.vpc_cidr,
            gateway_egress=True,
            async_invocation=AsyncInvocation(alarm_topic=alarm_topic),
            environment={
                "PIPELINE_NAME": self.pipeline.pipeline_name,
                "DECISIONS_TABLE": table.table_name,
                "COOLDOWN_MINUTES": str(self.profile.training.cooldown_minutes),
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

    def _triggers(self, curated_bucket: s3.IBucket, curated_prefix: str, alarm_topic: sns.ITopic) -> None:
        self.dead_letters = DeadLetterQueue(self, "TriggerDeadLetters", purpose="the retraining triggers")
        self.dead_letter_queue = self.dead_letters.queue
        target = targets.LambdaFunction(
            self.guard.function,
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=4,
            max_event_age=Duration.hours(1),
        )
        events.Rule(
            self, "OnSchedule", description="Retrain on the profile's schedule",
            schedule=events.Schedule.expression(self.profile.training.retrain_schedule), targets=[target],
        )  # fmt: skip
        events.Rule(
            self,
            "OnCuratedData",
            description="Retrain when the ETL lands new curated data (the guard absorbs the burst)",
            event_pattern=object_created(curated_bucket, {"prefix": curated_prefix}),
            targets=[target],
        )
        events.Rule(
            self,
            "OnRetrainAlarm",
            description="Retrain when a drift or model-quality alarm goes into ALARM",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                detail={"alarmName": [{"prefix": self.retrain_alarm_prefix}], "state": {"value": ["ALARM"]}},
            ),
            targets=[target],
        )
        for name, metric, description in (
            ("GuardErrors", self.guard.function.metric_errors(period=Duration.minutes(5)), "The retraining guard failed"),
            ("TriggerDeadLetters", self.dead_letter_queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
             "Retraining triggers could not be delivered (see the dead-letter queue)"),
        ):  # fmt: skip
            alarm = cw.Alarm(
                self, f"{name}Alarm", metric=metric, threshold=0, evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING, alarm_description=description,
            )  # fmt: skip
            alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))

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
