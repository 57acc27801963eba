"""Pre-flight against stubbed AWS APIs, with numbers taken from the synthesized templates."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from config import get_profile
from config.profiles import PROFILES, derive
from ops import preflight
from ops.assembly import LAMBDA_UNRESERVED_MINIMUM, Assembly
from ops.report import FAIL, PASS, exit_code

ACCOUNT = "123456789012"
LAMBDAS = Path(__file__).resolve().parents[1] / "lambdas"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/LakeAdmin"
EXEC_ROLE = f"arn:aws:iam::{ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-{ACCOUNT}-eu-west-1"


@pytest.fixture(scope="module")
def ops_dev(dev) -> Assembly:
    return Assembly(dev.outdir, "dev")


@pytest.fixture(scope="module")
def ops_prod(prod) -> Assembly:
    return Assembly(prod.outdir, "prod")


def client(name: str):
    return boto3.client(name, region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing")


class Account:
    """Stubbed clients for one pre-flight run; each check's responses are queued on its client."""

    def __init__(self) -> None:
        self.clients = {name: client(name) for name in preflight.CLIENTS}
        self.stubs = {name: Stubber(c) for name, c in self.clients.items()}

    def __getitem__(self, name: str) -> Stubber:
        return self.stubs[name]

    def __enter__(self) -> Account:
        for stub in self.stubs.values():
            stub.activate()
        return self

    def __exit__(self, *exc) -> None:
        for stub in self.stubs.values():
            stub.deactivate()

    def verify(self) -> None:
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()


def queue_bootstrap(acct: Account, version: int = 21, exists: bool = True) -> None:
    if exists:
        acct["cloudformation"].add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "CDKToolkit",
                        "CreationTime": "2026-01-01T00:00:00Z",
                        "StackStatus": "UPDATE_COMPLETE",
                        "Parameters": [{"ParameterKey": "Qualifier", "ParameterValue": "hnb659fds"}],
                    }
                ]
            },
            {"StackName": "CDKToolkit"},
        )
        acct["ssm"].add_response(
            "get_parameter",
            {"Parameter": {"Name": "/cdk-bootstrap/hnb659fds/version", "Type": "String", "Value": str(version)}},
            {"Name": "/cdk-bootstrap/hnb659fds/version"},
        )
    else:
        acct["cloudformation"].add_client_error(
            "describe_stacks", "ValidationError", "Stack with id CDKToolkit does not exist"
        )
        acct["ssm"].add_client_error("get_parameter", "ParameterNotFound", "")


def queue_lake(acct: Account, admins: list[str], allowed: bool = True) -> None:
    acct["lakeformation"].add_response(
        "get_data_lake_settings",
        {"DataLakeSettings": {"DataLakeAdmins": [{"DataLakePrincipalIdentifier": a} for a in admins]}},
    )
    if EXEC_ROLE not in admins:
        acct["iam"].add_response(
            "simulate_principal_policy",
            {
                "EvaluationResults": [
                    {"EvalActionName": a, "EvalDecision": "allowed" if allowed else "implicitDeny"}
                    for a in ("lakeformation:GetDataLakeSettings", "lakeformation:PutDataLakeSettings")
                ]
            },
            {
                "PolicySourceArn": EXEC_ROLE,
                "ActionNames": ["lakeformation:GetDataLakeSettings", "lakeformation:PutDataLakeSettings"],
            },
        )


def queue_lambda(acct: Account, limit: int, unreserved: int | None = None) -> None:
    acct["lambda"].add_response(
        "get_account_settings",
        {"AccountLimit": {"ConcurrentExecutions": limit, "UnreservedConcurrentExecutions": unreserved or limit}},
    )
    acct["service-quotas"].add_response(
        "get_service_quota",
        {"Quota": {"QuotaCode": "L-B99A9384", "QuotaName": "Concurrent executions", "Value": float(limit)}},
        {"ServiceCode": "lambda", "QuotaCode": "L-B99A9384"},
    )


def queue_sagemaker(acct: Account, assembly: Assembly, value: int | None = None, applied: dict | None = None) -> None:
    """Defaults for every quota the assembly needs (``value`` or exactly enough), then applied values."""
    defaults = [
        {"QuotaCode": f"L-{i:08X}", "QuotaName": d.quota_name, "Value": float(d.count if value is None else value)}
        for i, d in enumerate(assembly.instance_demands())
    ]
    defaults.append(
        {"QuotaCode": "L-TUNE0001", "QuotaName": "Number of parallel training jobs per hyperparameter tuning job",
         "Value": 10.0}
    )  # fmt: skip
    acct["service-quotas"].add_response(
        "list_aws_default_service_quotas", {"Quotas": defaults}, {"ServiceCode": "sagemaker"}
    )
    applied_quotas = [
        {**q, "Value": float(applied[q["QuotaName"]])} for q in defaults if q["QuotaName"] in (applied or {})
    ]
    acct["service-quotas"].add_response("list_service_quotas", {"Quotas": applied_quotas}, {"ServiceCode": "sagemaker"})


