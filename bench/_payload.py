"""Benchmark bodies: ~4.3 KB VOD ProcedureStateChanged push bodies, unique per message.

Each body is the ai-content-review sample with its own TaskId/FileId (so every event id differs)
and a ``SessionContext`` carrying ``bench:<sent_ns>;`` plus padding to the target size. The
marker survives normalization (``data.session_context`` and ``data.raw``), so the latency probe
finds the send time in both the baseline's pass-through output and the relay's CloudEvent.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import orjson

SAMPLE = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "samples"
    / "vod__ProcedureStateChanged__push-body-v3-ai-content-review.json"
)
TARGET_BYTES = 4300
_MARKER = re.compile(rb"bench:(\d+);")


class PayloadFactory:
    """Makes the n-th body; the send time is stamped in at build time (call it just before send)."""

    def __init__(self, target_bytes: int = TARGET_BYTES) -> None:
        self._template: dict[str, Any] = orjson.loads(SAMPLE.read_bytes())
        self._target = target_bytes

    def body(self, n: int, run: str) -> bytes:
        template = self._template
        event = dict(template["ProcedureStateChangeEvent"])
        event["TaskId"] = f"1256768367-Procedure-{run}-{n:08d}t0"
        event["FileId"] = str(5285890784246869930 + n)
        stamp = f"bench:{time.time_ns()};"
        event["SessionContext"] = stamp
        draft = orjson.dumps({"EventType": template["EventType"], "ProcedureStateChangeEvent": event})
        event["SessionContext"] = stamp + "x" * max(0, self._target - len(draft))
        return orjson.dumps({"EventType": template["EventType"], "ProcedureStateChangeEvent": event})


def sent_ns(body: bytes) -> int | None:
    """The send time stamped into a body (or into an event made from it), if any."""
    found = _MARKER.search(body)
    return int(found.group(1)) if found else None
