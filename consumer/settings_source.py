"""The source kinds of ``[source]``: a discriminated union on ``kind`` (``rabbitmq`` | ``cmq``).

``kind`` may be left out and means ``rabbitmq``, so configurations written before CMQ existed
keep working. Settings of one kind are refused under the other (``extra="forbid"``), which
catches a forgotten ``MEDIA_BRIDGE_SOURCE__KIND=cmq`` at start-up.

Secrets (``secret_key``, ``token``, URLs) are ``SecretStr``: ``repr`` and validation errors
never show them; only the CLI unwraps them when it builds the adapter.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, StringConstraints, field_validator
from pydantic_settings import NoDecode

from consumer.settings_base import DEFAULT_AMQP_URL, Section, check_amqp_url, masked_url

CMQ_MAX_BATCH = 16  # CMQ caps numOfMsg and receipt handles per batch at 16
# Tencent's rule: at most 64 characters, a letter first, then letters, digits, '-' or '_'.
CmqQueueName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
_LIST_SPLIT = re.compile(r"[,\s]+")


class RabbitSourceSettings(Section):
    """A RabbitMQ queue holding Tencent notification bodies (the local stand-in for CMQ)."""

    kind: Literal["rabbitmq"] = Field("rabbitmq", description="source type: rabbitmq | cmq")
    url: SecretStr = Field(
        SecretStr(DEFAULT_AMQP_URL), description="rabbitmq: AMQP URL of the source broker"
    )
    queue: str = Field("media.notifications", min_length=1, description="rabbitmq: queue")
    prefetch: int | None = Field(
        None, ge=1, description="rabbitmq: AMQP prefetch; default: relay.max_in_flight"
    )

    _url = field_validator("url")(check_amqp_url)

    def target(self) -> str:
        """Where the source reads from, safe for a log line."""
        return f"{masked_url(self.url)} queue {self.queue}"

    def prefetch_for(self, max_in_flight: int) -> int:
        return self.prefetch or max_in_flight


class CmqSourceSettings(Section):
    """Tencent CMQ / TDMQ-CMQ queues, polled over the HTTP API 2.0 (``adapters.cmq``)."""

    kind: Literal["cmq"]
    endpoint: str = Field(
        description="cmq: queue endpoint, e.g. https://cmq-gz.public.tencenttdmq.com "
        "(VPC: http://gz.mqadapter.cmq.tencentyun.com; emulator: http://127.0.0.1:9911)",
    )
    secret_id: str = Field(min_length=1, description="cmq: SecretId (AKID...)")
    secret_key: SecretStr = Field(description="cmq: SecretKey (never logged)")
    token: SecretStr | None = Field(None, description="cmq: STS token of temporary credentials")
    # NoDecode: the environment value reaches _split_queues as text, "a,b" or '["a", "b"]'.
    queues: Annotated[list[CmqQueueName], NoDecode] = Field(
        min_length=1, description="cmq: queue names, comma-separated or a JSON list"
    )
    batch_size: int = Field(
        CMQ_MAX_BATCH, ge=1, le=CMQ_MAX_BATCH, description="cmq: messages per BatchReceive"
    )
    # TDMQ-CMQ advice: long polls above ~3 s make duplicate deliveries much more likely.
    polling_wait_seconds: int = Field(3, ge=0, le=30, description="cmq: long-poll seconds")
    signature_method: Literal["HmacSHA256", "HmacSHA1"] = Field(
        "HmacSHA256", description="cmq: request signature"
    )
    http_timeout_s: float = Field(
        10.0, gt=0, description="cmq: per-request timeout (plus the long-poll wait)"
    )
    retry_initial_backoff_s: float = Field(0.1, gt=0, description="cmq: first retry delay")
    retry_max_backoff_s: float = Field(5.0, gt=0, description="cmq: longest retry delay")
    receive_retry_attempts: int = Field(
        5, ge=1, description="cmq: failed polls in a row before the relay backs off"
    )
    delete_coalesce_window_s: float = Field(
        0.02, ge=0, description="cmq: acks this close together share one BatchDeleteMessage"
    )

    @field_validator("queues", mode="before")
    @classmethod
    def _split_queues(cls, value: Any) -> Any:
        if isinstance(value, str) and value.lstrip().startswith("["):
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError("not a valid JSON list of queue names") from None
        if isinstance(value, str):
            return [name for name in _LIST_SPLIT.split(value.strip()) if name]
        return value

    @field_validator("secret_key", "token")
    @classmethod
    def _not_empty(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            raise ValueError("is empty")
        return value

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, value: str) -> str:
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            raise ValueError("not a valid URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be http(s)://host[:port]")
        if parts.path not in ("", "/") or parts.query or parts.username or parts.password:
            raise ValueError("must be scheme://host[:port] only (no path, query or user)")
        return value

    def target(self) -> str:
        """Where the source reads from, safe for a log line."""
        return f"{self.endpoint} queues {', '.join(self.queues)}"

    def prefetch_for(self, max_in_flight: int) -> int:
        # CMQ has no prefetch: CmqSource leases batch_size messages per queue and poll.
        return max_in_flight


def default_kind(value: Any) -> Any:
    """A ``[source]`` table without ``kind`` is the RabbitMQ one (as before CMQ existed)."""
    if isinstance(value, dict) and "kind" not in value:
        return {**value, "kind": "rabbitmq"}
    return value


SourceSettings = Annotated[
    RabbitSourceSettings | CmqSourceSettings,
    Field(discriminator="kind", description="where notifications come from"),
]
