"""Media events and parked bodies as transport-neutral :class:`OutboundMessage`s (pure).

Events (destination ``EVENTS``)
    * body: the CloudEvent in JSON *structured* mode (``application/cloudevents+json``), written
      by :func:`structured_json` - the one serialization of an event, also what
      ``media-bridge normalize`` prints: optional attributes without a value (``subject``,
      ``time``) absent, every ``data`` field present (null when unknown). Subscribers need only
      the body; the CloudEvents SDKs' JSON format reads it.
    * ``message_id`` = the CloudEvents ``id`` (deterministic, so redeliveries can be deduplicated),
      ``type`` = the CloudEvents ``type``.
    * headers: a copy of the context attributes as ``ce-<attribute>`` (``ce-id``, ``ce-source``,
      ``ce-type``, ``ce-specversion``, ``ce-datacontenttype``, ``ce-dataschema``, and
      ``ce-subject``/``ce-time`` when the event has them) so a RabbitMQ headers binding or a log
      line can use them without parsing the body. AMQP 0-9-1 has no binding in the CloudEvents
      spec itself (its AMQP binding's ``cloudEvents_`` prefix is for AMQP 1.0 application
      properties); ``ce-`` is what the RabbitMQ binding of Knative eventing-rabbitmq and of the
      CloudEvents Python SDK (``cloudevents.core.bindings.rabbitmq``) read, and what the HTTP and
      Kafka bindings use. In structured mode that binding reads the body and ignores the headers.
    * routing key: ``<vendor>.<event_type>.<status>``, e.g. ``vod.ProcedureStateChanged.FINISH``,
      ``vod.NewFileUpload.NONE``, ``mps.WorkflowTask.FINISH``. A missing or empty part becomes
      ``NONE``; ``.``, ``#``, ``*`` and whitespace inside a part become ``_`` so every key has
      exactly three words and topic bindings like ``vod.#`` or ``*.*.FINISH`` work as expected.

Parked bodies (destination ``PARKING``)
    * body: the source body byte for byte, so it can be replayed after a fix - credentials
      included (an MPS task's ``S3SecretKey``...): events are redacted, parked bodies are not, so
      only operators who replay may read the parking queue;
    * routing key: the reason (a :class:`~consumer.errors.PayloadReason` value, ``unroutable``,
      ``internal_error`` when normalizing the body hit a bug of ours, or ``too_many_deliveries``
      when the source handed it out more often than the poison cap allows);
    * ``message_id``: a uuid5 of the body (the same body parked twice gets the same id);
    * headers ``x-park-reason``, ``x-park-detail``, ``x-source``, ``x-delivery-id``,
      ``x-delivery-count``, ``x-parked-at`` (ISO 8601 UTC) and ``x-original-content-type`` when
      the source knew it.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import orjson
from pydantic import BaseModel, TypeAdapter

from consumer.events import CLOUDEVENTS_MEDIA_TYPE, MediaEvent, NormalizedEvent
from consumer.ports import DeliveryInfo, Destination, OutboundMessage

HEADER_PREFIX = "ce-"
UNROUTABLE_REASON = "unroutable"
INTERNAL_ERROR_REASON = "internal_error"  # normalizing raised something other than PayloadError
TOO_MANY_DELIVERIES_REASON = "too_many_deliveries"  # the poison cap (RelayOptions.max_deliveries)
PARKED_TYPE = "media-bridge.parked"
PARKED_CONTENT_TYPE = "application/octet-stream"
MISSING_PART = "NONE"
MAX_PART_CHARS = 80  # three parts + dots stay well under AMQP's 255-byte routing key limit
MAX_DETAIL_CHARS = 1000

_PARKED_NAMESPACE = uuid.UUID("0e5d7bb4-8a53-5c0f-bd44-5f0f7a1d2c11")
_UNSAFE = re.compile(r"[.#*\s]")


def event_message(normalized: NormalizedEvent) -> OutboundMessage:
    """The message that carries one media event to the events exchange."""
    event = normalized.event
    return OutboundMessage(
        destination=Destination.EVENTS,
        routing_key=routing_key(event),
        body=structured_json(event),
        message_id=event.id,
        content_type=CLOUDEVENTS_MEDIA_TYPE,
        type=event.type,
        headers=cloudevents_headers(event),
    )


def structured_json(event: MediaEvent) -> bytes:
    """The CloudEvent in JSON structured mode: the one serialization of an event.

    Same bytes as ``event.model_dump_json()`` (a test holds them equal), but built by orjson
    straight from the models' fields: pydantic's serializer (even its dict output, for orjson
    to encode) was the slowest step of building an outbound message. A model's fields are its
    ``__dict__``, in declaration order. Only the envelope loses its ``None`` values (``subject``
    and ``time``, the optional attributes - the only envelope fields that can be ``None``);
    nested models are written whole, nulls included (the ``data`` rule, see consumer.events).
    ``time``, the one field orjson would write differently (``+00:00`` for ``Z``), goes through
    pydantic's own serializer.
    """
    envelope = {key: value for key, value in event.__dict__.items() if value is not None}
    time = envelope.get("time")
    if time is not None:
        envelope["time"] = _TIME_JSON.dump_python(time, mode="json")
    return orjson.dumps(envelope, default=_model_fields)


_TIME_JSON: TypeAdapter[datetime] = TypeAdapter(datetime)


def _model_fields(value: object) -> dict[str, object]:
    """orjson's fallback for the nested models (data, metadata, streams, results): every field."""
    if isinstance(value, BaseModel):
        return value.__dict__
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def routing_key(event: MediaEvent) -> str:
    """``<vendor>.<event_type>.<status>`` with each part made safe for topic exchanges."""
    data = event.data
    return ".".join(_key_part(part) for part in (data.vendor, data.event_type, data.status))


