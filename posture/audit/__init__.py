"""`make audit`: every profile through cdk-nag, the ML pack, cfn-lint, checkov, cfn-guard and parliament."""
