"""End-to-end pieces for VOD: the sample events as VOD would hold them, and bridge settings.

The emulator stands in for VOD generating events (they are injected as EventContent objects,
exactly as the samples show them); the bridge pulls them with ``VodSource`` and publishes to a
real RabbitMQ, where the tap of ``tests.e2e_cmq.support`` collects every event.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from emulators.vod import RunningVodEmulator
from tests.samples import sample_files
from tests.vod_emulator.helpers import SECRET_ID

# Objects that are VOD-shaped but can't be normalized: the bridge must park them, then confirm.
MALFORMED_EVENTS: tuple[dict[str, Any], ...] = (
    {"EventType": "NoSuchEventType", "NoSuchEvent": {"TaskId": "x"}},
    {},
    {"EventType": "NewFileUpload", "FileUploadEvent": "not an object"},
)


def vod_sample_files() -> list[Path]:
    """Every sample that holds VOD events (v3 push bodies, PullEvents responses, legacy v2)."""
    files = [
        path
        for path in sample_files()
        if path.name.startswith(("vod__", "vodlegacy__"))
        and not path.name.startswith("vod__ConfirmEvents__")
    ]
    assert len(files) > 40, files  # the shared samples are all there
    return files


def events_of(path: Path) -> list[dict[str, Any]]:
    """The EventContent objects of a sample file, without delivery handles."""
    doc = orjson.loads(path.read_bytes())
    doc = doc.get("Response", doc)
    elements = doc.get("EventSet", [doc])
    return [{k: v for k, v in element.items() if k != "EventHandle"} for element in elements]


def vod_env(
    running: RunningVodEmulator, key: str, *sub_app_ids: int, **extra: str
) -> dict[str, str]:
    """The environment of a ``media-bridge run`` pulling from ``running``."""
    base = {n: v for n, v in os.environ.items() if not n.startswith("MEDIA_BRIDGE_")}
    return {
        **base,
        "MEDIA_BRIDGE_SOURCE__KIND": "vod",
        "MEDIA_BRIDGE_SOURCE__ENDPOINT": f"http://{running.endpoint}",
        "MEDIA_BRIDGE_SOURCE__SECRET_ID": SECRET_ID,
        "MEDIA_BRIDGE_SOURCE__SECRET_KEY": key,
        "MEDIA_BRIDGE_SOURCE__SUB_APP_IDS": ",".join(map(str, sub_app_ids)),
        "MEDIA_BRIDGE_SOURCE__HTTP_TIMEOUT_S": "3",
        "MEDIA_BRIDGE_SOURCE__RETRY_MAX_BACKOFF_S": "0.2",
        **extra,
    }
