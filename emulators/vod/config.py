"""What a VOD emulator is started with: credentials, timings and injected faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

VOD_VERSION = "2018-07-17"
DEFAULT_MAIN_APP_ID = 1500000001  # stands in for the account's default application
MAX_EVENTS_PER_CALL = 16  # Tencent: at most 16 events per PullEvents, 16 handles per confirm


@dataclass(frozen=True, slots=True)
class Credential:
    """A key pair the emulator accepts. With ``token``, requests must carry that X-TC-Token."""

    secret_id: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.secret_id.startswith("AKID"):
            raise ValueError("a SecretId must start with AKID, as Tencent's do")
        if not self.secret_key:
            raise ValueError("a SecretKey must not be empty")


class FaultKind(StrEnum):
    """What an injected fault does to one API request."""

    REQUEST_LIMIT = "RequestLimitExceeded"  # that error code; action not performed
    INTERNAL = "InternalError"  # that error code; action not performed
    HTTP_5XX = "http-5xx"  # HTTP 503; action not performed
    TIMEOUT = "timeout"  # hold the request, then drop the connection; action not performed
    DROP_RESPONSE = "drop-response"  # action PERFORMED, then the connection drops: reply lost


FAULT_ACTIONS = ("PullEvents", "ConfirmEvents")


@dataclass(frozen=True, slots=True)
class FaultRule:
    """With probability ``rate``, apply ``kind`` to a request for ``action`` (None: any action)."""

    kind: FaultKind
    rate: float
    action: str | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("a fault rate must be in [0, 1]")
        if self.action is not None and self.action not in FAULT_ACTIONS:
            raise ValueError(f"a fault action must be one of {', '.join(FAULT_ACTIONS)}")


@dataclass(frozen=True, slots=True)
class FaultSettings:
    """Injected faults; the same seed and request sequence give the same faults."""

    rules: tuple[FaultRule, ...] = ()
    seed: int = 0
    latency_s: float = 0.0  # added before every API reply
    timeout_hold_s: float = 15.0  # how long a TIMEOUT fault holds the request before dropping it

    def __post_init__(self) -> None:
        if self.latency_s < 0 or self.timeout_hold_s < 0:
            raise ValueError("latency_s and timeout_hold_s must not be negative")


@dataclass(frozen=True, slots=True)
class VodEmulatorConfig:
    """Everything the emulator needs. Events are kept per SubAppId, created on first use."""

    credentials: tuple[Credential, ...]
    main_app_id: int = DEFAULT_MAIN_APP_ID  # the SubAppId of requests that name none
    confirm_window_s: float = 30.0  # a pulled event is leased this long (Tencent: 30 s)
    empty_hold_s: float = 5.0  # how long an empty PullEvents is held (Tencent: up to 5 s)
    empty_event_set_null: bool = False  # an empty poll answers EventSet null instead of []
    max_clock_skew_s: float | None = 300.0  # |now - X-TC-Timestamp| beyond it: SignatureExpire
    rate_limit: int | None = None  # requests/s per SecretId, both actions; None: unlimited
    confirmed_handle_ttl_s: float = 3600.0  # how long a confirmed handle may be confirmed again
    faults: FaultSettings = FaultSettings()

    def __post_init__(self) -> None:
        if not self.credentials:
            raise ValueError("configure at least one credential")
        if self.main_app_id < 1:
            raise ValueError("main_app_id must be a positive integer")
        if self.confirm_window_s <= 0:
            raise ValueError("confirm_window_s must be positive")
        if self.empty_hold_s < 0:
            raise ValueError("empty_hold_s must not be negative")
        if self.max_clock_skew_s is not None and self.max_clock_skew_s < 0:
            raise ValueError("max_clock_skew_s must not be negative")
        if self.rate_limit is not None and self.rate_limit < 1:
            raise ValueError("rate_limit must be at least 1 request per second")
        if self.confirmed_handle_ttl_s < 0:
            raise ValueError("confirmed_handle_ttl_s must not be negative")
