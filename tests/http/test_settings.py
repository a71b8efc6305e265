"""``[source] kind = "http"``: validated settings, and what ``media-bridge run`` opens from them."""

from __future__ import annotations

import os
from ipaddress import ip_network
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from adapters.http_options import Scheme
from adapters.http_source import HttpSource
from adapters.openers import source_opener
from consumer.errors import ConfigurationError
from consumer.settings import load_settings
from consumer.settings.sources import HttpSourceSettings
from tests.http.support import MPS_KEY, TOKEN, VOD_KEY


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("MEDIA_BRIDGE_")]:
        monkeypatch.delenv(name)


def http_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> HttpSourceSettings:
    monkeypatch.setenv("MEDIA_BRIDGE_SOURCE__KIND", "http")
    for name, value in env.items():
        monkeypatch.setenv(f"MEDIA_BRIDGE_SOURCE__{name}", value)
    source = load_settings().source
    assert isinstance(source, HttpSourceSettings)
    return source


def test_each_callback_kind_is_a_table_of_its_own_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = http_settings(
        monkeypatch,
        VOD__PATH="/tencent/vod",
        VOD__KEYS=f"{VOD_KEY},older-key",
        CMQ__PATH="/tencent/cmq",
        CMQ__TOKENS=TOKEN,
        CMQ__ALLOW_FROM="10.0.0.0/8, 192.0.2.7",
        TRUSTED_PROXIES='["127.0.0.1"]',
    )
    assert set(source.paths()) == {"vod", "cmq"}
    assert source.vod is not None
    assert source.cmq is not None
    assert [key.get_secret_value() for key in source.vod.keys] == [VOD_KEY, "older-key"]
    assert source.cmq.allow_from == [ip_network("10.0.0.0/8"), ip_network("192.0.2.7/32")]
    assert (source.host, source.port, source.request_timeout_s) == ("127.0.0.1", 9110, 5.0)
    assert VOD_KEY not in repr(source)


def test_the_same_settings_read_from_toml(tmp_path: Path) -> None:
    config = tmp_path / "bridge.toml"
    config.write_text(
        '[source]\nkind = "http"\nport = 9300\nmax_clock_skew_s = 60\n'
        f'[source.mps]\npath = "/mps"\nkeys = ["{MPS_KEY}"]\n'
        '[source.vod_v2]\npath = "/v2"\nunauthenticated = true\n'
    )
    source = load_settings(config).source
    assert isinstance(source, HttpSourceSettings)
    assert (source.port, source.max_clock_skew_s) == (9300, 60)
    assert source.vod_v2 is not None
    assert source.vod_v2.unauthenticated


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({}, "set at least one of vod, mps, vod_v2, cmq"),
        ({"MPS__PATH": "/mps"}, "checks nothing"),  # no key, token, network or opt-in
        ({"CMQ__PATH": "/c", "CMQ__KEYS": "k"}, "cmq has no signature scheme"),
        (
            {"VOD__PATH": "/x", "VOD__KEYS": "k", "MPS__PATH": "/x", "MPS__KEYS": "k"},
            "share a path",
        ),
        ({"VOD__PATH": "vod", "VOD__KEYS": "k"}, "MEDIA_BRIDGE_SOURCE__VOD__PATH"),
        ({"VOD__PATH": "/v", "VOD__KEYS": "k", "VOD__UNAUTHENTICATED": "true"}, "contradicts"),
        (
            {"CMQ__PATH": "/c", "CMQ__ALLOW_FROM": "10.0.0.1/8"},
            "MEDIA_BRIDGE_SOURCE__CMQ__ALLOW_FROM",
        ),
        ({"CMQ__PATH": "/c", "CMQ__TOKENS": "t", "QUEUE": "q"}, "no such setting for kind 'http'"),
    ],
)
def test_a_configuration_that_would_serve_wrongly_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], complaint: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        http_settings(monkeypatch, **env)
    assert complaint in str(caught.value)
    assert "\n" not in str(caught.value)


async def test_run_opens_a_listening_receiver_and_exports_its_metrics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The composition root's case for kind=http: the paths, schemes and keys it builds."""
    settings = http_settings(
        monkeypatch,
        PORT="0",
        VOD__PATH="/vod",
        VOD__KEYS=VOD_KEY,
        MPS__PATH="/mps",
        MPS__KEYS=MPS_KEY,
        CMQ__PATH="/cmq",
        CMQ__TOKENS=TOKEN,
    )
    registry = CollectorRegistry()
    source = await source_opener(registry)(settings, 64)
    try:
        assert isinstance(source, HttpSource)
        assert source.connected
        schemes = {e.path: (e.scheme, e.keys, e.tokens) for e in source.options.endpoints}
        assert schemes == {
            "/vod": (Scheme.VOD, (VOD_KEY,), ()),
            "/mps": (Scheme.MPS, (MPS_KEY,), ()),
            "/cmq": (Scheme.NONE, (), (TOKEN,)),
        }
        async with httpx.AsyncClient() as http:
            assert (await http.post(f"{source.url}/cmq", content=b"{}")).status_code == 401
    finally:
        await source.aclose()
    text = generate_latest(registry).decode()
    assert 'media_bridge_http_requests_total{path="/cmq",status="401"} 1.0' in text
    assert "media_bridge_http_listening 0.0" in text


async def test_a_port_in_use_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = http_settings(monkeypatch, PORT="0", CMQ__PATH="/cmq", CMQ__TOKENS=TOKEN)
    first = await source_opener(CollectorRegistry())(settings, 64)
    assert isinstance(first, HttpSource)
    try:
        taken = settings.model_copy(update={"port": first.port})
        with pytest.raises(ConfigurationError, match=r"cannot listen on 127\.0\.0\.1"):
            await source_opener(CollectorRegistry())(taken, 64)
    finally:
        await first.aclose()
