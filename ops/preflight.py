"""Pre-flight: what to request or do on an account before ``cdk deploy`` (read-only calls only).

    make preflight PROFILE=prod          # synthesizes, then checks the account your credentials reach

Every number comes from the profile's synthesized templates (``cdk.out``): the
bootstrap version they require, the Lambda reservations they make, the SageMaker
instances they run. Prints one line per check (PASS/WARN/FAIL, and what to
request) and exits 1 on any FAIL, 2 without credentials.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from config import Profile, get_profile
from config.profiles import missing_contacts
from ops.assembly import LAMBDA_UNRESERVED_MINIMUM, Assembly
from ops.report import FAIL, PASS, WARN, Check, exit_code, explain, print_table

BOOTSTRAP_STACK = "CDKToolkit"
LAMBDA_CONCURRENCY_QUOTA = "L-B99A9384"  # Lambda "Concurrent executions"
# Documented default of "Number of parallel training jobs per hyperparameter tuning job".
TUNING_PARALLEL_DEFAULT = 10
_TUNING_QUOTA = re.compile(r"(parallel|concurrent) training jobs per (hyperparameter )?tuning job", re.I)
SERVICE_FOR_ROLE = {
    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint": "sagemaker.application-autoscaling.amazonaws.com",
    "AWSServiceRoleForLakeFormationDataAccess": "lakeformation.amazonaws.com",
}
CLIENTS = ("cloudformation", "ssm", "lakeformation", "iam", "lambda", "service-quotas")


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _guarded(name: str, action: str, check: Callable[[], list[Check]]) -> list[Check]:
    try:
        return check()
    except (ClientError, BotoCoreError) as error:
        return [Check(name, FAIL, explain(error, action))]


def check_bootstrap(cfn, ssm, assembly: Assembly) -> list[Check]:
    """The CDK bootstrap stack exists, with the assembly's qualifier and at least the version it requires."""
    out = []
    bootstrap = (
        f"cdk bootstrap (qualifier {assembly.qualifier}) with this repo's CLI: npx cdk bootstrap aws://ACCOUNT/REGION"
    )

    def stack() -> list[Check]:
        try:
            found = cfn.describe_stacks(StackName=BOOTSTRAP_STACK)["Stacks"][0]
        except ClientError as error:
            if _code(error) == "ValidationError" and "does not exist" in str(error):
                return [Check("bootstrap stack", FAIL, f"{BOOTSTRAP_STACK} not found", bootstrap)]
            raise
        status = found["StackStatus"]
        qualifier = {p["ParameterKey"]: p.get("ParameterValue") for p in found.get("Parameters", [])}.get("Qualifier")
        if not status.endswith("_COMPLETE") or "ROLLBACK" in status:
            return [Check("bootstrap stack", FAIL, f"{BOOTSTRAP_STACK} is {status}", bootstrap)]
        if qualifier and qualifier != assembly.qualifier:
            return [
                Check(
                    "bootstrap stack", FAIL, f"qualifier {qualifier}, templates expect {assembly.qualifier}", bootstrap
                )
            ]
        return [
            Check("bootstrap stack", PASS, f"{BOOTSTRAP_STACK} {status}, qualifier {qualifier or assembly.qualifier}")
        ]

    def version() -> list[Check]:
        name, needed = assembly.bootstrap_version_parameter, assembly.required_bootstrap_version
        try:
            value = int(ssm.get_parameter(Name=name)["Parameter"]["Value"])
        except ClientError as error:
            if _code(error) == "ParameterNotFound":
                return [Check("bootstrap version", FAIL, f"{name} not found (needs >= {needed})", bootstrap)]
            raise
        if value < needed:
            return [Check("bootstrap version", FAIL, f"{value} < {needed} required by the templates", bootstrap)]
        return [Check("bootstrap version", PASS, f"{value} >= {needed} required by the templates")]

    out += _guarded("bootstrap stack", "cloudformation:DescribeStacks", stack)
    out += _guarded("bootstrap version", "ssm:GetParameter", version)
    return out


def check_lake_formation(lf, iam, assembly: Assembly, profile: Profile, account: str, partition: str) -> list[Check]:
    """The profile's administrators, and that the deploy role is (or can make itself) a data-lake admin."""
    exec_role = f"arn:{partition}:iam::{account}:role/cdk-{assembly.qualifier}-cfn-exec-role-{account}-{profile.region}"

    def run() -> list[Check]:
        settings = lf.get_data_lake_settings()["DataLakeSettings"]
        admins = {a["DataLakePrincipalIdentifier"] for a in settings.get("DataLakeAdmins", [])}
        out = []
        for arn in profile.lake_admin_arns:
            if arn in admins:
                out.append(Check("lake admin", PASS, f"{arn} is an administrator"))
            else:
                out.append(Check("lake admin", WARN, f"{arn} is not an administrator yet", "the deploy appends it"))
        if exec_role in admins:
            out.append(Check("lake deploy role", PASS, "the CDK cfn-exec role is an administrator"))
            return out
        decisions = iam.simulate_principal_policy(
            PolicySourceArn=exec_role,
            ActionNames=["lakeformation:GetDataLakeSettings", "lakeformation:PutDataLakeSettings"],
        )["EvaluationResults"]
        denied = [d["EvalActionName"] for d in decisions if d["EvalDecision"] != "allowed"]
        if denied:
            out.append(
                Check(
                    "lake deploy role",
                    FAIL,
                    f"the CDK cfn-exec role may not call {', '.join(denied)}",
                    f"add {exec_role} as a Lake Formation administrator, or allow it those actions",
                )
            )
        else:
            out.append(Check("lake deploy role", PASS, "the CDK cfn-exec role can append itself as administrator"))
        return out

    return _guarded("lake formation", "lakeformation:GetDataLakeSettings / iam:SimulatePrincipalPolicy", run)


