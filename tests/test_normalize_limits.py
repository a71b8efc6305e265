"""normalize() names what is wrong with a body before it does any parsing work."""

from __future__ import annotations

import pytest

from consumer.errors import PayloadError, PayloadReason
from consumer.normalize import Limits, normalize


@pytest.mark.parametrize(
    ("body", "reason", "words"),
    [
        (b"", PayloadReason.NOT_JSON, "empty"),
        (b"   \n", PayloadReason.NOT_JSON, "empty"),
        (b'{"EventType": "NewFileUpload",', PayloadReason.NOT_JSON, "not valid JSON"),
        (b'{"EventType": "\xff\xfe"}', PayloadReason.NOT_UTF8, "UTF-8"),
        (b"[1, 2]", PayloadReason.NOT_A_NOTIFICATION, "array"),
        (b"42", PayloadReason.NOT_A_NOTIFICATION, "number"),
        (b'"just text"', PayloadReason.NOT_A_NOTIFICATION, "plain JSON string"),
        (b'{"hello": "world"}', PayloadReason.UNKNOWN_FORMAT, "hello"),
        (b"{}", PayloadReason.NOT_A_NOTIFICATION, "empty JSON object"),
        (b'{"Response": {"EventSet": []}}', PayloadReason.EMPTY_BATCH, "no events"),
        (b'{"Response": {"EventSet": null, "RequestId": "r"}}', PayloadReason.EMPTY_BATCH, "no events"),
        (b'{"EventSet": "nope"}', PayloadReason.INVALID_FIELD, "EventSet"),
        (
            b'{"Response": {"Error": {"Code": "AuthFailure", "Message": "x"}, "RequestId": "r"}}',
            PayloadReason.NOT_A_NOTIFICATION,
            "API error response",
        ),
    ],
)
def test_bad_bodies_get_a_typed_error_naming_the_problem(
    body: bytes, reason: PayloadReason, words: str
) -> None:
    """Each malformed body is rejected with the right reason and a message that says why."""
    with pytest.raises(PayloadError) as caught:
        normalize(body)
    assert caught.value.reason is reason
    assert words in caught.value.detail


def test_body_over_the_size_limit_is_rejected_before_parsing() -> None:
    """A body larger than max_body_bytes is too_large, and the message gives both sizes."""
    body = b'{"EventType": "NewFileUpload", "pad": "' + b"x" * 2000 + b'"}'
    with pytest.raises(PayloadError) as caught:
        normalize(body, Limits(max_body_bytes=1000))
    assert caught.value.reason is PayloadReason.TOO_LARGE
    assert str(len(body)) in caught.value.detail
    assert "1000" in caught.value.detail


def test_nesting_deeper_than_the_limit_is_rejected() -> None:
    """Deeply nested JSON is too_deep, whether or not it would hit the decoder's own limit."""
    deep = b'{"EventType": "NewFileUpload", "x": ' + b"[" * 60 + b"]" * 60 + b"}"
    with pytest.raises(PayloadError) as caught:
        normalize(deep, Limits(max_depth=48))
    assert caught.value.reason is PayloadReason.TOO_DEEP
    very_deep = b"[" * 5000 + b"]" * 5000
    with pytest.raises(PayloadError) as caught:
        normalize(very_deep, Limits(max_depth=10_000, max_body_bytes=10**6))
    assert caught.value.reason in {PayloadReason.TOO_DEEP, PayloadReason.NOT_A_NOTIFICATION}


def test_string_wrapped_more_than_the_envelope_limit_is_too_deep() -> None:
    """A notification re-encoded as a JSON string five times over is refused, not looped on."""
    import orjson

    body: bytes = b'{"EventType": "NewFileUpload"}'
    for _ in range(6):
        body = orjson.dumps(body.decode())
    with pytest.raises(PayloadError) as caught:
        normalize(body)
    assert caught.value.reason is PayloadReason.TOO_DEEP
