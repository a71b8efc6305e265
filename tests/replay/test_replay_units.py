"""The pure parts of parked/replay: the re-parked copy, the plan, the filter, the times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from consumer.events import CLOUDEVENTS_MEDIA_TYPE
from consumer.normalize import normalize
from consumer.outbound import TOO_MANY_DELIVERIES_REASON, event_message, parking_message
from consumer.parked import ParkedMessage
from consumer.parked_filter import ParkedFilter, TaskIdMatch, parse_instant
from consumer.ports import DeliveryInfo, Destination, OutboundMessage
from consumer.reparking import reparked_message
from consumer.replay_plan import Deliver, Plan, StillFailing, plan
from tests.relay_support import NOT_JSON, PROCEDURE_FINISHED

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def as_parked(message: OutboundMessage) -> ParkedMessage:
    """What a reader gets back for ``message`` (headers as the broker keeps them)."""
    return ParkedMessage(
        body=message.body,
        headers=dict(message.headers),
        routing_key=message.routing_key,
        message_id=message.message_id,
        content_type=message.content_type,
    )


def parked_body(body: bytes, reason: str = "internal_error", source: str = "cmq:q") -> ParkedMessage:
    info = DeliveryInfo(source, "msg-7", 2, NOW)
    return as_parked(parking_message(body, info, reason, "first detail", parked_at=NOW))


def test_the_copy_keeps_the_body_and_the_first_parking_and_says_what_is_new() -> None:
    original = parked_body(NOT_JSON)
    copy = reparked_message(
        original, "not_json", "today's detail", queue="media.parking", run_id="run-1",
        now=NOW + timedelta(hours=1),
    )
    assert (copy.destination, copy.body, copy.routing_key) == (
        Destination.PARKING, NOT_JSON, "not_json",
    )
    assert copy.message_id == original.message_id
    assert copy.headers == {
        **original.headers,
        "x-park-reason": "not_json",
        "x-park-detail": "today's detail",
        "x-replay-count": 1,
        "x-replayed-at": (NOW + timedelta(hours=1)).isoformat(),
        "x-replay-run": "run-1",
    }
    again = as_parked(reparked_message(as_parked(copy), "not_json", "x", queue="q", run_id="run-2"))
    assert again.replay_count == 2
    assert again.identity == original.identity  # a copy of a copy is still the same parking
    assert again.parked_at == NOW


def test_an_unrouted_event_plans_to_the_same_message_it_was() -> None:
    [event] = normalize(PROCEDURE_FINISHED)
    published = event_message(event)
    today = plan(as_parked(published))
    assert isinstance(today, Deliver)
    assert today.messages == [published]
    assert today.task_ids == {event.event.data.task_id, event.event.subject} - {None}


def test_an_unrouted_event_parked_again_keeps_its_content_type() -> None:
    [event] = normalize(PROCEDURE_FINISHED)
    unrouted = as_parked(event_message(event))
    copy = reparked_message(unrouted, "unroutable", "no queue", queue="unrouted", run_id="r")
    assert copy.content_type == CLOUDEVENTS_MEDIA_TYPE
    assert copy.headers["x-original-content-type"] == CLOUDEVENTS_MEDIA_TYPE
    assert isinstance(plan(as_parked(copy)), Deliver)  # still recognised as an event


def test_a_broken_event_and_a_bad_body_still_fail_with_a_reason() -> None:
    [event] = normalize(PROCEDURE_FINISHED)
    broken = as_parked(event_message(event))
    broken = ParkedMessage(b'{"id": 1}', broken.headers, "k", "m", CLOUDEVENTS_MEDIA_TYPE)
    assert isinstance(today := plan(broken), StillFailing)
    assert today.reason == "invalid_event"
    assert plan(parked_body(NOT_JSON)) == StillFailing("not_json", plan_detail(NOT_JSON))


def plan_detail(body: bytes) -> str:
    today = plan(parked_body(body))
    assert isinstance(today, StillFailing)
    return today.detail


def never(message: str = "the body must not be normalized") -> Plan:
    raise AssertionError(message)


def test_filters_combine_and_sources_match_by_kind_or_exactly() -> None:
    cmq = parked_body(NOT_JSON, "not_json", "cmq:mps-events")
    vod = parked_body(NOT_JSON, "unknown_format", "vod:1500000001")
    assert ParkedFilter(sources=("cmq",)).match(cmq, never) is not None
    assert ParkedFilter(sources=("cmq:mps-events",)).match(cmq, never) is not None
    assert ParkedFilter(sources=("cmq:mps",)).match(cmq, never) is None
    assert ParkedFilter(sources=("cmq", "vod")).match(vod, never) is not None
    both = ParkedFilter(reasons=frozenset({"not_json"}), sources=("vod",))
    assert both.match(cmq, never) is None
    assert both.match(vod, never) is None
    assert ParkedFilter(since=NOW).match(cmq, never) is not None
    assert ParkedFilter(until=NOW).match(cmq, never) is None
    assert ParkedFilter(excluded_reasons=frozenset({"not_json"})).match(cmq, never) is None


def test_task_id_uses_the_events_or_the_text_and_never_normalizes_a_poison_body() -> None:
    [event] = normalize(PROCEDURE_FINISHED)
    task_id = event.event.data.task_id
    assert task_id is not None
    select = ParkedFilter(task_id=task_id)
    good = parked_body(PROCEDURE_FINISHED)
    found = select.match(good, lambda: plan(good))
    assert found is not None
    assert found.task_id_by is TaskIdMatch.EVENT
    text = parked_body(b'{"EventType": "Nope", "id": "' + task_id.encode() + b'"}')
    found = select.match(text, lambda: plan(text))
    assert found is not None
    assert found.task_id_by is TaskIdMatch.SUBSTRING
    poison = parked_body(PROCEDURE_FINISHED, TOO_MANY_DELIVERIES_REASON)
    found = select.match(poison, never)
    assert found is not None
    assert found.task_id_by is TaskIdMatch.SUBSTRING
    assert ParkedFilter(task_id="nope").match(good, lambda: plan(good)) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", NOW - timedelta(minutes=30)),
        ("2h", NOW - timedelta(hours=2)),
        ("1.5d", NOW - timedelta(days=1.5)),
        ("2026-11-30", datetime(2026, 11, 30, tzinfo=UTC)),
        ("2026-11-30T10:00:00+08:00", datetime(2026, 11, 30, 2, tzinfo=UTC)),
    ],
)
def test_since_and_until_read_durations_and_iso_times(text: str, expected: datetime) -> None:
    assert parse_instant(text, now=NOW) == expected


def test_a_time_that_is_neither_is_refused() -> None:
    with pytest.raises(ValueError, match="neither a duration"):
        parse_instant("last tuesday")


def test_headers_read_as_typed_properties() -> None:
    message = ParkedMessage(
        b"", {"x-replay-count": "x", "x-parked-at": "2026-12-01T12:00:00"}, "k"
    )
    assert message.replay_count == 0
    assert message.parked_at == NOW  # naive: UTC
    assert message.reason is None