def check_lambda(quotas, lambda_, assembly: Assembly) -> list[Check]:
    """Account concurrency covers the profile's reservations plus Lambda's unreserved 100."""
    reservations = assembly.lambda_reservations
    reserved = sum(n for _, n in reservations)
    needed = assembly.lambda_concurrency_needed

    def run() -> list[Check]:
        limits = lambda_.get_account_settings()["AccountLimit"]
        try:
            limit = int(
                quotas.get_service_quota(ServiceCode="lambda", QuotaCode=LAMBDA_CONCURRENCY_QUOTA)["Quota"]["Value"]
            )
        except ClientError as error:
            if _code(error) != "NoSuchResourceException":
                raise
            limit = int(limits["ConcurrentExecutions"])
        if not reservations:
            return [Check("lambda concurrency", PASS, f"limit {limit}; this profile reserves none")]
        how = f"{len(reservations)} functions x {reservations[0][1]} reserved + {LAMBDA_UNRESERVED_MINIMUM} unreserved"
        if len({n for _, n in reservations}) > 1:
            how = f"{reserved} reserved over {len(reservations)} functions + {LAMBDA_UNRESERVED_MINIMUM} unreserved"
        if limit < needed:
            return [
                Check(
                    "lambda concurrency",
                    FAIL,
                    f"limit {limit} < {needed} needed ({how})",
                    f"request Lambda quota {LAMBDA_CONCURRENCY_QUOTA} 'Concurrent executions' >= {needed}",
                )
            ]
        unreserved = int(limits["UnreservedConcurrentExecutions"])
        if unreserved - reserved < LAMBDA_UNRESERVED_MINIMUM:
            return [
                Check(
                    "lambda concurrency",
                    WARN,
                    f"limit {limit} covers {needed} ({how}), but only {unreserved} is unreserved now",
                    "other functions reserve concurrency (or this profile is deployed already): "
                    f"keep {reserved + LAMBDA_UNRESERVED_MINIMUM} unreserved before the first deploy",
                )
            ]
        return [Check("lambda concurrency", PASS, f"limit {limit} >= {needed} ({how})")]

    return _guarded("lambda concurrency", "lambda:GetAccountSettings / servicequotas:GetServiceQuota", run)


def sagemaker_quotas(quotas) -> dict[str, dict]:
    """Every SageMaker quota by name: AWS defaults overlaid with the account's applied values."""
    found: dict[str, dict] = {}
    for operation in ("list_aws_default_service_quotas", "list_service_quotas"):
        for page in quotas.get_paginator(operation).paginate(ServiceCode="sagemaker"):
            for quota in page["Quotas"]:
                found[quota["QuotaName"]] = quota
    return found


def check_sagemaker(quotas, assembly: Assembly) -> list[Check]:
    """An instance quota for every type and use the profile runs, and the tuning job's parallelism."""

    def run() -> list[Check]:
        known = sagemaker_quotas(quotas)
        out = []
        for demand in assembly.instance_demands():
            quota = known.get(demand.quota_name)
            name = f"sagemaker {demand.usage}"
            if quota is None:
                out.append(
                    Check(name, FAIL, f"no quota '{demand.quota_name}' in this region", "pick an offered instance type")
                )
                continue
            value = int(quota["Value"])
            if value < demand.count:
                out.append(
                    Check(
                        name,
                        FAIL,
                        f"'{demand.quota_name}' is {value} < {demand.count} ({demand.why})",
                        f"request SageMaker quota {quota['QuotaCode']} '{demand.quota_name}' >= {demand.count}",
                    )
                )
            else:
                out.append(Check(name, PASS, f"'{demand.quota_name}' is {value} >= {demand.count} ({demand.why})"))
        for instance_type, maximum in assembly.autoscaling_max().items():
            quota = known.get(f"{instance_type} for endpoint usage")
            if quota and int(quota["Value"]) < 2 * maximum:
                out.append(
                    Check(
                        "sagemaker autoscaling",
                        WARN,
                        f"'{quota['QuotaName']}' is {int(quota['Value'])}: autoscaled to {maximum}, a blue/green "
                        f"update needs {2 * maximum}",
                        f"request {quota['QuotaCode']} >= {2 * maximum} before traffic scales the endpoint out",
                    )
                )
        parallel = assembly.max_parallel_tuning_jobs()
        if parallel:
            tuning = next((q for n, q in known.items() if _TUNING_QUOTA.search(n)), None)
            value = int(tuning["Value"]) if tuning else TUNING_PARALLEL_DEFAULT
            label = f"'{tuning['QuotaName']}'" if tuning else "parallel training jobs per tuning job (default)"
            if value < parallel:
                out.append(Check("sagemaker tuning", FAIL, f"{label} is {value} < {parallel}", "request an increase"))
            else:
                out.append(Check("sagemaker tuning", PASS, f"{label} is {value} >= {parallel}"))
        return out

    return _guarded("sagemaker quotas", "servicequotas:ListServiceQuotas", run)


