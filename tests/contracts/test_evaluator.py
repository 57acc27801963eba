"""The IAM evaluator and the template model on small hand-written inputs, so each rule can fail alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from posture.contracts.iam import Request, UnsupportedCondition, condition_holds, evaluate, glob_match
from tests.contracts import hand

BUCKET = "arn:aws:s3:::data"


def allow(action, resource, condition=None, effect="Allow", **extra) -> dict:
    statement = {"Effect": effect, "Action": action, "Resource": resource, **extra}
    if condition:
        statement["Condition"] = condition
    return statement


def test_action_and_resource_wildcards() -> None:
    policy = [allow("s3:Get*", f"{BUCKET}/in/*")]
    assert evaluate(policy, Request("s3:GetObject", f"{BUCKET}/in/a/b.csv")).allowed
    assert evaluate(policy, Request("S3:getobject", f"{BUCKET}/in/x")).allowed  # actions ignore case
    assert not evaluate(policy, Request("s3:PutObject", f"{BUCKET}/in/x")).allowed
    assert not evaluate(policy, Request("s3:GetObject", f"{BUCKET}/out/x")).allowed
    assert not evaluate(policy, Request("s3:GetObject", "arn:aws:s3:::DATA/in/x")).allowed  # ARNs keep case
    assert glob_match("arn:aws:sagemaker:*:*:model/?", "arn:aws:sagemaker:eu-west-1:1:model/a")


def test_not_action_and_not_resource() -> None:
    policy = [{"Effect": "Allow", "NotAction": "iam:*", "NotResource": f"{BUCKET}/secret/*"}]
    assert evaluate(policy, Request("s3:GetObject", f"{BUCKET}/in/x")).allowed
    assert not evaluate(policy, Request("iam:PassRole", "arn:aws:iam::1:role/r")).allowed
    assert not evaluate(policy, Request("s3:GetObject", f"{BUCKET}/secret/x")).allowed


def test_explicit_deny_wins_over_allow() -> None:
    policy = [allow("s3:*", "*"), allow("s3:PutObject", "*", {"Bool": {"aws:SecureTransport": "false"}}, "Deny")]
    assert evaluate(policy, Request("s3:PutObject", BUCKET, {"aws:SecureTransport": "true"})).allowed
    decision = evaluate(policy, Request("s3:PutObject", BUCKET, {"aws:SecureTransport": "false"}))
    assert decision.effect == "Deny"


def test_a_prefix_condition_silently_denies_actions_that_never_carry_the_key() -> None:
    """The trap: s3:prefix exists only on ListBucket; on GetBucketLocation StringLike finds no key -> deny."""
    policy = [allow(["s3:ListBucket", "s3:GetBucketLocation"], BUCKET, {"StringLike": {"s3:prefix": ["code/*"]}})]
    assert evaluate(policy, Request("s3:ListBucket", BUCKET, {"s3:prefix": "code/job/"})).allowed
    assert not evaluate(policy, Request("s3:ListBucket", BUCKET, {"s3:prefix": "data/"})).allowed
    assert not evaluate(policy, Request("s3:ListBucket", BUCKET, {})).allowed  # listing the whole bucket
    assert not evaluate(policy, Request("s3:GetBucketLocation", BUCKET, {})).allowed


@pytest.mark.parametrize(
    ("operator", "policy", "context", "expected"),
    [
        ("StringEquals", "a", {"k": "a"}, True),
        ("StringEquals", "a", {"k": "A"}, False),
        ("StringEquals", "a", {}, False),  # missing key: false
        ("StringNotEquals", "a", {}, True),  # negated operator on a missing key: true
        ("StringEqualsIfExists", "a", {}, True),
        ("StringEqualsIgnoreCase", "a", {"k": "A"}, True),
        ("StringLike", "arn:*:alarm:x-*", {"k": "arn:aws:alarm:x-1"}, True),
        ("ArnEquals", "arn:aws:sns:*:1:t", {"k": "arn:aws:sns:eu-west-1:1:t"}, True),
        ("ArnLike", "arn:aws:sns:*:1:t", {"k": "arn:aws:sns:eu-west-1:2:t"}, False),
        ("Bool", "true", {"k": "True"}, True),
        ("Bool", "true", {}, False),
        ("Null", "true", {}, True),
        ("Null", "false", {}, False),
        ("ForAnyValue:StringEquals", ["a", "b"], {"k": ["c", "b"]}, True),
        ("ForAnyValue:StringEquals", ["a"], {}, False),
        ("ForAllValues:StringEquals", ["a", "b"], {"k": ["a", "c"]}, False),
        ("ForAllValues:StringEquals", ["a", "b"], {"k": ["a", "b"]}, True),
        ("ForAllValues:StringEquals", ["a"], {}, True),  # vacuously true: a known trap
        ("NumericLessThan", "10", {"k": "3"}, True),
    ],
)
def test_condition_operators(operator, policy, context, expected) -> None:
    assert condition_holds(operator, "k", policy, context) is expected


def test_condition_keys_ignore_case_and_unknown_operators_are_refused() -> None:
    assert condition_holds("StringEquals", "AWS:SourceAccount", "1", {"aws:sourceaccount": "1"})
    with pytest.raises(UnsupportedCondition):
        condition_holds("DateGreaterThan", "aws:CurrentTime", "2020-01-01", {"aws:CurrentTime": "2026-01-01"})


def test_resource_policy_principals() -> None:
    policy = [
        {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sns:Publish", "Resource": "t"},
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
    ]
    assert evaluate(policy, Request("sns:Publish", "t", principal={"Service": "events.amazonaws.com"})).allowed
    assert not evaluate(policy, Request("sns:Publish", "t", principal={"Service": "cloudwatch.amazonaws.com"})).allowed
    role = {"AWS": "arn:aws:iam::111122223333:role/r"}
    assert evaluate(policy, Request("kms:Decrypt", "*", principal=role)).allowed  # the account delegates to IAM
    other = {"AWS": "arn:aws:iam::444455556666:role/r"}
    assert not evaluate(policy, Request("kms:Decrypt", "*", principal=other)).allowed


def test_model_resolves_intrinsics_and_weak_cross_stack_references(tmp_path: Path) -> None:
    producer = {
        "Conditions": {"IsProd": {"Fn::Equals": ["dev", "prod"]}},
        "Resources": {
            "Key": {"Type": "AWS::KMS::Key", "Properties": {}},
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": {"Fn::Sub": "t-${AWS::Region}"}}},
        },
        "Outputs": {"KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}}},
    }
    consumer = {
        "Resources": {
            "Thing": {
                "Type": "AWS::Test::Thing",
                "Properties": {
                    "Key": {"Fn::GetStackOutput": {"StackName": "p", "Region": "eu-west-1", "OutputName": "KeyArn"}},
                    "Arn": {"Fn::Sub": ["arn:${AWS::Partition}:x:${AWS::Region}:${AWS::AccountId}:${N}", {"N": "n"}]},
                    "First": {"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]},
                    "Joined": {"Fn::Join": ["-", ["a", {"Ref": "AWS::Region"}]]},
                    "Maybe": {"Fn::If": ["IsProd", "big", {"Ref": "AWS::NoValue"}]},
                    "Choice": {"Fn::If": ["IsProd", "big", "small"]},
                },
            }
        },
        "Conditions": {"IsProd": {"Fn::Equals": ["dev", "prod"]}},
    }
    asm = hand.assembly(tmp_path, {"p": producer, "c": consumer})
    props = asm.props(asm.resource("c", "Thing"))
    key_arn = "arn:aws:kms:eu-west-1:123456789012:key/p-Key"
    assert props["Key"] == key_arn
    assert props["Arn"] == "arn:aws:x:eu-west-1:123456789012:n"
    assert props["First"] == "b" and props["Joined"] == "a-eu-west-1"
    assert "Maybe" not in props and props["Choice"] == "small"
    assert asm.find(key_arn).logical_id == "Key"  # a resolved reference leads back to its resource
    assert (
        asm.resolve("p", {"Fn::GetAtt": ["Table", "Arn"]})
        == "arn:aws:dynamodb:eu-west-1:123456789012:table/t-eu-west-1"
    )
    # A placeholder is opaque: a policy naming another key does not match it, only '*' does.
    assert not glob_match("arn:aws:kms:eu-west-1:123456789012:key/other", key_arn)
    assert glob_match("arn:aws:kms:eu-west-1:123456789012:key/*", key_arn)
