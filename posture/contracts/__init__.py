"""Contracts between the synthesized stacks, the runtime code and the AWS services around them.

``model`` resolves a cloud assembly's templates, ``iam`` evaluates policies, ``calls`` records
what code calls and what IAM each call needs, ``access`` answers role / network / key questions,
``publishers`` and ``posture.metrics_catalog`` hold what AWS services send and emit (with sources).
"""
