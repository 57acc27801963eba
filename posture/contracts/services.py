"""What AWS services do as a role the templates hand them, derived from the templates.

SageMaker reads a pipeline step's S3 inputs and writes its outputs as the job's role, and
creates grants on the volume key; Firehose reads the stream, invokes the transform, writes
the bucket and the log stream as the delivery role; an endpoint's model role fetches the
model artifact and writes data capture; Glue reads its script and paths as the job role.
Each is a list of ``Need``: the role, the request AWS evaluates, and the key policy that
must admit it when the request is a KMS one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from posture.contracts.access import bucket_key, key_admits_role, reaches, role_allows
from posture.contracts.iam import Request
from posture.contracts.model import Assembly, Resource


@dataclass(frozen=True)
class Need:
    who: str  # what acts: "pipeline step Preprocess", "Firehose DeliveryStream"...
    role_arn: str
    request: Request
    why: str


def _context(asm: Assembly, region: str, **extra: str) -> dict[str, str]:
    return {"aws:SecureTransport": "true", "aws:RequestedRegion": region, "aws:PrincipalAccount": asm.account,
            **extra}  # fmt: skip


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def s3_reads(asm: Assembly, who: str, role: str, uri: str, region: str, *, prefix: bool) -> list[Need]:
    """Reading ``uri``: a prefix is listed (s3:prefix = its key) and every object under it fetched."""
    bucket, key = _split(uri)
    via = _context(asm, region, **{"kms:ViaService": f"s3.{region}.amazonaws.com"})
    needs = []
    if prefix:
        needs.append(Need(who, role, Request("s3:ListBucket", f"arn:aws:s3:::{bucket}", _context(asm, region, **{"s3:prefix": key})), f"list {uri}"))  # fmt: skip
    obj = key if not prefix or re.search(r"\.(gz|zip|py|json|csv|tar)$", key) else f"{key.rstrip('/')}/part-00000"
    needs.append(Need(who, role, Request("s3:GetObject", f"arn:aws:s3:::{bucket}/{obj}", _context(asm, region)), f"read {uri}"))  # fmt: skip
    if key_arn := bucket_key(asm, bucket):
        needs.append(Need(who, role, Request("kms:Decrypt", key_arn, via), f"decrypt objects of {uri}"))
    return needs


def s3_writes(asm: Assembly, who: str, role: str, uri: str, region: str, key_arn: str | None = None) -> list[Need]:
    bucket, key = _split(uri)
    via = _context(asm, region, **{"kms:ViaService": f"s3.{region}.amazonaws.com"})
    obj = f"{key.rstrip('/')}/part-00000" if key else "part-00000"
    needs = [Need(who, role, Request("s3:PutObject", f"arn:aws:s3:::{bucket}/{obj}", _context(asm, region)), f"write {uri}")]  # fmt: skip
    if key_arn := key_arn or bucket_key(asm, bucket):
        needs.append(Need(who, role, Request("kms:GenerateDataKey", key_arn, via), f"encrypt objects of {uri}"))
    return needs


def volume_grant(asm: Assembly, who: str, role: str, key_arn: str, region: str) -> Need:
    context = _context(asm, region, **{"kms:GrantIsForAWSResource": "true", "kms:ViaService": f"sagemaker.{region}.amazonaws.com"})  # fmt: skip
    return Need(who, role, Request("kms:CreateGrant", key_arn, context), "attach the volume key")


# ---- SageMaker pipelines -----------------------------------------------------------------------
class _PipelineValues:
    """Evaluates a pipeline definition's expressions: parameter defaults, step properties, joins."""

    def __init__(self, body: dict) -> None:
        self.parameters = {p["Name"]: p.get("DefaultValue") for p in body.get("Parameters", [])}
        self.steps = {s["Name"]: s for s in all_steps(body["Steps"])}

    def __call__(self, value: object) -> object:
        if isinstance(value, dict) and "Get" in value:
            return self._get(value["Get"])
        if isinstance(value, dict) and "Std:Join" in value:
            join = value["Std:Join"]
            return join["On"].join(str(self(v)) for v in join["Values"])
        if isinstance(value, dict) and "Std:JsonGet" in value:
            return "json-value"
        return value

    def _get(self, path: str) -> object:
        if path.startswith("Parameters."):
            return self(self.parameters[path.split(".", 1)[1]])
        if path == "Execution.PipelineExecutionId":
            return "execution-id"
        match = re.match(r"Steps\.(\w+)\.ProcessingOutputConfig\.Outputs\['(\w+)'\]\.S3Output\.S3Uri", path)
        if match:
            step, name = match.groups()
            outputs = self.steps[step]["Arguments"]["ProcessingOutputConfig"]["Outputs"]
            return self(next(o for o in outputs if o["OutputName"] == name)["S3Output"]["S3Uri"])
        return re.sub(r"\W+", "-", path).strip("-").lower()  # a job name or other runtime value: opaque