def queue_roles(acct: Account, present: bool = True) -> None:
    name = "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
    if present:
        acct["iam"].add_response(
            "get_role",
            {"Role": {"Path": "/aws-service-role/", "RoleName": name, "RoleId": "AROAEXAMPLEEXAMPLE01",
                      "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}", "CreateDate": "2026-01-01T00:00:00Z"}},
            {"RoleName": name},
        )  # fmt: skip
    else:
        acct["iam"].add_client_error("get_role", "NoSuchEntity", "not found", expected_params={"RoleName": name})


def by_name(checks, name):
    return [c for c in checks if c.name == name]


def test_numbers_come_from_the_templates_and_the_profile(ops_dev: Assembly, ops_prod: Assembly) -> None:
    for assembly in (ops_dev, ops_prod):
        profile = get_profile(assembly.profile)
        # The platform's own functions (lambdas/<package>), not CDK's custom-resource providers.
        functions = [
            f for f in assembly.resources("AWS::Lambda::Function")
            if (LAMBDAS / str(f.properties.get("Handler", "")).split(".")[0] / "handler.py").exists()
        ]  # fmt: skip
        assert functions
        reservation = profile.lambda_reserved_concurrency
        assert [n for _, n in assembly.lambda_reservations] == ([reservation] * len(functions) if reservation else [])
        assert assembly.lambda_concurrency_needed == len(functions) * (reservation or 0) + LAMBDA_UNRESERVED_MINIMUM
        demands = {(d.usage, d.instance_type): d.count for d in assembly.instance_demands()}
        serving, training = profile.serving, profile.training
        assert demands[("endpoint", serving.instance_type)] == 2 * 2 * serving.instance_count  # two variants
        assert demands[("processing job", training.processing_instance_type)] >= 1
        usage = "spot training job" if training.spot else "training job"
        assert demands[(usage, training.training_instance_type)] == training.max_parallel_tuning_jobs
        assert assembly.required_bootstrap_version >= 6 and assembly.qualifier == "hnb659fds"
    # Prod today: 4 platform functions x 20 + 100 unreserved.
    assert ops_prod.lambda_concurrency_needed >= 180
    assert ops_dev.lambda_reservations == []


def test_quota_names_follow_service_quotas(ops_prod: Assembly) -> None:
    names = {d.quota_name for d in ops_prod.instance_demands()}
    assert "ml.m5.xlarge for endpoint usage" in names
    assert "ml.m5.xlarge for processing job usage" in names
    assert "ml.m5.2xlarge for training job usage" in names


def test_ready_account_passes(ops_prod: Assembly) -> None:
    profile = derive(get_profile("prod"), name="prod", alarm_emails=("ops@example.com",), lake_admin_arns=(ADMIN,))
    with Account() as acct:
        queue_bootstrap(acct)
        queue_lake(acct, admins=[])
        queue_lambda(acct, limit=1000)
        queue_sagemaker(acct, ops_prod, applied={"ml.m5.xlarge for endpoint usage": 40})
        queue_roles(acct)
        checks = preflight.run_preflight(acct.clients, ops_prod, profile, ACCOUNT, "aws")
        acct.verify()
    assert not [c for c in checks if c.status == FAIL], checks
    assert exit_code(checks) == 0
    assert by_name(checks, "lambda concurrency")[0].status == PASS


def test_fresh_account_says_what_to_request(ops_prod: Assembly) -> None:
    profile = get_profile("prod")
    with Account() as acct:
        queue_bootstrap(acct, version=5)
        queue_lake(acct, admins=["arn:aws:iam::123456789012:role/Other"], allowed=False)
        queue_lambda(acct, limit=10)
        queue_sagemaker(acct, ops_prod, value=0)
        queue_roles(acct, present=False)
        checks = preflight.run_preflight(acct.clients, ops_prod, profile, ACCOUNT, "aws")
        acct.verify()
    assert exit_code(checks) == 1
    version = by_name(checks, "bootstrap version")[0]
    assert version.status == FAIL and "5 < 6" in version.found
    lam = by_name(checks, "lambda concurrency")[0]
    assert lam.status == FAIL
    assert f">= {ops_prod.lambda_concurrency_needed}" in lam.action and "L-B99A9384" in lam.action
    endpoint = next(c for c in checks if c.name == "sagemaker endpoint")
    assert endpoint.status == FAIL and "'ml.m5.xlarge for endpoint usage' >= 8" in endpoint.action
    assert by_name(checks, "lake deploy role")[0].status == FAIL
    assert "create-service-linked-role" in by_name(checks, "service-linked role")[0].action


