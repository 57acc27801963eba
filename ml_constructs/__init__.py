"""Reusable constructs of the reference architecture.

Named ``ml_constructs`` rather than ``constructs``: a top-level ``constructs``
package would shadow the ``constructs`` library that aws-cdk-lib imports.
"""

from ml_constructs.buckets import AccessLogsBucket, SecureBucket
from ml_constructs.keys import ServiceKey

__all__ = ["AccessLogsBucket", "SecureBucket", "ServiceKey"]
