"""The Glue catalog of the lake: raw and curated databases, the curated table and its quality rules.

Columns, partition keys and the data-quality ruleset all come from the data-set spec
(``pipelines/data/spec.py``), so the table describes what the ETL writes.
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_glue as glue
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ml_constructs.lake import GovernedLake
from pipelines.data import spec as specs


class GlueCatalog(Construct):
    """Raw and curated databases (Lake Formation-governed), the curated table, its DQ ruleset.

    Attributes: ``raw_database``, ``curated_database``, ``curated_table`` (names),
    ``curated_prefix`` (where the table's objects live in the curated bucket),
    ``raw_db``, ``curated_db``, ``table``, ``dq_ruleset`` (resources).

    :param prefix: name prefix for named Glue resources (``mlops_dev``).
    :param dataset: the data-set spec the curated table holds.
    :param lake: the governance construct the catalog waits for.
    :param raw_bucket, curated_bucket: the zones.
    :param raw_events_prefix: where raw events land.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        dataset: specs.DataSet,
        lake: GovernedLake,
        raw_bucket: s3.IBucket,
        curated_bucket: s3.IBucket,
        raw_events_prefix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.raw_database = f"{prefix}_raw"
        self.curated_database = f"{prefix}_curated"
        self.curated_table = specs.curated_table(dataset)
        self.curated_prefix = f"{self.curated_table}/"
        self.raw_db = self._database("RawDatabase", self.raw_database, raw_bucket.s3_url_for_object(raw_events_prefix))
        self.curated_db = self._database("CuratedDatabase", self.curated_database, curated_bucket.s3_url_for_object())
        self.table = glue.CfnTable(
            self,
            "CuratedTable",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=self.curated_database,
            table_input=glue.CfnTable.TableInputProperty(
                name=self.curated_table,
                description=f"Cleaned, de-duplicated {dataset.name} records with engineered features",
                table_type="EXTERNAL_TABLE",
                parameters={"classification": "parquet", "EXTERNAL": "TRUE", "parquet.compression": "SNAPPY"},
                partition_keys=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in specs.partition_keys(dataset)],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in specs.curated_columns(dataset)],
                    location=curated_bucket.s3_url_for_object(self.curated_prefix),
                    input_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
                    ),
                ),
            ),
        )
        self.table.add_resource_dependency(self.curated_db)
        for resource in (self.raw_db, self.curated_db, self.table):
            resource.node.add_dependency(lake.settings)
        self.dq_ruleset = glue.CfnDataQualityRuleset(
            self,
            "CuratedQuality",
            name=f"{prefix}-{self.curated_table}",
            description="Completeness, domain and uniqueness rules of the curated table",
            ruleset=specs.dq_rules(dataset),
            target_table=glue.CfnDataQualityRuleset.DataQualityTargetTableProperty(
                database_name=self.curated_database, table_name=self.curated_table
            ),
        )
        self.dq_ruleset.add_resource_dependency(self.table)

    def _database(self, construct_id: str, name: str, location: str) -> glue.CfnDatabase:
        return glue.CfnDatabase(
            self,
            construct_id,
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=name,
                description=f"{name}: governed by Lake Formation",
                location_uri=location,
                # No IAMAllowedPrincipals default: tables here are reachable through Lake Formation grants only.
                create_table_default_permissions=[],
            ),
        )
