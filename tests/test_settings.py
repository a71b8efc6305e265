"""Settings come from the environment over a TOML file over defaults, and fail in one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from consumer.errors import ConfigurationError
from consumer.settings import load_settings, masked_url
from consumer.settings_help import setting_docs, settings_epilog


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No MEDIA_BRIDGE_ variable from the developer's shell leaks into these tests."""
    for name in [n for n in os.environ if n.startswith("MEDIA_BRIDGE_")]:
        monkeypatch.delenv(name)


def test_defaults_describe_a_local_broker() -> None:
    """With nothing set, the bridge talks to guest@127.0.0.1 and serves status on :9108."""
    settings = load_settings()
    assert masked_url(settings.source.url) == "amqp://guest:***@127.0.0.1:5672/"
    assert settings.source.queue == "media.notifications"
    assert settings.sink.events_exchange == "media.events"
    assert (settings.sink.parking_exchange, settings.sink.parking_queue) == (
        "media.parking",
        "media.parking",
    )
    assert (settings.http.host, settings.http.port) == ("127.0.0.1", 9108)
    assert settings.relay_options().max_in_flight == 64


def test_environment_overrides_the_toml_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nested env vars (MEDIA_BRIDGE_RELAY__MAX_IN_FLIGHT) win over the same TOML key."""
    config = tmp_path / "bridge.toml"
    config.write_text('[relay]\nmax_in_flight = 8\ngrace_period_s = 3\n[source]\nqueue = "q1"\n')
    monkeypatch.setenv("MEDIA_BRIDGE_RELAY__MAX_IN_FLIGHT", "16")
    settings = load_settings(config)
    options = settings.relay_options()
    assert (options.max_in_flight, options.grace_period_s) == (16, 3)
    assert settings.source.queue == "q1"
    assert options.confirm_timeout_s == settings.sink.confirm_timeout_s


def test_invalid_value_names_the_setting_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad value gives one line with the env var name, the path and the value."""
    monkeypatch.setenv("MEDIA_BRIDGE_RELAY__MAX_IN_FLIGHT", "lots")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    assert "MEDIA_BRIDGE_RELAY__MAX_IN_FLIGHT (relay.max_in_flight)" in message
    assert "'lots'" in message


def test_bad_url_error_never_shows_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """A URL that is not AMQP is refused without echoing it (it may hold a password)."""
    monkeypatch.setenv("MEDIA_BRIDGE_SINK__URL", "http://admin:hunter2@broker/")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "MEDIA_BRIDGE_SINK__URL" in str(caught.value)
    assert "amqp://" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_unknown_key_in_the_file_is_named(tmp_path: Path) -> None:
    """A misspelt TOML key is an error naming it, not silently ignored."""
    config = tmp_path / "bridge.toml"
    config.write_text("[relay]\nmax_inflight = 8\n")
    with pytest.raises(ConfigurationError, match=r"relay\.max_inflight\): no such setting"):
        load_settings(config)


@pytest.mark.parametrize(
    ("content", "expected"), [(None, "No such file"), ("[relay\n", "not valid TOML")]
)
def test_unreadable_config_file_is_one_line(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    """A missing or malformed config file is named with the reason."""
    config = tmp_path / "bridge.toml"
    if content is not None:
        config.write_text(content)
    with pytest.raises(ConfigurationError, match=expected) as caught:
        load_settings(config)
    assert str(config) in str(caught.value)


def test_section_given_as_non_json_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """MEDIA_BRIDGE_SOURCE=garbage is reported, not raised as a library error."""
    monkeypatch.setenv("MEDIA_BRIDGE_SOURCE", "garbage")
    with pytest.raises(ConfigurationError, match="source"):
        load_settings()


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("amqp://user:s3cret@host:5672/vh", "amqp://user:***@host:5672/vh"),
        ("amqps://host/", "amqps://host/"),
        ("amqp://:pw@host", "amqp://:***@host"),
    ],
)
def test_masked_url_hides_only_the_password(url: str, masked: str) -> None:
    """The password becomes *** and everything else stays readable."""
    assert masked_url(url) == masked


def test_help_lists_every_setting_with_env_name_and_default() -> None:
    """The generated settings list covers every leaf and never shows a password."""
    docs = {doc.env_var: doc for doc in setting_docs()}
    assert docs["MEDIA_BRIDGE_SINK__CONFIRM_TIMEOUT_S"].path == "sink.confirm_timeout_s"
    assert docs["MEDIA_BRIDGE_HTTP__PORT"].default == "9108"
    assert docs["MEDIA_BRIDGE_SOURCE__URL"].default == "amqp://guest:***@127.0.0.1:5672/"
    assert "guest:guest" not in settings_epilog()
    assert len(docs) >= 20
