"""The official CloudEvents Python SDK (cloudevents 2.x) reads every event the bridge writes.

Readers: the JSON event format (``cloudevents.core.formats.json.JSONFormat``), the HTTP
binding's structured reader (``cloudevents.core.bindings.http``), the SDK's RabbitMQ binding
(``cloudevents.core.bindings.rabbitmq``, the Knative eventing-rabbitmq spec: ``ce-`` headers,
structured mode when ``content_type`` is ``application/cloudevents+json``) and the 1.x-style
``cloudevents.v1.http.from_json`` that older subscribers use. Their inputs: every line
``media-bridge normalize`` prints, and messages published by the RabbitMQ sink to the shared
broker and consumed back with aiormq.

The SDK's ``CloudEvent`` fills in ``time`` with *now* when an event has none, so an absent
``time`` is checked on the bytes, not on what the SDK reports.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import orjson
import pytest
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings import http, rabbitmq
from cloudevents.core.formats.json import JSONFormat
from cloudevents.v1.http import from_json as v1_from_json

from adapters.rabbitmq import RabbitSink, RabbitSinkOptions
from consumer.commands.normalize import run_normalize
from consumer.errors import PayloadError
from consumer.events import CLOUDEVENTS_MEDIA_TYPE
from consumer.normalize import DEFAULT_LIMITS, normalize
from consumer.outbound import event_message
from consumer.ports import OutboundMessage
from tests.aws_s3_task import AWS_S3_TASK, SECRETS
from tests.golden.seed_examples import FIXTURES_DIR
from tests.integration.broker import AMQP_URL, admin_channel, delete_all, take, unique
from tests.samples import sample_files

FORMAT = JSONFormat()
NOTIFICATIONS = [*sample_files(), *sorted(FIXTURES_DIR.glob("*.json"))]


def _normalize_output() -> list[bytes]:
    """The lines `media-bridge normalize` prints for every sample and doc example."""
    stdout, stderr = io.StringIO(), io.StringIO()
    run_normalize(
        [str(path) for path in NOTIFICATIONS],
        DEFAULT_LIMITS,
        with_handles=False,
        stdin=io.BytesIO(),
        stdout=stdout,
        stderr=stderr,
    )
    return [line.encode() for line in stdout.getvalue().splitlines()]


def _with_finish_time(body: bytes) -> bytes:
    """The MPS task with a FinishTime: no sample has an event time, this one does."""
    task = orjson.loads(body)
    task["WorkflowTaskEvent"]["FinishTime"] = "2024-05-01T08:00:00.250Z"
    return orjson.dumps(task)


# Beyond the samples: credentials to keep off the wire, and a `time` to carry.
EXTRA_BODIES = [AWS_S3_TASK, _with_finish_time(AWS_S3_TASK)]


def _published(bodies: list[bytes]) -> list[OutboundMessage]:
    """What the relay publishes for ``bodies`` (those that are notifications)."""
    messages = []
    for body in bodies:
        try:
            messages += [event_message(item) for item in normalize(body)]
        except PayloadError:  # the samples that are API replies, not notifications
            continue
    return messages


def _assert_read_as_published(sdk_event: BaseCloudEvent, body: bytes) -> None:
    """The SDK's attributes and data are the event's own, and no attribute came in as null."""
    published = orjson.loads(body)
    data = published.pop("data")
    attributes = dict(sdk_event.get_attributes())
    sdk_time = attributes.pop("time")
    written_time = published.pop("time", None)
    assert attributes == published
    assert sdk_event.get_data() == data
    if written_time is not None:
        assert sdk_time == datetime.fromisoformat(written_time)


def test_json_format_reads_every_line_media_bridge_normalize_prints() -> None:
    """All of them: the 52-of-52 failure on `"time": null` is gone."""
    lines = _normalize_output()
    assert len(lines) >= 60
    for line in lines:
        assert b'"time":null' not in line
        _assert_read_as_published(FORMAT.read(None, line), line)


def test_normalize_prints_exactly_the_published_bodies() -> None:
    """One serialization: `normalize` output and wire bodies are the same bytes."""
    published = _published([path.read_bytes() for path in NOTIFICATIONS])
    assert _normalize_output() == [message.body for message in published]


def _all_published() -> list[OutboundMessage]:
    return _published([path.read_bytes() for path in NOTIFICATIONS] + EXTRA_BODIES)


@pytest.mark.parametrize("reader", ["http-structured", "http-auto", "v1-from-json"])
def test_other_sdk_readers_read_every_published_body(reader: str) -> None:
    """The HTTP binding (structured, and auto-detected) and the 1.x-style reader agree."""
    for message in _all_published():
        headers = {"content-type": CLOUDEVENTS_MEDIA_TYPE}
        if reader == "http-structured":
            event = http.from_structured(http.HTTPMessage(headers, message.body), FORMAT)
            _assert_read_as_published(event, message.body)
        elif reader == "http-auto":
            event = http.from_http(http.HTTPMessage(headers, message.body), FORMAT)
            _assert_read_as_published(event, message.body)
        else:
            legacy = v1_from_json(message.body)
            assert legacy["id"] == message.message_id
            assert legacy.data == orjson.loads(message.body)["data"]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@pytest.mark.rabbitmq
async def test_sdk_rabbitmq_binding_reads_what_the_sink_published() -> None:
    """Published by RabbitSink, consumed with aiormq: the SDK reads body and ce- headers alike,
    and no credential of the AWS-S3 task is in any message that reached the broker."""
    events, parking, bound = unique("ce-events"), unique("ce-parking"), unique("ce-bound")
    messages = _all_published()
    bodies_by_id: dict[str, set[bytes]] = {}
    for message in messages:
        bodies_by_id.setdefault(message.message_id, set()).add(message.body)
    async with admin_channel() as admin:
        sink = await RabbitSink.connect(
            RabbitSinkOptions(AMQP_URL, events, parking_exchange=parking, parking_queue=parking)
        )
        try:
            await admin.queue_declare(bound, durable=True)
            await admin.queue_bind(bound, events, routing_key="#")
            for message in messages:
                await sink.publish(message)
            received = await take(admin, bound, len(messages), timeout_s=20)
        finally:
            await sink.aclose()
            await delete_all(admin, [bound, parking], [events, parking])

    timed = 0
    for delivered in received:
        properties = delivered.header.properties
        headers = {name: _text(value) for name, value in (properties.headers or {}).items()}
        body = delivered.body
        assert body in bodies_by_id[properties.message_id or ""]
        wire = rabbitmq.RabbitMQMessage(headers, properties.content_type, body)
        structured = rabbitmq.from_rabbitmq(wire, FORMAT)
        _assert_read_as_published(structured, body)
        # The ce- headers alone, read by the binding's binary-mode reader, name the same event.
        ce_only = {name: value for name, value in headers.items() if name.startswith("ce-")}
        from_headers = rabbitmq.from_binary(rabbitmq.RabbitMQMessage(ce_only, None, b""), FORMAT)
        expected = dict(structured.get_attributes())
        got = dict(from_headers.get_attributes())
        if "time" in orjson.loads(body):
            timed += 1
        else:
            expected.pop("time"), got.pop("time")  # both made up by the SDK
        assert got == expected
        for secret in SECRETS:
            assert secret.encode() not in body
            assert all(secret not in value for value in headers.values())
    assert timed == 1
    assert len(received) == len(messages)

