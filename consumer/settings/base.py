"""Pieces every settings module shares: the section base class, how a setting is named in the
environment, the walk over nested sections, AMQP URL checks and URL masking.

Kept apart from ``consumer.settings.model`` so the source kinds (``consumer.settings.sources``) can use
them without importing the module that assembles them.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import UnionType
from typing import Union, get_args, get_origin
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, SecretStr

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
AMQP_SCHEMES = ("amqp", "amqps")

ENV_PREFIX = "MEDIA_BRIDGE_"
ENV_DELIMITER = "__"
CONFIG_ENV = f"{ENV_PREFIX}CONFIG"  # the TOML file's path; not a setting itself


class Section(BaseModel):
    """A settings table: immutable, and a misspelt key is an error rather than ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def env_var(path: Sequence[str]) -> str:
    """The environment variable of a setting: ``("sink", "url")`` is ``MEDIA_BRIDGE_SINK__URL``."""
    return ENV_PREFIX + ENV_DELIMITER.join(path).upper()


def section_models(annotation: object) -> list[type[BaseModel]]:
    """The settings tables a field holds: its model, or every member of a union of models
    (``[source]``); empty for a plain value."""
    members = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else ()
    return [m for m in members or (annotation,) if isinstance(m, type) and issubclass(m, BaseModel)]


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


def check_amqp_url(url: SecretStr) -> SecretStr:
    """Validator: an amqp(s) URL naming a host (the message never repeats the URL)."""
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
