"""consumer/secret_fields.py is what the installed Tencent SDK models make of the rule.

Never skipped: without the MPS and VOD model packages the list can't be checked, so the test
fails and says what to install.
"""

from __future__ import annotations

import importlib

import pytest

from consumer.secret_fields import SECRET_FIELD_NAMES
from tests.generate_secret_fields import (
    MODEL_MODULES,
    TARGET,
    is_credential,
    render,
    secret_field_names,
)


@pytest.fixture(scope="module", autouse=True)
def _sdk_models_importable() -> None:
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            pytest.fail(
                f"{name} is not importable ({exc}): install the dev dependencies "
                "tencentcloud-sdk-python-mps and tencentcloud-sdk-python-vod",
                pytrace=False,
            )


def test_committed_list_matches_the_installed_sdk_models() -> None:
    """Stale if this fails: run `.venv/bin/python -m tests.generate_secret_fields`."""
    assert TARGET.read_text(encoding="utf-8") == render()
    assert sorted(SECRET_FIELD_NAMES) == secret_field_names()


def test_the_known_credential_fields_are_found_in_the_models() -> None:
    """What the issue names, and the callback/DRM keys, come out of the SDK's models."""
    names = set(secret_field_names())
    assert {"S3SecretId", "S3SecretKey", "SecretId", "SecretKey", "Token", "ApiToken"} <= names
    assert {"NotifyKey", "SignKey", "Key", "Passphrase"} <= names
    assert not {"InputTokens", "TagKey", "KeywordSet", "MaxKeys", "Sign"} & names


@pytest.mark.parametrize(
    ("name", "field_type", "expected"),
    [
        ("S3SecretKey", "str", True),
        ("ApiTokens", "list of str", True),
        ("StreamKey", "str", True),
        ("InputTokens", "int", False),  # a count, not a credential
        ("MaxKeys", "int", False),
        ("TempCertificate", "TempCertificate", False),  # an object: its fields are checked
        ("TagKey", "str", False),  # a tag's name, see NOT_CREDENTIALS
        ("KeywordSet", "list of str", False),  # "Key" inside a word is no key
    ],
)
def test_rule(name: str, field_type: str, expected: bool) -> None:
    """Strings named Secret/Token/Password/Passphrase or ending in Key(s) are credentials."""
    assert is_credential(name, field_type) is expected
