"""The jsii floor: the smallest CDK app on the same toolchain (one bucket, no packs).

Run by bench/synth_bench.py through the same CLI, Node (JSII_NODE) and Python.
"""

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

app = cdk.App()
stack = cdk.Stack(app, "bench-one-bucket", env=cdk.Environment(region="eu-west-1"))
s3.Bucket(stack, "Bucket")
app.synth()