def check_service_linked_roles(iam, assembly: Assembly) -> list[Check]:
    """Service-linked roles the stacks rely on: present, or created on first use by the deploy role."""
    out = []
    needed = assembly.service_linked_roles()
    for role, why in needed.items():

        def run(role: str = role, why: str = why) -> list[Check]:
            try:
                iam.get_role(RoleName=role)
            except ClientError as error:
                if _code(error) != "NoSuchEntity":
                    raise
                return [
                    Check(
                        "service-linked role",
                        WARN,
                        f"{role} missing; {why}",
                        f"if the deploy role may not create it: aws iam create-service-linked-role "
                        f"--aws-service-name {SERVICE_FOR_ROLE.get(role, '<service>')}",
                    )
                ]
            return [Check("service-linked role", PASS, f"{role} exists")]

        out += _guarded("service-linked role", "iam:GetRole", run)
    if "AWSServiceRoleForLakeFormationDataAccess" not in needed:
        out.append(
            Check(
                "service-linked role",
                PASS,
                "Lake Formation's not needed: locations are registered with the platform's own data-access role",
            )
        )
    return out


def check_contacts(profile: Profile) -> list[Check]:
    """Alarm subscribers and lake administrators: required where the profile keeps its data (prod), else a warning.

    No AWS call: ``make deploy`` runs this alone (``--contacts-only``) before ``cdk deploy``.
    """
    status = FAIL if profile.retain_data else WARN
    missing = missing_contacts(profile)
    checks = [
        Check("contacts", status, f"profile {profile.name!r} has no {key}", f"{why} (config/profiles.py)")
        for key, why in missing.items()
    ]
    if not missing:
        checks.append(
            Check(
                "contacts",
                PASS,
                f"{len(profile.alarm_emails)} alarm subscriber(s), {len(profile.lake_admin_arns)} lake administrator(s)",
            )
        )
    return checks


def run_preflight(clients: dict, assembly: Assembly, profile: Profile, account: str, partition: str) -> list[Check]:
    checks = check_contacts(profile)
    if profile.account and profile.account != account:
        checks.append(
            Check("account", FAIL, f"credentials reach {account}, profile {profile.name} is for {profile.account}")
        )
    checks += check_bootstrap(clients["cloudformation"], clients["ssm"], assembly)
    checks += check_lake_formation(clients["lakeformation"], clients["iam"], assembly, profile, account, partition)
    checks += check_lambda(clients["service-quotas"], clients["lambda"], assembly)
    checks += check_sagemaker(clients["service-quotas"], assembly)
    checks += check_service_linked_roles(clients["iam"], assembly)
    return checks


def main(argv: list[str] | None = None, session: boto3.Session | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="dev", help="deployment profile (config/profiles.py)")
    parser.add_argument("--assembly", default="cdk.out", help="the profile's synthesized cloud assembly")
    parser.add_argument(
        "--contacts-only",
        action="store_true",
        help="only the profile's alarm subscribers and lake admins (no AWS call)",
    )
    args = parser.parse_args(argv)
    profile = get_profile(args.profile)
    if args.contacts_only:
        checks = check_contacts(profile)
        print_table(checks)
        return exit_code(checks)
    try:
        assembly = Assembly(args.assembly, profile.name)
    except (FileNotFoundError, ValueError) as error:
        print(f"preflight: {error}", file=sys.stderr)
        return 2
    session = session or boto3.Session(region_name=profile.region)
    if session.get_credentials() is None:
        print(
            "preflight: no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", file=sys.stderr
        )
        return 2
    try:
        identity = session.client("sts").get_caller_identity()
    except (ClientError, BotoCoreError) as error:
        print(f"preflight: {explain(error, 'sts:GetCallerIdentity')}", file=sys.stderr)
        return 2
    account, partition = identity["Account"], identity["Arn"].split(":")[1]
    print(f"pre-flight of profile {profile.name} for account {account} in {profile.region} ({args.assembly})\n")
    clients = {name: session.client(name, region_name=profile.region) for name in CLIENTS}
    checks = run_preflight(clients, assembly, profile, account, partition)
    print_table(checks)
    return exit_code(checks)


if __name__ == "__main__":
    sys.exit(main())
