"""The models normalize() builds without validation equal what pydantic validation would build.

``consumer.events.trusted`` skips pydantic's validation on the hot path because the format
parsers already type-check every value. These tests rebuild every event from the very inputs the
validated path used (the fields that were set, nested models as their own inputs), run them
through ``model_validate``, and require the two to be identical: same types (an int in a float
field fails), same values, same field order, same ``model_fields_set``. They also hold the fast
JSON body equal to pydantic's own serialization. Real samples, doc examples and thousands of
mutated samples are checked.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from consumer.canonical import strip_nulls
from consumer.errors import PayloadError
from consumer.events import NormalizedEvent
from consumer.normalize import normalize
from consumer.outbound import structured_json
from tests.golden.seed_examples import FIXTURES_DIR
from tests.samples import sample_files
from tests.test_normalize_fuzz import _replace_somewhere, json_values

BODIES = [path.read_bytes() for path in sample_files()] + [
    path.read_bytes() for path in sorted(FIXTURES_DIR.glob("*.json"))
]
PARSED = [orjson.loads(body) for body in BODIES]

# Shapes the samples hold few of: int values in float fields, camelCase metadata, event times
# with offsets and fractions, nulls that must be stripped, handles.
EXTRA_BODIES = [
    orjson.dumps(
        {
            "EventType": "ProcedureStateChanged",
            "ProcedureStateChangeEvent": {
                "TaskId": 12345,
                "Status": "FINISH",
                "ErrCode": 0,
                "FileId": 5285890784246869930,
                "FinishTime": "2024-01-02T03:04:05.250+08:00",
                "MetaData": {
                    "Duration": 60,
                    "VideoDuration": 59.5,
                    "AudioDuration": "61",
                    "Size": 1024.0,
                    "Bitrate": "2000",
                    "Md5": 42,
                    "VideoStreamSet": [{"Fps": 25, "Bitrate": 1.0, "Codec": "h264"}, {}],
                    "AudioStreamSet": [{"SamplingRate": 48000.0}],
                },
                "MediaProcessResultSet": [
                    {"Type": "Transcode", "TranscodeTask": {"Status": "FAIL", "ErrCode": "70000",
                                                            "Input": {"Definition": 100030},
                                                            "Output": [{"Url": "http://a/b"}]}},
                    {"Type": "Snapshot"},
                ],
                "SessionContext": None,
            },
        }
    ),
    orjson.dumps(
        {
            "version": "4.0",
            "eventType": "TranscodeComplete",
            "data": {
                "vodTaskId": "t-1",
                "status": 0,
                "fileId": "f-1",
                "metaData": {"duration": 10, "videoStreamList": [{"fps": 30}],
                             "audioStreamList": [{"samplingRate": 44100}]},
                "playSet": [{"url": "http://x/y.m3u8", "definition": 10}],
            },
        }
    ),
    orjson.dumps(
        {
            "Response": {
                "EventSet": [
                    {"EventHandle": "h1", "EventType": "NewFileUpload",
                     "FileUploadEvent": {"FileId": "1", "MediaBasicInfo": {"Name": "n",
                                                                           "MediaUrl": "u"}}},
                    {"EventHandle": 7, "EventType": "FileDeleted",
                     "FileDeleteEvent": {"FileIdSet": ["1", "2"]}},
                ],
                "RequestId": "r",
            }
        }
    ),
]


def _given(model: BaseModel) -> dict[str, Any]:
    """What the validated path passed to pydantic: the fields set, nested models likewise."""
    return {
        name: _given_value(value)
        for name, value in model.__dict__.items()
        if name in model.model_fields_set
    }


def _given_value(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return _given(value)
    if isinstance(value, list):
        return [_given_value(item) for item in value]
    return value


def _assert_identical(fast: Any, validated: Any, path: str = "item") -> None:
    assert type(fast) is type(validated), f"{path}: {type(fast)} != {type(validated)}"
    if isinstance(fast, BaseModel):
        assert fast.model_fields_set == validated.model_fields_set, path
        assert list(fast.__dict__) == list(validated.__dict__), path
        assert fast.__pydantic_extra__ == validated.__pydantic_extra__, path
        assert fast.__pydantic_private__ == validated.__pydantic_private__, path
        for name, value in fast.__dict__.items():
            _assert_identical(value, validated.__dict__[name], f"{path}.{name}")
    elif isinstance(fast, dict):
        assert list(fast) == list(validated), path
        for key, value in fast.items():
            _assert_identical(value, validated[key], f"{path}[{key!r}]")
    elif isinstance(fast, list):
        assert len(fast) == len(validated), path
        for index, value in enumerate(fast):
            _assert_identical(value, validated[index], f"{path}[{index}]")
    elif isinstance(fast, datetime):
        assert fast.isoformat() == validated.isoformat(), path
        assert fast.tzinfo == validated.tzinfo, path
    elif isinstance(fast, float) and math.isnan(fast):
        assert math.isnan(validated), path
    else:
        assert fast == validated, path


def _check(body: bytes) -> int:
    """Compare every event of ``body`` with its validated twin; the number of events checked."""
    try:
        events = normalize(body)
    except PayloadError:
        return 0
    for item in events:
        validated = NormalizedEvent.model_validate(_given(item))
        _assert_identical(item, validated)
        assert item == validated
        try:
            encoded = structured_json(item.event)
        except orjson.JSONEncodeError:  # an integer over 64 bits: orjson refuses it, as before
            with pytest.raises(orjson.JSONEncodeError):
                orjson.dumps(validated.event.model_dump())
            continue
        assert encoded == validated.event.model_dump_json().encode()
    return len(events)


def test_every_sample_and_doc_example_matches_its_validated_twin() -> None:
    """Real samples and doc examples: the fast models are the validated models."""
    checked = sum(_check(body) for body in BODIES + EXTRA_BODIES)
    assert checked >= 60


def test_float_fields_hold_floats() -> None:
    """An integer the vendor sends for a float field is a float in the event (as pydantic did)."""
    (item,) = normalize(EXTRA_BODIES[0])
    metadata = item.event.data.metadata
    assert metadata is not None
    assert type(metadata.duration) is float
    assert type(metadata.audio_duration) is float
    assert type(metadata.video_streams[0].fps) is float
    assert type(metadata.size) is int
    assert item.event.time is not None
    assert b'"time":"2024-01-02T03:04:05.250000+08:00"' in structured_json(item.event)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_samples_match_their_validated_twins(data: st.DataObject) -> None:
    """Samples with any field replaced by any JSON value: accepted events are still identical."""
    index = data.draw(st.integers(0, len(PARSED) - 1))
    mutated = _replace_somewhere(PARSED[index], data, data.draw(json_values))
    _check(orjson.dumps(mutated))


def _reference_strip_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reference_strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_reference_strip_nulls(v) for v in value]
    return value


def test_strip_nulls_matches_the_plain_recursion_on_samples() -> None:
    """The exact-type walk strips exactly what the one-function recursion did, keeping order."""
    for doc in PARSED:
        _assert_identical(strip_nulls(doc), _reference_strip_nulls(doc))


@settings(max_examples=1000, deadline=None)
@given(json_values)
def test_strip_nulls_matches_the_plain_recursion(doc: Any) -> None:
    """Any JSON value (nulls in objects, lists and at the top) is stripped the same way."""
    _assert_identical(strip_nulls(doc), _reference_strip_nulls(doc))
