"""Data buckets (those the Glue Data Catalog points at) are registered with Lake Formation.

Registration makes Lake Formation the authority over the catalogued data: grants on tables, not
bucket policies, decide who reads it.
"""

from __future__ import annotations

from posture.contracts.model import Assembly, Resource
from posture.ml_pack import Rule, Settings


def _bucket(uri: object) -> str | None:
    if isinstance(uri, str) and uri.startswith("s3://"):
        return uri.removeprefix("s3://").split("/", 1)[0]
    return None


def catalogued_buckets(asm: Assembly) -> set[str]:
    """Names of the buckets a Glue database, table or crawler points at."""
    out = set()
    for db in asm.resources("AWS::Glue::Database"):
        out.add(_bucket(asm.props(db).get("DatabaseInput", {}).get("LocationUri")))
    for table in asm.resources("AWS::Glue::Table"):
        out.add(_bucket(asm.props(table).get("TableInput", {}).get("StorageDescriptor", {}).get("Location")))
    for crawler in asm.resources("AWS::Glue::Crawler"):
        for target in asm.props(crawler).get("Targets", {}).get("S3Targets", []):
            out.add(_bucket(target.get("Path")))
    return out - {None}  # type: ignore[return-value]


def registered(asm: Assembly) -> set[str]:
    arns = {asm.props(r).get("ResourceArn") for r in asm.resources("AWS::LakeFormation::Resource")}
    return {arn.removeprefix("arn:aws:s3:::").split("/", 1)[0] for arn in arns if isinstance(arn, str)}


def check(asm: Assembly, bucket: Resource, settings: Settings) -> list[str]:
    name = asm.resolve(bucket.stack, {"Ref": bucket.logical_id})
    if name in catalogued_buckets(asm) and name not in registered(asm):
        return ["the Glue Data Catalog points at this bucket but it is not registered with Lake Formation"]
    return []


RULE = Rule(
    "LakeFormationRegistration",
    "Buckets the Glue Data Catalog points at must be registered with Lake Formation.",
    ("AWS::S3::Bucket",),
    check,
)
