"""Execute the checked-in pipeline definition on this machine, step by step, as SageMaker would.

Not a re-implementation of the steps: each Processing step runs its own
``ContainerEntrypoint`` and ``ContainerArguments`` from ``definition.json``,
with its ``Environment``, under the image's Python and libraries
(``.venv-image``), with ``/opt/ml`` mounted in a private namespace so the
scripts see exactly the paths the job gives them. S3 is a folder; inputs are
staged and outputs uploaded with SageMaker's S3Prefix rules; expressions
(``Get``, ``Std:Join``, ``Std:JsonGet``) are resolved from the definition. The
Tuning step alone is stood in for: one training run of the built-in
algorithm's objective with the static hyperparameters, written where the
training job would write it (its hyperparameters are checked against the
container's own validation in ``in_image.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

MOUNT = "/opt/ml"
SANDBOX = (
    "set -e; if [ ! -d /opt/ml ]; then mount -t tmpfs tmpfs /opt; mkdir -p /opt/ml; fi; "
    'mount --bind "$0" /opt/ml; exec "$@"'
)


class StepFailed(RuntimeError):
    """A step's container exited non-zero, or the definition asked for something missing."""


def sandbox_available(*paths: Path) -> str | None:
    """None when steps can run with their /opt/ml paths here, else why not."""
    if shutil.which("unshare") is None:
        return "unshare is not installed"
    if subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode != 0:
        return "this kernel does not allow unprivileged mount namespaces"
    if not Path("/opt/ml").is_dir() and any(str(p.resolve()).startswith("/opt/") for p in paths):
        return "the repository or the image Python lives under /opt, which the sandbox covers"
    return None


