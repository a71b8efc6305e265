"""Write tests/golden/{samples,seeds}/*.expected.json from the current normalizer.

Each file holds ``{"event": <the event as published>, "event_handle": ...}`` per event: the
bytes the relay sends (``consumer.outbound.structured_json``), so a change of the wire shows.

Usage: ``.venv/bin/python -m tests.golden.regenerate``. The output is a proposal: review every
changed file (status, succeeded, err_code, outputs, event_type) before keeping it.
"""

from __future__ import annotations

import json

import orjson

from consumer.commands.normalize import with_handle
from consumer.normalize import normalize
from tests.golden.cases import expected_path, notification_samples, seed_fixtures


def main() -> None:
    for source in [*notification_samples(), *seed_fixtures()]:
        # Exactly what `media-bridge normalize --with-handles` prints: the published event.
        events = [orjson.loads(with_handle(item)) for item in normalize(source.read_bytes())]
        target = expected_path(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(events, ensure_ascii=False, indent=2) + "\n"
        old = target.read_text(encoding="utf-8") if target.exists() else None
        if old != text:
            target.write_text(text, encoding="utf-8")
            print(f"{'updated' if old else 'created'} {target.relative_to(target.parents[2])}")


if __name__ == "__main__":
    main()
