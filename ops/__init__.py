"""Operating the platform on a real account: pre-flight checks, the smoke test, teardown.

These modules call AWS (with your credentials) and read a synthesized cloud
assembly (``cdk.out``); nothing here runs at synth.
"""
