"""The AMQP 0-9-1 frames on the bridge's hot path, decoded and encoded in straight-line code.

A relayed message is six frames on the wire (Basic.Deliver + content header + body in,
Basic.Publish + content header + body out) plus its share of a Basic.Ack each way. aiormq
decodes every frame through pamqp into objects and hands each one through two queues and a
task; at relay rates that machinery cost more CPU than normalizing the message. This module
handles just these frames with ``struct`` on the raw bytes (``adapters.rabbitmq_tap`` feeds it);
everything else, and every rare path (properties of a returned message, say), stays with pamqp.

Pure functions, no I/O: tests check every encoder and decoder against pamqp itself.

Frame layout (AMQP 0-9-1, section 4.2.3): type (octet), channel (short), payload size (long),
payload, frame-end octet 0xCE. Method payloads start with class id and method id (shorts).
"""

from __future__ import annotations

import struct
from typing import Final

from pamqp import commands as spec
from pamqp.header import ContentHeader

FRAME_METHOD: Final = 1
FRAME_HEADER: Final = 2
FRAME_BODY: Final = 3
FRAME_END: Final = b"\xce"
FRAME_END_BYTE: Final = 0xCE
FRAME_HEADER_SIZE: Final = 7  # type, channel, size

# (class id, method id) of the methods the tap looks at.
BASIC_DELIVER: Final = (60, 60)
BASIC_RETURN: Final = (60, 50)
BASIC_ACK: Final = (60, 80)
BASIC_NACK: Final = (60, 120)
BASIC_QOS_OK: Final = (60, 11)  # the reply the tap's self-check watches for
CHANNEL_OPEN_OK: Final = (20, 11)
CHANNEL_CLOSE: Final = (20, 40)
CHANNEL_CLOSE_OK: Final = (20, 41)
CONNECTION_CLOSE: Final = (10, 50)
CONNECTION_BLOCKED: Final = (10, 60)
CONNECTION_UNBLOCKED: Final = (10, 61)

HEARTBEAT_FRAME: Final = b"\x08\x00\x00\x00\x00\x00\x00\xce"
# What a broker sends instead of frames when it refuses the protocol version we asked for.
PROTOCOL_HEADER_PREFIX: Final = b"AMQP"

_FRAME_HEADER = struct.Struct(">BHI")
_METHOD_ID = struct.Struct(">HH")
_LONGLONG = struct.Struct(">Q")
_BODY_SIZE = struct.Struct(">HHQ")  # class id, weight, body size
_SHORT = struct.Struct(">H")
_ACK = struct.Struct(">HHQB")  # class, method, delivery tag, bits
# Basic.Publish up to the exchange name: class 60, method 40, ticket 0.
_PUBLISH_PREFIX = _METHOD_ID.pack(60, 40) + b"\x00\x00"
_CONTENT_CLASS = _SHORT.pack(60) + b"\x00\x00"  # class id 60, weight 0


class WireError(ValueError):
    """A frame this module was asked to decode is malformed (a protocol error: drop the link)."""


def frame_header(buffer: bytes | bytearray | memoryview, offset: int) -> tuple[int, int, int]:
    """(frame type, channel, payload size) of the frame starting at ``offset``."""
    frame_type, channel, size = _FRAME_HEADER.unpack_from(buffer, offset)
    return frame_type, channel, size


def method_id(payload: bytes) -> tuple[int, int]:
    """(class id, method id) of a method frame's payload."""
    class_id, method = _METHOD_ID.unpack_from(payload)
    return class_id, method


def deliver_fields(payload: bytes) -> tuple[str, int, bool]:
    """(consumer tag, delivery tag, redelivered) of a Basic.Deliver payload."""
    tag_length = payload[4]
    offset = 5 + tag_length
    consumer_tag = payload[5:offset].decode()
    (delivery_tag,) = _LONGLONG.unpack_from(payload, offset)
    return consumer_tag, delivery_tag, bool(payload[offset + 8] & 1)


