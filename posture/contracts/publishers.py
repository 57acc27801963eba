"""Which AWS services publish into which topics and queues, and what their requests carry.

A service publishing into an encrypted SNS topic or SQS queue makes two requests: ``sns:Publish``
(or ``sqs:SendMessage``) evaluated by the resource's policy, and ``kms:GenerateDataKey`` /
``kms:Decrypt`` evaluated by the key policy. The condition keys differ per service and per
request; ``SERVICES`` records what each service sends, with the page that says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from posture.contracts.iam import Request, evaluate, statements_of
from posture.contracts.model import Assembly, Resource


@dataclass(frozen=True)
class Publisher:
    principal: str
    resource_keys: tuple[str, ...]  # global condition keys sent with sns:Publish / sqs:SendMessage
    key_keys: tuple[str, ...]  # ... and with the KMS requests on the topic's or queue's key
    sources: tuple[str, ...]


SERVICES: dict[str, Publisher] = {
    "cloudwatch": Publisher(
        "cloudwatch.amazonaws.com",
        ("aws:SourceAccount", "aws:SourceArn"),
        ("aws:SourceAccount", "aws:SourceArn"),
        (
            "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services",
            "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html",
        ),
    ),
    "events": Publisher(
        "events.amazonaws.com",
        ("aws:SourceAccount", "aws:SourceArn"),
        # EventBridge sends neither key to KMS when it uses an encrypted target's key: a key policy
        # statement conditioned on them never matches and every delivery is dropped.
        (),
        (
            "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services",
            "https://repost.aws/knowledge-center/sns-not-getting-eventbridge-notification",
            "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions",
        ),
    ),
}
KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
# The encryption context SNS and SQS put on every KMS request for a topic's or queue's messages
# (SNS developer guide, "Encryption at rest"; SQS developer guide, "Encryption context").
ENCRYPTION_CONTEXT = {
    "sns": "kms:EncryptionContext:aws:sns:topicArn",
    "sqs": "kms:EncryptionContext:aws:sqs:arn",
}


@dataclass(frozen=True)
class Delivery:
    """``service`` (acting for ``source_arn``) sends into ``target_arn`` (a topic or a queue)."""

    service: str
    source: Resource
    source_arn: str
    target_arn: str


def _target_kind(arn: str) -> str | None:
    return next((k for k in ("sns", "sqs") if arn.startswith(f"arn:aws:{k}:")), None)


def deliveries(asm: Assembly) -> list[Delivery]:
    """Every alarm action into a topic, every EventBridge target and dead-letter queue that is a topic or queue."""
    out = []
    for alarm in asm.resources("AWS::CloudWatch::Alarm"):
        props = asm.props(alarm)
        arn = asm.get_att(alarm.stack, alarm.logical_id, "Arn")
        for action in {a for k in ("AlarmActions", "OKActions", "InsufficientDataActions") for a in props.get(k, [])}:
            if _target_kind(action) == "sns":
                out.append(Delivery("cloudwatch", alarm, arn, action))
    for rule in asm.resources("AWS::Events::Rule"):
        arn = asm.get_att(rule.stack, rule.logical_id, "Arn")
        for target in asm.props(rule).get("Targets", []):
            for target_arn in (target["Arn"], target.get("DeadLetterConfig", {}).get("Arn")):
                if target_arn and _target_kind(target_arn):
                    out.append(Delivery("events", rule, arn, target_arn))
    return out


def _resource_policy(asm: Assembly, target_arn: str) -> list[dict] | None:
    target = asm.find(target_arn)
    if target is None:
        return None
    policy_type, list_prop = (
        ("AWS::SNS::TopicPolicy", "Topics") if target.type == "AWS::SNS::Topic" else ("AWS::SQS::QueuePolicy", "Queues")
    )
    references = {asm.resolve(target.stack, {"Ref": target.logical_id}), target_arn}
    statements: list[dict] = []
    found = False
    for policy in asm.resources(policy_type):
        props = asm.props(policy)
        if references & set(props.get(list_prop, [])):
            found = True
            statements += statements_of(props["PolicyDocument"])
    return statements if found else None


def _target_key(asm: Assembly, target_arn: str) -> str | None:
    target = asm.find(target_arn)
    if target is None:
        return None
    return asm.props(target).get("KmsMasterKeyId")


def delivery_problems(asm: Assembly, delivery: Delivery) -> list[str]:
    publisher = SERVICES[delivery.service]
    full = {"aws:SourceAccount": asm.account, "aws:SourceArn": delivery.source_arn, "aws:SecureTransport": "true"}
    principal = {"Service": publisher.principal}
    label = f"{delivery.source.stack}/{delivery.source.logical_id} -> {delivery.target_arn}"
    problems = []
    kind = _target_kind(delivery.target_arn)
    action = "sns:Publish" if kind == "sns" else "sqs:SendMessage"
    statements = _resource_policy(asm, delivery.target_arn)
    if statements is None:
        if asm.find(delivery.target_arn) is None:
            problems.append(f"{label}: target is not a resource of the assembly")
        elif kind == "sqs":
            problems.append(f"{label}: the queue has no policy, so {publisher.principal} may not send to it")
        # A topic with no TopicPolicy keeps SNS's default policy, which admits the account's services.
    else:
        context = {k: v for k, v in full.items() if k in publisher.resource_keys or k == "aws:SecureTransport"}
        decision = evaluate(statements, Request(action, delivery.target_arn, context, principal))
        if not decision.allowed:
            problems.append(
                f"{label}: its policy does not admit {action} from {publisher.principal} ({decision.effect})"
            )
    key_arn = _target_key(asm, delivery.target_arn)
    if key_arn:
        key = asm.find(key_arn)
        if key is None or key.type != "AWS::KMS::Key":
            problems.append(f"{label}: encrypted with {key_arn}, not a key of the assembly (an AWS managed key "
                            "admits no service principal)")  # fmt: skip
        else:
            key_statements = statements_of(asm.props(key)["KeyPolicy"])
            context = {k: v for k, v in full.items() if k in publisher.key_keys}
            # SNS and SQS bind each data key to the topic or queue (their SSE encryption context).
            kind = _target_kind(delivery.target_arn)
            if kind in ENCRYPTION_CONTEXT:
                context[ENCRYPTION_CONTEXT[kind]] = delivery.target_arn
            for key_action in KEY_ACTIONS:
                decision = evaluate(key_statements, Request(key_action, "*", context, principal))
                if not decision.allowed:
                    problems.append(
                        f"{label}: key {key.logical_id} does not admit {key_action} from {publisher.principal} "
                        f"with the keys it sends ({', '.join(publisher.key_keys) or 'no aws:Source* keys'})"
                    )
    return problems


# ---- EventBridge -> Lambda, and Lambda's own asynchronous destinations -----------------------------
def _function(asm: Assembly, value: str) -> Resource | None:
    """The function named by an ARN, a name, or an ARN with a qualifier."""
    res = asm.find(value)
    if res is None and value.startswith("arn:") and value.count(":") == 7:
        res = asm.find(value.rsplit(":", 1)[0])
    return res if res is not None and res.type == "AWS::Lambda::Function" else None


def invoke_problems(asm: Assembly) -> list[str]:
    """Every EventBridge rule targeting a function is admitted by one of the function's permissions."""
    problems = []
    permissions = [asm.props(p) for p in asm.resources("AWS::Lambda::Permission")]
    for rule in asm.resources("AWS::Events::Rule"):
        rule_arn = asm.get_att(rule.stack, rule.logical_id, "Arn")
        for target in asm.props(rule).get("Targets", []):
            function = _function(asm, target["Arn"])
            if function is None:
                continue
            admitted = any(
                _function(asm, p["FunctionName"]) == function
                and p["Action"] in ("lambda:InvokeFunction", "lambda:*")
                and p["Principal"] == SERVICES["events"].principal
                and p.get("SourceArn", rule_arn) == rule_arn
                and p.get("SourceAccount", asm.account) == asm.account
                for p in permissions
            )
            if not admitted:
                problems.append(f"{rule.logical_id} -> {function.logical_id}: no permission admits the rule")
    return problems


