"""The pipeline role allows every S3 read and write its definition makes SageMaker do as the role.

Processing inputs and training channels of type S3Prefix are listed first (s3:ListBucket with
s3:prefix), then read; outputs are written. Checked against the checked-in definition (where the
buckets are still named by placeholder) and the role's synthesized policies, those attached from
the data-lake stack included.
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase

from pipelines.data import spec as specs
from pipelines.training.definition import DEFINITION
from tests.conftest import Assembly

# How each placeholder bucket appears in the synthesized policies.
BUCKETS = {
    "CODE_BUNDLE_BUCKET": "-assets-",
    "ARTIFACT_BUCKET": "ArtifactsBucket",
    "CURATED_BUCKET": "CuratedZoneBucket",
}
PREFIX_ACTIONS = {"s3:ListBucket", "s3:ListBucketVersions"}  # the only S3 actions whose requests carry s3:prefix


def _render(value: object) -> str:
    """A policy resource as text: references become ``{logical id or output name}``."""
    if isinstance(value, str):
        return value
    ((fn, arg),) = value.items()
    if fn == "Fn::Join":
        return arg[0].join(_render(v) for v in arg[1])
    if fn == "Fn::Sub":
        return arg
    if fn == "Fn::GetStackOutput":
        return "{" + arg["OutputName"] + "}"
    if fn == "Fn::GetAtt":
        return "{" + arg[0] + "}"
    return "{" + str(arg) + "}"


def _role_statements(assembly: Assembly) -> list[dict]:
    training = assembly.template("training")
    (pipeline,) = assembly.resources("training", "AWS::SageMaker::Pipeline").values()
    role_id = pipeline["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    role = training["Resources"][role_id]["Properties"]
    documents = [
        r["Properties"]["PolicyDocument"] for r in training["Resources"].values()
        if r["Type"] == "AWS::IAM::ManagedPolicy" and {"Ref": role_id} in r["Properties"].get("Roles", [])
    ]  # fmt: skip
    data_lake = assembly.template("data-lake")
    for arn in role.get("ManagedPolicyArns", []):
        if "Ref" in arn:
            documents.append(training["Resources"][arn["Ref"]]["Properties"]["PolicyDocument"])
            continue
        output = data_lake["Outputs"][arn["Fn::GetStackOutput"]["OutputName"]]
        documents.append(data_lake["Resources"][output["Value"]["Ref"]]["Properties"]["PolicyDocument"])
    statements = [s for d in documents for s in d["Statement"]]
    for s in statements:
        s["Action"] = [s["Action"]] if isinstance(s["Action"], str) else s["Action"]
        s["Resource"] = [_render(r) for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
    return statements


def _allows(statements: list[dict], action: str, bucket: str, key: str | None, prefix: str | None = None) -> bool:
    """Some Allow statement grants ``action`` on the bucket (key None) or on object ``key``."""
    for s in statements:
        if s["Effect"] != "Allow" or not any(fnmatchcase(action, a) for a in s["Action"]):
            continue
        condition = s.get("Condition", {})
        patterns = condition.get("StringLike", {}).get("s3:prefix")
        if patterns is not None and not any(fnmatchcase(prefix or "", p) for p in patterns):
            continue
        for resource in s["Resource"]:
            name, _, path = resource.partition("/")
            if BUCKETS[bucket] in name and ((key is None and not path) or (key is not None and fnmatchcase(key, path))):
                return True
    return False


class _Uris:
    """Static text of the definition's S3 URIs; dynamic parts (execution ids, job names) become ``X``."""

    def __init__(self, definition: dict, code_bundle_key: str) -> None:
        self.code_bundle_key = code_bundle_key
        self.parameters = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
        self.steps = {s["Name"]: s for s in definition["Steps"]}

    def text(self, value: object) -> str:
        if isinstance(value, str):
            # The stack fills the curated table of the profile's data set in, as it fills the bundle key.
            table = specs.curated_table(specs.active())
            return value.replace("@@CODE_BUNDLE_KEY@@", self.code_bundle_key).replace("@@CURATED_TABLE@@", table)
        if "Std:Join" in value:
            return value["Std:Join"]["On"].join(self.text(v) for v in value["Std:Join"]["Values"])
        path = value["Get"]
        if path.startswith("Parameters."):
            return self.text(self.parameters[path.removeprefix("Parameters.")])
        if path.startswith("Steps.") and ".ProcessingOutputConfig.Outputs['" in path:
            step, rest = path.removeprefix("Steps.").split(".", 1)
            name = rest.split("['")[1].split("']")[0]
            outputs = self.steps[step]["Arguments"]["ProcessingOutputConfig"]["Outputs"]
            return self.text(next(o for o in outputs if o["OutputName"] == name)["S3Output"]["S3Uri"])
        return "X"

    def split(self, value: object) -> tuple[str, str]:
        """(placeholder bucket name, key) of an ``s3://@@BUCKET@@/key`` URI."""
        uri = self.text(value).replace("s3://", "s3:/").removeprefix("s3:/").lstrip("/")
        bucket, _, key = uri.partition("/")
        return bucket.strip("@"), key


def _io(definition: dict) -> tuple[list[object], list[object]]:
    """(S3Prefix inputs, outputs) of every job step, nested ones included."""
    inputs, outputs = [], []
    steps = list(definition["Steps"])
    while steps:
        step = steps.pop()
        args = step.get("Arguments", {})
        steps += args.get("IfSteps", []) + args.get("ElseSteps", [])
        for i in args.get("ProcessingInputs", []):
            if i["S3Input"]["S3DataType"] == "S3Prefix":
                inputs.append(i["S3Input"]["S3Uri"])
        for o in args.get("ProcessingOutputConfig", {}).get("Outputs", []):
            outputs.append(o["S3Output"]["S3Uri"])
        job = args.get("TrainingJobDefinition", {})
        for channel in job.get("InputDataConfig", []):
            source = channel["DataSource"]["S3DataSource"]
            if source["S3DataType"] == "S3Prefix":
                inputs.append(source["S3Uri"])
        if "OutputDataConfig" in job:
            outputs.append(job["OutputDataConfig"]["S3OutputPath"])
    return inputs, outputs


def test_the_role_can_list_and_read_every_s3_prefix_input_and_write_every_output(assembly: Assembly) -> None:
    definition = json.loads(DEFINITION.read_text())
    (pipeline,) = assembly.resources("training", "AWS::SageMaker::Pipeline").values()
    (code_bundle_key,) = set(re.findall(r"[0-9a-f]{64}\.zip", json.dumps(pipeline)))
    uris = _Uris(definition, code_bundle_key)
    statements = _role_statements(assembly)
    inputs, outputs = _io(definition)
    assert len(inputs) >= 8 and len(outputs) >= 7
    for uri in inputs:
        bucket, key = uris.split(uri)
        assert _allows(statements, "s3:ListBucket", bucket, None, prefix=key), (bucket, key)
        # The objects listed: the key itself (a single-file prefix) or keys below it.
        assert any(_allows(statements, "s3:GetObject", bucket, k) for k in (key, key + "X")), (bucket, key)
    for uri in outputs:
        bucket, key = uris.split(uri)
        assert _allows(statements, "s3:PutObject", bucket, key + "/X"), (bucket, key)


def test_s3_prefix_conditions_sit_only_on_actions_whose_requests_carry_the_key(assembly: Assembly) -> None:
    """On any other action a StringLike s3:prefix condition never matches: it silently denies."""
    for s in _role_statements(assembly):
        if "s3:prefix" in json.dumps(s.get("Condition", {})):
            assert set(s["Action"]) <= PREFIX_ACTIONS, s
