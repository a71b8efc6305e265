"""What a CMQ emulator is started with: queues, credentials and injected faults."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

# Tencent: at most 64 chars, starts with a letter, then letters, digits, "-" or "_".
QUEUE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")

TDMQ_MAX_MSG_SIZE = 1024 * 1024  # TDMQ-CMQ: fixed 1024 KB for new queues


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """One queue's attributes, as CreateQueue would set them (same ranges as Tencent)."""

    name: str
    visibility_timeout: float = 30.0  # seconds; Tencent allows 1-43200 (fractions: tests only)
    max_msg_size: int = TDMQ_MAX_MSG_SIZE
    polling_wait_seconds: int = 0  # used when a receive names no pollingWaitSeconds
    max_msg_heap_num: int = 10_000_000  # over it, SendMessage gets 4410
    qps_limit: int | None = None  # requests per second per queue before 4420; None: no limit

    def __post_init__(self) -> None:
        if not QUEUE_NAME.fullmatch(self.name):
            raise ValueError(f"invalid CMQ queue name {self.name!r}")
        if not 0 < self.visibility_timeout <= 43200:
            raise ValueError("visibility_timeout must be in (0, 43200] seconds")
        if not 0 <= self.polling_wait_seconds <= 30:
            raise ValueError("polling_wait_seconds must be in [0, 30]")
        if self.max_msg_size < 1:
            raise ValueError("max_msg_size must be positive")


@dataclass(frozen=True, slots=True)
class Credential:
    """A key pair the emulator accepts. With ``token``, requests must carry that exact Token."""

    secret_id: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.secret_id.startswith("AKID"):
            # The real service answers 4000 (10450) to such ids, so no client could ever use one.
            raise ValueError("a SecretId must start with AKID, as Tencent's do")


class FaultKind(StrEnum):
    """What an injected fault does to one request."""

    HTTP_5XX = "http-5xx"  # HTTP 503, action not performed
    TIMEOUT = "timeout"  # hold the request, then drop the connection; action not performed
    DROP_RESPONSE = "drop-response"  # action PERFORMED, then the connection drops: reply lost
    THROTTLED = "4420"  # code 4420 (QPS limit), action not performed
    FREQUENCY_LIMIT = "4480"  # code 4480 (interface frequency limit), action not performed
    INTERNAL = "6000"  # code 6000 (internal error), action not performed


@dataclass(frozen=True, slots=True)
class FaultRule:
    """With probability ``rate``, apply ``kind`` to a request for ``action`` (None: any action)."""

    kind: FaultKind
    rate: float
    action: str | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("a fault rate must be in [0, 1]")


@dataclass(frozen=True, slots=True)
class FaultSettings:
    """Injected faults; the same seed and request sequence give the same faults."""

    rules: tuple[FaultRule, ...] = ()
    seed: int = 0
    latency_s: float = 0.0  # added before every reply
    timeout_hold_s: float = 15.0  # how long a TIMEOUT fault holds the request before dropping it


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Everything the emulator needs; queues not listed exist only with ``auto_create``."""

    queues: tuple[QueueSpec, ...]
    credentials: tuple[Credential, ...]
    auto_create: bool = False  # unknown queue names are created (with ``default_queue``) on use
    default_queue: QueueSpec = QueueSpec(name="auto")
    faults: FaultSettings = FaultSettings()
    max_batch_body_bytes: int = 1024 * 1024  # BatchSendMessage total (4470 over it)
    max_clock_skew_s: float | None = None  # reject old/future Timestamps; Tencent's window unknown
