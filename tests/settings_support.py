"""What the settings tests share: a clean environment, and a CMQ source's variables."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No MEDIA_BRIDGE_ variable from the developer's shell leaks into these tests."""
    for name in [n for n in os.environ if n.startswith("MEDIA_BRIDGE_")]:
        monkeypatch.delenv(name)


CMQ_KEY = "cmq-settings-test-key-9d2e"
CMQ_ENV = {
    "MEDIA_BRIDGE_SOURCE__KIND": "cmq",
    "MEDIA_BRIDGE_SOURCE__ENDPOINT": "http://127.0.0.1:9911",
    "MEDIA_BRIDGE_SOURCE__SECRET_ID": "AKIDSETTINGSTEST000000000000000000",
    "MEDIA_BRIDGE_SOURCE__SECRET_KEY": CMQ_KEY,
    "MEDIA_BRIDGE_SOURCE__QUEUES": "mps-events, vod-events",
}


def set_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
