"""What SageMaker, Firehose and Glue do as the roles the templates give them is allowed, admitted and reachable."""

from __future__ import annotations

import pytest

from config import PROFILES
from posture.contracts import services
from posture.contracts.iam import Request


def _check(asm, needs) -> None:
    problems = sorted({p for need in needs for p in services.need_problems(asm, need)})
    assert not problems, "\n".join(problems)


def test_pipeline_jobs_can_read_their_inputs_and_write_their_outputs(model) -> None:
    (pipeline,) = model.resources("AWS::SageMaker::Pipeline")
    needs = services.pipeline_needs(model, pipeline)
    assert any(n.request.action == "s3:ListBucket" for n in needs), "S3Prefix inputs are listed"
    _check(model, needs)


def test_pipeline_jobs_reach_s3_from_their_subnets(model) -> None:
    (pipeline,) = model.resources("AWS::SageMaker::Pipeline")
    problems = [p for step, subnets, groups in services.pipeline_networks(model, pipeline)
                for p in services.network_problems(model, f"step {step}", subnets, groups, ("s3",))]  # fmt: skip
    assert not problems, "\n".join(problems)


def test_firehose_can_read_transform_deliver_and_log(model) -> None:
    (stream,) = model.resources("AWS::KinesisFirehose::DeliveryStream")
    needs = services.firehose_needs(model, stream)
    assert {"lambda:InvokeFunction", "s3:PutObject", "kinesis:GetRecords"} <= {n.request.action for n in needs}
    _check(model, needs)


def test_endpoint_models_and_updaters_can_do_what_sagemaker_does_for_them(model) -> None:
    (endpoint,) = model.resources("AWS::SageMaker::Endpoint")
    needs = services.endpoint_needs(model, endpoint)
    assert any(n.who.startswith("endpoint updater") for n in needs), "some role updates the endpoint"
    _check(model, needs)


def test_endpoint_models_reach_s3_from_their_subnets(model) -> None:
    (endpoint,) = model.resources("AWS::SageMaker::Endpoint")
    problems = [p for who, subnets, groups in services.endpoint_networks(model, endpoint)
                for p in services.network_problems(model, who, subnets, groups, ("s3",))]  # fmt: skip
    assert not problems, "\n".join(problems)


def test_glue_job_can_read_its_code_and_inputs_and_write_its_outputs(model) -> None:
    (job,) = model.resources("AWS::Glue::Job")
    _check(model, services.glue_job_needs(model, job))


def test_glue_job_reaches_the_services_it_calls_from_its_connection(model) -> None:
    """Workers in the connection's subnet read and write S3, call the Glue API (catalog, bookmarks), and,
    with --enable-continuous-cloudwatch-log and --enable-metrics, CloudWatch Logs and metrics."""
    (job,) = model.resources("AWS::Glue::Job")
    networks = services.glue_job_networks(model, job)
    # A profile with vpc_workloads "sagemaker" runs the job in Glue's own network: nothing to reach through.
    assert bool(networks) == PROFILES[str(model.profile)].functions_in_vpc
    problems = [p for who, subnets, groups in networks
                for p in services.network_problems(model, who, subnets, groups, ("s3", "glue", "logs", "monitoring"))]  # fmt: skip
    assert not problems, "\n".join(problems)


def test_a_prefix_condition_on_the_pipeline_listing_is_evaluated_with_the_real_prefix(models) -> None:
    """The derived ListBucket carries the S3Prefix input's key as s3:prefix; other calls carry none."""
    asm = models["dev"]
    (pipeline,) = asm.resources("AWS::SageMaker::Pipeline")
    listings = [n.request for n in services.pipeline_needs(asm, pipeline) if n.request.action == "s3:ListBucket"]
    assert all(isinstance(r.context.get("s3:prefix"), str) for r in listings)
    gets = [n.request for n in services.pipeline_needs(asm, pipeline) if n.request.action == "s3:GetObject"]
    assert gets and all("s3:prefix" not in r.context for r in gets)
    assert isinstance(Request("s3:ListBucket", "arn:aws:s3:::b").context, dict)


@pytest.mark.parametrize("uri", ["s3://b/prefix/", "s3://b/prefix"])
def test_prefix_reads_list_then_get_under_the_prefix(models, uri) -> None:
    needs = services.s3_reads(models["dev"], "t", "arn:aws:iam::1:role/r", uri, "eu-west-1", prefix=True)
    assert needs[0].request.context["s3:prefix"] == uri.removeprefix("s3://b/")
    assert needs[1].request.resource == "arn:aws:s3:::b/prefix/part-00000"
