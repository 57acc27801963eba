"""Triage of the template scanners' findings that are not fixed: each decision once, with its reason.

``posture.checks.register_packs`` applies this registry at synth (``ApplySuppressions``): every
matching resource carries the suppression in the scanner's own metadata, with the reason next to
it (``posture.suppressions``). Findings that were real were fixed in the constructs instead. A
reason that names a scanner's limit says which. cdk-nag findings are acknowledged where they arise
(``posture.checks.acknowledge``).
"""

from __future__ import annotations

from aws_cdk import CfnResource

from posture.suppressions import Suppression as S


def _path(*parts: str):
    return lambda node: any(p in node.node.path for p in parts)


def _short_retention(node: CfnResource) -> bool:
    days = getattr(node, "retention_in_days", None)
    return not isinstance(days, int) or days < 365


def _unreserved(node: CfnResource) -> bool:
    return getattr(node, "reserved_concurrent_executions", None) is None


LOG_BUCKETS = _path("AccessLogs")
CDK_PROVIDER = _path("CustomResourceProvider")


def _platform_function(node: CfnResource) -> bool:
    return not CDK_PROVIDER(node)


PROVIDER = (
    "CDK's deploy-time provider that removes the default security group's rules: CloudFormation invokes it "
    "synchronously during deployment only; it calls the EC2 API and touches no data."
)
ENI_AND_METRICS = (
    "Resource '*' only for actions without resource-level permissions (the VPC network-interface actions "
    "Lambda, Glue and SageMaker need, cloudwatch:PutMetricData limited by namespace); each is a cdk-nag "
    "AwsSolutions-IAM5[Resource::*] finding acknowledged with its reason on the same role."
)
# A lean profile's decision (vpc_workloads "sagemaker"); cdk-nag's LambdaInsideVPC carries the same reason.
FUNCTION_OUTSIDE_VPC = (
    "A development profile with vpc_workloads 'sagemaker' (lean): the function only calls AWS APIs (over TLS, "
    "authorized by its least-privilege role) and reaches nothing inside the VPC, so it runs in Lambda's network "
    "instead of paying for a dozen interface endpoints. A profile that keeps data is refused this setting; "
    "dev and prod attach every function."
)


def _outside_vpc(node: CfnResource) -> bool:
    return _platform_function(node) and getattr(node, "vpc_config", None) is None


KEY_POLICY = (
    "In a KMS key policy Resource '*' means this key only, and the CloudWatch Logs statement is AWS's "
    "documented one (kms:Describe* under the log-group encryption-context condition); parliament reads "
    "key policies as identity policies (scanner limit)."
)
TLS_DENY = (
    "CDK's TLS statements deny s3:* without aws:SecureTransport and below s3:TlsVersion 1.2; actions whose "
    "requests carry no TLS version are covered by the SecureTransport deny. Parliament wants the numeric "
    "1.2 unquoted and lists the key for fewer S3 actions than S3 sends it (scanner limit)."
)