def all_steps(steps: list[dict]) -> list[dict]:
    out = []
    for step in steps:
        out.append(step)
        if step["Type"] == "Condition":
            out += all_steps(step["Arguments"].get("IfSteps", []) + step["Arguments"].get("ElseSteps", []))
    return out


def pipeline_needs(asm: Assembly, pipeline: Resource) -> list[Need]:
    props = asm.props(pipeline)
    body = json.loads(props["PipelineDefinition"]["PipelineDefinitionBody"])
    value = _PipelineValues(body)
    region = asm.regions[pipeline.stack]
    needs: list[Need] = []
    for step in all_steps(body["Steps"]):
        args, who = step.get("Arguments", {}), f"pipeline step {step['Name']}"
        if step["Type"] == "Processing":
            role = args["RoleArn"]
            for item in args.get("ProcessingInputs", []):
                s3 = item.get("S3Input")
                if s3:
                    needs += s3_reads(asm, who, role, str(value(s3["S3Uri"])), region, prefix=s3["S3DataType"] == "S3Prefix")  # fmt: skip
            output_config = args.get("ProcessingOutputConfig", {})
            for item in output_config.get("Outputs", []):
                needs += s3_writes(asm, who, role, str(value(item["S3Output"]["S3Uri"])), region, output_config.get("KmsKeyId"))  # fmt: skip
            volume = args.get("ProcessingResources", {}).get("ClusterConfig", {}).get("VolumeKmsKeyId")
            if volume:
                needs.append(volume_grant(asm, who, role, volume, region))
        elif step["Type"] in ("Training", "Tuning"):
            definitions = [args] if step["Type"] == "Training" else [args["TrainingJobDefinition"], *args.get("TrainingJobDefinitions", [])]  # fmt: skip
            for job in definitions:
                role = job["RoleArn"]
                for channel in job.get("InputDataConfig", []):
                    s3 = channel["DataSource"].get("S3DataSource")
                    if s3:
                        needs += s3_reads(asm, who, role, str(value(s3["S3Uri"])), region, prefix=s3["S3DataType"] == "S3Prefix")  # fmt: skip
                output = job.get("OutputDataConfig", {})
                if output.get("S3OutputPath"):
                    needs += s3_writes(asm, who, role, str(value(output["S3OutputPath"])), region, output.get("KmsKeyId"))  # fmt: skip
                if job.get("CheckpointConfig", {}).get("S3Uri"):
                    uri = str(value(job["CheckpointConfig"]["S3Uri"]))
                    needs += s3_writes(asm, who, role, uri, region) + s3_reads(asm, who, role, uri, region, prefix=True)
                volume = job.get("ResourceConfig", {}).get("VolumeKmsKeyId")
                if volume:
                    needs.append(volume_grant(asm, who, role, volume, region))
        if step["Type"] in ("Processing", "Training", "Tuning"):
            passed = args.get("RoleArn") or args.get("TrainingJobDefinition", {}).get("RoleArn")
            context = _context(asm, region, **{"iam:PassedToService": "sagemaker.amazonaws.com"})
            needs.append(Need(f"pipeline {pipeline.logical_id}", props["RoleArn"], Request("iam:PassRole", passed, context), f"start step {step['Name']}"))  # fmt: skip
    return needs


