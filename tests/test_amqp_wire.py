"""The hand-written AMQP frame codecs agree with pamqp, the reference implementation."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pamqp import body, commands, frame, header
from pamqp.base import Frame

from adapters import amqp_wire as wire
from adapters.rabbitmq_properties import encode_properties

MAX_BODY = 16  # a tiny frame size so that splitting is easy to exercise
HEADERS: dict[str, str | int] = {"ce-type": "vod.NewFileUpload", "ce-id": "e1", "x-count": 3}
AT = datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC)

AnyFrame = Frame | header.ContentHeader | body.ContentBody


def unmarshal_all(data: bytes) -> list[tuple[int, AnyFrame]]:
    """(channel, frame) of every frame in ``data``, decoded by pamqp."""
    frames: list[tuple[int, AnyFrame]] = []
    while data:
        consumed, channel, value = frame.unmarshal(data)
        assert isinstance(value, Frame | header.ContentHeader | body.ContentBody)
        frames.append((channel, value))
        data = data[consumed:]
    return frames


def payload(marshalled: bytes) -> bytes:
    """The payload of one marshalled frame (without type, channel, size and frame end)."""
    return marshalled[wire.FRAME_HEADER_SIZE:-1]


def properties_bytes(**overrides: object) -> bytes:
    fields: dict[str, object] = {
        "content_type": "application/cloudevents+json",
        "delivery_mode": 2,
        "message_id": "e1",
        "message_type": "vod.NewFileUpload",
        "app_id": "media-event-bridge",
        "headers": HEADERS,
        "timestamp": AT,
    }
    fields.update(overrides)
    return encode_properties(**fields)  # type: ignore[arg-type]


def decoded_properties(encoded: bytes) -> commands.Basic.Properties:
    """What pamqp reads from a content header carrying ``encoded`` properties."""
    head = struct.pack(">HHQ", 60, 0, 0) + encoded  # class, weight, body size
    return wire.properties(head)


# -- encode_properties ------------------------------------------------------------------------


def test_encoded_properties_decode_to_the_same_fields_in_pamqp() -> None:
    """Every field the bridge sets reads back through pamqp unchanged."""
    props = decoded_properties(properties_bytes())
    assert props.content_type == "application/cloudevents+json"
    assert props.delivery_mode == 2
    assert props.message_id == "e1"
    assert props.message_type == "vod.NewFileUpload"
    assert props.app_id == "media-event-bridge"
    assert props.timestamp == AT
    assert props.headers == HEADERS
    assert list(props.headers or {}) == sorted(HEADERS)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"timestamp": None},
        {"headers": {}},
        {"content_type": "", "message_id": "", "message_type": "", "app_id": ""},
        {"delivery_mode": 1, "headers": {"b": -5, "a": 2**40, "c": "ü€"}},
        {"timestamp": datetime(2024, 5, 1, 14, 30, 15)},  # naive: taken as UTC
        {"timestamp": datetime(2024, 5, 1, 14, 30, 15, tzinfo=timezone(timedelta(hours=8)))},
        {"headers": {"k" * 200: "long key", "a": "b"}},  # pamqp truncates keys > 128 bytes
    ],
)
def test_encoded_properties_are_pamqps_bytes(overrides: dict[str, object]) -> None:
    """Byte for byte what pamqp marshals for the same properties (empty strings left out)."""
    fields: dict[str, object] = {
        "content_type": "application/cloudevents+json",
        "delivery_mode": 2,
        "message_id": "e1",
        "message_type": "t",
        "app_id": "bridge",
        "headers": HEADERS,
        "timestamp": AT,
    }
    fields.update(overrides)
    reference = commands.Basic.Properties(**fields).marshal()  # type: ignore[arg-type]
    assert encode_properties(**fields) == reference  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["content_type", "message_id", "message_type", "app_id"])
def test_short_string_property_over_255_bytes_raises_type_error(field: str) -> None:
    with pytest.raises(TypeError, match="255"):
        properties_bytes(**{field: "é" * 128})  # 256 bytes of UTF-8


# -- publish_frames -----------------------------------------------------------------------------


def reference_publish(
    channel: int, exchange: str, key: str, props: bytes, data: bytes, max_body: int
) -> bytes:
    """pamqp's frames for the same publish: method, header and body frames of max_body."""
    method = commands.Basic.Publish(exchange=exchange, routing_key=key, mandatory=True)
    head = header.ContentHeader(0, len(data), decoded_properties(props))
    parts = [frame.marshal(method, channel), frame.marshal(head, channel)]
    parts += [
        frame.marshal(body.ContentBody(data[i:i + max_body]), channel)
        for i in range(0, len(data), max_body)
    ]
    return b"".join(parts)