def cloudevents_headers(event: MediaEvent) -> dict[str, str | int]:
    """The CloudEvents context attributes of ``event`` as ``ce-`` headers (absent ones left out)."""
    # Read straight from the model: a second model_dump per event cost as much as the body.
    headers: dict[str, str | int] = {
        "ce-id": event.id,
        "ce-source": event.source,
        "ce-type": event.type,
        "ce-specversion": event.specversion,
        "ce-datacontenttype": event.datacontenttype,
        "ce-dataschema": event.dataschema,
    }
    if event.subject is not None:
        headers["ce-subject"] = event.subject
    if event.time is not None:
        headers["ce-time"] = event.time.isoformat().replace("+00:00", "Z")
    return headers


def parking_message(
    body: bytes,
    info: DeliveryInfo,
    reason: str,
    detail: str,
    *,
    original_content_type: str | None = None,
    parked_at: datetime | None = None,
) -> OutboundMessage:
    """The message that parks a source body that can't be relayed, untouched."""
    when = (parked_at or datetime.now(UTC)).astimezone(UTC)
    headers: dict[str, str | int] = {
        "x-park-reason": reason,
        "x-park-detail": detail[:MAX_DETAIL_CHARS],
        "x-source": info.source,
        "x-delivery-id": info.delivery_id,
        "x-delivery-count": info.delivery_count,
        "x-parked-at": when.isoformat(),
    }
    if original_content_type:
        headers["x-original-content-type"] = original_content_type
    return OutboundMessage(
        destination=Destination.PARKING,
        routing_key=_key_part(reason),
        body=body,
        message_id=str(uuid.uuid5(_PARKED_NAMESPACE, body.hex())),
        content_type=original_content_type or PARKED_CONTENT_TYPE,
        type=PARKED_TYPE,
        headers=headers,
    )


def _key_part(value: str | None) -> str:
    if not value or not value.strip():
        return MISSING_PART
    value = value.strip()
    if _UNSAFE.search(value) is not None:  # rare: vendor names are plain words
        value = _UNSAFE.sub("_", value)
    return value[:MAX_PART_CHARS]
