"""The canonical walk: nulls stripped as before, shared where nothing changed, secrets noted.

``consumer.canonical.strip_nulls_noting`` is the one walk over a body with nulls: it must strip
exactly what the plain recursion strips (``tests/test_normalize_fastpath.py`` holds
``strip_nulls`` to it), never change its input, and never answer "no secret key" for an object
that holds one, or the normalizer would skip the redaction (``consumer.redact``).
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.canonical import DELIVERY_KEYS, strip_nulls, strip_nulls_noting, without_keys
from consumer.redact import SECRET_KEYS, redact_secrets
from tests.aws_s3_task import AWS_S3_TASK
from tests.samples import sample_files
from tests.test_normalize_fuzz import json_values


def _reference(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reference(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_reference(v) for v in value]
    return value


def _holds_key(value: Any, keys: frozenset[str]) -> bool:
    if isinstance(value, dict):
        return not keys.isdisjoint(value) or any(_holds_key(v, keys) for v in value.values())
    if isinstance(value, list):
        return any(_holds_key(v, keys) for v in value)
    return False


_secret_names = st.sampled_from(sorted(SECRET_KEYS))
_with_secrets = st.recursive(
    st.none() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=4),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(_secret_names | st.text(max_size=6), children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values | _with_secrets)
def test_strips_like_the_plain_recursion_and_notes_every_secret_key(doc: Any) -> None:
    before = copy.deepcopy(doc)
    stripped, seen = strip_nulls_noting(doc, SECRET_KEYS)
    assert stripped == _reference(doc)
    assert orjson.dumps(stripped) == orjson.dumps(_reference(doc))  # same key order too
    assert doc == before  # the input is never changed
    if _holds_key(stripped, SECRET_KEYS):
        assert seen


def test_containers_without_nulls_are_handed_back_as_they_are() -> None:
    inner = {"a": 1, "b": [1, 2]}
    doc = {"keep": inner, "drop": None, "list": [inner, {"x": None}]}
    stripped = strip_nulls(doc)
    assert stripped == {"keep": inner, "list": [inner, {}]}
    assert stripped["keep"] is inner
    assert stripped["list"][0] is inner
    untouched = {"a": {"b": [1, {"c": 2}]}}
    assert strip_nulls(untouched) is untouched


def test_every_sample_is_redacted_the_same_after_the_shared_walk() -> None:
    bodies = [path.read_bytes() for path in sample_files()] + [AWS_S3_TASK]
    for body in bodies:
        doc = orjson.loads(body)
        if not isinstance(doc, dict):
            continue
        stripped, seen = strip_nulls_noting(doc, SECRET_KEYS)
        redacted = redact_secrets(stripped)
        assert (redacted is not stripped) <= seen  # a secret found means the walk saw a key


def test_without_keys_copies_only_when_there_is_something_to_leave_out() -> None:
    event = {"EventType": "X", "EventHandle": "h"}
    assert without_keys(event, DELIVERY_KEYS) == {"EventType": "X"}
    assert event == {"EventType": "X", "EventHandle": "h"}
    plain = {"EventType": "X"}
    assert without_keys(plain, DELIVERY_KEYS) is plain