@pytest.mark.parametrize("size", [0, 1, MAX_BODY - 1, MAX_BODY, MAX_BODY + 1, 3 * MAX_BODY + 5])
def test_publish_frames_match_pamqp_for_every_body_size(size: int) -> None:
    data = bytes(range(size))
    props = properties_bytes()
    ours = wire.publish_frames(
        5, wire.short_string("media.events"), "vod.X.FINISH", props, data, MAX_BODY, mandatory=True
    )
    assert ours == reference_publish(5, "media.events", "vod.X.FINISH", props, data, MAX_BODY)


def test_publish_frames_decode_to_publish_header_and_body_chunks() -> None:
    data = b"x" * (2 * MAX_BODY + 3)
    ours = wire.publish_frames(
        7, wire.short_string(""), "k", properties_bytes(), data, MAX_BODY, mandatory=False
    )
    decoded = unmarshal_all(ours)
    assert {channel for channel, _ in decoded} == {7}
    method, head, *bodies = (value for _, value in decoded)
    assert isinstance(method, commands.Basic.Publish)
    assert (method.exchange, method.routing_key, method.mandatory) == ("", "k", False)
    assert isinstance(head, header.ContentHeader)
    assert head.body_size == len(data)
    assert head.properties.message_id == "e1"
    assert [len(b.value) for b in bodies if isinstance(b, body.ContentBody)] == [16, 16, 3]
    assert b"".join(b.value for b in bodies if isinstance(b, body.ContentBody)) == data


def test_empty_body_publishes_no_body_frame() -> None:
    ours = wire.publish_frames(1, b"\x00", "k", properties_bytes(), b"", MAX_BODY, mandatory=True)
    kinds = [type(value) for _, value in unmarshal_all(ours)]
    assert kinds == [commands.Basic.Publish, header.ContentHeader]


def test_routing_key_over_255_bytes_raises_value_error() -> None:
    wire.publish_frames(1, b"\x00", "k" * 255, b"\x00\x00", b"", MAX_BODY, mandatory=True)
    with pytest.raises(ValueError, match="255"):
        wire.publish_frames(1, b"\x00", "é" * 128, b"\x00\x00", b"", MAX_BODY, mandatory=True)


def test_short_string_is_length_prefixed_utf8_and_bounded() -> None:
    assert wire.short_string("événement") == bytes((11,)) + "événement".encode()
    with pytest.raises(ValueError, match="255"):
        wire.short_string("x" * 256)


# -- ack / nack frames --------------------------------------------------------------------------


@pytest.mark.parametrize(("tag", "multiple"), [(1, False), (42, True), (2**63 - 1, False)])
def test_ack_frame_decodes_in_pamqp(tag: int, multiple: bool) -> None:
    [(channel, method)] = unmarshal_all(wire.ack_frame(9, tag, multiple=multiple))
    assert channel == 9
    assert isinstance(method, commands.Basic.Ack)
    assert (method.delivery_tag, method.multiple) == (tag, multiple)


@pytest.mark.parametrize("requeue", [True, False])
def test_nack_frame_decodes_in_pamqp_never_multiple(requeue: bool) -> None:
    [(channel, method)] = unmarshal_all(wire.nack_frame(3, 17, requeue=requeue))
    assert channel == 3
    assert isinstance(method, commands.Basic.Nack)
    assert (method.delivery_tag, method.multiple, method.requeue) == (17, False, requeue)


