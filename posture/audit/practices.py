"""What the audit report maps: ML practices, Security Hub AI controls, Config rules -> resources and checks.

Three lists, written here in the project's own words:

- the security and operations practices of the AWS Certified Machine Learning Specialty exam
  guide (encryption at rest and in transit, least privilege, bucket policies, security groups,
  VPC isolation, logging and monitoring, multi-AZ, autoscaling, A/B testing, retraining,
  model monitoring);
- every control of Security Hub CSPM's "AI Security Best Practices" standard (v1.0.0, 31
  controls: Bedrock, Bedrock AgentCore, SageMaker);
- the SageMaker rules of AWS Config's "Operational Best Practices for AI and ML" conformance pack.

Each entry names the resource types that implement it (the report lists the synthesized
resources of those types) and the checks that prove it; entries that do not apply say why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from posture.audit.templates import Template

PRACTICE = "ML specialty practice"
CONTROL = "Security Hub control"
CONFIG = "Config rule"

NO_NOTEBOOKS = "the platform creates no notebook instance (work runs as pipeline steps and jobs)"
NO_BEDROCK = "the platform uses no Amazon Bedrock or Bedrock AgentCore resource"
NO_FEATURE_STORE = "the platform has no SageMaker Feature Store feature group"
NO_CLARIFY = "the platform runs no SageMaker Clarify bias or explainability job definition"
NO_INFERENCE_EXPERIMENT = "A/B tests run as endpoint variants, not as SageMaker inference experiments"
MODEL_MONITOR = (
    "applies only with the model-monitor engine (SageMaker Model Monitor job definitions and schedules); "
    "dev and prod run the portable engine, whose drift job is a Processing job checked by MLOps-MonitoringJobEncryption"
)


@dataclass(frozen=True)
class Mapping:
    group: str
    id: str
    title: str
    implemented_by: str = ""
    proved_by: str = ""
    types: tuple[str, ...] = ()
    # Narrows ``types`` to the resources that really implement the entry.
    where: Callable[[dict], bool] | None = None
    why_not: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def applies(self) -> bool:
        return not self.why_not

    def as_dict(self, resolved: dict[str, list[str]]) -> dict:
        return {
            "group": self.group,
            "id": self.id,
            "title": self.title,
            "applies": self.applies,
            "why_not": self.why_not or None,
            "implemented_by": self.implemented_by,
            "resources": sorted(set(resolved.get(self.id, []))),
            "proved_by": self.proved_by,
        }


def _props(r: dict) -> dict:
    return r.get("Properties") or {}


def _has(*keys: str) -> Callable[[dict], bool]:
    return lambda r: all(k in _props(r) for k in keys)


def mappings() -> list[Mapping]:
    m = Mapping
    return [
        # --- ML specialty practices ---
        m(PRACTICE, "encryption-at-rest", "Encrypt data at rest with customer managed KMS keys",
          "KMS keys with rotation; buckets, stream, delivery stream, log groups, topics, endpoint volumes use them",
          "cdk-nag AwsSolutions-S10/KMS5, NIST S3DefaultEncryptionKMS; MLOps-EndpointConfigEncryption, "
          "MLOps-StreamEncryption, MLOps-PipelineJobEncryption; CT.S3.PR.10, CT.KMS.PR.1",
          ("AWS::KMS::Key", "AWS::S3::Bucket", "AWS::Kinesis::Stream", "AWS::KinesisFirehose::DeliveryStream",
           "AWS::SageMaker::EndpointConfig")),
        m(PRACTICE, "encryption-in-transit", "Encrypt data in transit (TLS only; inter-container traffic)",
          "bucket policies deny aws:SecureTransport=false; pipeline and monitoring jobs encrypt inter-container traffic",
          "cdk-nag AwsSolutions-S10; MLOps-PipelineJobEncryption, MLOps-MonitoringJobEncryption; parliament on bucket policies",
          ("AWS::S3::BucketPolicy", "AWS::SageMaker::Pipeline")),
        m(PRACTICE, "least-privilege", "Least-privilege IAM for every job and function",
          "one role per workload, customer managed policies scoped to named resources and conditions",
          "cdk-nag AwsSolutions-IAM4/IAM5; parliament on every identity and resource policy; tests/test_iam_roles.py",
          ("AWS::IAM::Role", "AWS::IAM::ManagedPolicy")),
        m(PRACTICE, "bucket-policies", "S3 bucket policies that block public access and require TLS",
          "a bucket policy on every bucket; public access blocked", "cdk-nag AwsSolutions-S1/S2/S10; checkov CKV_AWS_53-56; "
          "CT.S3.PR.1", ("AWS::S3::BucketPolicy",)),
        m(PRACTICE, "security-groups", "Security groups that allow only the traffic a workload needs",
          "one security group per workload; egress only to the VPC endpoints' group; default group closed",
          "cdk-nag AwsSolutions-EC23; MLOps-VpcServiceReachability; tests/test_network.py", ("AWS::EC2::SecurityGroup",)),
        m(PRACTICE, "vpc-isolation", "Run ML compute in a private VPC; models network-isolated",
          "private subnets, VPC endpoints for AWS services, SageMaker models with VpcConfig and network isolation",
          "MLOps-ModelVpcIsolation, MLOps-VpcServiceReachability; cdk-nag NIST LambdaInsideVPC",
          ("AWS::EC2::VPC", "AWS::EC2::VPCEndpoint", "AWS::SageMaker::Model")),
        m(PRACTICE, "logging-monitoring", "Log and monitor the environment (CloudTrail, CloudWatch, flow logs)",
          "CloudTrail trail (or the organization's), VPC flow logs, log groups with retention, alarms with actions",
          "cdk-nag AwsSolutions-VPC7, NIST CloudTrail*; MLOps-AlarmAction; CT.CLOUDTRAIL.PR.*",
          ("AWS::CloudTrail::Trail", "AWS::EC2::FlowLog", "AWS::Logs::LogGroup", "AWS::CloudWatch::Alarm")),
        m(PRACTICE, "multi-az", "Spread across Availability Zones",
          "subnets in every profile zone; production variants with two or more instances in retained profiles",
          "MLOps-ProductionVariantRedundancy; config profile validation (serving.instance_count)",
          ("AWS::EC2::Subnet", "AWS::SageMaker::EndpointConfig")),
        m(PRACTICE, "autoscaling", "Scale endpoints with load",
          "Application Auto Scaling target tracking on invocations per instance, per variant",
          "tests/test_serving_stack.py", ("AWS::ApplicationAutoScaling::ScalableTarget",
                                          "AWS::ApplicationAutoScaling::ScalingPolicy")),
        m(PRACTICE, "ab-testing", "A/B test models with production variants",
          "champion and challenger variants on one endpoint; the promotion function shifts weights",
          "tests/test_ab_operations.py", ("AWS::SageMaker::EndpointConfig",),
          # A profile without a challenger (serving.challenger False) runs one variant: no A/B test there.
          where=lambda r: len(_props(r).get("ProductionVariants", [])) > 1),
        m(PRACTICE, "retraining", "Retrain on schedule and on drift",
          "SageMaker pipeline, retraining rules on schedule and on retrain alarms, with a cool-down guard",
          "tests/test_retraining_guard.py, tests/test_training_stack.py",
          ("AWS::SageMaker::Pipeline", "AWS::Events::Rule")),
        m(PRACTICE, "model-monitoring", "Monitor data drift and model quality in production",
          "data capture on the endpoint, a scheduled drift and quality job, alarms into retraining",
          "tests/test_monitoring.py, tests/test_drift.py; MLOps-MonitoringJobEncryption",
          ("AWS::Scheduler::Schedule", "AWS::SageMaker::MonitoringSchedule", "AWS::CloudWatch::Alarm"),
          where=lambda r: r.get("Type") != "AWS::CloudWatch::Alarm" or "drift" in str(_props(r)).lower()),
        # --- Security Hub CSPM: AI Security Best Practices v1.0.0 ---
        m(CONTROL, "Bedrock.1", "Bedrock data sources encrypted with customer managed KMS keys", why_not=NO_BEDROCK),
        *[m(CONTROL, f"BedrockAgentCore.{i}", title, why_not=NO_BEDROCK) for i, title in (
            (1, "AgentCore runtimes in VPC network mode"),
            (2, "AgentCore gateways require inbound authorization"),
            (3, "AgentCore memory encrypted with customer managed KMS keys"),
            (4, "AgentCore gateways encrypted with customer managed KMS keys"),
            (5, "AgentCore custom browsers not in public network mode"),
            (6, "AgentCore custom browsers record sessions to S3"),
            (7, "AgentCore custom code interpreters in private network mode"))],
        m(CONTROL, "SageMaker.1", "Notebook instances without direct internet access", why_not=NO_NOTEBOOKS),
        m(CONTROL, "SageMaker.2", "Notebook instances launched in a custom VPC", why_not=NO_NOTEBOOKS),
        m(CONTROL, "SageMaker.3", "No root access on notebook instances", why_not=NO_NOTEBOOKS),
        m(CONTROL, "SageMaker.4", "Endpoint production variants with an initial instance count above 1",
          "every variant in retained (production) profiles runs two or more instances; dev runs one on purpose",
          "MLOps-ProductionVariantRedundancy (profiles marked production)",
          ("AWS::SageMaker::EndpointConfig",)),
        m(CONTROL, "SageMaker.5", "Models with network isolation enabled", "EnableNetworkIsolation on every model",
          "MLOps-ModelVpcIsolation", ("AWS::SageMaker::Model",), _has("EnableNetworkIsolation")),
        m(CONTROL, "SageMaker.8", "Notebook instances on a supported platform", why_not=NO_NOTEBOOKS),
        m(CONTROL, "SageMaker.9", "Data quality job definitions encrypt inter-container traffic", why_not=MODEL_MONITOR),
        m(CONTROL, "SageMaker.10", "Model explainability job definitions encrypt inter-container traffic",
          why_not=NO_CLARIFY),
        m(CONTROL, "SageMaker.11", "Data quality job definitions with network isolation", why_not=MODEL_MONITOR),
        m(CONTROL, "SageMaker.12", "Model bias job definitions with network isolation", why_not=NO_CLARIFY),
        m(CONTROL, "SageMaker.13", "Model quality job definitions encrypt inter-container traffic",
          why_not=MODEL_MONITOR),
        m(CONTROL, "SageMaker.14", "Monitoring schedules with network isolation", why_not=MODEL_MONITOR),
        m(CONTROL, "SageMaker.15", "Model bias job definitions encrypt inter-container traffic", why_not=NO_CLARIFY),
        m(CONTROL, "SageMaker.16", "Model primary containers from a private registry reached in the VPC",
          "models pull the AWS-owned built-in XGBoost image from ECR through the VPC's ECR interface endpoints "
          "(RepositoryAccessMode Platform); a gap where the control requires a customer registry (Vpc access mode)",
          "tests/test_serving_stack.py (image URI); no scanner checks it", ("AWS::SageMaker::Model",)),
        m(CONTROL, "SageMaker.17", "Feature group offline stores encrypted with KMS", why_not=NO_FEATURE_STORE),
        m(CONTROL, "SageMaker.18", "Feature group online stores (standard storage) encrypted with KMS",
          why_not=NO_FEATURE_STORE),
        m(CONTROL, "SageMaker.19", "Multi-container inference pipelines from a private registry in the VPC",
          why_not="every model has one container (no inference pipeline)"),
        m(CONTROL, "SageMaker.20", "Model explainability job definitions with network isolation", why_not=NO_CLARIFY),
        m(CONTROL, "SageMaker.21", "Notebook instances encrypted with customer managed KMS keys", why_not=NO_NOTEBOOKS),
        m(CONTROL, "SageMaker.22", "Monitoring schedules encrypt inter-container traffic", why_not=MODEL_MONITOR),
        m(CONTROL, "SageMaker.23", "Inference experiment instance storage encrypted with customer managed KMS keys",
          why_not=NO_INFERENCE_EXPERIMENT),
        m(CONTROL, "SageMaker.24", "Inference experiment data storage encrypted with customer managed KMS keys",
          why_not=NO_INFERENCE_EXPERIMENT),
        m(CONTROL, "SageMaker.25", "Model quality job definitions with network isolation", why_not=MODEL_MONITOR),
        # --- AWS Config: Operational Best Practices for AI and ML (its SageMaker rules) ---
        m(CONFIG, "sagemaker-endpoint-configuration-kms-key-configured", "Endpoint configurations name a KMS key",
          "KmsKeyId on every endpoint configuration (the data key)", "MLOps-EndpointConfigEncryption",
          ("AWS::SageMaker::EndpointConfig",), _has("KmsKeyId")),
        m(CONFIG, "sagemaker-notebook-instance-kms-key-configured", "Notebook instances name a KMS key",
          why_not=NO_NOTEBOOKS),
        m(CONFIG, "sagemaker-notebook-no-direct-internet-access", "Notebook instances without direct internet access",
          why_not=NO_NOTEBOOKS),
    ]  # fmt: skip


def resolve(templates: list[Template]) -> dict[str, list[str]]:
    """Per mapping id, the synthesized resources (profile/stack/logical id) that implement it."""
    out: dict[str, list[str]] = {}
    for mapping in mappings():
        if not mapping.applies:
            continue
        for t in templates:
            for logical, res in t.resources.items():
                if res.get("Type") in mapping.types and (mapping.where is None or mapping.where(res)):
                    out.setdefault(mapping.id, []).append(f"{t.profile}/{t.stack}/{logical}")
    return out
