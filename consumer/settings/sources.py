"""The source kinds of ``[source]``: a discriminated union on ``kind`` (``rabbitmq`` | ``cmq`` | ``vod``).

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

from pydantic import (
    Field,
    IPvAnyNetwork,
    SecretStr,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_settings import NoDecode

from consumer.settings.base import (
    DEFAULT_AMQP_URL,
    QueueType,
    Section,
    check_amqp_url,
    join_url_list,
    masked_url,
)

CMQ_MAX_BATCH = 16  # CMQ caps numOfMsg and receipt handles per batch at 16
VOD_ENDPOINT = "https://vod.tencentcloudapi.com"
# Tencent's rule: at most 64 characters, a letter first, then letters, digits, '-' or '_'.
CmqQueueName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
_LIST_SPLIT = re.compile(r"[,\s]+")


def split_list(value: Any, what: str) -> Any:
    """A list setting given as text: ``"a,b"``, ``"a b"`` or a JSON list."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            return json.loads(value)
        except ValueError:
            raise ValueError(f"not a valid JSON list of {what}") from None
    if isinstance(value, str):
        return [item for item in _LIST_SPLIT.split(value.strip()) if item]
    return value


def check_endpoint(value: str) -> str:
    """An API endpoint: ``http(s)://host[:port]`` and nothing more."""
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


def secret_not_empty(value: SecretStr | None) -> SecretStr | None:
    if value is not None and not value.get_secret_value():
        raise ValueError("is empty")
    return value


class RabbitSourceSettings(Section):
    """A RabbitMQ queue holding Tencent notification bodies (the local stand-in for CMQ)."""

    kind: Literal["rabbitmq"] = Field("rabbitmq", description="source type: rabbitmq | cmq | vod | http")
    url: SecretStr = Field(
        SecretStr(DEFAULT_AMQP_URL),
        description=(
            "rabbitmq: AMQP URL of the source broker; a cluster's nodes comma-separated: the "
            "first that answers at start-up, the next one after a loss"
        ),
    )
    queue: str = Field("media.notifications", min_length=1, description="rabbitmq: queue")
    # classic by default: the queue an earlier bridge declared is classic and can't change type.
    queue_type: QueueType = Field(
        "classic",
        description=(
            "rabbitmq: type the queue is declared as: classic | quorum (replicated, counts "
            "deliveries so relay.max_deliveries also stops crash loops)"
        ),
    )
    prefetch: int | None = Field(
        None, ge=1, description="rabbitmq: AMQP prefetch; default: relay.max_in_flight"
    )

    _url_list = field_validator("url", mode="before")(join_url_list)
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
        return split_list(value, "queue names")

    _secrets = field_validator("secret_key", "token")(secret_not_empty)

    _endpoint = field_validator("endpoint")(check_endpoint)

    def target(self) -> str:
        """Where the source reads from, safe for a log line."""
        return f"{self.endpoint} queues {', '.join(self.queues)}"

    def prefetch_for(self, max_in_flight: int) -> int:
        # CMQ has no prefetch: CmqSource leases batch_size messages per queue and poll.
        return max_in_flight