def pipeline_networks(asm: Assembly, pipeline: Resource) -> list[tuple[str, list[str], list[str]]]:
    """(step, subnets, security groups) of every VPC step: SageMaker moves its S3 data through them."""
    body = json.loads(asm.props(pipeline)["PipelineDefinition"]["PipelineDefinitionBody"])
    out = []
    for step in all_steps(body["Steps"]):
        args = step.get("Arguments", {})
        vpc = args.get("NetworkConfig", {}).get("VpcConfig") or args.get("TrainingJobDefinition", {}).get("VpcConfig")
        if vpc:
            out.append((step["Name"], vpc["Subnets"], vpc["SecurityGroupIds"]))
    return out


# ---- Firehose ----------------------------------------------------------------------------------
def _render_prefix(prefix: str) -> str:
    return re.sub(r"!\{[^}]+\}", "x", prefix)


def firehose_needs(asm: Assembly, stream: Resource) -> list[Need]:
    """The delivery role's documented needs: https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html"""
    props = asm.props(stream)
    region = asm.regions[stream.stack]
    who = f"Firehose {stream.logical_id}"
    needs: list[Need] = []
    source = props.get("KinesisStreamSourceConfiguration")
    if source:
        role, arn = source["RoleARN"], source["KinesisStreamARN"]
        for action in (
            "kinesis:DescribeStream",
            "kinesis:GetShardIterator",
            "kinesis:GetRecords",
            "kinesis:ListShards",
        ):
            needs.append(Need(who, role, Request(action, arn, _context(asm, region)), "read the source stream"))
        kinesis = asm.find(arn)
        key = asm.props(kinesis).get("StreamEncryption", {}).get("KeyId") if kinesis else None
        if key:
            via = _context(asm, region, **{"kms:ViaService": f"kinesis.{region}.amazonaws.com"})
            needs.append(Need(who, role, Request("kms:Decrypt", key, via), "decrypt the source stream"))
    dest = props.get("ExtendedS3DestinationConfiguration")
    if dest:
        role, bucket_arn = dest["RoleARN"], dest["BucketARN"]
        bucket = bucket_arn.split(":::", 1)[1]
        key = dest.get("EncryptionConfiguration", {}).get("KMSEncryptionConfig", {}).get("AWSKMSKeyARN")
        for prefix in (dest.get("Prefix", ""), dest.get("ErrorOutputPrefix", "")):
            needs += s3_writes(asm, who, role, f"s3://{bucket}/{_render_prefix(prefix)}", region, key)
            needs.append(Need(who, role, Request("s3:AbortMultipartUpload", f"{bucket_arn}/{_render_prefix(prefix)}part", _context(asm, region)), "abort uploads"))  # fmt: skip
        # Firehose calls both on the bucket with no s3:prefix: a prefix condition on them denies delivery.
        for action in ("s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"):
            needs.append(Need(who, role, Request(action, bucket_arn, _context(asm, region)), "inspect the bucket"))
        for processor in dest.get("ProcessingConfiguration", {}).get("Processors", []):
            parameters = {p["ParameterName"]: p["ParameterValue"] for p in processor.get("Parameters", [])}
            if processor.get("Type") == "Lambda":
                invoker = parameters.get("RoleArn", role)
                for action in ("lambda:InvokeFunction", "lambda:GetFunctionConfiguration"):
                    needs.append(Need(who, invoker, Request(action, parameters["LambdaArn"], _context(asm, region)), "invoke the transform"))  # fmt: skip
        logging = dest.get("CloudWatchLoggingOptions", {})
        if logging.get("Enabled"):
            arn = f"arn:aws:logs:{region}:{asm.account}:log-group:{logging['LogGroupName']}:log-stream:{logging['LogStreamName']}"
            needs.append(
                Need(who, role, Request("logs:PutLogEvents", arn, _context(asm, region)), "log delivery errors")
            )
    return needs


