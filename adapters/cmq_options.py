"""``CmqSourceOptions``: where and how the CMQ source consumes (validated on construction)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from adapters.cmq_signing import SignatureMethod
from consumer.errors import ConfigurationError

MAX_BATCH = 16  # CMQ caps BatchReceiveMessage numOfMsg and BatchDeleteMessage handles at 16
_QUEUE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
_SECRET_FIELDS = frozenset({"secret_key", "token"})


DEFAULT_DELETE_COALESCE_WINDOW_S = 0.02


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class CmqSourceOptions:
    """Settings of a :class:`~adapters.cmq.CmqSource`. ``secret_key``/``token`` are masked in repr.

    ``endpoint`` is the queue service address from the console, scheme included, e.g.
    ``https://cmq-gz.public.tencenttdmq.com`` (the ``/v2/index.php`` path is added).
    """

    endpoint: str
    secret_id: str
    secret_key: str
    token: str | None = None  # temporary credentials (STS): sent and signed as ``Token``
    queues: tuple[str, ...]
    batch_size: int = MAX_BATCH
    # TDMQ-CMQ advice: long polls above ~3 s make duplicate deliveries much more likely.
    polling_wait_seconds: int = 3
    signature_method: SignatureMethod = SignatureMethod.HMAC_SHA256
    http_timeout: float = 10.0  # per request, on top of the long-poll wait for receives
    retry_initial_backoff: float = 0.1
    retry_max_backoff: float = 5.0
    receive_retry_attempts: int = 5  # failed polls in a row before receive() raises
    # Acks arriving within it share one BatchDelete (flushed early at 16). Deletes are off the
    # event-latency path, so 20 ms costs nothing downstream and fills batches under load.
    delete_coalesce_window: float = DEFAULT_DELETE_COALESCE_WINDOW_S

    def __post_init__(self) -> None:
        self._check_target()
        self._check_tuning()
        try:  # accept the plain strings a settings file holds ("HmacSHA1")
            method = SignatureMethod(self.signature_method)
        except ValueError:
            raise ConfigurationError(
                "CMQ signature_method must be HmacSHA256 or HmacSHA1"
            ) from None
        object.__setattr__(self, "signature_method", method)

    def _check_target(self) -> None:
        url = urlsplit(self.endpoint)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise ConfigurationError(f"CMQ endpoint must be an http(s) URL, got {self.endpoint!r}")
        if url.path not in ("", "/") or url.query:
            raise ConfigurationError("CMQ endpoint must be scheme://host[:port] only (no path)")
        if not self.secret_id or not self.secret_key:
            raise ConfigurationError("CMQ secret_id and secret_key are required")
        if not self.queues:
            raise ConfigurationError("name at least one CMQ queue")
        for queue in self.queues:
            if not _QUEUE_NAME.fullmatch(queue):
                raise ConfigurationError(f"invalid CMQ queue name {queue!r}")

    def _check_tuning(self) -> None:
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise ConfigurationError(f"CMQ batch_size must be 1-{MAX_BATCH}, got {self.batch_size}")
        if not 0 <= self.polling_wait_seconds <= 30:
            raise ConfigurationError("CMQ polling_wait_seconds must be 0-30")
        if self.http_timeout <= 0 or self.receive_retry_attempts < 1:
            raise ConfigurationError("CMQ http_timeout and receive_retry_attempts must be positive")
        if not 0 < self.retry_initial_backoff <= self.retry_max_backoff:
            raise ConfigurationError("CMQ retry backoff must satisfy 0 < initial <= max")
        if self.delete_coalesce_window < 0:
            raise ConfigurationError("CMQ delete_coalesce_window must not be negative")

    @property
    def host(self) -> str:
        """``host[:port]`` exactly as written in the endpoint: what the signature covers."""
        return urlsplit(self.endpoint).netloc

    @property
    def url(self) -> str:
        """The API URL."""
        return self.endpoint.rstrip("/") + "/v2/index.php"

    def __repr__(self) -> str:
        shown = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            masked = f.name in _SECRET_FIELDS and value is not None
            shown.append(f"{f.name}={'***' if masked else repr(value)}")
        return f"CmqSourceOptions({', '.join(shown)})"
