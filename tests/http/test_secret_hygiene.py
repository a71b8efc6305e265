"""No key, token or signature ever shows in a log line (any level), a repr or a settings error."""

from __future__ import annotations

import logging
import os
import time

import httpx
import pytest

from adapters.http_options import Endpoint, Scheme
from adapters.memory import MemorySink
from consumer.errors import ConfigurationError
from consumer.logs import JsonFormatter, TextFormatter
from consumer.settings import load_settings
from tests.http.support import (
    BEARER,
    JSON,
    SECRETS,
    TOKEN,
    VOD_KEY,
    mps_signed,
    options,
    receiving,
    vod_sign,
    vod_signed,
)
from tests.relay_support import MPS_WORKFLOW, NEW_FILE_UPLOAD


async def test_no_log_line_at_any_level_carries_a_key_token_or_signature(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Accepted, forged, stale, unsigned and mistyped requests, with every logger at DEBUG."""
    caplog.set_level(logging.DEBUG)
    t = int(time.time()) + 600
    genuine_sign = vod_sign(VOD_KEY, t)
    stale = vod_signed(NEW_FILE_UPLOAD, expires_in=-3600)
    requests = [
        ("/vod", vod_signed(NEW_FILE_UPLOAD), JSON),
        ("/vod", vod_signed(NEW_FILE_UPLOAD, key="Wrong"), JSON),
        ("/vod", stale, JSON),
        ("/vod", NEW_FILE_UPLOAD, JSON),
        (f"/vod?Sign={genuine_sign}&T={t}", b"not json", JSON),
        ("/mps", mps_signed(MPS_WORKFLOW), JSON),
        ("/mps", mps_signed(MPS_WORKFLOW, key=TOKEN), JSON),
        ("/cmq", b"{}", {"authorization": f"Bearer {TOKEN}x"}),
        (f"/cmq?token={TOKEN}", b"not json", {}),
        ("/cmq", b"{}", {**BEARER, "content-type": "image/png"}),
    ]
    async with receiving(MemorySink()) as source, httpx.AsyncClient() as http:
        for path, body, headers in requests:
            await http.post(f"{source.url}{path}", content=body, headers=headers)
    assert source.metrics.auth_failures  # the refusals were logged, not skipped
    # Everything but the test's own HTTP client, which logs the URLs it requests.
    ours = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    lines = [f.format(r) for r in ours for f in (JsonFormatter(), TextFormatter())]
    assert any("refused" in line for line in lines)
    for secret in (*SECRETS, genuine_sign, genuine_sign.upper()):
        assert not [line for line in lines if secret in line], secret


def test_options_never_show_their_secrets() -> None:
    endpoint = Endpoint(path="/vod", scheme=Scheme.VOD, keys=(VOD_KEY,), tokens=(TOKEN,))
    shown = repr(endpoint) + repr(options(endpoints=(endpoint,)))
    assert VOD_KEY not in shown
    assert TOKEN not in shown


def test_settings_errors_never_echo_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("MEDIA_BRIDGE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("MEDIA_BRIDGE_SOURCE__KIND", "http")
    monkeypatch.setenv("MEDIA_BRIDGE_SOURCE__VOD_V2__PATH", "/v2")
    monkeypatch.setenv("MEDIA_BRIDGE_SOURCE__VOD_V2__KEYS", VOD_KEY)  # v2 has no signature
    monkeypatch.setenv("MEDIA_BRIDGE_SOURCE__CMQ__PATH", "no-slash")
    monkeypatch.setenv("MEDIA_BRIDGE_SOURCE__CMQ__TOKENS", f'["{TOKEN}", ""]')
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert "MEDIA_BRIDGE_SOURCE__CMQ__PATH" in message
    assert "MEDIA_BRIDGE_SOURCE__CMQ__TOKENS" in message
    assert VOD_KEY not in message
    assert TOKEN not in message
