"""The MPS task with AWS-S3 credentials (tests/fixtures) and the credential values it carries.

A WorkflowTask built from the MPS SDK models: ``MediaInputInfo`` of type ``AWS-S3`` with
``S3InputInfo{S3Bucket, S3Region, S3Object, S3SecretId, S3SecretKey}``, subtask ``OutputStorage``
of type ``AWS-S3`` with ``S3OutputStorage``, an adaptive-streaming subtask with
``DrmInfo.SimpleAesDrm.Key``; the credentials are AWS's documented example keys.
"""

from __future__ import annotations

from tests.samples import REPO_ROOT

AWS_S3_TASK = (
    REPO_ROOT / "tests" / "fixtures" / "mps__WorkflowTask__aws-s3-with-credentials.json"
).read_bytes()
SECRETS = (
    "AKIAIOSFODNN7EXAMPLE",  # S3InputInfo.S3SecretId
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",  # S3InputInfo.S3SecretKey
    "AKIAI44QH8DHBEXAMPLE",  # S3OutputStorage.S3SecretId
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",  # S3OutputStorage.S3SecretKey
    "3f1c9a7e5b2d4c6e8f0a1b3c5d7e9f21",  # SimpleAesDrm.Key (the HLS content key)
)
