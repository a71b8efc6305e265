"""The JSON Schema of the media event, generated from the pydantic models.

It describes events as published (pydantic's serialization mode): every field that is always
written is required, ``subject`` and ``time`` may be absent but are never null. Its ``$id`` is
the ``dataschema`` URN every event carries. The committed copy lives at
``schema/media-event-v1.json``; ``tests/test_schema_file.py`` fails when it is stale and checks
every sample's published event against it. Regenerate with
``media-bridge schema > schema/media-event-v1.json``.
"""

from __future__ import annotations

from typing import Any

import orjson

from consumer.events import DATASCHEMA_URI, MediaEvent

SCHEMA_FILE = "schema/media-event-v1.json"


def media_event_json_schema() -> dict[str, Any]:
    """The schema dict, with ``$id`` set to the ``dataschema`` URI events point at."""
    schema = MediaEvent.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": DATASCHEMA_URI,
        **schema,
    }


def render_schema() -> str:
    """The schema as the exact text committed to ``SCHEMA_FILE``."""
    return (
        orjson.dumps(
            media_event_json_schema(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
        ).decode()
        + "\n"
    )
