"""Typed access to an L2 construct's CloudFormation resource (its ``default_child``)."""

from __future__ import annotations

from typing import TypeVar

from aws_cdk import CfnResource
from constructs import IConstruct

Cfn = TypeVar("Cfn", bound=CfnResource)


def l1(construct: IConstruct, kind: type[Cfn]) -> Cfn:
    """The CloudFormation resource behind ``construct``, checked to be a ``kind``.

    ``node.default_child`` is typed ``IConstruct | None``; overrides and acknowledgments need the
    resource itself, and a construct without one is a programming error worth a clear message.
    """
    child = construct.node.default_child
    if not isinstance(child, kind):
        raise TypeError(f"{construct.node.path} has no {kind.__name__} default child (found {type(child).__name__})")
    return child
