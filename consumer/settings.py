"""Service settings: environment variables (``MEDIA_BRIDGE_`` prefix, ``__`` between levels),
over an optional TOML file (``--config FILE`` or ``MEDIA_BRIDGE_CONFIG``), over defaults.

``MEDIA_BRIDGE_SINK__URL`` sets ``sink.url``; in TOML the same setting is ``url`` under
``[sink]``. Passwords live in URLs held as ``SecretStr``: only :func:`masked_url` renders them,
and validation errors never echo a secret (see :func:`load_settings`).

``[source]`` is a discriminated union on ``kind`` (``rabbitmq``, the default, or ``cmq``), see
``consumer.settings_source``; adding a kind means one more class there and one more case in the
CLI's source factory.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from consumer.errors import ConfigurationError
from consumer.normalize import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_DEPTH, Limits
from consumer.relay_options import RelayOptions
from consumer.settings_base import DEFAULT_AMQP_URL, Section, check_amqp_url, masked_url
from consumer.settings_source import (
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

ENV_PREFIX = "MEDIA_BRIDGE_"
ENV_DELIMITER = "__"
CONFIG_ENV = f"{ENV_PREFIX}CONFIG"


class SinkSettings(Section):
    """The internal RabbitMQ the events are published to."""

    url: SecretStr = Field(SecretStr(DEFAULT_AMQP_URL), description="AMQP URL of the events broker")
    events_exchange: str = Field("media.events", min_length=1, description="topic exchange")
    parking_exchange: str = Field("media.parking", min_length=1, description="parking exchange")
    parking_queue: str = Field("media.parking", min_length=1, description="parking queue")
    confirm_timeout_s: float = Field(
        15.0, gt=0, description="seconds to wait for the broker's confirms of one delivery"
    )

    _url = field_validator("url")(check_amqp_url)


class RelaySettings(Section):
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


class HttpSettings(Section):
    """The status server: /metrics, /healthz, /readyz."""

    enabled: bool = Field(True, description="serve the status endpoints")
    host: str = Field("127.0.0.1", description="interface to listen on")
    port: int = Field(9108, ge=0, le=65535, description="TCP port (0 picks a free one)")


class LogSettings(Section):
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
    missing = [_name(_resolve(e["loc"])[0]) for e in errors if e["type"] == "missing"]
    if len(missing) == len(errors):  # e.g. kind=cmq without its credentials: name them all
        return f"missing required setting{'s' if len(missing) > 1 else ''}: {', '.join(missing)}"
    path, secret = _resolve(first["loc"])
    if first["type"] == "union_tag_invalid":  # a [source] kind that does not exist
        path.append("kind")
    name = _name(path)
    message = _MESSAGES.get(first["type"], str(first["msg"]).removeprefix("Value error, "))
    value = first.get("input")
    # A table (dict) may hold a secret next to the bad key: only scalars are echoed.
    if not secret and first["type"] != "missing" and not isinstance(value, dict | list | None):
        message += f" (got {_short(value)})"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"invalid setting {name}: {message}{more}"


def _name(path: list[str]) -> str:
    return f"{ENV_PREFIX}{ENV_DELIMITER.join(path).upper()} ({'.'.join(path)})"


_MESSAGES = {"extra_forbidden": "no such setting", "missing": "required"}


def _resolve(loc: tuple[int | str, ...]) -> tuple[list[str], bool]:
    """The setting an error location names, and whether its value is secret.

    Pydantic puts the tag of a discriminated union into the location (``source.cmq.token``):
    the tag picks the model and is dropped from the name. List indexes are dropped too.
    """
    path: list[str] = []
    model: type[BaseModel] | None = Settings
    parts = list(loc)
    while parts and model is not None:
        part = str(parts.pop(0))
        field = model.model_fields.get(part)
        if field is None:
            return [*path, part], True  # unknown key: don't risk echoing its value
        path.append(part)
        members = _models(field.annotation)
        if len(members) > 1 and parts:  # a union of tables: the next part is the tag
            model = members.get(str(parts.pop(0)))
        elif members:
            model = next(iter(members.values()))
        else:
            return path, SecretStr in (field.annotation, *get_args(field.annotation))
    return path, False


def _models(annotation: object) -> dict[str, type[BaseModel]]:
    """The settings tables an annotation allows, by their ``kind`` tag (or their name)."""
    members = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else ()
    candidates = members or (annotation,)
    found: dict[str, type[BaseModel]] = {}
    for member in candidates:
        if isinstance(member, type) and issubclass(member, BaseModel):
            kind = member.model_fields.get("kind")
            tag = get_args(kind.annotation)[0] if kind is not None else member.__name__
            found[str(tag)] = member
    return found


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
