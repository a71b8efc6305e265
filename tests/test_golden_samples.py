"""Every shared sample normalizes to its reviewed golden output, or is refused for what it is."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from consumer.commands.normalize import with_handle
from consumer.errors import PayloadError, PayloadReason
from consumer.normalize import normalize
from tests.golden.cases import (
    GOLDEN_DIR,
    NON_NOTIFICATIONS,
    expected_path,
    notification_samples,
    seed_fixtures,
)
from tests.golden.compare import field_differences
from tests.samples import SAMPLES_DIR, sample_files

GOLDEN_SOURCES = [*notification_samples(), *seed_fixtures()]


def _actual(source: Path) -> list[dict[str, object]]:
    """The events as published (and as `media-bridge normalize --with-handles` prints them)."""
    return [orjson.loads(with_handle(item)) for item in normalize(source.read_bytes())]


@pytest.mark.parametrize("source", GOLDEN_SOURCES, ids=lambda path: path.stem)
def test_notification_normalizes_to_its_golden_output(source: Path) -> None:
    """The normalized events equal the reviewed expected file, field by field."""
    expected_file = expected_path(source)
    assert expected_file.exists(), f"no golden file {expected_file}: run tests/golden/regenerate.py"
    expected = json.loads(expected_file.read_text(encoding="utf-8"))
    differences = field_differences(expected, _actual(source))
    assert not differences, f"{source.name} differs from its golden file:\n" + "\n".join(
        differences[:40]
    )


@pytest.mark.parametrize("path", sample_files(), ids=lambda path: path.stem)
def test_a_body_handed_over_decoded_normalizes_as_its_bytes_do(path: Path) -> None:
    """A source that parsed the body already (VOD PullEvents) gets the same events, or the same
    refusal, and the decoded object it handed over is left as it was."""
    body = path.read_bytes()
    decoded = orjson.loads(body)
    untouched = orjson.loads(body)
    try:
        expected: object = [orjson.loads(with_handle(item)) for item in normalize(body)]
    except PayloadError as exc:
        expected = (exc.reason, exc.detail)
    try:
        actual: object = [
            orjson.loads(with_handle(item)) for item in normalize(body, decoded=decoded)
        ]
    except PayloadError as exc:
        actual = (exc.reason, exc.detail)
    assert actual == expected
    assert decoded == untouched


@pytest.mark.parametrize(
    ("stem", "reason", "phrase"),
    [(stem, reason, phrase) for stem, (reason, phrase) in NON_NOTIFICATIONS.items()],
    ids=list(NON_NOTIFICATIONS),
)
def test_non_notification_sample_is_refused_naming_what_it_is(
    stem: str, reason: PayloadReason, phrase: str
) -> None:
    """API replies and plain CMQ messages are refused with a reason and a message saying what they are."""
    with pytest.raises(PayloadError) as caught:
        normalize((SAMPLES_DIR / f"{stem}.json").read_bytes())
    assert caught.value.reason is reason
    assert phrase in caught.value.detail


def test_every_sample_is_either_golden_tested_or_listed_as_non_notification() -> None:
    """A new sample cannot slip through untested: it needs a golden file or a refusal entry."""
    stems = {path.stem for path in sample_files()}
    assert set(NON_NOTIFICATIONS) <= stems, "listed non-notifications missing from the samples"
    missing = [p.name for p in notification_samples() if not expected_path(p).exists()]
    assert missing == []


def test_no_golden_file_is_orphaned() -> None:
    """Every golden file belongs to a sample or seed example that still exists."""
    wanted = {expected_path(source) for source in GOLDEN_SOURCES}
    present = set(GOLDEN_DIR.glob("*/*.expected.json"))
    assert sorted(map(str, present - wanted)) == []


def test_samples_directory_is_required() -> None:
    """The shared samples are a hard requirement: their absence fails, it never skips."""
    assert SAMPLES_DIR.is_dir(), f"{SAMPLES_DIR} is missing"
    assert len(sample_files()) >= 60


def test_field_differences_name_each_changed_field() -> None:
    """A golden mismatch is reported per field path, so the diff says what changed."""
    expected = {"a": {"b": [1, {"c": True}]}, "d": "x"}
    actual = {"a": {"b": [1, {"c": False}]}, "e": 1}
    assert field_differences(expected, actual) == [
        "$.a.b[1].c: expected True, got False",
        "$.d: missing (expected 'x')",
        "$.e: unexpected 1",
    ]
