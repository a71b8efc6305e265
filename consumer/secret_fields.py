"""Credential-bearing field names of Tencent's MPS and VOD API models. GENERATED: do not edit.

Made by ``.venv/bin/python -m tests.generate_secret_fields`` from the models of the installed
SDK, by the rule stated in that script:

* ``tencentcloud.mps.v20190612.models``
* ``tencentcloud.vod.v20180717.models``

``tests/test_secret_fields.py`` fails when this list no longer matches the installed SDK
models. ``consumer.redact`` replaces the values of these keys in events.
"""

from __future__ import annotations

SECRET_FIELD_NAMES: frozenset[str] = frozenset(
    {
        "APIKey",
        "APIKeys",
        "ApiKey",
        "ApiToken",
        "ApiTokens",
        "EncryptedKey",
        "Key",
        "NotifyKey",
        "Passphrase",
        "PlayKey",
        "S3SecretId",
        "S3SecretKey",
        "ScrollToken",
        "SecretId",
        "SecretKey",
        "SignKey",
        "StreamKey",
        "Token",
        "VodSessionKey",
    }
)
