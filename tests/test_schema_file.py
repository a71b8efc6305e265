"""The committed JSON Schema is the one the models generate, and published events conform to it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from consumer.errors import PayloadError
from consumer.events import DATASCHEMA_URI
from consumer.normalize import normalize
from consumer.outbound import structured_json
from consumer.schema_export import SCHEMA_FILE, render_schema
from tests.golden.seed_examples import FIXTURES_DIR
from tests.samples import REPO_ROOT, sample_files

COMMITTED = json.loads((REPO_ROOT / SCHEMA_FILE).read_text())
VALIDATOR = Draft202012Validator(COMMITTED)


def _published_events() -> list[dict[str, Any]]:
    """Every sample's and doc example's events, parsed back from the bytes the relay sends."""
    events = []
    for path in [*sample_files(), *sorted(FIXTURES_DIR.glob("*.json"))]:
        try:
            normalized = normalize(path.read_bytes())
        except PayloadError:  # the non-notification samples
            continue
        events += [orjson.loads(structured_json(item.event)) for item in normalized]
    return events


PUBLISHED = _published_events()


def test_committed_json_schema_matches_the_models() -> None:
    """schema/media-event-v1.json is stale if this fails: run `media-bridge schema > schema/media-event-v1.json`."""
    committed = (REPO_ROOT / SCHEMA_FILE).read_text()
    assert committed == render_schema()


def test_schema_id_is_the_dataschema_every_event_names() -> None:
    """``dataschema`` is a URN naming this schema (nothing serves it at a URL)."""
    assert COMMITTED["$id"] == DATASCHEMA_URI == "urn:media-event-bridge:schema:media-event:v1"
    assert {event["dataschema"] for event in PUBLISHED} == {DATASCHEMA_URI}
    Draft202012Validator.check_schema(COMMITTED)


def test_every_published_event_conforms_to_the_committed_schema() -> None:
    """The wire body of every sample and doc example validates, nulls in data included."""
    assert len(PUBLISHED) >= 60
    problems = [
        f"{event['id']}: {error.json_path}: {error.message}"
        for event in PUBLISHED
        for error in VALIDATOR.iter_errors(event)
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda event: event.update(time=None), "$.time"),
        (lambda event: event.update(subject=None), "$.subject"),
        (lambda event: event["data"].pop("file_id"), "$.data"),
        (lambda event: event["data"]["results"].append({"type": "X", "succeeded": True}),
         "$.data.results[2]"),
        (lambda event: event.pop("datacontenttype"), "$"),
    ],
    ids=["null-time", "null-subject", "data-field-missing", "result-field-missing",
         "no-datacontenttype"],
)
def test_schema_refuses_nulls_for_absent_attributes_and_missing_data_fields(
    change: Callable[[dict[str, Any]], object], path: str
) -> None:
    """Optional attributes are absent, never null; documented data fields are never missing."""
    [event] = [e for e in PUBLISHED if len(e["data"]["results"]) == 2 and "subject" in e][:1]
    event = json.loads(json.dumps(event))
    change(event)
    assert {error.json_path for error in VALIDATOR.iter_errors(event)} == {path}
