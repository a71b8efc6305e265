"""Settings come from the environment over a TOML file over defaults, and fail in one line."""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path

import pytest

from consumer.errors import ConfigurationError
from consumer.settings import (
    CmqSourceSettings,
    RabbitSourceSettings,
    Settings,
    load_settings,
    masked_url,
)
from consumer.settings.listing import setting_docs, settings_epilog
from tests.samples import REPO_ROOT
from tests.settings_support import CMQ_ENV, CMQ_KEY, clean_env, set_env

__all__ = ["clean_env"]  # the autouse fixture, used by being imported


def test_defaults_describe_a_local_broker() -> None:
    """With nothing set, the bridge talks to guest@127.0.0.1 and serves status on :9108."""
    settings = load_settings()
    assert isinstance(settings.source, RabbitSourceSettings)
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
    assert isinstance(settings.source, RabbitSourceSettings)
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


def test_unknown_key_in_the_file_is_named_with_the_closest_key(tmp_path: Path) -> None:
    """A misspelt TOML key is an error naming it and the key probably meant, not ignored."""
    config = tmp_path / "bridge.toml"
    config.write_text("[relay]\nmax_inflight = 8\n")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(config)
    assert str(caught.value) == (
        "invalid setting MEDIA_BRIDGE_RELAY__MAX_INFLIGHT (relay.max_inflight): no such setting, "
        "did you mean MEDIA_BRIDGE_RELAY__MAX_IN_FLIGHT (relay.max_in_flight)?"
    )


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


def test_cmq_source_from_the_environment_with_tdmq_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """kind=cmq selects the CMQ settings; queues split on commas; 3 s polls and HmacSHA256."""
    set_env(monkeypatch, CMQ_ENV)
    source = load_settings().source
    assert isinstance(source, CmqSourceSettings)
    assert source.queues == ["mps-events", "vod-events"]
    assert source.secret_key.get_secret_value() == CMQ_KEY
    assert (source.batch_size, source.polling_wait_seconds) == (16, 3)
    assert source.signature_method == "HmacSHA256"
    assert source.token is None
    assert CMQ_KEY not in repr(source)


def test_cmq_queues_accept_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """MEDIA_BRIDGE_SOURCE__QUEUES may also be a JSON list."""
    set_env(monkeypatch, {**CMQ_ENV, "MEDIA_BRIDGE_SOURCE__QUEUES": '["a-1", "b_2"]'})
    source = load_settings().source
    assert isinstance(source, CmqSourceSettings)
    assert source.queues == ["a-1", "b_2"]


def test_cmq_source_from_a_toml_table(tmp_path: Path) -> None:
    """[source] kind = "cmq" with a TOML list of queues and a token."""
    config = tmp_path / "bridge.toml"
    config.write_text(
        '[source]\nkind = "cmq"\nendpoint = "https://cmq-gz.public.tencenttdmq.com"\n'
        'secret_id = "AKIDX"\nsecret_key = "k"\ntoken = "sts"\nqueues = ["q1"]\n'
        'signature_method = "HmacSHA1"\nbatch_size = 8\n'
    )
    source = load_settings(config).source
    assert isinstance(source, CmqSourceSettings)
    assert (source.queues, source.batch_size, source.signature_method) == (["q1"], 8, "HmacSHA1")
    assert source.token is not None
    assert source.token.get_secret_value() == "sts"


def test_source_without_kind_stays_rabbitmq(monkeypatch: pytest.MonkeyPatch) -> None:
    """Configurations written before CMQ existed (no kind) still mean RabbitMQ."""
    monkeypatch.setenv("MEDIA_BRIDGE_SOURCE__QUEUE", "legacy")
    source = load_settings().source
    assert isinstance(source, RabbitSourceSettings)
    assert source.queue == "legacy"