REGISTRY: tuple[S, ...] = (
    # ---- cfn-lint ----
    S("cfn-lint", "W3005", ("AWS::Lambda::Function", "AWS::SageMaker::Model", "AWS::Glue::Job", "AWS::Glue::Crawler",
      "AWS::Events::Rule", "AWS::CloudTrail::Trail"),
      "Users of a role wait for the role construct (its policy must exist before the service validates the "
      "role); CDK lists the role as well, which the GetAtt already orders: redundant, no effect on deployment."),
    S("cfn-lint", "W3005", ("AWS::ApplicationAutoScaling::ScalableTarget",),
      "The scaling target waits for the endpoint construct (its variants must be in service); the GetAtt "
      "in ResourceId already orders the same: redundant, no effect on deployment."),
    # ---- checkov ----
    S("checkov", "CKV_AWS_27", ("AWS::SQS::Queue",),
      "Encrypted with SSE-SQS (SqsManagedSseEnabled: true), which EventBridge and Lambda can deliver to without "
      "a key grant; checkov's check only recognises KmsMasterKeyId (scanner limit)."),
    S("checkov", "CKV_AWS_111", ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"), ENI_AND_METRICS),
    S("checkov", "CKV_AWS_109", ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"),
      "ec2:CreateNetworkInterfacePermission on '*' is what SageMaker jobs in a VPC need to attach their "
      "network interfaces; the API has no resource-level scoping (cdk-nag IAM5 acknowledgment on the role)."),
    S("checkov", "CKV_AWS_115", ("AWS::Lambda::Function",),
      "Concurrency is reserved per profile (lambda_reserved_concurrency): a new account's Lambda quota (as "
      "low as 10) leaves nothing to reserve, so development profiles reserve none.",
      lambda node: _unreserved(node) and _platform_function(node)),
    S("checkov", "CKV_AWS_116", ("AWS::Lambda::Function",),
      "Asynchronous functions keep failed invocations in an on-failure destination (EventInvokeConfig, an "
      "encrypted queue with a depth alarm) or their EventBridge target's dead-letter queue; synchronous "
      "ones (the Firehose transform) return errors to their caller.", _platform_function),
    S("checkov", "CKV_AWS_173", ("AWS::Lambda::Function",),
      "Environment variables hold resource names and ARNs only (no secret); Lambda encrypts them at rest "
      "with its service key.", _platform_function),
    *[S("checkov", rule, ("AWS::Lambda::Function",), PROVIDER, CDK_PROVIDER)
      for rule in ("CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173")],
    S("checkov", "CKV_AWS_117", ("AWS::Lambda::Function",), FUNCTION_OUTSIDE_VPC, _outside_vpc),
    S("checkov", "CKV_AWS_18", ("AWS::S3::Bucket",),
      "This is the server-access-log target; logging into itself would loop (CloudTrail records its API "
      "calls).", LOG_BUCKETS),
    # ---- cfn-guard (AWS Control Tower proactive controls) ----
    S("cfn-guard", "CT.LAMBDA.PR.3", ("AWS::Lambda::Function",), PROVIDER, CDK_PROVIDER),
    S("cfn-guard", "CT.LAMBDA.PR.3", ("AWS::Lambda::Function",), FUNCTION_OUTSIDE_VPC, _outside_vpc),
    S("cfn-guard", "CT.S3.PR.2", ("AWS::S3::Bucket",),
      "This is the server-access-log target; logging into itself would loop (CloudTrail records its API "
      "calls).", LOG_BUCKETS),
    S("cfn-guard", "CT.S3.PR.10", ("AWS::S3::Bucket",),
      "S3 server access log delivery supports only SSE-S3 on the target bucket.", LOG_BUCKETS),
    S("cfn-guard", "CT.S3.PR.4", ("AWS::S3::Bucket",),
      "A log archive (server access logs, trail files): nothing consumes its object events; the data "
      "zones, whose objects drive the pipeline, send theirs to EventBridge.", _path("AccessLogs", "Trail/Bucket/")),
    S("cfn-guard", "CT.S3.PR.9", ("AWS::S3::Bucket",),
      "Object Lock (write once) fits records that must never change; data zones and logs are versioned, "
      "expire by lifecycle and must allow erasure. The trail bucket is locked in governance mode where the "
      "profile sets audit.object_lock_days (prod)."),
    S("cfn-guard", "CT.SQS.PR.1", ("AWS::SQS::Queue",),
      "The queue is itself a dead-letter queue or on-failure destination (with a depth alarm); a dead-letter "
      "queue of its own would only move the same messages again."),
    S("cfn-guard", "CT.KMS.PR.3", ("AWS::KMS::Key",),
      "The only statement allowing kms:CreateGrant without kms:GrantIsForAWSResource is the account-root "
      "statement that delegates to IAM; the platform's roles get CreateGrant only with "
      "kms:GrantIsForAWSResource (the contract tests check every grant need)."),
    S("cfn-guard", "CT.CLOUDWATCH.PR.2", ("AWS::Logs::LogGroup",),
      "Retention follows the profile (log_retention_days): development keeps 30 days on purpose; prod "
      "keeps a year.", _short_retention),
    # ---- parliament ----
    S("parliament", "RESOURCE_STAR", ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"), ENI_AND_METRICS),
    S("parliament", "RESOURCE_STAR", ("AWS::KMS::Key",), KEY_POLICY),
    S("parliament", "UNKNOWN_CONDITION_FOR_ACTION", ("AWS::KMS::Key",), KEY_POLICY),
    S("parliament", "MISMATCHED_TYPE", ("AWS::KMS::Key",), KEY_POLICY),
    S("parliament", "UNKNOWN_CONDITION_FOR_ACTION", ("AWS::S3::BucketPolicy",), TLS_DENY),
    S("parliament", "MISMATCHED_TYPE", ("AWS::S3::BucketPolicy",), TLS_DENY),
    S("parliament", "RESOURCE_MISMATCH", ("AWS::IAM::ManagedPolicy",),
      "CDK's stream read grant (Firehose construct) adds kinesis:ListStreams and the consumer actions, which "
      "Firehose never calls; on the stream ARN they allow nothing, so nothing more is granted.",
      _path("DeliveryRole")),
    S("parliament", "MISMATCHED_TYPE_BUT_USABLE", ("AWS::IAM::ManagedPolicy",),
      "StringEquals on cloudformation:RoleArn compares the one exact deploy-role ARN, as ArnEquals would.",
      _path("Deployer/ExecutionRole")),
)  # fmt: skip
