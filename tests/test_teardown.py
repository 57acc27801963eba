"""Teardown of dev leaves nothing that blocks the next deploy; prod's data is refused."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from config import get_profile
from config.profiles import KEPT_ON_TEARDOWN
from ops import teardown
from ops.assembly import Assembly
from tests.conftest import hermetic_env

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"
# Properties ending in "Name" that refer to something else rather than name the resource itself.
NOT_A_PHYSICAL_NAME = {
    "MetricName", "DisplayName", "ServiceName", "DatabaseName", "WorkflowName", "LogGroupName", "EndpointConfigName",
    "ModelName", "VariantName", "FunctionName", "KeyName", "ModelPackageGroupName", "PipelineName", "AlarmName",
}  # fmt: skip


@pytest.fixture(scope="module")
def ops_dev(dev) -> Assembly:
    return Assembly(dev.outdir, "dev")


@pytest.fixture(scope="module")
def ops_prod(prod) -> Assembly:
    return Assembly(prod.outdir, "prod")


def client(name: str):
    return boto3.client(name, region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing")


def stubbed() -> tuple[dict, dict]:
    clients = {name: client(name) for name in teardown.CLIENTS}
    return clients, {name: Stubber(c) for name, c in clients.items()}


def test_model_registry_follows_the_profile(ops_dev: Assembly, ops_prod: Assembly) -> None:
    """A retained group with a fixed name makes the next deploy's CreateModelPackageGroup fail."""
    (dev_group,) = ops_dev.resources("AWS::SageMaker::ModelPackageGroup")
    (prod_group,) = ops_prod.resources("AWS::SageMaker::ModelPackageGroup")
    assert dev_group.deletion_policy == "Delete"
    assert prod_group.deletion_policy == "Retain"


def test_every_fixed_name_or_retained_resource_in_dev_is_handled(ops_dev: Assembly) -> None:
    listed = teardown.needs_handling(ops_dev)
    assert {r.type for r in listed} >= {"AWS::SageMaker::ModelPackageGroup", "AWS::KMS::Alias"}
    for r in listed:
        where = f"{r.stack}/{r.logical_id} ({r.type}, name {teardown.physical_name(r)!r}, {r.deletion_policy})"
        if teardown.kept(r):
            # Kept on purpose in every profile: only a generated name keeps the next deploy free.
            assert r.retained and teardown.physical_name(r) is None, where
            continue
        plan = teardown.PLAN.get(r.type)
        assert plan is not None, f"teardown does not handle {where}"
        if plan.how == "stack":
            assert not r.retained, f"{where}: a retained resource cannot be left to the stack"
        if plan.how in ("empty", "delete-packages"):
            assert not r.retained, f"{where}: dev must let CloudFormation delete it once teardown emptied it"
        if plan.how == "with-parent":
            parent = r.properties["LogGroupName"]["Ref"]
            assert ops_dev.templates[r.stack]["Resources"][parent].get("DeletionPolicy", "Delete") == "Delete", where
        if r.type == "AWS::Athena::WorkGroup":
            assert r.properties.get("RecursiveDeleteOption") is True, where
    for bucket in ops_dev.resources("AWS::S3::Bucket"):
        assert not bucket.retained or teardown.kept(bucket), (
            f"{bucket.logical_id} is retained in dev: teardown empties, CloudFormation deletes"
        )


def test_no_unclassified_name_properties(ops_dev: Assembly) -> None:
    """A resource type that takes a name teardown does not know must be classified in PHYSICAL_NAME."""
    for r in ops_dev.resources():
        for key, value in r.properties.items():
            if not key.endswith("Name") or not isinstance(value, str) or key in NOT_A_PHYSICAL_NAME:
                continue
            assert teardown.PHYSICAL_NAME.get(r.type, ("",))[0] == key or r.type in teardown.PHYSICAL_NAME, (
                f"{r.stack}/{r.logical_id}: {r.type}.{key} = {value!r}: add the type to teardown.PHYSICAL_NAME/PLAN"
            )