_DESTINATION_ACTIONS = {"sqs": "sqs:SendMessage", "sns": "sns:Publish", "lambda": "lambda:InvokeFunction",
                        "events": "events:PutEvents"}  # fmt: skip


def destination_problems(asm: Assembly) -> list[str]:
    """Lambda sends asynchronous-invocation records to a destination as the function's execution role."""
    from posture.contracts.access import key_admits_role, role_allows, role_of_function

    problems = []
    for config in asm.resources("AWS::Lambda::EventInvokeConfig"):
        props = asm.props(config)
        function = _function(asm, props["FunctionName"])
        if function is None:
            problems.append(f"{config.logical_id}: function {props['FunctionName']} is not in the assembly")
            continue
        role = role_of_function(asm, function)
        region = asm.regions[function.stack]
        for outcome, destination in props.get("DestinationConfig", {}).items():
            arn = destination.get("Destination", "")
            kind = arn.split(":")[2] if arn.startswith("arn:") else ""
            label = f"{function.logical_id} {outcome} -> {arn}"
            context = {"aws:SecureTransport": "true", "aws:PrincipalAccount": asm.account}
            if kind not in _DESTINATION_ACTIONS:
                problems.append(f"{label}: not a destination Lambda supports")
                continue
            request = Request(_DESTINATION_ACTIONS[kind], arn, context)
            if not role_allows(asm, role, request):
                problems.append(f"{label}: role {role.logical_id} does not allow {request.action}")
            statements = _resource_policy(asm, arn) if kind in ("sqs", "sns") else None
            role_arn = asm.get_att(role.stack, role.logical_id, "Arn")
            if (
                statements
                and evaluate(statements, Request(request.action, arn, context, {"AWS": role_arn})).effect == "Deny"
            ):
                problems.append(f"{label}: the destination's policy denies {request.action}")
            key_arn = _target_key(asm, arn) if kind in ("sqs", "sns") else None
            if key_arn and asm.find(key_arn) is not None:
                via = {**context, "kms:ViaService": f"{kind}.{region}.amazonaws.com"}
                for action in KEY_ACTIONS:
                    key_request = Request(action, key_arn, via)
                    if not role_allows(asm, role, key_request):
                        problems.append(f"{label}: role {role.logical_id} does not allow {action} on {key_arn}")
                    if not key_admits_role(asm, key_arn, key_request, role):
                        problems.append(f"{label}: key policy of {key_arn} does not admit {action}")
            elif key_arn:
                problems.append(f"{label}: encrypted with {key_arn}, not a customer key of the assembly")
    return problems


