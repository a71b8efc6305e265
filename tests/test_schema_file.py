"""The committed JSON Schema is the one the models generate."""

from __future__ import annotations

from consumer.schema_export import SCHEMA_FILE, render_schema
from tests.samples import REPO_ROOT


def test_committed_json_schema_matches_the_models() -> None:
    """schema/media-event-v1.json is stale if this fails: run `media-bridge schema > schema/media-event-v1.json`."""
    committed = (REPO_ROOT / SCHEMA_FILE).read_text()
    assert committed == render_schema()
