"""ETL rejects as metrics: filters on the log group the Glue job really writes its stdout to."""

from __future__ import annotations

import json
import re

from ml_constructs.etl_metrics import COUNTS, ETL_NAMESPACE, SUMMARY_EVENT
from pipelines.glue import curate
from tests.conftest import Assembly


def _ref(value: object) -> str:
    return value["Ref"] if isinstance(value, dict) and "Ref" in value else value


def test_the_filters_read_the_output_log_group_the_job_is_pointed_at(assembly: Assembly) -> None:
    """Glue 5.0 writes a job's stdout to <--custom-logGroup-prefix>/output (default /aws-glue/jobs/output)."""
    (job,) = assembly.resources("data-lake", "AWS::Glue::Job").values()
    prefix = job["Properties"]["DefaultArguments"]["--custom-logGroup-prefix"]
    assert prefix.startswith("/aws-glue/")  # the job role may create streams and write only under /aws-glue/
    groups = assembly.resources("data-lake", "AWS::Logs::LogGroup")
    (group_id,) = [k for k, g in groups.items() if g["Properties"].get("LogGroupName") == f"{prefix}/output"]
    assert "KmsKeyId" in groups[group_id]["Properties"] and "RetentionInDays" in groups[group_id]["Properties"]
    filters = assembly.resources("data-lake", "AWS::Logs::MetricFilter").values()
    published = {}
    for f in filters:
        props = f["Properties"]
        assert _ref(props["LogGroupName"]) == group_id
        (transform,) = props["MetricTransformations"]
        assert transform["MetricNamespace"] == ETL_NAMESPACE and not transform.get("Dimensions")
        published[transform["MetricName"]] = (props["FilterPattern"], transform["MetricValue"])
    assert published == {name: (f'{{ $.event = "{SUMMARY_EVENT}" }}', f"$.{key}") for name, key in COUNTS.items()}


def matches(pattern: str, line: str) -> bool:
    """CloudWatch Logs' JSON filter pattern ``{ $.field = "value" }`` (the one form the filters use)."""
    field, value = re.fullmatch(r'\{ \$\.(\w+) = "([^"]*)" \}', pattern).groups()
    try:
        event = json.loads(line)
    except ValueError:
        return False
    return isinstance(event, dict) and event.get(field) == value


def test_the_pattern_matches_the_etl_run_summary_and_nothing_else() -> None:
    module = curate
    assert module.SUMMARY_EVENT == SUMMARY_EVENT
    line = module.summary_line({"dataset": "churn", "run_id": "jr_1", "input_rows": 10, "curated_rows": 9,
                                "rejected_rows": 1, "rejects_by_kind": {"schema": 1}})  # fmt: skip
    pattern = f'{{ $.event = "{SUMMARY_EVENT}" }}'
    assert matches(pattern, line)
    assert {key: json.loads(line)[key] for key in COUNTS.values()} == {"curated_rows": 9, "rejected_rows": 1}
    assert not matches(pattern, '{"event": "other", "rejected_rows": 5}') and not matches(pattern, "rejected_rows 5")