def test_missing_bootstrap_and_reserved_elsewhere(ops_prod: Assembly) -> None:
    profile = get_profile("prod")
    with Account() as acct:
        queue_bootstrap(acct, exists=False)
        queue_lake(acct, admins=[EXEC_ROLE])
        queue_lambda(acct, limit=1000, unreserved=150)
        queue_sagemaker(acct, ops_prod)
        queue_roles(acct)
        checks = preflight.run_preflight(acct.clients, ops_prod, profile, ACCOUNT, "aws")
    assert [c.status for c in by_name(checks, "bootstrap stack")] == [FAIL]
    assert "cdk bootstrap" in by_name(checks, "bootstrap stack")[0].action
    assert by_name(checks, "lambda concurrency")[0].status == "WARN"
    assert by_name(checks, "lake deploy role")[0].status == PASS


def test_missing_permissions_are_sentences_not_tracebacks(ops_dev: Assembly) -> None:
    profile = get_profile("dev")
    with Account() as acct:
        acct["cloudformation"].add_client_error("describe_stacks", "AccessDenied", "not authorized")
        acct["ssm"].add_client_error("get_parameter", "AccessDeniedException", "not authorized")
        acct["lakeformation"].add_client_error("get_data_lake_settings", "AccessDeniedException", "no")
        acct["lambda"].add_client_error("get_account_settings", "AccessDeniedException", "no")
        acct["service-quotas"].add_client_error("list_aws_default_service_quotas", "AccessDeniedException", "no")
        acct["iam"].add_client_error("get_role", "AccessDenied", "no")
        checks = preflight.run_preflight(acct.clients, ops_dev, profile, ACCOUNT, "aws")
    denied = [c for c in checks if "denied" in c.found]
    assert {c.name for c in denied} >= {
        "bootstrap stack", "bootstrap version", "lake formation", "lambda concurrency", "sagemaker quotas",
        "service-linked role",
    }  # fmt: skip
    assert all(c.status == FAIL for c in denied)
    assert "cloudformation:DescribeStacks denied" in by_name(checks, "bootstrap stack")[0].found


def test_main_without_credentials_exits_2(ops_dev: Assembly, capsys) -> None:
    class NoCredentials:
        def get_credentials(self):
            return None

    assert preflight.main(["--profile", "dev", "--assembly", str(ops_dev.outdir)], session=NoCredentials()) == 2
    assert "no AWS credentials" in capsys.readouterr().err


def test_main_without_assembly_exits_2(tmp_path, capsys) -> None:
    assert preflight.main(["--profile", "dev", "--assembly", str(tmp_path)]) == 2
    assert "synthesize first" in capsys.readouterr().err


def test_main_prints_the_table(ops_dev: Assembly, capsys) -> None:
    acct = Account()
    sts = client("sts")
    sts_stub = Stubber(sts)
    sts_stub.add_response(
        "get_caller_identity", {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/me", "UserId": "AIDAEXAMPLE"}
    )

    class Session:
        def get_credentials(self):
            return object()

        def client(self, name, region_name=None):
            return sts if name == "sts" else acct.clients[name]

    with acct, sts_stub:
        queue_bootstrap(acct)
        queue_lake(acct, admins=[EXEC_ROLE])
        queue_lambda(acct, limit=10)
        queue_sagemaker(acct, ops_dev)
        queue_roles(acct)
        code = preflight.main(["--profile", "dev", "--assembly", str(ops_dev.outdir)], session=Session())
    out = capsys.readouterr().out
    assert code == 0, out
    assert "bootstrap version" in out and "PASS" in out and "ml.m5.large for endpoint usage" in out
    assert "this profile reserves none" in out


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_a_profile_that_keeps_its_data_refuses_to_deploy_without_contacts(name: str, capsys) -> None:
    # `make deploy` runs exactly this before `cdk deploy`; synth of the same profile only warns.
    profile = PROFILES[name]
    code = preflight.main(["--profile", name, "--contacts-only"])
    out = capsys.readouterr().out
    if profile.retain_data and not (profile.alarm_emails and profile.lake_admin_arns):
        assert code == 1, out
        assert "FAIL" in out and "alarm_emails" in out and "lake_admin_arns" in out
    else:
        assert code == 0, out


def test_contacts_fail_only_where_data_is_kept() -> None:
    for base in (get_profile("dev"), get_profile("prod")):
        checks = preflight.check_contacts(derive(base, name="x", alarm_emails=(), lake_admin_arns=()))
        assert {c.status for c in checks} == {FAIL if base.retain_data else "WARN"}
        assert {c.found.rsplit(" ", 1)[-1] for c in checks} == {"alarm_emails", "lake_admin_arns"}
        assert all("config/profiles.py" in c.action for c in checks)
    ready = derive(get_profile("prod"), name="x", alarm_emails=("ops@example.com",), lake_admin_arns=(ADMIN,))
    assert [c.status for c in preflight.check_contacts(ready)] == [PASS]
