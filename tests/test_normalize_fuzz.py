"""Property tests: whatever bytes arrive, normalize() yields events or a PayloadError, nothing else.

Together these throw more than 10,000 bodies per run (random bytes, random JSON, and real
samples mutated by truncation, byte flips and structural edits).
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer.errors import PayloadError
from consumer.events import NormalizedEvent
from consumer.normalize import Limits, normalize
from consumer.outbound import event_message
from tests.samples import sample_files

SAMPLES = [path.read_bytes() for path in sample_files()]
PARSED_SAMPLES = [orjson.loads(body) for body in SAMPLES]
SMALL_LIMITS = Limits(max_body_bytes=64 * 1024, max_depth=24)

# Numeric strings at the edges too: the accessors accept "12" for a number, so "nan", "inf" and
# integers past 64 bits must come out as a bad field rather than a crash further down.
edge_numbers = st.sampled_from(
    ["nan", "-inf", "Infinity", "1e400", "99999999999999999999", "-9223372036854775809", " 7 "]
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | edge_numbers
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(
        st.sampled_from(
            ["EventType", "EventSet", "Response", "version", "eventType", "data", "msgBody",
             "ProcedureStateChangeEvent", "WorkflowTaskEvent", "NotificationType", "TaskId",
             "Status", "ErrCode", "MetaData", "MediaProcessResultSet", "FileId", "EventHandle",
             "eventList", "eventContent", "FileUploadEvent", "Type", "TranscodeTask", "Output"]
        )
        | st.text(max_size=8),
        children,
        max_size=6,
    ),
    max_leaves=40,
)


def assert_events_or_payload_error(body: bytes, limits: Limits = SMALL_LIMITS) -> None:
    """The property: a list of well-formed events (stable ids), or PayloadError."""
    try:
        events = normalize(body, limits)
    except PayloadError as exc:
        detail = exc.detail
        assert detail, "a PayloadError must say what is wrong"
        return
    assert events, "normalize() returned no events and no error"
    for item in events:
        assert isinstance(item, NormalizedEvent)
        orjson.loads(item.event.model_dump_json())
        orjson.loads(event_message(item).body)  # what the relay publishes must encode too
    assert [e.event.id for e in normalize(body, limits)] == [e.event.id for e in events]


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_end_as_events_or_payload_error(body: bytes) -> None:
    """Arbitrary bytes never raise anything but PayloadError."""
    assert_events_or_payload_error(body)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_random_json_documents_end_as_events_or_payload_error(doc: Any) -> None:
    """Random JSON shaped like Tencent's (its key names, any values) never crashes the parsers."""
    assert_events_or_payload_error(orjson.dumps(doc))


def _replace_somewhere(doc: Any, data: st.DataObject, replacement: Any) -> Any:
    """Return ``doc`` with one randomly chosen node (at any depth) replaced, or a key deleted."""
    if isinstance(doc, dict) and doc:
        key = data.draw(st.sampled_from(sorted(doc)))
        action = data.draw(st.sampled_from(["descend", "replace", "delete"]))
        if action == "delete":
            return {k: v for k, v in doc.items() if k != key}
        new_value = replacement if action == "replace" else _replace_somewhere(doc[key], data, replacement)
        return {**doc, key: new_value}
    if isinstance(doc, list) and doc:
        index = data.draw(st.integers(0, len(doc) - 1))
        copy = list(doc)
        copy[index] = _replace_somewhere(doc[index], data, replacement)
        return copy
    return replacement


@settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_samples_end_as_events_or_payload_error(data: st.DataObject) -> None:
    """Real samples truncated, bit-flipped or with a field replaced by any JSON value: no crash."""
    index = data.draw(st.integers(0, len(SAMPLES) - 1))
    kind = data.draw(st.sampled_from(["structural", "structural", "truncate", "flip"]))
    body = SAMPLES[index]
    if kind == "truncate":
        mutated = body[: data.draw(st.integers(0, len(body)))]
    elif kind == "flip":
        position = data.draw(st.integers(0, len(body) - 1))
        mutated = body[:position] + bytes([data.draw(st.integers(0, 255))]) + body[position + 1 :]
    else:
        replacement = data.draw(json_values)
        mutated = orjson.dumps(_replace_somewhere(PARSED_SAMPLES[index], data, replacement))
    assert_events_or_payload_error(mutated, Limits())
