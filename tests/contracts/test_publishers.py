"""Every topic and queue, and its key, admits every service wired to publish into it."""

from __future__ import annotations

from posture.contracts.publishers import (
    SERVICES,
    Delivery,
    deliveries,
    delivery_problems,
    destination_problems,
    invoke_problems,
    log_key_problems,
)


def test_every_wired_delivery_is_admitted_by_the_target_and_its_key(model) -> None:
    wired = deliveries(model)
    assert {d.service for d in wired} == {"cloudwatch", "events"}, "the platform wires alarms and rules to topics"
    problems = sorted({p for d in wired for p in delivery_problems(model, d)})
    assert not problems, "\n".join(problems)


def test_each_publisher_row_cites_its_source() -> None:
    for row in SERVICES.values():
        assert row.sources and all(
            s.startswith("https://docs.aws.amazon.com/") or "repost.aws" in s for s in row.sources
        )


def test_an_eventbridge_key_condition_on_source_account_is_caught(models) -> None:
    """The check itself: EventBridge sends no aws:SourceAccount to KMS, so a key statement that requires it fails."""
    asm = models["dev"]
    rule = next(r for r in asm.resources("AWS::Events::Rule") if "Failure" in r.logical_id)
    (topic_arn,) = [t["Arn"] for t in asm.props(rule)["Targets"]]
    key = asm.find(asm.props(asm.find(topic_arn))["KmsMasterKeyId"])
    policy = asm.props(key)["KeyPolicy"]
    conditioned = {**policy, "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
         "Resource": "*", "Condition": {"StringEquals": {"aws:SourceAccount": asm.account}}},
    ]}  # fmt: skip
    unconditioned = {**policy, "Statement": [{**conditioned["Statement"][0], "Condition": {}}]}
    delivery = Delivery("events", rule, asm.get_att(rule.stack, rule.logical_id, "Arn"), topic_arn)
    original = asm._props[key.key]
    try:
        asm._props[key.key] = {**original, "KeyPolicy": conditioned}
        assert any("does not admit kms:" in p for p in delivery_problems(asm, delivery))
        asm._props[key.key] = {**original, "KeyPolicy": unconditioned}
        assert not any("does not admit kms:" in p for p in delivery_problems(asm, delivery))
    finally:
        asm._props[key.key] = original


def test_every_rule_targeting_a_function_is_admitted_by_its_permissions(model) -> None:
    problems = invoke_problems(model)
    assert not problems, "\n".join(problems)


def test_every_async_destination_is_writable_by_the_function_role(model) -> None:
    """Lambda writes failed asynchronous invocations to the destination with the function's role."""
    problems = destination_problems(model)
    assert not problems, "\n".join(problems)


def test_destination_rules_catch_a_missing_grant_and_an_encrypted_queue(tmp_path) -> None:
    from tests.contracts import hand

    template = {"Resources": {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}},
             "Action": "kms:*", "Resource": "*"}]}}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"KmsMasterKeyId": {"Fn::GetAtt": ["Key", "Arn"]}}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyName": "p", "PolicyDocument": {
            "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": ["Queue", "Arn"]}}]}}]}},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}}},
        "Cfg": {"Type": "AWS::Lambda::EventInvokeConfig", "Properties": {
            "FunctionName": {"Ref": "Fn"}, "Qualifier": "$LATEST",
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["Queue", "Arn"]}}}}},
    }}  # fmt: skip
    problems = destination_problems(hand.assembly(tmp_path, {"s": template}))
    assert problems == [
        f"Fn OnFailure -> arn:aws:sqs:eu-west-1:123456789012:s-Queue: role Role does not allow {a} on "
        "arn:aws:kms:eu-west-1:123456789012:key/s-Key"
        for a in ("kms:GenerateDataKey", "kms:Decrypt")
    ]


def test_every_encrypted_log_group_key_admits_cloudwatch_logs(model) -> None:
    problems = log_key_problems(model)
    assert not problems, "\n".join(problems)