# ---- endpoints ---------------------------------------------------------------------------------
def endpoint_needs(asm: Assembly, endpoint: Resource) -> list[Need]:
    props = asm.props(endpoint)
    region = asm.regions[endpoint.stack]
    config_res = asm.find(props["EndpointConfigName"])
    assert config_res is not None, f"{endpoint.logical_id}: endpoint config not in the assembly"
    config = asm.props(config_res)
    alarms = [a["AlarmName"] for a in props.get("DeploymentConfig", {}).get("AutoRollbackConfiguration", {}).get("Alarms", [])]  # fmt: skip
    needs: list[Need] = []
    for variant in config["ProductionVariants"] + config.get("ShadowProductionVariants", []):
        model_res = asm.find(variant["ModelName"])
        if model_res is None:
            continue
        model = asm.props(model_res)
        role, who = model["ExecutionRoleArn"], f"model {model_res.logical_id}"
        for container in [model.get("PrimaryContainer"), *model.get("Containers", [])]:
            if container and container.get("ModelDataUrl"):
                needs += s3_reads(asm, who, role, container["ModelDataUrl"], region, prefix=False)
        capture = config.get("DataCaptureConfig")
        if capture and capture.get("EnableCapture"):
            needs += s3_writes(asm, who, role, capture["DestinationS3Uri"], region, capture.get("KmsKeyId"))
        # "Ensure that your IAM execution role has permission to perform cloudwatch:DescribeAlarms on the
        # auto-rollback alarms" (SageMaker deployment guardrails guide).
        for alarm in alarms:
            arn = f"arn:aws:cloudwatch:{region}:{asm.account}:alarm:{alarm}"
            needs.append(Need(who, role, Request("cloudwatch:DescribeAlarms", arn, _context(asm, region)), "read rollback alarms"))  # fmt: skip
    endpoint_arn = asm.get_att(endpoint.stack, endpoint.logical_id, "Arn")
    update = Request("sagemaker:UpdateEndpoint", endpoint_arn, _context(asm, region))
    for role in asm.resources("AWS::IAM::Role"):
        if not role_allows(asm, role, update):
            continue
        role_arn, who = asm.get_att(role.stack, role.logical_id, "Arn"), f"endpoint updater {role.logical_id}"
        # UpdateEndpoint authorizes the endpoint and the endpoint config it moves to (Service Authorization
        # Reference: resource types endpoint* and endpoint-config*); CloudFormation names each new config.
        config_arn = asm.get_att(config_res.stack, config_res.logical_id, "Arn")
        needs.append(Need(who, role_arn, Request("sagemaker:UpdateEndpoint", config_arn, _context(asm, region)), "the new endpoint config"))  # fmt: skip
        for alarm in alarms:
            arn = f"arn:aws:cloudwatch:{region}:{asm.account}:alarm:{alarm}"
            needs.append(Need(who, role_arn, Request("cloudwatch:DescribeAlarms", arn, _context(asm, region)), "rollback alarms of an update"))  # fmt: skip
        if config.get("KmsKeyId"):
            via = _context(asm, region, **{"kms:ViaService": f"sagemaker.{region}.amazonaws.com", "kms:GrantIsForAWSResource": "true"})  # fmt: skip
            for action in ("kms:CreateGrant", "kms:DescribeKey"):
                needs.append(Need(who, role_arn, Request(action, config["KmsKeyId"], via), "encrypted endpoint config"))  # fmt: skip
    return needs


def endpoint_networks(asm: Assembly, endpoint: Resource) -> list[tuple[str, list[str], list[str]]]:
    config = asm.props(asm.find(asm.props(endpoint)["EndpointConfigName"]))  # type: ignore[arg-type]
    out = []
    for variant in config["ProductionVariants"]:
        model = asm.find(variant["ModelName"])
        vpc = asm.props(model).get("VpcConfig") if model else None
        if vpc:
            out.append((model.logical_id, vpc["Subnets"], vpc["SecurityGroupIds"]))  # type: ignore[union-attr]
    return out


# ---- Glue --------------------------------------------------------------------------------------
_GLUE_READS = ("--extra-py-files", "--raw_path")
_GLUE_WRITES = ("--TempDir", "--rejects_path", "--curated_path", "--stats_path")