class LocalPipeline:
    """One execution of ``definition`` against a folder standing in for S3.

    :param definition: the pipeline definition (placeholders already substituted).
    :param work: scratch folder (S3 lives in ``work/s3/<bucket>/<key>``).
    :param image_bin: the ``bin`` folder whose ``python3`` stands in for the image's.
    :param parameters: pipeline parameters overriding their defaults.
    :param execution_id: what ``Execution.PipelineExecutionId`` resolves to.
    """

    def __init__(
        self, definition: dict, work: Path, image_bin: Path, parameters: dict | None = None, execution_id: str = "exec1"
    ) -> None:
        self.definition = definition
        self.work = work
        self.s3_root = work / "s3"
        self.image_bin = image_bin
        self.parameters = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
        self.parameters.update(parameters or {})
        self.execution_id = execution_id
        self.properties: dict[str, dict] = {}
        self.executed: list[str] = []

    # --- S3 as a folder ------------------------------------------------------------------------
    def local(self, uri: str) -> Path:
        if not uri.startswith("s3://"):
            raise StepFailed(f"not an S3 URI: {uri!r}")
        bucket, _, key = uri[5:].partition("/")
        return self.s3_root / bucket / key

    def put(self, uri: str, source: Path) -> None:
        target = self.local(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)

    def exists(self, uri: str) -> bool:
        return self.local(uri).is_file()

    def download_prefix(self, uri: str, destination: Path) -> int:
        """S3Prefix download: every object whose key starts with the prefix.

        The local name is the key after the prefix when the prefix ends at a '/'
        boundary, else the key from the prefix's last '/' (a prefix that stops
        inside a name keeps the whole name, as the service does).
        """
        bucket, _, prefix = uri[5:].partition("/")
        root = self.s3_root / bucket
        count = 0
        for path in sorted(root.rglob("*")) if root.exists() else []:
            key = path.relative_to(root).as_posix()
            if not path.is_file() or not key.startswith(prefix):
                continue
            rest = key[len(prefix) :]
            if rest.startswith("/"):
                relative = rest.lstrip("/")
            elif prefix.endswith("/") or not prefix:
                relative = rest
            else:
                relative = key[prefix.rfind("/") + 1 :]
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            count += 1
        return count

    def upload_folder(self, folder: Path, uri: str) -> None:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                self.put(f"{uri.rstrip('/')}/{path.relative_to(folder).as_posix()}", path)

    # --- expressions ---------------------------------------------------------------------------
    def resolve(self, value):
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Get"}:
            return self._get(value["Get"])
        if set(value) == {"Std:Join"}:
            join = value["Std:Join"]
            return join["On"].join(str(self.resolve(v)) for v in join["Values"])
        if set(value) == {"Std:JsonGet"}:
            spec = value["Std:JsonGet"]
            document = self.resolve(spec["PropertyFile"])
            for part in spec["Path"].split("."):
                document = document[part]
            return document
        return {k: self.resolve(v) for k, v in value.items()}

    def _get(self, path: str):
        if path.startswith("Parameters."):
            return self.parameters[path.split(".", 1)[1]]
        if path == "Execution.PipelineExecutionId":
            return self.execution_id
        if path.startswith("Steps."):
            step, _, rest = path[len("Steps.") :].partition(".")
            if step not in self.properties:
                raise StepFailed(f"{path}: step {step} has not run")
            return eval_property(self.properties[step], rest)
        raise StepFailed(f"unknown reference {path}")

    # --- steps ---------------------------------------------------------------------------------
    def run(self) -> list[str]:
        for step in self.definition["Steps"]:
            self._run(step)
        return self.executed

    def _run(self, step: dict) -> None:
        kind = step["Type"]
        if kind == "Processing":
            self._processing(step)
        elif kind == "Tuning":
            self._tuning(step)
        elif kind == "Condition":
            outcome = all(self._condition(c) for c in step["Arguments"]["Conditions"])
            for sub in step["Arguments"]["IfSteps" if outcome else "ElseSteps"]:
                self._run(sub)
        elif kind == "RegisterModel":
            self._register(step)
        elif kind == "Fail":
            self.executed.append(step["Name"])
            raise StepFailed(str(self.resolve(step["Arguments"]["ErrorMessage"])))
        else:
            raise StepFailed(f"step type {kind} is not supported by the local runner")
        self.executed.append(step["Name"])

    def _condition(self, condition: dict) -> bool:
        left, right = self.resolve(condition["LeftValue"]), self.resolve(condition["RightValue"])
        compare = {
            "GreaterThanOrEqualTo": lambda a, b: a >= b,
            "GreaterThan": lambda a, b: a > b,
            "LessThan": lambda a, b: a < b,
            "LessThanOrEqualTo": lambda a, b: a <= b,
            "Equals": lambda a, b: a == b,
        }[condition["Type"]]
        return compare(float(left), float(right))

    def _processing(self, step: dict) -> None:
        args = step["Arguments"]
        root = self.work / "jobs" / step["Name"]
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)

        def inside(local_path: str) -> Path:
            if not local_path.startswith(MOUNT + "/"):
                raise StepFailed(f"{step['Name']}: LocalPath {local_path} is outside {MOUNT}")
            return root / local_path[len(MOUNT) + 1 :]

        for item in args["ProcessingInputs"]:
            s3 = item["S3Input"]
            uri = self.resolve(s3["S3Uri"])
            if s3["S3DataType"] != "S3Prefix" or self.download_prefix(uri, inside(s3["LocalPath"])) == 0:
                raise StepFailed(f"{step['Name']}: input {item['InputName']} finds nothing at {uri}")
        outputs = args["ProcessingOutputConfig"]["Outputs"]
        for item in outputs:
            inside(item["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
        app = args["AppSpecification"]
        command = [*app["ContainerEntrypoint"], *self.resolve(app.get("ContainerArguments", []))]
        env = {
            "PATH": f"{self.image_bin}{os.pathsep}/usr/bin:/bin",
            "HOME": str(root),
            **{k: str(self.resolve(v)) for k, v in args.get("Environment", {}).items()},
        }
        result = subprocess.run(
            ["unshare", "-rm", "sh", "-c", SANDBOX, str(root), *command],
            env=env, capture_output=True, text=True, timeout=600, cwd=root,
        )  # fmt: skip
        if result.returncode != 0:
            raise StepFailed(f"{step['Name']} exited {result.returncode}:\n{result.stderr[-3000:]}")
        resolved_outputs = {}
        for item in outputs:
            uri = self.resolve(item["S3Output"]["S3Uri"])
            self.upload_folder(inside(item["S3Output"]["LocalPath"]), uri)
            resolved_outputs[item["OutputName"]] = uri
        files = {}
        for spec in step.get("PropertyFiles", []):
            path = self.local(f"{resolved_outputs[spec['OutputName']].rstrip('/')}/{spec['FilePath']}")
            if not path.is_file():
                raise StepFailed(f"{step['Name']}: property file {spec['FilePath']} was not written")
            files[spec["PropertyFileName"]] = json.loads(path.read_text())
        self.properties[step["Name"]] = {
            "ProcessingOutputConfig": {
                "Outputs": {name: {"S3Output": {"S3Uri": uri}} for name, uri in resolved_outputs.items()}
            },
            "PropertyFiles": files,
            "stdout": result.stdout,
        }

    def _tuning(self, step: dict) -> None:
        from pipelines.training import tune_local

        job = step["Arguments"]["TrainingJobDefinition"]
        static = job["StaticHyperParameters"]
        channels = {}
        for channel in job["InputDataConfig"]:
            folder = self.work / "jobs" / step["Name"] / "data" / channel["ChannelName"]
            shutil.rmtree(folder, ignore_errors=True)
            if self.download_prefix(self.resolve(channel["DataSource"]["S3DataSource"]["S3Uri"]), folder) == 0:
                raise StepFailed(f"{step['Name']}: channel {channel['ChannelName']} is empty")
            channels[channel["ChannelName"]] = tune_local.load_split(folder)
        params = {"objective": static["objective"], "eval_metric": static["eval_metric"], "max_depth": 4, "eta": 0.1}
        booster = tune_local.train(params, channels["train"], channels["validation"])
        name = f"{step['Name'].lower()}-001-best"
        output = self.work / "jobs" / step["Name"] / "model"
        archive = tune_local.save_model(booster, output)
        self.put(
            f"{self.resolve(job['OutputDataConfig']['S3OutputPath']).rstrip('/')}/{name}/output/model.tar.gz", archive
        )
        self.properties[step["Name"]] = {"TrainingJobSummaries": [{"TrainingJobName": name}]}

    def _register(self, step: dict) -> None:
        args = self.resolve({k: v for k, v in step["Arguments"].items()})
        missing = [uri for uri in _s3_uris(args) if not self.exists(uri)]
        if missing:
            raise StepFailed(f"{step['Name']}: the package names objects no step wrote: {missing}")
        self.properties[step["Name"]] = {"registered": args}


def eval_property(document: dict, path: str):
    """``ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri``, ``TrainingJobSummaries[0].X``, ``PropertyFiles.Y``."""
    value = document
    for part in path.replace("[", ".[").split("."):
        if not part:
            continue
        if part.startswith("["):
            index = part[1:-1]
            value = value[int(index)] if index.isdigit() else value[index.strip("'\"")]
        else:
            value = value[part]
    return value


def _s3_uris(value) -> list[str]:
    if isinstance(value, str):
        return [value] if value.startswith("s3://") else []
    if isinstance(value, dict):
        return [uri for v in value.values() for uri in _s3_uris(v)]
    if isinstance(value, list):
        return [uri for v in value for uri in _s3_uris(v)]
    return []