# -- decoders -----------------------------------------------------------------------------------


def test_frame_header_and_method_id_of_a_pamqp_frame() -> None:
    marshalled = frame.marshal(commands.Channel.OpenOk(), 12)
    assert wire.frame_header(b"junk" + marshalled, 4) == (
        wire.FRAME_METHOD, 12, len(marshalled) - 8
    )
    assert wire.method_id(payload(marshalled)) == wire.CHANNEL_OPEN_OK


@pytest.mark.parametrize(
    ("consumer_tag", "delivery_tag", "redelivered"),
    [("ctag-1", 1, False), ("", 2**63 - 1, True), ("标签" * 20, 7, True)],
)
def test_deliver_fields_decode_pamqp_deliver(
    consumer_tag: str, delivery_tag: int, redelivered: bool
) -> None:
    method = commands.Basic.Deliver(
        consumer_tag=consumer_tag,
        delivery_tag=delivery_tag,
        redelivered=redelivered,
        exchange="ex",
        routing_key="a.b.c",
    )
    marshalled = payload(frame.marshal(method, 1))
    assert wire.method_id(marshalled) == wire.BASIC_DELIVER
    assert wire.deliver_fields(marshalled) == (consumer_tag, delivery_tag, redelivered)


@pytest.mark.parametrize("multiple", [True, False])
def test_confirm_fields_decode_pamqp_ack_and_nack(multiple: bool) -> None:
    ack = payload(frame.marshal(commands.Basic.Ack(delivery_tag=99, multiple=multiple), 1))
    nack = payload(
        frame.marshal(commands.Basic.Nack(delivery_tag=5, multiple=multiple, requeue=True), 1)
    )
    assert wire.method_id(ack) == wire.BASIC_ACK
    assert wire.method_id(nack) == wire.BASIC_NACK
    assert wire.confirm_fields(ack) == (99, multiple)
    assert wire.confirm_fields(nack) == (5, multiple)


def test_return_fields_decode_pamqp_return() -> None:
    method = commands.Basic.Return(
        reply_code=312, reply_text="NO_ROUTE", exchange="ex", routing_key="k"
    )
    marshalled = payload(frame.marshal(method, 1))
    assert wire.method_id(marshalled) == wire.BASIC_RETURN
    assert wire.return_fields(marshalled) == (312, "NO_ROUTE")


def test_body_size_and_properties_decode_pamqp_content_header() -> None:
    props = commands.Basic.Properties(message_id="m-1", headers={"a": "b"}, delivery_mode=2)
    marshalled = payload(frame.marshal(header.ContentHeader(0, 123456789, props), 1))
    assert wire.body_size(marshalled) == 123456789
    decoded = wire.properties(marshalled)
    assert (decoded.message_id, decoded.headers, decoded.delivery_mode) == ("m-1", {"a": "b"}, 2)


def test_close_reason_of_channel_and_connection_close() -> None:
    channel_close = commands.Channel.Close(
        reply_code=404, reply_text="NOT_FOUND - no exchange 'x'", class_id=60, method_id=40
    )
    connection_close = commands.Connection.Close(
        reply_code=320, reply_text="CONNECTION_FORCED", class_id=0, method_id=0
    )
    channel_payload = payload(frame.marshal(channel_close, 1))
    connection_payload = payload(frame.marshal(connection_close, 0))
    assert wire.method_id(channel_payload) == wire.CHANNEL_CLOSE
    assert wire.method_id(connection_payload) == wire.CONNECTION_CLOSE
    assert wire.close_reason(channel_payload) == "404 NOT_FOUND - no exchange 'x'"
    assert wire.close_reason(connection_payload) == "320 CONNECTION_FORCED"


def test_heartbeat_frame_is_pamqps_heartbeat() -> None:
    consumed, channel, value = frame.unmarshal(wire.HEARTBEAT_FRAME)
    assert (consumed, channel, type(value).__name__) == (8, 0, "Heartbeat")
