"""Every MEDIA_BRIDGE_ variable must name a setting: typos are refused with the closest name,
and every problem of a configuration is reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumer.errors import ConfigurationError
from consumer.settings import Settings, load_settings
from consumer.settings.environment import accepted_names
from consumer.settings.listing import setting_docs
from tests.settings_support import CMQ_ENV, clean_env, set_env

__all__ = ["clean_env"]  # the autouse fixture, used by being imported


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("MEDIA_BRIDGE_SINK_URL", "MEDIA_BRIDGE_SINK__URL"),  # one underscore: a new name
        ("MEDIA_BRIDGE_SINKK__URL", "MEDIA_BRIDGE_SINK__URL"),
        # also refused by the [source] table itself: still one clause
        ("MEDIA_BRIDGE_SOURCE__QUEU", "MEDIA_BRIDGE_SOURCE__QUEUE"),
        ("MEDIA_BRIDGE_RELAY__MAXINFLIGHT", "MEDIA_BRIDGE_RELAY__MAX_IN_FLIGHT"),
    ],
)
def test_misspelt_variable_is_refused_naming_the_closest_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, meant: str
) -> None:
    """A MEDIA_BRIDGE_ variable that sets nothing stops start-up instead of being ignored."""
    monkeypatch.setenv(name, "amqp://bridge:Typo-secret@broker/")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert str(caught.value) == f"unknown setting {name}: did you mean {meant}?"


def test_variable_like_no_setting_is_refused_without_a_guess(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A name resembling nothing is still refused, pointing at the list of settings."""
    monkeypatch.setenv("MEDIA_BRIDGE_ZZZ", "1")
    with pytest.raises(ConfigurationError, match=r"^unknown setting MEDIA_BRIDGE_ZZZ \(media"):
        load_settings()


def test_the_test_suites_own_variables_are_not_taken_for_typos(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """MEDIA_BRIDGE_TEST_* configures the test suite, which starts bridges with its environment."""
    monkeypatch.setenv("MEDIA_BRIDGE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    assert load_settings().http.port == 9108


def test_config_file_variable_and_lower_case_names_are_accepted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """MEDIA_BRIDGE_CONFIG names the file; names are case-insensitive, as pydantic reads them."""
    monkeypatch.setenv("MEDIA_BRIDGE_CONFIG", str(tmp_path / "unused.toml"))
    monkeypatch.setenv("media_bridge_http__port", "9200")
    assert load_settings().http.port == 9200


def test_every_documented_setting_of_every_source_kind_is_an_accepted_variable() -> None:
    """The accepted names come from the models, so each source kind's keys are known."""
    documented = {doc.env_var for doc in setting_docs()}
    assert documented <= accepted_names(Settings)
    assert {"MEDIA_BRIDGE_SOURCE", "MEDIA_BRIDGE_SOURCE__QUEUES"} <= accepted_names(Settings)


def test_setting_of_another_source_kind_names_the_kind_and_the_closest_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """queue (RabbitMQ) under kind=cmq is refused for that kind, suggesting cmq's queues."""
    set_env(monkeypatch, {**CMQ_ENV, "MEDIA_BRIDGE_SOURCE__QUEUE": "mps-events"})
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert str(caught.value) == (
        "invalid setting MEDIA_BRIDGE_SOURCE__QUEUE (source.queue): no such setting for kind "
        "'cmq', did you mean MEDIA_BRIDGE_SOURCE__QUEUES (source.queues)?"
    )


def test_every_problem_is_reported_at_once_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two bad values and a typo: the line counts them and names each one."""
    monkeypatch.setenv("MEDIA_BRIDGE_RELAY__MAX_IN_FLIGHT", "0")
    monkeypatch.setenv("MEDIA_BRIDGE_HTTP__PORT", "70000")
    monkeypatch.setenv("MEDIA_BRIDGE_SINK_URL", "amqp://u:p@h/")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("3 problems in the settings: unknown setting MEDIA_BRIDGE_SINK_URL")
    clauses = message.split("; ")
    assert clauses[1].startswith("invalid setting MEDIA_BRIDGE_RELAY__MAX_IN_FLIGHT")
    assert clauses[1].endswith("(got '0')")
    assert clauses[2].startswith("invalid setting MEDIA_BRIDGE_HTTP__PORT (http.port)")
    assert clauses[2].endswith("(got '70000')")
