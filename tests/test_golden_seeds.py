"""The seed fixtures are exactly the JSON examples embedded in the shared Tencent doc pages."""

from __future__ import annotations

import json

from tests.golden.seed_examples import FIXTURES_DIR, expected_fixtures, extract_json_examples


def test_seed_fixtures_match_the_examples_in_the_doc_pages() -> None:
    """A page that gains, loses or changes an example makes the fixtures stale."""
    expected = expected_fixtures()
    present = {path.name: json.loads(path.read_text(encoding="utf-8"))
               for path in FIXTURES_DIR.glob("*.json")}
    assert sorted(present) == sorted(expected)
    assert present == expected


def test_extractor_finds_fenced_and_unfenced_examples_but_not_prose_braces() -> None:
    """Examples count whether or not they are fenced; a brace inside a sentence does not."""
    page = 'Intro {not json}\n```json\n{"a": 1}\n```\nText\n{\n"b": [1, 2]\n}\nx = {"c": 3}\n'
    assert extract_json_examples(page) == [{"a": 1}, {"b": [1, 2]}]
