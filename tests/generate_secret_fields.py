"""Write consumer/secret_fields.py: the credential-bearing field names of Tencent's API models.

Usage: ``.venv/bin/python -m tests.generate_secret_fields``. ``tests/test_secret_fields.py``
fails when the committed module is not what this script makes of the installed SDK models, so
a new SDK release that adds a credential field can't go unnoticed.

The rule (a name says what a field holds; the SDK's docstrings give its type):

* the field's type is a string or a list of strings - a number is never a credential
  (``InputTokens``, ``OutputTokens`` count LLM tokens);
* its name contains ``Secret``, ``Token``, ``Password`` or ``Passphrase`` (``S3SecretId``,
  ``SecretKey``, ``ApiToken``, SRT's ``Passphrase``...), or ends with ``Key``/``Keys``
  (``S3SecretKey``, ``NotifyKey`` and ``SignKey`` that sign callbacks, ``PlayKey``,
  ``StreamKey``, and ``Key`` - ``SimpleAesDrm.Key`` is a content encryption key, so the name
  is redacted everywhere although some models use it for plain names);
* and it is not one of :data:`NOT_CREDENTIALS`, names the rule would take that the SDK
  documents as something else.

Needs the MPS and VOD model packages (``tencentcloud-sdk-python-mps`` and ``-vod``, dev
dependencies); the core (``consumer/``) never imports the SDK, so the list is committed.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

from tests.samples import REPO_ROOT

MODEL_MODULES = ("tencentcloud.mps.v20190612.models", "tencentcloud.vod.v20180717.models")
TARGET = REPO_ROOT / "consumer" / "secret_fields.py"

_NAME_WORDS = ("secret", "token", "password", "passphrase")
_NAME_ENDINGS = ("Key", "Keys")
_STRING_TYPES = frozenset({"str", "list of str"})
# Name -> what the SDK says it is.
NOT_CREDENTIALS = {
    "TagKey": "a resource tag's name (ResourceTag: 标签键), next to its TagValue",
}
_RTYPE = re.compile(r":rtype: (.+)")

HEADER = '''"""Credential-bearing field names of Tencent's MPS and VOD API models. GENERATED: do not edit.

Made by ``.venv/bin/python -m tests.generate_secret_fields`` from the models of the installed
SDK, by the rule stated in that script:

{modules}
``tests/test_secret_fields.py`` fails when this list no longer matches the installed SDK
models. ``consumer.redact`` replaces the values of these keys in events.
"""

from __future__ import annotations

SECRET_FIELD_NAMES: frozenset[str] = frozenset(
    {{
'''
FOOTER = """    }
)
"""


def is_credential(name: str, field_type: str) -> bool:
    """The rule of the module docstring, for one field of one model."""
    if field_type not in _STRING_TYPES or name in NOT_CREDENTIALS:
        return False
    lowered = name.lower()
    return any(word in lowered for word in _NAME_WORDS) or name.endswith(_NAME_ENDINGS)


def model_fields(module_name: str) -> set[tuple[str, str]]:
    """``(field name, SDK type)`` of every field of every model class in ``module_name``."""
    module = importlib.import_module(module_name)
    base = importlib.import_module("tencentcloud.common.abstract_model").AbstractModel
    fields: set[tuple[str, str]] = set()
    for _, cls in inspect.getmembers(module, inspect.isclass):
        if not issubclass(cls, base) or cls is base:
            continue
        for attribute in vars(cls()):  # the SDK keeps each field as ``self._<Name>``
            name = attribute.removeprefix("_")
            found = _RTYPE.search(inspect.getdoc(getattr(cls, name, None)) or "")
            fields.add((name, found.group(1).strip() if found else "unknown"))
    return fields


def secret_field_names() -> list[str]:
    """Every credential-bearing field name of the models in ``MODEL_MODULES``, sorted."""
    names = {
        name
        for module_name in MODEL_MODULES
        for name, field_type in model_fields(module_name)
        if is_credential(name, field_type)
    }
    return sorted(names)


def render() -> str:
    """The text of ``consumer/secret_fields.py``."""
    modules = "".join(f"* ``{name}``\n" for name in MODEL_MODULES)
    lines = "".join(f'        "{name}",\n' for name in secret_field_names())
    return HEADER.format(modules=modules) + lines + FOOTER


def main() -> None:
    text = render()
    if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
        TARGET.write_text(text, encoding="utf-8")
        print(f"wrote {Path(TARGET).relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
