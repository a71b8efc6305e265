"""Service settings: environment variables (``MEDIA_BRIDGE_`` prefix, ``__`` between levels),
over an optional TOML file (``--config FILE`` or ``MEDIA_BRIDGE_CONFIG``), over defaults.

``MEDIA_BRIDGE_SINK__URL`` sets ``sink.url``; in TOML the same setting is ``url`` under
``[sink]``. Passwords live in URLs held as ``SecretStr``: only :func:`masked_url` renders them,
and validation errors never echo a secret (see :func:`load_settings`).

Adding a source kind (CMQ): define ``CmqSourceSettings`` with ``kind: Literal["cmq"]`` next to
``RabbitSourceSettings`` and set ``SourceSettings = Annotated[RabbitSourceSettings |
CmqSourceSettings, Field(discriminator="kind")]``; the CLI's source factory gets one more case.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from consumer.errors import ConfigurationError
from consumer.normalize import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_DEPTH, Limits
from consumer.relay_options import RelayOptions

ENV_PREFIX = "MEDIA_BRIDGE_"
ENV_DELIMITER = "__"
CONFIG_ENV = f"{ENV_PREFIX}CONFIG"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
AMQP_SCHEMES = ("amqp", "amqps")


def masked_url(url: SecretStr | str) -> str:
    """``url`` with its password replaced by ``***`` (safe for logs and error lines)."""
    text = url.get_secret_value() if isinstance(url, SecretStr) else url
    try:
        parts = urlsplit(text)
        if parts.password is None:
            return text
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        netloc = f"{parts.username or ''}:***@{host}"
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<unparsable URL>"


def _check_amqp_url(url: SecretStr) -> SecretStr:
    try:
        parts = urlsplit(url.get_secret_value())
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        raise ValueError("not a valid URL") from None
    if parts.scheme not in AMQP_SCHEMES:
        raise ValueError("must start with amqp:// or amqps://")
    if not parts.hostname or not port_ok:
        raise ValueError("must name a host, e.g. amqp://user:password@host:5672/vhost")
    return url


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RabbitSourceSettings(_Section):
    """A RabbitMQ queue holding Tencent notification bodies (the local stand-in for CMQ)."""

    kind: Literal["rabbitmq"] = Field("rabbitmq", description="source type: rabbitmq")
    url: SecretStr = Field(SecretStr(DEFAULT_AMQP_URL), description="AMQP URL of the source broker")
    queue: str = Field("media.notifications", min_length=1, description="queue to consume")
    prefetch: int | None = Field(
        None, ge=1, description="AMQP prefetch; default: relay.max_in_flight"
    )

    _url = field_validator("url")(_check_amqp_url)


# CMQ: add CmqSourceSettings here and make this a discriminated union on ``kind``.
SourceSettings = Annotated[RabbitSourceSettings, Field(description="where notifications come from")]


class SinkSettings(_Section):
    """The internal RabbitMQ the events are published to."""

    url: SecretStr = Field(SecretStr(DEFAULT_AMQP_URL), description="AMQP URL of the events broker")
    events_exchange: str = Field("media.events", min_length=1, description="topic exchange")
    parking_exchange: str = Field("media.parking", min_length=1, description="parking exchange")
    parking_queue: str = Field("media.parking", min_length=1, description="parking queue")
    confirm_timeout_s: float = Field(
        15.0, gt=0, description="seconds to wait for the broker's confirms of one delivery"
    )

    _url = field_validator("url")(_check_amqp_url)


class RelaySettings(_Section):
    """Pacing of the relay (see ``consumer.relay_options.RelayOptions``)."""

    max_in_flight: int = Field(64, ge=1, le=10_000, description="deliveries relayed at once")
    backoff_initial_s: float = Field(0.5, gt=0, description="first back-off delay")
    backoff_max_s: float = Field(30.0, gt=0, description="longest back-off delay")
    backoff_jitter: float = Field(0.5, ge=0, le=1, description="random share taken off a delay")
    grace_period_s: float = Field(20.0, ge=0, description="on stop, time to finish in-flight work")
    settle_timeout_s: float = Field(10.0, gt=0, description="time allowed for one ack/nack")
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
            limits=Limits(max_body_bytes=self.max_body_bytes, max_depth=self.max_depth),
        )


class HttpSettings(_Section):
    """The status server: /metrics, /healthz, /readyz."""

    enabled: bool = Field(True, description="serve the status endpoints")
    host: str = Field("127.0.0.1", description="interface to listen on")
    port: int = Field(9108, ge=0, le=65535, description="TCP port (0 picks a free one)")


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="log level")
    format: Literal["json", "text"] = Field("json", description="json: one object per line")


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
    http: HttpSettings = HttpSettings()
    log: LogSettings = LogSettings()

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
        ConfigurationError: one line naming the file or the setting (env var and dotted
            path) and what is wrong with it; secret values are never included.
    """
    values = _read_toml(config_file) if config_file is not None else {}
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise ConfigurationError(_one_line(exc)) from None
    except SettingsError as exc:  # a whole section given as a value that is not JSON
        raise ConfigurationError(f"invalid settings: {exc}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as exc:
        raise ConfigurationError(f"config file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"config file {path}: not valid TOML: {exc}") from None


def _one_line(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    path = [str(part) for part in first["loc"]]
    name = f"{ENV_PREFIX}{ENV_DELIMITER.join(path).upper()} ({'.'.join(path)})"
    message = _MESSAGES.get(first["type"], str(first["msg"]).removeprefix("Value error, "))
    if not _is_secret(path) and first["type"] != "missing" and "input" in first:
        message += f" (got {_short(first['input'])})"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"invalid setting {name}: {message}{more}"


_MESSAGES = {"extra_forbidden": "no such setting", "missing": "required"}


def _is_secret(path: list[str]) -> bool:
    model: type[BaseModel] = Settings
    for part in path:
        field = model.model_fields.get(part)
        if field is None:
            return True  # unknown key: don't risk echoing it
        annotation = field.annotation
        if annotation is SecretStr:
            return True
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return False
        model = annotation
    return False


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
