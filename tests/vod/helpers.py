"""Shared pieces of the VOD source tests: source options tuned for the fast test emulator."""

from __future__ import annotations

from typing import Any

from adapters.vod_options import VodSourceOptions
from emulators.vod import RunningVodEmulator
from tests.vod_emulator.helpers import MAIN_APP, SECRET_ID, SECRET_KEY, WINDOW_S

# Which way VodApi sends: tests/vod/conftest.py runs every VOD source test on both.
FAST_PATH = True

# The source's idea of the window matches the emulator's (a shorter one would only make it
# drop live events; a longer one would make it send dead handles).
SOURCE_WINDOW_S = WINDOW_S


def source_options(
    running: RunningVodEmulator, *sub_app_ids: int, **overrides: Any
) -> VodSourceOptions:
    """VodSource settings for ``running``, tuned for fast tests, on the path under test."""
    settings: dict[str, Any] = {
        "endpoint": f"http://{running.endpoint}",
        "secret_id": SECRET_ID,
        "secret_key": SECRET_KEY,
        "sub_app_ids": sub_app_ids or (MAIN_APP,),
        "http_timeout": 3.0,
        "confirm_window": SOURCE_WINDOW_S,
        "retry_initial_backoff": 0.01,
        "retry_max_backoff": 0.05,
        "requests_per_second": 0,
        "fast_path": FAST_PATH,
    }
    settings.update(overrides)
    return VodSourceOptions(**settings)