def glue_job_needs(asm: Assembly, job: Resource) -> list[Need]:
    props = asm.props(job)
    region = asm.regions[job.stack]
    role, who = props["Role"], f"Glue job {job.logical_id}"
    if not role.startswith("arn:"):
        role = f"arn:aws:iam::{asm.account}:role/{role}"
    args = props.get("DefaultArguments", {})
    key = None
    for config in asm.resources("AWS::Glue::SecurityConfiguration"):
        if asm.props(config)["Name"] == props.get("SecurityConfiguration"):
            s3 = asm.props(config)["EncryptionConfiguration"].get("S3Encryptions", [{}])[0]
            key = s3.get("KmsKeyArn") if s3.get("S3EncryptionMode") == "SSE-KMS" else None
    needs = s3_reads(asm, who, role, props["Command"]["ScriptLocation"], region, prefix=False)
    for name in _GLUE_READS:
        for uri in filter(None, args.get(name, "").split(",")):
            needs += s3_reads(asm, who, role, uri, region, prefix=uri.endswith("/"))
    for name in _GLUE_WRITES:
        if args.get(name):
            needs += s3_writes(asm, who, role, args[name], region, key)
    context = _context(asm, region)
    if args.get("--enable-continuous-cloudwatch-log") == "true":
        group = f"arn:aws:logs:{region}:{asm.account}:log-group:/aws-glue/jobs/logs-v2"
        # With CloudWatch encryption in the security configuration, Glue associates the key with the group.
        actions = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey")
        needs += [Need(who, role, Request(a, group, context), "continuous logging") for a in actions]
    if args.get("--enable-metrics") == "true":
        metrics = _context(asm, region, **{"cloudwatch:namespace": "Glue"})
        needs.append(Need(who, role, Request("cloudwatch:PutMetricData", "*", metrics), "job metrics"))
    if args.get("--dq_ruleset"):
        arn = f"arn:aws:glue:{region}:{asm.account}:dataQualityRuleset/{args['--dq_ruleset']}"
        needs.append(Need(who, role, Request("glue:GetDataQualityRuleset", arn, context), "data-quality ruleset"))
    if args.get("--curated_database") and args.get("--curated_table"):
        db, table = args["--curated_database"], args["--curated_table"]
        for arn in (f"arn:aws:glue:{region}:{asm.account}:catalog", f"arn:aws:glue:{region}:{asm.account}:database/{db}",
                    f"arn:aws:glue:{region}:{asm.account}:table/{db}/{table}"):  # fmt: skip
            needs.append(Need(who, role, Request("glue:GetTable", arn, context), "curated table"))
    return needs


def glue_job_networks(asm: Assembly, job: Resource) -> list[tuple[str, list[str], list[str]]]:
    names = asm.props(job).get("Connections", {}).get("Connections", [])
    out = []
    for connection in asm.resources("AWS::Glue::Connection"):
        spec = asm.props(connection)["ConnectionInput"]
        if spec["Name"] in names:
            physical = spec["PhysicalConnectionRequirements"]
            out.append((spec["Name"], [physical["SubnetId"]], physical["SecurityGroupIdList"]))
    return out


# ---- checking ----------------------------------------------------------------------------------
def need_problems(asm: Assembly, need: Need) -> list[str]:
    role = asm.find(need.role_arn)
    label = f"{need.who} ({need.why})"
    if role is None or role.type != "AWS::IAM::Role":
        return [f"{label}: role {need.role_arn} is not a role of the assembly"]
    problems = []
    if not role_allows(asm, role, need.request):
        problems.append(f"{label}: role {role.logical_id} does not allow {need.request.action} on {need.request.resource}")  # fmt: skip
    is_key = need.request.action.startswith("kms:") and asm.find(need.request.resource)
    if is_key and not key_admits_role(asm, need.request.resource, need.request, role):
        problems.append(f"{label}: key policy of {need.request.resource} does not admit {need.request.action} by {role.logical_id}")  # fmt: skip
    return problems


def network_problems(asm: Assembly, who: str, subnets: list[str], groups: list[str], services: tuple[str, ...]) -> list[str]:  # fmt: skip
    return [f"{who}: {p}" for service in services for p in reaches(asm, subnets, groups, service)]
