"""Broker addresses (several AMQP URLs per setting) and queue types (``*.queue_type``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumer.errors import ConfigurationError
from consumer.settings import RabbitSourceSettings, load_settings, masked_url
from consumer.settings.listing import settings_epilog
from tests.settings_support import clean_env, set_env

__all__ = ["clean_env"]  # the autouse fixture, used by being imported

NODES = "amqp://guest:pw-1@10.0.0.1:5672/,amqp://guest:pw-2@10.0.0.2:5672/, amqp://guest:pw-3@10.0.0.3:5672/"
MASKED = "amqp://guest:***@10.0.0.1:5672/,amqp://guest:***@10.0.0.2:5672/,amqp://guest:***@10.0.0.3:5672/"


def test_several_urls_comma_separated_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, {"MEDIA_BRIDGE_SINK__URL": NODES, "MEDIA_BRIDGE_SOURCE__URL": NODES})
    settings = load_settings()
    assert masked_url(settings.sink.url) == MASKED
    assert isinstance(settings.source, RabbitSourceSettings)
    assert settings.source.target() == f"{MASKED} queue media.notifications"
    assert "pw-" not in repr(settings)


def test_a_toml_list_or_a_json_list_is_the_same_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "bridge.toml"
    urls = [url.strip() for url in NODES.split(",")]
    config.write_text(f"[sink]\nurl = {urls!r}\n[source]\nurl = {NODES!r}\n".replace("'", '"'))
    from_file = load_settings(config)
    set_env(monkeypatch, {"MEDIA_BRIDGE_SINK__URL": str(urls).replace("'", '"')})
    from_json = load_settings()
    assert masked_url(from_file.sink.url) == masked_url(from_file.source.url) == MASKED  # type: ignore[union-attr]
    assert masked_url(from_json.sink.url) == MASKED


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("amqp://guest:pw-1@a/,http://guest:pw-2@b/", "URL 2 of 2: must start with amqp://"),
        ("amqp://guest:pw-1@a/,amqp://guest:pw-2@/", "URL 2 of 2: must name a host"),
        ("amqp://guest:pw-1@a/,amqp://guest:pw-1@a/", "URL 2 of 2: the same URL as URL 1"),
        (" , ", "must be an AMQP URL"),
        ('["amqp://guest:pw-1@a/", 7]', "must be a non-empty list of AMQP URLs"),
        ('["amqp://guest:pw-1@a/"', "not a valid JSON list of URLs"),
    ],
)
def test_every_url_is_checked_and_none_is_echoed(
    monkeypatch: pytest.MonkeyPatch, value: str, said: str
) -> None:
    set_env(monkeypatch, {"MEDIA_BRIDGE_SINK__URL": value})
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert said in message
    assert "MEDIA_BRIDGE_SINK__URL" in message
    assert "pw-" not in message
    assert "\n" not in message


def test_queue_types_default_to_classic_and_take_quorum(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = load_settings()
    assert defaults.sink.queue_type == "classic"
    assert defaults.source.queue_type == "classic"  # type: ignore[union-attr]
    set_env(monkeypatch, {"MEDIA_BRIDGE_SINK__QUEUE_TYPE": "quorum",
                          "MEDIA_BRIDGE_SOURCE__QUEUE_TYPE": "quorum"})
    settings = load_settings()
    assert settings.sink.queue_type == "quorum"
    assert settings.source.queue_type == "quorum"  # type: ignore[union-attr]


def test_an_unknown_queue_type_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, {"MEDIA_BRIDGE_SOURCE__QUEUE_TYPE": "stream"})
    with pytest.raises(ConfigurationError, match=r"source\.queue_type.*'classic' or 'quorum'"):
        load_settings()


def test_queue_type_is_a_rabbitmq_source_setting_only(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, {"MEDIA_BRIDGE_SOURCE__KIND": "http",
                          "MEDIA_BRIDGE_SOURCE__QUEUE_TYPE": "quorum"})
    with pytest.raises(ConfigurationError, match=r"source\.queue_type"):
        load_settings()


def test_help_lists_the_new_settings() -> None:
    epilog = settings_epilog()
    for variable in ("MEDIA_BRIDGE_SINK__QUEUE_TYPE", "MEDIA_BRIDGE_SOURCE__QUEUE_TYPE"):
        assert variable in epilog
    assert "comma-separated" in epilog