class VodSourceSettings(Section):
    """VOD's reliable callback: PullEvents / ConfirmEvents over API 3.0 (``adapters.vod``)."""

    kind: Literal["vod"]
    endpoint: str = Field(
        VOD_ENDPOINT, description="vod: API 3.0 endpoint (emulator: http://127.0.0.1:9912)"
    )
    secret_id: str = Field(min_length=1, description="vod: SecretId (AKID...)")
    secret_key: SecretStr = Field(description="vod: SecretKey (never logged)")
    token: SecretStr | None = Field(None, description="vod: STS token of temporary credentials")
    # Accounts opened after 2023-12-25 must name the SubAppId even for the main app.
    sub_app_ids: Annotated[list[Annotated[int, Field(ge=1)]], NoDecode] = Field(
        min_length=1, description="vod: SubAppIds to pull, comma-separated or a JSON list"
    )
    requests_per_second: float = Field(
        100.0,
        ge=0,
        description="vod: PullEvents+ConfirmEvents per second, this process (0: no cap)",
    )
    concurrent_pulls: int = Field(
        4, ge=1, le=16, description="vod: PullEvents in flight per sub-app"
    )
    http_timeout_s: float = Field(10.0, gt=0, description="vod: per-request timeout")
    confirm_window_s: float = Field(
        30.0, gt=0, le=30, description="vod: seconds a handle lives (lower only for an emulator)"
    )
    retry_initial_backoff_s: float = Field(0.1, gt=0, description="vod: first retry delay")
    retry_max_backoff_s: float = Field(5.0, gt=0, description="vod: longest retry delay")
    receive_retry_attempts: int = Field(
        5, ge=1, description="vod: failed pulls in a row before the relay backs off"
    )
    confirm_coalesce_window_s: float = Field(
        0.02, ge=0, description="vod: acks this close together share one ConfirmEvents"
    )

    _endpoint = field_validator("endpoint")(check_endpoint)
    _secrets = field_validator("secret_key", "token")(secret_not_empty)

    @field_validator("sub_app_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        return split_list(value, "SubAppIds")

    def target(self) -> str:
        """Where the source reads from, safe for a log line."""
        return f"{self.endpoint} sub-apps {', '.join(map(str, self.sub_app_ids))}"

    def prefetch_for(self, max_in_flight: int) -> int:
        # VOD has no prefetch: VodSource pulls 16 events per sub-app and poll.
        return max_in_flight



class HttpEndpointSettings(Section):
    """One callback path of the HTTP source: ``[source.vod]``, ``[source.mps]``, ...

    Every check given must pass: the path's signature (``keys``), a shared secret
    (``tokens``), the sender's network (``allow_from``). A path with none of them must say
    ``unauthenticated = true``, so that an open endpoint is never an accident.
    """

    path: str = Field(
        pattern=r"^/[^?#\s]*$",
        description="http: URL path Tencent POSTs this callback to, e.g. /tencent/vod",
    )
    keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="http: vod SignKey / mps NotifyKey, comma-separated or a JSON list (several "
        "while rotating); vod and mps only",
    )
    tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="http: shared secrets a request must present (Authorization: Bearer or "
        "?token=), comma-separated or a JSON list",
    )
    allow_from: Annotated[list[IPvAnyNetwork], NoDecode] = Field(
        default_factory=list,
        description="http: networks requests may come from (CIDR), comma-separated or a JSON list",
    )
    unauthenticated: bool = Field(
        False, description="http: serve the path with no check at all (private networks only)"
    )

    @field_validator("keys", "tokens", "allow_from", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return split_list(value, "values")

    @field_validator("keys", "tokens")
    @classmethod
    def _no_empty_secret(cls, values: list[SecretStr]) -> list[SecretStr]:
        for value in values:
            secret_not_empty(value)
        return values

    @model_validator(mode="after")
    def _checks_something(self) -> HttpEndpointSettings:
        checked = bool(self.keys or self.tokens or self.allow_from)
        if checked and self.unauthenticated:
            raise ValueError(f"{self.path}: unauthenticated contradicts keys/tokens/allow_from")
        if not checked and not self.unauthenticated:
            raise ValueError(
                f"{self.path} checks nothing: set keys, tokens or allow_from, or set "
                "unauthenticated = true to serve it to anyone who can reach it"
            )
        return self


class HttpSourceSettings(Section):
    """Tencent's HTTP push callbacks on a port of their own (``adapters.http_source``).

    One table per kind of callback; a kind without its table is not served (404).
    """

    kind: Literal["http"]
    host: str = Field("127.0.0.1", description="http: interface to listen on (0.0.0.0: all)")
    port: int = Field(9110, ge=0, le=65535, description="http: TCP port (0 picks a free one)")
    vod: HttpEndpointSettings | None = Field(
        None, description="http: VOD v3 normal callback (keys: SignKey, Sign=MD5(key+T))"
    )
    mps: HttpEndpointSettings | None = Field(
        None, description="http: MPS URL notification (keys: NotifyKey, Sign=MD5(Timestamp+key))"
    )
    vod_v2: HttpEndpointSettings | None = Field(
        None, description="http: legacy VOD 2.0 callback (no signature: tokens or allow_from)"
    )
    cmq: HttpEndpointSettings | None = Field(
        None, description="http: CMQ topic push subscription (no signature: tokens or allow_from)"
    )
    max_body_bytes: int = Field(1024 * 1024, ge=1, description="http: larger bodies get 413")
    content_types: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["application/json", "text/plain"],
        min_length=1,
        description="http: media types accepted (others 415; a request without one is accepted)",
    )
    max_in_progress: int = Field(
        256, ge=1, le=100_000, description="http: requests handled at once; more get 503"
    )
    max_connections: int = Field(1024, ge=1, description="http: open connections at most")
    request_timeout_s: float = Field(
        5.0, gt=0, description="http: a request not confirmed by then gets 503 (below the "
        "sender's timeout, above relay.deadline_margin_s)",
    )  # fmt: skip
    header_timeout_s: float = Field(10.0, gt=0, description="http: time for a request's head")
    body_timeout_s: float = Field(5.0, gt=0, description="http: time for a request's body")
    keep_alive_s: int = Field(5, ge=1, description="http: idle keep-alive connections close")
    retry_after_s: int = Field(5, ge=1, description="http: Retry-After seconds sent with a 503")
    max_clock_skew_s: float = Field(
        300.0, ge=0, description="http: how long after T/Timestamp a signature is still accepted"
    )
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = Field(
        default_factory=list,
        description="http: proxies whose X-Forwarded-For is believed (for allow_from), CIDR",
    )

    @field_validator("content_types", "trusted_proxies", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return split_list(value, "values")

    @model_validator(mode="after")
    def _serves_something(self) -> HttpSourceSettings:
        served = self.paths()
        if not served:
            raise ValueError("set at least one of vod, mps, vod_v2, cmq (each with its path)")
        paths = [endpoint.path for endpoint in served.values()]
        if len(set(paths)) != len(paths):
            raise ValueError(f"two callbacks share a path: {sorted(paths)}")
        for name in ("vod_v2", "cmq"):
            if name in served and served[name].keys:
                raise ValueError(f"{name} has no signature scheme: use tokens or allow_from")
        return self

    def paths(self) -> dict[str, HttpEndpointSettings]:
        """The callbacks served, by table name (vod, mps, vod_v2, cmq)."""
        tables = {"vod": self.vod, "mps": self.mps, "vod_v2": self.vod_v2, "cmq": self.cmq}
        return {name: table for name, table in tables.items() if table is not None}

    def target(self) -> str:
        """Where the source listens, safe for a log line."""
        paths = ", ".join(table.path for table in self.paths().values())
        return f"http://{self.host}:{self.port} paths {paths}"

    def prefetch_for(self, max_in_flight: int) -> int:
        # Nothing to prefetch: a request waits in the receiver until a relay worker takes it.
        return max_in_flight

def default_kind(value: Any) -> Any:
    """A ``[source]`` table without ``kind`` is the RabbitMQ one (as before CMQ existed)."""
    if isinstance(value, dict) and "kind" not in value:
        return {**value, "kind": "rabbitmq"}
    return value


SourceSettings = Annotated[
    RabbitSourceSettings | CmqSourceSettings | VodSourceSettings | HttpSourceSettings,
    Field(discriminator="kind", description="where notifications come from"),
]
