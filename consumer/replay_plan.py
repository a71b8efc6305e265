"""What a parked message becomes with today's code: events to publish, or a reason it still fails.

Pure; ``media-bridge replay`` acts on it, ``--dry-run`` only prints it, and the ``--task-id``
filter reads the task ids from it.

Two kinds of message can be replayed:

* a **parked body** (what the relay parked: a source body, byte for byte) is normalized again
  with today's parsers, exactly as the relay would (same limits, same event ids);
* an **unrouted event** (a CloudEvent the events exchange could route nowhere, kept by an
  alternate exchange, or parked again by a replay that found it still unroutable) is already
  normalized: it is read back into the event model and published again as it was. Normalizing
  ``data.raw`` instead would lose what the event redacted and could change nothing useful.
  An unrouted event is recognised by its content type (or, once parked, its
  ``x-original-content-type``): ``application/cloudevents+json``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import ValidationError

from consumer.errors import PayloadError
from consumer.events import CLOUDEVENTS_MEDIA_TYPE, MediaEvent, NormalizedEvent
from consumer.normalize import DEFAULT_LIMITS, Limits, normalize
from consumer.outbound import INTERNAL_ERROR_REASON, event_message
from consumer.parked import ORIGINAL_CONTENT_TYPE_HEADER, ParkedMessage
from consumer.ports import OutboundMessage

log = logging.getLogger("media_bridge.replay")

INVALID_EVENT_REASON = "invalid_event"  # an unrouted event that today's event model refuses
MAX_DETAIL_CHARS = 300  # a pydantic error lists every field; the first ones say enough


@dataclass(frozen=True, slots=True)
class Deliver:
    """It becomes these events (in the order the relay would publish them)."""

    events: list[NormalizedEvent]
    messages: list[OutboundMessage]

    @property
    def task_ids(self) -> set[str]:
        """Every task id and subject of its events (what ``--task-id`` compares with)."""
        found = {e.event.data.task_id for e in self.events} | {e.event.subject for e in self.events}
        return {value for value in found if value}


@dataclass(frozen=True, slots=True)
class StillFailing:
    """It still can't be relayed, for this reason (a parking reason) and detail."""

    reason: str
    detail: str


Plan = Deliver | StillFailing


def is_unrouted_event(message: ParkedMessage) -> bool:
    """Whether ``message`` holds one of our CloudEvents rather than a source body."""
    original = message.headers.get(ORIGINAL_CONTENT_TYPE_HEADER)
    return CLOUDEVENTS_MEDIA_TYPE in (message.content_type, original)


def plan(message: ParkedMessage, limits: Limits = DEFAULT_LIMITS) -> Plan:
    """What replaying ``message`` would publish today. Never raises for a bad body."""
    if is_unrouted_event(message):
        return _event_again(message.body)
    try:
        events = normalize(message.body, limits)
    except PayloadError as exc:
        return StillFailing(exc.reason.value, exc.detail)
    except Exception as exc:  # a bug of ours on this body, as in the relay: it stays parked
        log.exception("normalizing a parked body failed unexpectedly")
        return StillFailing(INTERNAL_ERROR_REASON, f"{type(exc).__name__}: {exc}")
    return Deliver(events, [event_message(event) for event in events])


def _event_again(body: bytes) -> Plan:
    try:
        event = NormalizedEvent(event=MediaEvent.model_validate_json(body))
    except ValidationError as exc:
        return StillFailing(INVALID_EVENT_REASON, str(exc)[:MAX_DETAIL_CHARS])
    return Deliver([event], [event_message(event)])