def body_size(header_payload: bytes) -> int:
    """The body size announced by a content header payload."""
    _, _, size = _BODY_SIZE.unpack_from(header_payload)
    return int(size)


def confirm_fields(payload: bytes) -> tuple[int, bool]:
    """(delivery tag, multiple) of a Basic.Ack or Basic.Nack payload (both start the same way)."""
    (tag,) = _LONGLONG.unpack_from(payload, 4)
    return tag, bool(payload[12] & 1)


def return_fields(payload: bytes) -> tuple[int, str]:
    """(reply code, reply text) of a Basic.Return payload (a rare path: pamqp decodes it)."""
    method = spec.Basic.Return()
    method.unmarshal(payload[4:])
    return method.reply_code or 0, method.reply_text


def close_reason(payload: bytes) -> str:
    """'code text' of a Channel.Close or Connection.Close payload (rare: pamqp decodes it)."""
    method = spec.Channel.Close()  # Connection.Close has the same leading fields
    method.unmarshal(payload[4:])
    return f"{method.reply_code} {method.reply_text}"


def properties(header_payload: bytes) -> spec.Basic.Properties:
    """The decoded properties of a content header payload (rare path: pamqp decodes it)."""
    header = ContentHeader()
    header.unmarshal(header_payload)
    return header.properties


def publish_frames(
    channel: int,
    exchange: bytes,
    routing_key: str,
    properties_bytes: bytes,
    body: bytes,
    max_body_frame: int,
    *,
    mandatory: bool,
) -> bytes:
    """Basic.Publish, its content header and body frame(s), as one chunk of wire bytes.

    ``exchange`` is the encoded short string (length octet + name), prepared once per
    exchange; ``properties_bytes`` is the property flags and list (``PublishProperties``);
    bodies longer than ``max_body_frame`` are split like aiormq does (frame_max - 8).
    """
    key = routing_key.encode()
    if len(key) > 255:
        raise ValueError("routing key exceeds 255 bytes")
    method = _PUBLISH_PREFIX + exchange + bytes((len(key),)) + key + (b"\x01" if mandatory else b"\x00")
    header = _CONTENT_CLASS + _LONGLONG.pack(len(body)) + properties_bytes
    parts = [
        _FRAME_HEADER.pack(FRAME_METHOD, channel, len(method)), method, FRAME_END,
        _FRAME_HEADER.pack(FRAME_HEADER, channel, len(header)), header, FRAME_END,
    ]
    if len(body) <= max_body_frame:
        if body:
            parts += (_FRAME_HEADER.pack(FRAME_BODY, channel, len(body)), body, FRAME_END)
    else:
        for start in range(0, len(body), max_body_frame):
            chunk = body[start:start + max_body_frame]
            parts += (_FRAME_HEADER.pack(FRAME_BODY, channel, len(chunk)), chunk, FRAME_END)
    return b"".join(parts)


def short_string(value: str) -> bytes:
    """An AMQP short string: a length octet and at most 255 bytes of UTF-8."""
    raw = value.encode()
    if len(raw) > 255:
        raise ValueError("short string exceeds 255 bytes")
    return bytes((len(raw),)) + raw


def ack_frame(channel: int, delivery_tag: int, *, multiple: bool = False) -> bytes:
    """A Basic.Ack frame (consumer side: settle deliveries up to/at ``delivery_tag``)."""
    payload = _ACK.pack(60, 80, delivery_tag, 1 if multiple else 0)
    return _FRAME_HEADER.pack(FRAME_METHOD, channel, len(payload)) + payload + FRAME_END


def nack_frame(channel: int, delivery_tag: int, *, requeue: bool = True) -> bytes:
    """A Basic.Nack frame for one delivery (never ``multiple``: see ``rabbitmq_acks``)."""
    payload = _ACK.pack(60, 120, delivery_tag, 2 if requeue else 0)
    return _FRAME_HEADER.pack(FRAME_METHOD, channel, len(payload)) + payload + FRAME_END
