"""Security posture as code.

``posture.checks`` registers the cdk-nag packs and records acknowledgments
(it imports the CDK); ``posture.report`` reads a synthesized assembly (it does
not, so reporting starts no Node process).
"""

# Plugin names as the validation report spells them; rule ids start with "<name>-".
PACK_NAMES = ("AwsSolutions", "HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")
# The project's ML rule pack (posture.ml_pack); its rule ids are "MLOps-<Rule>".
ML_PACK = "MLOps"
# CDK's built-in CloudFormation validation; its rule ids are "CloudFormation-Validate::<id>".
CFN_VALIDATE = "CloudFormation-Validate"
# Template metadata key where every scanner suppression keeps its reason ("tool:rule" -> reason).
AUDIT_REASONS = "mlops:audit-reasons"