def queue_stacks(stubs: dict, assembly: Assembly, objects_in: str, executing: bool = True) -> dict:
    """Stack resources as CloudFormation lists them, and the calls teardown makes for each, in order."""
    expected = {"buckets": [], "packages": 0}
    for stack in assembly.stack_names:
        summaries = []
        for lid, r in assembly.templates[stack]["Resources"].items():
            physical = f"{stack}-{lid.lower()}"
            if r["Type"] == "AWS::SageMaker::ModelPackageGroup":
                physical = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:model-package-group/{physical}"
            summaries.append(
                {"LogicalResourceId": lid, "PhysicalResourceId": physical, "ResourceType": r["Type"],
                 "LastUpdatedTimestamp": "2026-01-01T00:00:00Z", "ResourceStatus": "CREATE_COMPLETE"}
            )  # fmt: skip
            if r["Type"] == "AWS::S3::Bucket" and KEPT_ON_TEARDOWN not in r.get("Metadata", {}):
                expected["buckets"].append(physical)
                s3 = stubs["s3"]
                s3.add_response("put_bucket_logging", {}, {"Bucket": physical, "BucketLoggingStatus": {}})
                if objects_in in lid:
                    s3.add_response(
                        "list_object_versions",
                        {"Versions": [{"Key": "events/a.gz", "VersionId": "v1"}],
                         "DeleteMarkers": [{"Key": "events/b.gz", "VersionId": "v2"}], "IsTruncated": False},
                        {"Bucket": physical},
                    )  # fmt: skip
                    objects = [{"Key": "events/a.gz", "VersionId": "v1"}, {"Key": "events/b.gz", "VersionId": "v2"}]
                    s3.add_response(
                        "delete_objects",
                        {"Deleted": objects},
                        {"Bucket": physical, "Delete": {"Objects": objects, "Quiet": True}},
                    )
                else:
                    s3.add_response("list_object_versions", {"IsTruncated": False}, {"Bucket": physical})
            elif r["Type"] == "AWS::SageMaker::ModelPackageGroup":
                group = r["Properties"]["ModelPackageGroupName"]
                arns = [f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:model-package/{group}/{n}" for n in (1, 2)]
                stubs["sagemaker"].add_response(
                    "list_model_packages",
                    {"ModelPackageSummaryList": [
                        {"ModelPackageArn": a, "ModelPackageGroupName": group, "ModelPackageName": group,
                         "CreationTime": "2026-01-01T00:00:00Z", "ModelPackageStatus": "Completed"} for a in arns]},
                    {"ModelPackageGroupName": group},
                )  # fmt: skip
                for arn in arns:
                    stubs["sagemaker"].add_response("delete_model_package", {}, {"ModelPackageName": arn})
                expected["packages"] += 2
            elif r["Type"] == "AWS::SageMaker::Pipeline":
                name = r["Properties"]["PipelineName"]
                arn = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:pipeline/{name}/execution/abc"
                stubs["sagemaker"].add_response(
                    "list_pipeline_executions",
                    {"PipelineExecutionSummaries": [
                        {"PipelineExecutionArn": arn, "PipelineExecutionStatus": "Executing" if executing else "Failed"}]},
                    {"PipelineName": name},
                )  # fmt: skip
                if executing:
                    stubs["sagemaker"].add_response(
                        "stop_pipeline_execution",
                        {"PipelineExecutionArn": arn},
                        {"PipelineExecutionArn": arn, "ClientRequestToken": ANY},
                    )
                    for status in ("Stopping", "Stopped"):
                        stubs["sagemaker"].add_response(
                            "describe_pipeline_execution",
                            {"PipelineExecutionStatus": status},
                            {"PipelineExecutionArn": arn},
                        )
        stubs["cloudformation"].add_response(
            "list_stack_resources", {"StackResourceSummaries": summaries}, {"StackName": stack}
        )
    return expected


def test_before_destroy_empties_every_bucket_and_the_registry(ops_dev: Assembly) -> None:
    clients, stubs = stubbed()
    expected = queue_stacks(stubs, ops_dev, objects_in="RawZone")
    kept = [b for b in ops_dev.resources("AWS::S3::Bucket") if teardown.kept(b)]
    assert len(expected["buckets"]) == len(ops_dev.resources("AWS::S3::Bucket")) - len(kept) >= 4
    sleeps: list[float] = []
    log: list[str] = []
    for s in stubs.values():
        s.activate()
    counts = teardown.before_destroy(clients, ops_dev, get_profile("dev"), log=log.append, sleep=sleeps.append)
    for s in stubs.values():
        s.assert_no_pending_responses()
    assert counts == {"buckets": len(expected["buckets"]), "objects": 2, "packages": 2, "executions": 1}
    assert sleeps == [30]
    assert any("rawzone" in line and "(2 versions" in line for line in log)


def test_before_destroy_skips_stacks_already_gone(ops_dev: Assembly) -> None:
    clients, stubs = stubbed()
    for stack in ops_dev.stack_names:
        stubs["cloudformation"].add_client_error(
            "list_stack_resources", "ValidationError", f"Stack with id {stack} does not exist"
        )
    with stubs["cloudformation"]:
        counts = teardown.before_destroy(clients, ops_dev, get_profile("dev"), log=lambda _: None)
    assert counts == {"buckets": 0, "objects": 0, "packages": 0, "executions": 0}


def test_objects_that_cannot_be_deleted_stop_teardown() -> None:
    s3 = client("s3")
    with Stubber(s3) as stub:
        stub.add_response("put_bucket_logging", {}, {"Bucket": "b", "BucketLoggingStatus": {}})
        stub.add_response(
            "list_object_versions",
            {"Versions": [{"Key": "k", "VersionId": "v"}], "IsTruncated": False},
            {"Bucket": "b"},
        )
        stub.add_response(
            "delete_objects", {"Errors": [{"Key": "k", "VersionId": "v", "Code": "AccessDenied", "Message": "no"}]}
        )
        with pytest.raises(teardown.TeardownError, match=r"1 objects not deleted, e\.g\. k: AccessDenied"):
            teardown.empty_bucket(s3, "b", log=lambda _: None)


def test_a_trail_stops_before_its_bucket_is_emptied() -> None:
    cloudtrail = client("cloudtrail")
    with Stubber(cloudtrail) as stub:
        stub.add_response("stop_logging", {}, {"Name": "mlops-dev-trail"})
        assert teardown.stop_trail(cloudtrail, "mlops-dev-trail", log=lambda _: None) is True
        stub.add_client_error("stop_logging", "TrailNotFoundException", "gone")
        assert teardown.stop_trail(cloudtrail, "mlops-dev-trail", log=lambda _: None) is False
        stub.add_client_error("stop_logging", "AccessDeniedException", "no")
        with pytest.raises(ClientError):
            teardown.stop_trail(cloudtrail, "mlops-dev-trail", log=lambda _: None)


def test_after_destroy_deletes_a_retained_registry(ops_dev: Assembly) -> None:
    clients, stubs = stubbed()
    (group,) = [teardown.physical_name(r) for r in ops_dev.resources("AWS::SageMaker::ModelPackageGroup")]
    sm = stubs["sagemaker"]
    sm.add_response(
        "describe_model_package_group",
        {"ModelPackageGroupName": group, "ModelPackageGroupArn": f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:model-package-group/{group}",
         "CreationTime": "2026-01-01T00:00:00Z", "CreatedBy": {}, "ModelPackageGroupStatus": "Completed"},
        {"ModelPackageGroupName": group},
    )  # fmt: skip
    sm.add_response("list_model_packages", {"ModelPackageSummaryList": []}, {"ModelPackageGroupName": group})
    sm.add_response("delete_model_package_group", {}, {"ModelPackageGroupName": group})
    with sm:
        assert teardown.after_destroy(clients, ops_dev, get_profile("dev"), log=lambda _: None) == [group]
        sm.assert_no_pending_responses()
    sm.add_client_error("describe_model_package_group", "ValidationException", "does not exist")
    with sm:
        assert teardown.after_destroy(clients, ops_dev, get_profile("dev"), log=lambda _: None) == []


def test_prod_is_refused(ops_prod: Assembly, capsys) -> None:
    clients, _ = stubbed()
    with pytest.raises(teardown.TeardownError, match="retains its data"):
        teardown.before_destroy(clients, ops_prod, get_profile("prod"))
    with pytest.raises(teardown.TeardownError, match="retains its data"):
        teardown.after_destroy(clients, ops_prod, get_profile("prod"))
    assert teardown.main(["before", "--profile", "prod", "--confirm", "prod"]) == 2
    assert "refused" in capsys.readouterr().err


def test_main_needs_confirmation_and_explains_denials(ops_dev: Assembly, capsys) -> None:
    assert teardown.main(["before", "--profile", "dev", "--assembly", str(ops_dev.outdir), "--confirm", "prod"]) == 2
    assert "not confirmed" in capsys.readouterr().err
    clients, stubs = stubbed()
    stubs["cloudformation"].add_client_error("list_stack_resources", "AccessDenied", "not authorized")

    class Session:
        def get_credentials(self):
            return object()

        def client(self, name, region_name=None):
            return clients[name]

    with stubs["cloudformation"]:
        code = teardown.main(
            ["before", "--profile", "dev", "--assembly", str(ops_dev.outdir), "--confirm", "dev"], session=Session()
        )
    assert code == 1
    assert "ListStackResources denied (AccessDenied)" in capsys.readouterr().err


def _cdk_commands(target: str) -> list[tuple[str, list[str]]]:
    dry = subprocess.run(
        ["make", "-n", target, "PROFILE=dev"], cwd=ROOT, capture_output=True, text=True, env=hermetic_env(), check=True
    ).stdout
    return [
        (command, re.findall(r"(?<!\S)(--?[a-zA-Z][\w-]*)", rest))
        for command, rest in re.findall(r"node_modules/\.bin/cdk (\w+)([^;|&\n]*)", dry)
    ]


def test_make_targets_pass_only_options_the_cli_accepts() -> None:
    helps: dict[str, str] = {}
    seen = set()
    for target in ("diff", "deploy", "destroy"):
        commands = _cdk_commands(target)
        assert commands, f"make {target} runs no cdk command"
        for command, options in commands:
            seen.add(command)
            if command not in helps:
                helps[command] = subprocess.run(
                    [str(ROOT / "node_modules/.bin/cdk"), command, "--help"],
                    capture_output=True, text=True, env=hermetic_env(), timeout=120,
                ).stdout  # fmt: skip
            for option in options:
                assert re.search(rf"(^|\s){re.escape(option)}[,\s]", helps[command]), f"cdk {command} has no {option}"
    assert seen >= {"diff", "deploy", "destroy"}
