"""Service settings: environment variables (``MEDIA_BRIDGE_`` prefix, ``__`` between levels),
over an optional TOML file (``--config FILE`` or ``MEDIA_BRIDGE_CONFIG``), over defaults.

``MEDIA_BRIDGE_SINK__URL`` sets ``sink.url``; in TOML the same setting is ``url`` under
``[sink]``. Passwords live in URLs held as ``SecretStr``: only :func:`masked_url` renders them,
and validation errors never echo a secret (see ``consumer.settings.error_lines``). A
``MEDIA_BRIDGE_`` variable that sets nothing (a typo) is refused (``consumer.settings.environment``), and
every problem is reported at once, in one line.

``[source]`` is a discriminated union on ``kind`` (``rabbitmq``, the default, or ``cmq``), see
``consumer.settings.sources``; adding a kind means one more class there and one more case in the
CLI's source factory.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from consumer.errors import ConfigurationError
from consumer.normalize import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_DEPTH, Limits
from consumer.relay.options import RelayOptions
from consumer.settings.base import (
    CONFIG_ENV,
    DEFAULT_AMQP_URL,
    ENV_DELIMITER,
    ENV_PREFIX,
    QueueType,
    Section,
    check_amqp_url,
    join_url_list,
    masked_url,
)
from consumer.settings.environment import unknown_variables
from consumer.settings.error_lines import Problem, report, validation_problems
from consumer.settings.sources import (
    CmqSourceSettings,
    RabbitSourceSettings,
    SourceSettings,
    default_kind,
)

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_AMQP_URL",
    "ENV_DELIMITER",
    "ENV_PREFIX",
    "AmqpSettings",
    "CmqSourceSettings",
    "HttpSettings",
    "LogSettings",
    "RabbitSourceSettings",
    "RelaySettings",
    "Settings",
    "SinkSettings",
    "SourceSettings",
    "load_settings",
    "masked_url",
]


class SinkSettings(Section):
    """The internal RabbitMQ the events are published to."""

    url: SecretStr = Field(
        SecretStr(DEFAULT_AMQP_URL),
        description=(
            "AMQP URL of the events broker; a cluster's nodes comma-separated: the first that "
            "answers at start-up, the next one after a loss"
        ),
    )
    events_exchange: str = Field("media.events", min_length=1, description="topic exchange")
    parking_exchange: str = Field("media.parking", min_length=1, description="parking exchange")
    parking_queue: str = Field("media.parking", min_length=1, description="parking queue")
    unroutable: Literal["keep", "park"] = Field(
        "keep",
        description=(
            "an event no queue is bound for: keep it in the unrouted queue (the events "
            "exchange's alternate exchange), or park its source body (reason unroutable)"
        ),
    )
    unrouted_exchange: str = Field(
        "media.unrouted", min_length=1, description="fanout exchange for unrouted events (keep)"
    )
    unrouted_queue: str = Field(
        "media.unrouted", min_length=1, description="durable queue of unrouted events (keep)"
    )
    confirm_timeout_s: float = Field(
        15.0, gt=0, description="seconds to wait for the broker's confirms of one delivery"
    )
    # classic by default: queues declared by earlier bridges are classic, and a queue's type
    # can't change (declaring another type is refused), so quorum is an operator's choice.
    queue_type: QueueType = Field(
        "classic",
        description=(
            "type of the parking and unrouted queues the bridge declares: classic | quorum "
            "(replicated; an existing queue of the other type is an error naming this setting)"
        ),
    )

    _url_list = field_validator("url", mode="before")(join_url_list)
    _url = field_validator("url")(check_amqp_url)


class RelaySettings(Section):
    """Pacing of the relay (see ``consumer.relay.options.RelayOptions``)."""

    max_in_flight: int = Field(64, ge=1, le=10_000, description="deliveries relayed at once")
    backoff_initial_s: float = Field(0.5, gt=0, description="first back-off delay")
    backoff_max_s: float = Field(30.0, gt=0, description="longest back-off delay")
    backoff_jitter: float = Field(0.5, ge=0, le=1, description="random share taken off a delay")
    grace_period_s: float = Field(20.0, ge=0, description="on stop, time to finish in-flight work")
    settle_timeout_s: float = Field(10.0, gt=0, description="time allowed for one ack/nack")
    deadline_margin_s: float = Field(
        0.5, ge=0, description="skip a delivery this close to its CMQ lease / VOD window end"
    )
    max_deliveries: int = Field(
        10,
        ge=0,
        description="park a delivery handed out more often than this, unprocessed (0: no cap)",
    )
    max_body_bytes: int = Field(DEFAULT_MAX_BODY_BYTES, ge=1, description="larger bodies park")
    max_depth: int = Field(DEFAULT_MAX_DEPTH, ge=1, description="deeper JSON parks")

    def options(self, confirm_timeout_s: float) -> RelayOptions:
        return RelayOptions(
            max_in_flight=self.max_in_flight,
            confirm_timeout_s=confirm_timeout_s,
            backoff_initial_s=self.backoff_initial_s,
            backoff_max_s=max(self.backoff_max_s, self.backoff_initial_s),
            backoff_jitter=self.backoff_jitter,
            grace_period_s=self.grace_period_s,
            settle_timeout_s=self.settle_timeout_s,
            deadline_margin_s=self.deadline_margin_s,
            max_deliveries=self.max_deliveries,
            limits=Limits(max_body_bytes=self.max_body_bytes, max_depth=self.max_depth),
        )


class AmqpSettings(Section):
    """How the RabbitMQ adapters use AMQP (see the README's "RabbitMQ adapters")."""

    fast_path: bool = Field(
        True,
        description=(
            "relay the per-message frames through the frame tap (several times faster); false: "
            "aio-pika's public API only (also used by itself when the tap fails its self-check)"
        ),
    )


class HttpSettings(Section):
    """The status server: /metrics, /healthz, /readyz."""

    enabled: bool = Field(True, description="serve the status endpoints")
    host: str = Field("127.0.0.1", description="interface to listen on")
    port: int = Field(9108, ge=0, le=65535, description="TCP port (0 picks a free one)")


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class LogSettings(Section):
    level: LogLevel = Field("INFO", description="log level, any case: debug, info, warning, error")
    format: Literal["json", "text"] = Field("json", description="json: one object per line")

    @field_validator("level", mode="before")
    @classmethod
    def _upper_case(cls, value: Any) -> Any:
        # Only a known level is changed, so a bad one is reported as it was written.
        if isinstance(value, str) and value.upper() in get_args(LogLevel):
            return value.upper()
        return value


class Settings(BaseSettings):
    """Everything ``media-bridge run`` needs."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        extra="forbid",
        frozen=True,
    )

    source: SourceSettings = RabbitSourceSettings()
    sink: SinkSettings = SinkSettings()
    relay: RelaySettings = RelaySettings()
    amqp: AmqpSettings = AmqpSettings()
    http: HttpSettings = HttpSettings()
    log: LogSettings = LogSettings()

    _source_kind = field_validator("source", mode="before")(default_kind)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first, then the TOML file (passed as init values), then defaults.
        return env_settings, init_settings

    def relay_options(self) -> RelayOptions:
        return self.relay.options(self.sink.confirm_timeout_s)


def load_settings(config_file: Path | None = None) -> Settings:
    """Settings from the environment over ``config_file`` (TOML) over defaults.

    Raises:
        ConfigurationError: one line naming the file, or every setting that is wrong (env var
            and dotted path) and what is wrong with it; secret values are never included.
    """
    values = _read_toml(config_file) if config_file is not None else {}
    unknown = [
        Problem(variable.message(), variable.name.upper())
        for variable in unknown_variables(os.environ, Settings)
    ]
    settings, invalid = _validate(values)
    # A misspelt nested variable (SOURCE__QUEU) is also refused by its table: say it once.
    said = {problem.key for problem in unknown}
    problems = [*unknown, *(problem for problem in invalid if problem.key not in said)]
    if problems or settings is None:
        raise ConfigurationError(report(problems))
    return settings


def _validate(values: dict[str, Any]) -> tuple[Settings | None, list[Problem]]:
    try:
        return Settings(**values), []
    except ValidationError as exc:
        return None, validation_problems(exc, Settings)
    except SettingsError as exc:  # a whole section given as a value that is not JSON
        return None, [Problem(f"invalid settings: {exc}")]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as exc:
        raise ConfigurationError(f"config file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"config file {path}: not valid TOML: {exc}") from None