# ---- CloudWatch Logs encrypting log groups with a customer key ------------------------------------
LOGS_KEY_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:GenerateDataKey", "kms:DescribeKey")
LOGS_SOURCE = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"


def _logs_key_problems(asm: Assembly, label: str, key_arn: str, group_arn: str, region: str) -> list[str]:
    key = asm.find(key_arn)
    if key is None or key.type != "AWS::KMS::Key":
        return [f"{label}: {key_arn} is not a customer key of the assembly"]
    statements = statements_of(asm.props(key)["KeyPolicy"])
    # CloudWatch Logs calls KMS with the log group's ARN as encryption context (see LOGS_SOURCE).
    context = {"kms:EncryptionContext:aws:logs:arn": group_arn}
    principal = {"Service": f"logs.{region}.amazonaws.com"}
    return [
        f"{label}: key {key.logical_id} does not admit {action} from {principal['Service']}"
        for action in LOGS_KEY_ACTIONS
        if not evaluate(statements, Request(action, "*", context, principal)).allowed
    ]


def log_key_problems(asm: Assembly) -> list[str]:
    """Every encrypted log group's key, and every Glue security configuration's CloudWatch key, admits Logs."""
    problems = []
    for group in asm.resources("AWS::Logs::LogGroup"):
        key = asm.props(group).get("KmsKeyId")
        if key:
            arn = asm.get_att(group.stack, group.logical_id, "Arn").removesuffix(":*")
            problems += _logs_key_problems(asm, f"{group.stack}/{group.logical_id}", key, arn, asm.regions[group.stack])
    for config in asm.resources("AWS::Glue::SecurityConfiguration"):
        cloudwatch = asm.props(config)["EncryptionConfiguration"].get("CloudWatchEncryption", {})
        if cloudwatch.get("CloudWatchEncryptionMode") == "SSE-KMS":
            region = asm.regions[config.stack]
            arn = f"arn:aws:logs:{region}:{asm.account}:log-group:/aws-glue/jobs/logs-v2"
            problems += _logs_key_problems(asm, f"{config.stack}/{config.logical_id}", cloudwatch["KmsKeyArn"], arn, region)  # fmt: skip
    return problems
