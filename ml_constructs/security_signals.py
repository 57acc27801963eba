"""What the audit stack watches for: the CIS metric filters and the ML control-plane event patterns.

Plain data and pure functions, so tests can evaluate every pattern against
sample CloudTrail records without synthesizing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

API_CALL = "AWS API Call via CloudTrail"
ISSUER = "userIdentity.sessionContext.sessionIssuer.arn"


@dataclass(frozen=True)
class CisFilter:
    """One Security Hub control: its id, the metric it feeds and the exact CloudWatch Logs filter pattern."""

    control: str
    metric: str
    title: str
    pattern: str


# Security Hub's exact patterns (its checks fail on any added term), from the CloudWatch
# controls page of the Security Hub user guide (CIS AWS Foundations Benchmark v1.2.0 / v1.4.0).
CIS_FILTERS: tuple[CisFilter, ...] = (
    CisFilter("CloudWatch.1", "RootUserUsage", "Usage of the root user",
              '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}'),
    CisFilter("CloudWatch.2", "UnauthorizedApiCalls", "Unauthorized API calls",
              '{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}'),
    CisFilter("CloudWatch.3", "ConsoleSignInWithoutMfa", "Management Console sign-in without MFA",
              '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && '
              '($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }'),
    CisFilter("CloudWatch.4", "IamPolicyChanges", "IAM policy changes",
              "{($.eventName=DeleteGroupPolicy) || ($.eventName=DeleteRolePolicy) || ($.eventName=DeleteUserPolicy) || "
              "($.eventName=PutGroupPolicy) || ($.eventName=PutRolePolicy) || ($.eventName=PutUserPolicy) || "
              "($.eventName=CreatePolicy) || ($.eventName=DeletePolicy) || ($.eventName=CreatePolicyVersion) || "
              "($.eventName=DeletePolicyVersion) || ($.eventName=AttachRolePolicy) || ($.eventName=DetachRolePolicy) || "
              "($.eventName=AttachUserPolicy) || ($.eventName=DetachUserPolicy) || ($.eventName=AttachGroupPolicy) || "
              "($.eventName=DetachGroupPolicy)}"),
    CisFilter("CloudWatch.5", "CloudTrailChanges", "CloudTrail configuration changes",
              "{($.eventName=CreateTrail) || ($.eventName=UpdateTrail) || ($.eventName=DeleteTrail) || "
              "($.eventName=StartLogging) || ($.eventName=StopLogging)}"),
    CisFilter("CloudWatch.6", "ConsoleAuthenticationFailures", "Management Console authentication failures",
              '{($.eventName=ConsoleLogin) && ($.errorMessage="Failed authentication")}'),
    CisFilter("CloudWatch.7", "CmkDisabledOrScheduledForDeletion",
              "Disabling or scheduled deletion of customer managed keys",
              "{($.eventSource=kms.amazonaws.com) && (($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}"),
    CisFilter("CloudWatch.8", "S3BucketPolicyChanges", "S3 bucket policy changes",
              "{($.eventSource=s3.amazonaws.com) && (($.eventName=PutBucketAcl) || ($.eventName=PutBucketPolicy) || "
              "($.eventName=PutBucketCors) || ($.eventName=PutBucketLifecycle) || ($.eventName=PutBucketReplication) || "
              "($.eventName=DeleteBucketPolicy) || ($.eventName=DeleteBucketCors) || ($.eventName=DeleteBucketLifecycle) || "
              "($.eventName=DeleteBucketReplication))}"),
    CisFilter("CloudWatch.9", "ConfigChanges", "AWS Config configuration changes",
              "{($.eventSource=config.amazonaws.com) && (($.eventName=StopConfigurationRecorder) || "
              "($.eventName=DeleteDeliveryChannel) || ($.eventName=PutDeliveryChannel) || "
              "($.eventName=PutConfigurationRecorder))}"),
    CisFilter("CloudWatch.10", "SecurityGroupChanges", "Security group changes",
              "{($.eventName=AuthorizeSecurityGroupIngress) || ($.eventName=AuthorizeSecurityGroupEgress) || "
              "($.eventName=RevokeSecurityGroupIngress) || ($.eventName=RevokeSecurityGroupEgress) || "
              "($.eventName=CreateSecurityGroup) || ($.eventName=DeleteSecurityGroup)}"),
    CisFilter("CloudWatch.11", "NaclChanges", "Network ACL changes",
              "{($.eventName=CreateNetworkAcl) || ($.eventName=CreateNetworkAclEntry) || ($.eventName=DeleteNetworkAcl) || "
              "($.eventName=DeleteNetworkAclEntry) || ($.eventName=ReplaceNetworkAclEntry) || "
              "($.eventName=ReplaceNetworkAclAssociation)}"),
    CisFilter("CloudWatch.12", "NetworkGatewayChanges", "Network gateway changes",
              "{($.eventName=CreateCustomerGateway) || ($.eventName=DeleteCustomerGateway) || "
              "($.eventName=AttachInternetGateway) || ($.eventName=CreateInternetGateway) || "
              "($.eventName=DeleteInternetGateway) || ($.eventName=DetachInternetGateway)}"),
    CisFilter("CloudWatch.13", "RouteTableChanges", "Route table changes",
              "{($.eventName=CreateRoute) || ($.eventName=CreateRouteTable) || ($.eventName=ReplaceRoute) || "
              "($.eventName=ReplaceRouteTableAssociation) || ($.eventName=DeleteRouteTable) || "
              "($.eventName=DeleteRoute) || ($.eventName=DisassociateRouteTable)}"),
    CisFilter("CloudWatch.14", "VpcChanges", "VPC changes",
              "{($.eventName=CreateVpc) || ($.eventName=DeleteVpc) || ($.eventName=ModifyVpcAttribute) || "
              "($.eventName=AcceptVpcPeeringConnection) || ($.eventName=CreateVpcPeeringConnection) || "
              "($.eventName=DeleteVpcPeeringConnection) || ($.eventName=RejectVpcPeeringConnection) || "
              "($.eventName=AttachClassicLinkVpc) || ($.eventName=DetachClassicLinkVpc) || "
              "($.eventName=DisableVpcClassicLink) || ($.eventName=EnableVpcClassicLink)}"),
)  # fmt: skip

LAKE_FORMATION_PERMISSION_CALLS = (
    "GrantPermissions", "RevokePermissions", "BatchGrantPermissions", "BatchRevokePermissions",
)  # fmt: skip
MODEL_PACKAGE_CALLS = ("CreateModelPackage", "UpdateModelPackage")
ENDPOINT_CALLS = ("CreateEndpoint", "UpdateEndpoint", "DeleteEndpoint", "CreateEndpointConfig", "DeleteEndpointConfig")
ENDPOINT_WEIGHT_CALLS = ("UpdateEndpointWeightsAndCapacities",)
PIPELINE_CALLS = ("CreatePipeline", "UpdatePipeline", "DeletePipeline")
BUCKET_CONTROL_CALLS = (
    "PutBucketPolicy", "DeleteBucketPolicy", "PutBucketEncryption", "DeleteBucketEncryption",
    "PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock",
)  # fmt: skip
KEY_CONTROL_CALLS = ("PutKeyPolicy", "ScheduleKeyDeletion", "DisableKey", "DisableKeyRotation")


def _issuer(pattern: Any) -> dict[str, Any]:
    head, *rest = ISSUER.split(".")
    node: Any = pattern
    for part in reversed(rest):
        node = {part: node}
    return {head: node}


def outside(principals: list[str]) -> list[dict[str, Any]]:
    """``$or`` branches: a call by a role session not issued by ``principals``, or by no role at all.

    ``anything-but`` needs the field: without the second branch, calls by IAM users
    or the root user (no session issuer) would slip through.
    """
    return [_issuer([{"anything-but": principals}]), _issuer([{"exists": False}])]


def api_calls(
    source: str, calls: tuple[str, ...], *, excluding: list[str] | None = None, **detail: Any
) -> dict[str, Any]:
    """An EventBridge pattern for CloudTrail-recorded ``calls`` of service ``source`` (``sagemaker``).

    :param excluding: role ARNs whose sessions are expected to make these calls (None: alert on every call).
    :param detail: further ``detail`` fields to match (``requestParameters={...}``).
    """
    body: dict[str, Any] = {"eventSource": [f"{source}.amazonaws.com"], "eventName": list(calls), **detail}
    if excluding:
        body["$or"] = outside(excluding)
    return {"source": [f"aws.{source}"], "detail-type": [API_CALL], "detail": body}


def ml_patterns(
    *,
    deployers: list[str],
    approvers: list[str],
    weight_setters: list[str],
    endpoint_deployers: list[str],
    pipeline_prefix: str,
    buckets: list[str],
    keys: list[str],
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Rule id -> (description, EventBridge pattern) of the ML control-plane alerts.

    :param deployers: role ARNs of ``cdk deploy`` (the CloudFormation execution role).
    :param approvers: role ARNs that approve model packages; empty: every approval alerts.
    :param weight_setters: role ARNs that shift variant weights (the promotion function).
    :param endpoint_deployers: role ARNs that CloudFormation uses to update the endpoint.
    :param pipeline_prefix: name prefix of the platform's SageMaker pipelines.
    :param buckets: names of the data-lake and audit buckets.
    :param keys: ARNs of the platform's KMS keys.
    """
    approved = {"requestParameters": {"modelApprovalStatus": ["Approved"]}}
    return {
        "LakeFormationPermissions": (
            "Lake Formation permissions granted or revoked",
            api_calls("lakeformation", LAKE_FORMATION_PERMISSION_CALLS),
        ),
        "ModelApprovedOutsideApprovers": (
            "A model package approved by someone other than the profile's approvers",
            api_calls("sagemaker", MODEL_PACKAGE_CALLS, excluding=approvers, **approved),
        ),
        "EndpointChangedOutsideDeploy": (
            "An endpoint or endpoint config changed outside the CloudFormation deploy roles",
            api_calls("sagemaker", ENDPOINT_CALLS, excluding=deployers + endpoint_deployers),
        ),
        "EndpointWeightsChangedOutsidePromotion": (
            "Variant weights changed by someone other than the promotion function or a deploy",
            api_calls("sagemaker", ENDPOINT_WEIGHT_CALLS, excluding=deployers + endpoint_deployers + weight_setters),
        ),
        "PipelineChangedOutsideDeploy": (
            "A platform pipeline definition changed outside cdk deploy",
            api_calls(
                "sagemaker",
                PIPELINE_CALLS,
                excluding=deployers,
                requestParameters={"pipelineName": [{"prefix": pipeline_prefix}]},
            ),
        ),
        "BucketControlsChangedOutsideDeploy": (
            "A data-lake or audit bucket's policy, encryption or public access block changed outside cdk deploy",
            api_calls("s3", BUCKET_CONTROL_CALLS, excluding=deployers, requestParameters={"bucketName": buckets}),
        ),
        "KeyControlsChangedOutsideDeploy": (
            "A platform KMS key's policy, state or rotation changed outside cdk deploy",
            api_calls("kms", KEY_CONTROL_CALLS, excluding=deployers, resources={"ARN": keys}),
        ),
    }
