"""Bytes in, media events out: the pure normalization pipeline.

``normalize(body)`` checks limits, decodes JSON, unwraps envelopes and batches
(``consumer.envelope``), detects the wire format of each vendor event, runs that format's parser
(``consumer.formats``) and wraps the result as a CloudEvent with a deterministic id
(``consumer.event_id``). Credentials in the vendor object are redacted before it is parsed
(``consumer.redact``); the id is computed from the object as the vendor sent it. It performs
no I/O and raises only :class:`PayloadError`.

A batch is all-or-nothing: if one element can't be normalized the whole body is rejected with
an error naming that element, so the relay parks the body intact (nothing is lost or split).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from consumer.canonical import DELIVERY_KEYS, strip_nulls_noting, without_keys
from consumer.envelope import Element, split
from consumer.errors import PayloadError, PayloadReason
from consumer.event_id import event_id
from consumer.events import (
    DATASCHEMA_URI,
    EVENT_CONTENT_TYPE,
    MediaEvent,
    NormalizedEvent,
    trusted,
)
from consumer.formats import ParsedEvent
from consumer.formats.detect import WireFormatName, detect_format
from consumer.formats.mps import parse_mps, parse_mps_live
from consumer.formats.vod_v2 import parse_vod_v2
from consumer.formats.vod_v3 import parse_vod_v3
from consumer.redact import SECRET_KEYS, redact_secrets

DEFAULT_MAX_BODY_BYTES = 1024 * 1024  # TDMQ-CMQ's message size limit
DEFAULT_MAX_DEPTH = 48  # real payloads nest < 15 levels; this stops pathological bodies early


@dataclass(frozen=True, slots=True)
class Limits:
    """Guards applied before any parsing work is done."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH


DEFAULT_LIMITS = Limits()

_PARSERS: dict[WireFormatName, Callable[[dict[str, Any]], ParsedEvent]] = {
    "vod-v3": parse_vod_v3,
    "vod-v2": parse_vod_v2,
    "mps": parse_mps,
    "mps-live": parse_mps_live,
}


def normalize(
    body: bytes | str, limits: Limits = DEFAULT_LIMITS, *, decoded: object = None
) -> list[NormalizedEvent]:
    """Every media event in ``body``, in order.

    ``decoded``, when not None, is ``body`` already parsed (``orjson.loads(body)`` equals it;
    a source that parsed it anyway hands it over, see ``consumer.ports.Delivery.decoded``): it
    is used instead of parsing the body again, and read, never changed. Every other check runs
    on ``body`` as before, so the result is the same either way.

    Raises:
        PayloadError: the body can't become events; ``reason`` says why (the parking reason).
    """
    size = len(body) if isinstance(body, bytes) else len(body.encode())
    if size > limits.max_body_bytes:
        raise PayloadError(
            PayloadReason.TOO_LARGE,
            f"body is {size} bytes, over the limit of {limits.max_body_bytes}",
        )
    doc = decode_json(body) if decoded is None else decoded
    # A document can't nest deeper than it has containers, and each one opens with a `{` or `[`
    # in the text (or inside a string: the count only errs high). Two counts in C spare most
    # bodies the depth check's serialization.
    if isinstance(body, bytes):
        openings = body.count(b"{") + body.count(b"[")
    else:
        openings = body.count("{") + body.count("[")
    if openings > limits.max_depth:
        check_depth(doc, limits.max_depth)
    # Push bodies and CMQ messages carry no nulls: skip the null-stripping copy when the text
    # has no `null` token at all (a "null" inside a string only costs the copy).
    has_nulls = (b"null" in body) if isinstance(body, bytes) else ("null" in body)
    return [_normalize_element(element, has_nulls) for element in split(doc)]


def decode_json(body: bytes | str) -> Any:
    """Parse JSON, naming the problem (encoding, syntax, position) when it is not JSON."""
    if not body or not body.strip():
        raise PayloadError(PayloadReason.NOT_JSON, "body is empty")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        text = str(exc)
        if "utf-8" in text.lower() or "surrogate" in text.lower():
            raise PayloadError(PayloadReason.NOT_UTF8, f"body is not valid UTF-8: {text}") from None
        if "recursion" in text.lower() or "depth" in text.lower():
            raise PayloadError(PayloadReason.TOO_DEEP, f"body nests too deeply: {text}") from None
        raise PayloadError(PayloadReason.NOT_JSON, f"body is not valid JSON: {text}") from None


def check_depth(doc: Any, max_depth: int) -> None:
    """Reject documents nested deeper than ``max_depth`` containers.

    Done in C rather than by walking the tree in Python (a walk cost more than the rest of the
    pipeline): orjson's 2-space indented output puts the members of a container at nesting
    depth d on lines indented 2*d spaces, and strings cannot hold a raw newline, so a line
    indented 2*(max_depth+1) spaces exists exactly when a non-empty container is nested deeper
    than allowed (an empty one at the limit is harmless and passes). orjson itself refuses
    anything nested over 254 levels.
    """
    try:
        text = orjson.dumps(doc, option=orjson.OPT_INDENT_2)
    except orjson.JSONEncodeError:
        raise PayloadError(
            PayloadReason.TOO_DEEP, f"body nests deeper than {max_depth} levels"
        ) from None
    if b"\n" + b" " * (2 * (max_depth + 1)) in text:
        raise PayloadError(PayloadReason.TOO_DEEP, f"body nests deeper than {max_depth} levels")


def _normalize_element(element: Element, has_nulls: bool = True) -> NormalizedEvent:
    canonical = without_keys(element.event, DELIVERY_KEYS)
    # Parsers get the redacted object, so nothing made from it (raw, input, outputs) holds a
    # credential; the id below still hashes the object as sent, so ids don't change. A body
    # with nulls is walked once, for the nulls and for the secret key names together.
    if has_nulls:
        canonical, secret_key_seen = strip_nulls_noting(canonical, SECRET_KEYS)
        redacted = redact_secrets(canonical) if secret_key_seen else canonical
    else:
        redacted = redact_secrets(canonical)
    try:
        wire_format = detect_format(redacted)
        parsed = _PARSERS[wire_format](redacted)
    except PayloadError as exc:
        if element.where == "body":
            raise
        raise PayloadError(exc.reason, f"{element.where}: {exc.detail}") from None
    data = parsed.data
    vendor = data.vendor
    # Built without validation (consumer.events.trusted): every value is a str, None or an
    # already-built model, of the field's type; test_normalize_fastpath holds them equal.
    event = trusted(
        MediaEvent,
        {
            "specversion": "1.0",
            "id": event_id(vendor, data.event_type, canonical),
            "source": f"/tencentcloud/{vendor}",
            "type": f"com.tencentcloud.{vendor}.{data.event_type}.v1",
            # CloudEvents: a subject is non-empty or absent.
            "subject": data.task_id or data.file_id or None,
            "time": parsed.time,
            "datacontenttype": EVENT_CONTENT_TYPE,
            "dataschema": DATASCHEMA_URI,
            "data": data,
        },
        set(_EVENT_FIELDS_SET),
    )
    return trusted(
        NormalizedEvent,
        {"event": event, "event_handle": element.handle},
        set(_NORMALIZED_FIELDS_SET),
    )


# What model_validate would record as set: the fields _normalize_element gives.
_EVENT_FIELDS_SET = frozenset({"id", "source", "type", "subject", "time", "data"})
_NORMALIZED_FIELDS_SET = frozenset({"event", "event_handle"})