def test_cmq_without_secret_key_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing SecretKey is one line naming MEDIA_BRIDGE_SOURCE__SECRET_KEY."""
    set_env(monkeypatch, {k: v for k, v in CMQ_ENV.items() if not k.endswith("SECRET_KEY")})
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert str(caught.value) == (
        "missing required setting: MEDIA_BRIDGE_SOURCE__SECRET_KEY (source.secret_key)"
    )


def test_cmq_without_credentials_names_every_missing_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """kind=cmq alone names all of its required settings in one line."""
    monkeypatch.setenv("MEDIA_BRIDGE_SOURCE__KIND", "cmq")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    for name in ("ENDPOINT", "SECRET_ID", "SECRET_KEY", "QUEUES"):
        assert f"MEDIA_BRIDGE_SOURCE__{name}" in message


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("MEDIA_BRIDGE_SOURCE__SECRET_KEY", "", "is empty"),
        ("MEDIA_BRIDGE_SOURCE__BATCH_SIZE", "17", "less than or equal to 16"),
        ("MEDIA_BRIDGE_SOURCE__QUEUES", "ok,9bad", "should match pattern"),
        ("MEDIA_BRIDGE_SOURCE__ENDPOINT", "http://h/v2/index.php", "no path"),
        ("MEDIA_BRIDGE_SOURCE__SIGNATURE_METHOD", "HmacMD5", "'HmacSHA256' or 'HmacSHA1'"),
        ("MEDIA_BRIDGE_SOURCE__URL", "amqp://u:p@h/", "no such setting"),
    ],
)
def test_bad_cmq_setting_is_named_without_the_secret(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    """Each bad CMQ value names its setting; the SecretKey never appears in the line."""
    set_env(monkeypatch, {**CMQ_ENV, name: value})
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert f"invalid setting {name} " in message
    assert expected in message
    assert CMQ_KEY not in message


def test_unknown_source_kind_is_named_without_echoing_the_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """kind=sqs names MEDIA_BRIDGE_SOURCE__KIND and the valid kinds, and no secret."""
    set_env(monkeypatch, {**CMQ_ENV, "MEDIA_BRIDGE_SOURCE__KIND": "sqs"})
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("invalid setting MEDIA_BRIDGE_SOURCE__KIND (source.kind)")
    assert "'rabbitmq', 'cmq'" in message
    assert CMQ_KEY not in message


def test_help_lists_both_source_kinds_once() -> None:
    """--help lists the RabbitMQ and the CMQ settings, each env var once, required ones marked."""
    docs = setting_docs()
    names = [doc.env_var for doc in docs]
    assert len(names) == len(set(names))
    by_name = {doc.env_var: doc for doc in docs}
    assert by_name["MEDIA_BRIDGE_SOURCE__KIND"].default == "rabbitmq"
    assert by_name["MEDIA_BRIDGE_SOURCE__SECRET_KEY"].default == "required"
    assert by_name["MEDIA_BRIDGE_SOURCE__POLLING_WAIT_SECONDS"].default == "3"
    assert "MEDIA_BRIDGE_SOURCE__QUEUES" in settings_epilog()


TOML_SECRET = "Pw-9c4f-toml"
SECRET_NUMBER = 90417733  # a key given as a number: a scalar, yet never echoed
CMQ_TABLE = '[source]\nkind = "cmq"\nsecret_id = "AKIDX"\nqueues = ["q"]\n'


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        # a table given as a string: the whole value would be echoed
        (f'sink = "amqp://guest:{TOML_SECRET}@host/"', "MEDIA_BRIDGE_SINK (sink): must be a table"),
        # a list of URLs is accepted; one that is not all URLs is refused without echoing any
        (f'[source]\nurl = ["amqp://u:{TOML_SECRET}@h/", 5]', "MEDIA_BRIDGE_SOURCE__URL"),
        (f'[sink]\nurl = ["amqp://u:{TOML_SECRET}@h/", "http://u:{TOML_SECRET}@h/"]',
         "URL 2 of 2: must start with amqp://"),
        (f'[sink]\npasword = "{TOML_SECRET}"', "(sink.pasword): no such setting"),
        (f'sinkk = {{url = "amqp://u:{TOML_SECRET}@h/"}}', "did you mean MEDIA_BRIDGE_SINK (sink)"),
        (
            f'{CMQ_TABLE}endpoint = "https://u:{TOML_SECRET}@cmq.example"\nsecret_key = "k"',
            "(got 'https://u:***@cmq.example')",  # not secret, but a URL: its password masked
        ),
        (
            f'{CMQ_TABLE}endpoint = "https://cmq.example"\nsecret_key = {SECRET_NUMBER}',
            "MEDIA_BRIDGE_SOURCE__SECRET_KEY (source.secret_key): Input should be a valid string",
        ),
    ],
)
def test_file_errors_never_echo_a_secret(tmp_path: Path, toml: str, named: str) -> None:
    """Whole tables, unknown keys, secret keys and URL passwords stay out of the message."""
    config = tmp_path / "bridge.toml"
    config.write_text(toml + "\n")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(config)
    assert named in str(caught.value)
    assert TOML_SECRET not in str(caught.value)
    assert str(SECRET_NUMBER) not in str(caught.value)


@pytest.mark.parametrize(("given", "stored"), [("debug", "DEBUG"), ("Info", "INFO")])
def test_log_level_is_case_insensitive(
    monkeypatch: pytest.MonkeyPatch, given: str, stored: str
) -> None:
    """log.level accepts any case and is stored upper-case."""
    monkeypatch.setenv("MEDIA_BRIDGE_LOG__LEVEL", given)
    assert load_settings().log.level == stored


def test_unknown_log_level_is_reported_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """A level that is no level is echoed the way it was given."""
    monkeypatch.setenv("MEDIA_BRIDGE_LOG__LEVEL", "verbose")
    with pytest.raises(ConfigurationError, match=r"\(got 'verbose'\)$"):
        load_settings()


EXAMPLE = REPO_ROOT / "examples" / "media-bridge.toml"


def test_example_file_loads_with_the_rabbitmq_source() -> None:
    """examples/media-bridge.toml is valid and has a table for every section."""
    settings = load_settings(EXAMPLE)
    assert isinstance(settings.source, RabbitSourceSettings)
    assert settings.source.queue == "media.notifications"
    assert settings.sink.events_exchange == "media.events"
    assert settings.relay_options().max_in_flight == 64
    assert (settings.http.host, settings.http.port) == ("127.0.0.1", 9108)
    assert (settings.log.level, settings.log.format) == ("INFO", "json")
    assert set(tomllib.loads(EXAMPLE.read_text())) == set(Settings.model_fields)


def test_example_files_commented_cmq_source_is_valid_too(tmp_path: Path) -> None:
    """The commented-out CMQ [source] block, uncommented, is a valid CMQ source."""
    lines = EXAMPLE.read_text().splitlines()
    block = itertools.takewhile(
        lambda line: line.startswith("# "), lines[lines.index("# [source]") :]
    )
    config = tmp_path / "cmq.toml"
    config.write_text("\n".join(line.removeprefix("# ") for line in block))
    source = load_settings(config).source
    assert isinstance(source, CmqSourceSettings)
    assert source.queues == ["mps-events", "vod-events"]
