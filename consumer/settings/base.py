"""Pieces every settings module shares: the section base class, how a setting is named in the
environment, the walk over nested sections, AMQP URL checks and URL masking.

An AMQP URL setting (``sink.url``, ``source.url``) holds one URL or several separated by commas
(a cluster's nodes: the adapters connect to the first that answers and, on a loss, go on to
the next one, round-robin). TOML may also give a list of strings, and the environment a JSON
list; both are held as the comma-separated text. A comma inside a password is written ``%2C``.

Kept apart from ``consumer.settings.model`` so the source kinds (``consumer.settings.sources``) can use
them without importing the module that assembles them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, SecretStr

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
AMQP_SCHEMES = ("amqp", "amqps")
# The queue types the bridge can declare its queues as (``source.queue_type``, ``sink.queue_type``).
QueueType = Literal["classic", "quorum"]

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


def split_urls(text: str) -> list[str]:
    """The URLs of a comma-separated URL setting (blanks around commas ignored)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def masked_url(url: SecretStr | str) -> str:
    """``url`` with its password replaced by ``***`` (safe for logs and error lines); every
    URL of a comma-separated list masked the same way."""
    text = url.get_secret_value() if isinstance(url, SecretStr) else url
    if "," in text:
        return ",".join(_masked_one(part) for part in split_urls(text))
    return _masked_one(text)


def _masked_one(text: str) -> str:
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


def join_url_list(value: Any) -> Any:
    """Before-validator: a list of URLs (TOML list, or a JSON list in the environment) becomes
    the comma-separated text the setting holds; anything else is left to the validator."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError("not a valid JSON list of URLs") from None
    if isinstance(value, list | tuple):
        if not value or not all(isinstance(item, str) for item in value):
            raise ValueError("must be a non-empty list of AMQP URLs")
        return ",".join(item.strip() for item in value)
    return value


def check_amqp_url(url: SecretStr) -> SecretStr:
    """Validator: one amqp(s) URL naming a host, or several comma-separated, each checked (the
    message names a URL by its position, never repeats it)."""
    urls = split_urls(url.get_secret_value())
    if not urls:
        raise ValueError("must be an AMQP URL, e.g. amqp://user:password@host:5672/vhost")
    for position, text in enumerate(urls, 1):
        where = f"URL {position} of {len(urls)}: " if len(urls) > 1 else ""
        try:
            _check_one(text)
        except ValueError as exc:
            raise ValueError(f"{where}{exc}") from None
        if text in urls[: position - 1]:
            raise ValueError(f"{where}the same URL as URL {urls.index(text) + 1}")
    return url


def _check_one(text: str) -> None:
    try:
        parts = urlsplit(text)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        raise ValueError("not a valid URL") from None
    if parts.scheme not in AMQP_SCHEMES:
        raise ValueError("must start with amqp:// or amqps://")
    if not parts.hostname or not port_ok:
        raise ValueError("must name a host, e.g. amqp://user:password@host:5672/vhost")
