"""AMQP ``Basic.Properties`` of published messages, encoded in straight-line code.

pamqp marshals properties generically (a ``getattr`` and a type lookup per field, a dispatch per
header value); with the ~8 ``ce-*`` headers every event carries that was a tenth of the publish
path. :func:`encode_properties` writes the same bytes for the fields this bridge sets (content
type, headers, delivery mode, message id, timestamp, type, app id) in straight-line code: strings
in place, anything else in a header (ints, say) through pamqp's own encoder, and a table pamqp
would alter (a key over 128 bytes, which it truncates) through pamqp entirely. The encoding
rules are pamqp's: properties that are ``None`` or ``""`` are left out, headers sorted by key.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from datetime import UTC, datetime

from pamqp import commands as spec
from pamqp import encode

_OCTET = struct.Struct(">B")
_FLAGS_WORD = struct.Struct(">H")
_LONG = struct.Struct(">I")
_LONGLONG = struct.Struct(">Q")
_MAX_KEY_BYTES = 128  # pamqp truncates longer table keys (with a warning)
_FLAGS = spec.Basic.Properties.flags
# Header names repeat on every message (``ce-id``, ``x-park-reason``...): their encoding is
# cached, bounded so that odd names can't grow it without limit.
_KEYS: dict[str, bytes] = {}
_MAX_CACHED_KEYS = 256

HeaderValue = str | int


def encode_properties(
    *,
    content_type: str,
    delivery_mode: int,
    message_id: str,
    message_type: str,
    app_id: str,
    headers: Mapping[str, HeaderValue],
    timestamp: datetime | None = None,
) -> bytes:
    """Property flags and list of a content header: pamqp's bytes for these fields.

    Raises:
        TypeError: a short string (content type, message id, type, app id) over 255 bytes.
    """
    flags = 0
    parts: list[bytes] = []
    if content_type:
        flags |= _FLAGS["content_type"]
        parts.append(_short_string(content_type))
    flags |= _FLAGS["headers"]
    parts.append(_table(headers))
    flags |= _FLAGS["delivery_mode"]
    parts.append(_OCTET.pack(delivery_mode))
    if message_id:
        flags |= _FLAGS["message_id"]
        parts.append(_short_string(message_id))
    if timestamp is not None:
        flags |= _FLAGS["timestamp"]
        parts.append(_timestamp(timestamp))
    if message_type:
        flags |= _FLAGS["message_type"]
        parts.append(_short_string(message_type))
    if app_id:
        flags |= _FLAGS["app_id"]
        parts.append(_short_string(app_id))
    return _FLAGS_WORD.pack(flags) + b"".join(parts)


def _short_string(value: str) -> bytes:
    raw = value.encode()
    if len(raw) > 255:
        # pamqp's error for the same input (aiormq rolls the publish back on it).
        raise TypeError("string exceeds maximum length of 255 bytes")
    return _OCTET.pack(len(raw)) + raw


def _table(headers: Mapping[str, HeaderValue]) -> bytes:
    parts: list[bytes] = []
    for key in sorted(headers):
        encoded_key = _KEYS.get(key)
        if encoded_key is None:
            raw_key = key.encode()
            if len(raw_key) > _MAX_KEY_BYTES:
                return encode.field_table(dict(headers))
            encoded_key = _OCTET.pack(len(raw_key)) + raw_key
            if len(_KEYS) < _MAX_CACHED_KEYS:
                _KEYS[key] = encoded_key
        value = headers[key]
        if type(value) is str:
            raw = value.encode()
            parts.append(encoded_key + b"S" + _LONG.pack(len(raw)) + raw)
        else:
            parts.append(encoded_key + encode.encode_table_value(value))
    body = b"".join(parts)
    return _LONG.pack(len(body)) + body


def _timestamp(value: datetime) -> bytes:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        value = value.replace(tzinfo=UTC)  # pamqp takes a naive datetime as UTC
    return _LONGLONG.pack(int(value.timestamp()))
