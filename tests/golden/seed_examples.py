"""Find the JSON examples embedded in the Tencent doc pages under ../shared/seeds.

Examples appear in fenced blocks (```json, ```javascript, bare ```) and, in one page converted
from HTML, as unfenced text; so every line that starts with ``{`` is tried as the start of a
JSON object, and a successful decode skips past the object.

Run ``python -m tests.golden.seed_examples`` once to (re)write tests/fixtures/seeds/.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.samples import REPO_ROOT, SEEDS_DIR

FIXTURES_DIR = REPO_ROOT / "tests" / "fixtures" / "seeds"


def extract_json_examples(text: str) -> list[dict[str, Any]]:
    """Every JSON object that starts at the beginning of a line, in page order."""
    decoder = json.JSONDecoder()
    examples: list[dict[str, Any]] = []
    position = 0
    while True:
        start = text.find("{", position)
        if start == -1:
            return examples
        line_start = text.rfind("\n", 0, start) + 1
        if text[line_start:start].strip():
            position = start + 1  # a brace inside prose or a table: not an example
            continue
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            position = start + 1
            continue
        if isinstance(value, dict):
            examples.append(value)
        position = end


def seed_files() -> list[Path]:
    """Every seed page; fails loudly when ../shared is missing."""
    files = sorted(SEEDS_DIR.glob("*.txt"))
    if not files:
        raise FileNotFoundError(f"no seed pages in {SEEDS_DIR}: the tests need ../shared")
    return files


def expected_fixtures() -> dict[str, dict[str, Any]]:
    """Fixture file name -> example, for every example of every seed page."""
    return {
        f"{page.stem}__{index}.json": example
        for page in seed_files()
        for index, example in enumerate(extract_json_examples(page.read_text(encoding="utf-8")))
    }


def main() -> None:
    FIXTURES_DIR.mkdir(parents=True, exist_ok=True)
    for name, example in expected_fixtures().items():
        text = json.dumps(example, ensure_ascii=False, indent=2) + "\n"
        (FIXTURES_DIR / name).write_text(text, encoding="utf-8")
        print(f"wrote {name}")


if __name__ == "__main__":
    main()
