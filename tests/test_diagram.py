"""The README's architecture diagram is generated from the synthesized dev app and kept fresh."""

from __future__ import annotations

import re

from posture.contracts.model import Assembly as Model
from posture.diagram import END, START, Diagram, render
from tests.conftest import ROOT


def _edges(diagram: str) -> set[tuple[str, str, str]]:
    return set(re.findall(r"^  (\w+) (-->|-\.->) (\w+)$", diagram, re.M))


def test_readme_diagram_is_the_generated_one(dev) -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split(START, 1)[1].split(END, 1)[0]
    expected = f"\n```mermaid\n{render(dev.outdir)}```\n"
    assert block == expected, "the README diagram is stale: run `make diagram` and commit README.md"


def test_diagram_shows_the_data_path_end_to_end(dev) -> None:
    diagram = Diagram(Model(dev.outdir))
    kinds = {node_id: res.type for node_id, res in diagram.nodes.items()}
    data = {(e.source, e.target) for e in diagram.edges if e.data}

    def reachable(start: str) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            node = todo.pop()
            for source, target in data:
                if source == node and target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    downstream = {kinds.get(n) for n in reachable("producers")}
    # producers -> Kinesis -> Firehose -> raw -> Glue -> curated -> pipeline -> registry
    for cfn_type in (
        "AWS::Kinesis::Stream",
        "AWS::KinesisFirehose::DeliveryStream",
        "AWS::S3::Bucket",
        "AWS::Glue::Job",
        "AWS::SageMaker::Pipeline",
        "AWS::SageMaker::ModelPackageGroup",
    ):
        assert cfn_type in downstream, f"{cfn_type} is not on the data path from the producers"
    # endpoint -> capture bucket -> the scheduled monitoring job
    served = {kinds.get(n) for n in reachable("clients")}
    assert {"AWS::SageMaker::Endpoint", "AWS::S3::Bucket", "AWS::Scheduler::Schedule"} <= served


def test_diagram_shows_the_control_path(dev) -> None:
    diagram = Diagram(Model(dev.outdir))
    kinds = {node_id: res.type for node_id, res in diagram.nodes.items()}
    control = {(kinds.get(e.source, e.source), kinds.get(e.target)) for e in diagram.edges if not e.data}
    assert ("AWS::SageMaker::ModelPackageGroup", "AWS::Events::Rule") in control  # approval -> deployer rule
    assert ("AWS::Events::Rule", "AWS::Lambda::Function") in control  # triggers
    alarm_to_topic = [
        e for e in diagram.edges if e.source.endswith("_alarms") and kinds.get(e.target) == "AWS::SNS::Topic"
    ]
    assert alarm_to_topic, "no alarm notifies a topic in the diagram"
    alarm_to_rule = [
        e for e in diagram.edges if e.source.endswith("_alarms") and kinds.get(e.target) == "AWS::Events::Rule"
    ]
    assert alarm_to_rule, "the retraining rule's alarms are not in the diagram"


def test_every_edge_joins_two_drawn_nodes(dev) -> None:
    text = render(dev.outdir)
    declared = set(re.findall(r"^\s+(\w+)[\[\(\{>]", text, re.M))
    for source, _, target in _edges(text):
        assert source in declared and target in declared, (source, target)
