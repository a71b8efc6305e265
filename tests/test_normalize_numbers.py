"""Numbers a vendor body may carry that no subscriber could read: a bad field, never a crash.

Found by review of the fast path: ``"Size": "nan"`` used to raise ``ValueError`` from inside
normalize(), and ``"ErrCode": "99999999999999999999"`` passed normalize() and then broke the
CloudEvent encoder (orjson stops at 64 bits). Either would have reached the relay as an
unexpected exception instead of a parked body.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from consumer.errors import PayloadError, PayloadReason
from consumer.normalize import normalize
from consumer.outbound import event_message
from tests.samples import sample

PUSH = "vod__ProcedureStateChanged__push-body-v3-adaptive-dynamic-streaming.json"


def _with(path: tuple[str, ...], value: Any) -> bytes:
    doc = orjson.loads(sample(PUSH))
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(doc).encode()  # the stdlib writes integers of any size, as a vendor could


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-Infinity", 1e300, "1e300"])
def test_metadata_size_that_is_not_a_finite_64_bit_number_is_an_invalid_field(value: Any) -> None:
    body = _with(("ProcedureStateChangeEvent", "MetaData", "Size"), value)
    with pytest.raises(PayloadError) as caught:
        normalize(body)
    assert caught.value.reason is PayloadReason.INVALID_FIELD
    assert "Size" in caught.value.detail


@pytest.mark.parametrize("value", ["99999999999999999999", 2**63, -(2**63) - 4096, 1e20])
def test_error_code_beyond_64_bits_is_an_invalid_field(value: Any) -> None:
    body = _with(("ProcedureStateChangeEvent", "ErrCode"), value)
    with pytest.raises(PayloadError) as caught:
        normalize(body)
    assert caught.value.reason is PayloadReason.INVALID_FIELD
    assert "ErrCode" in caught.value.detail


@pytest.mark.parametrize("value", [2**63 - 1, -(2**63), "  42 ", 7.0])
def test_error_code_at_the_64_bit_edges_is_relayed(value: Any) -> None:
    body = _with(("ProcedureStateChangeEvent", "ErrCode"), value)
    [normalized] = normalize(body)
    message = event_message(normalized)
    assert orjson.loads(message.body)["data"]["err_code"] == int(str(value).strip().split(".")[0])
