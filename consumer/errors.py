"""The exception tree of media-event-bridge.

Every error the core raises or expects from an adapter is one of these. Adapters translate their
transport's exceptions (aiormq, httpx, TencentCloudSDKException) into this tree at their boundary,
so the relay engine decides what to do by *type* alone::

    BridgeError                      root; never raised directly
    ├── ConfigurationError           bad/missing settings, wrong credentials, missing queue:
    │                                  exit non-zero with one clear line; never retried
    ├── PayloadError                 a body that can never be normalized (not JSON, unknown
    │                                  format, too large, ...): park it, then ack. Permanent.
    ├── TransientError               worth retrying later; the source message is NOT acked
    │   ├── SourceUnavailableError   receive/ack/nack failed (connection lost, throttled, 5xx)
    │   └── SinkUnavailableError     publish not confirmed: broker down, confirm timeout, nack
    ├── UnroutableError              the broker returned the message (no queue bound): park it
    └── EndOfSource                  a finite source is exhausted; the relay returns normally

Messages never contain secrets: adapters mask credentials before building them.
"""

from __future__ import annotations

from enum import StrEnum


class BridgeError(Exception):
    """Root of every error media-event-bridge raises on purpose."""


class ConfigurationError(BridgeError):
    """Settings are missing or wrong, or the credentials were refused: fix the config, don't retry."""


class PayloadReason(StrEnum):
    """Why a body could not be normalized. The value becomes the parking reason header."""

    TOO_LARGE = "too_large"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    TOO_DEEP = "too_deep"
    NOT_A_NOTIFICATION = "not_a_notification"
    UNKNOWN_FORMAT = "unknown_format"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    INVALID_FIELD = "invalid_field"
    EMPTY_BATCH = "empty_batch"


class PayloadError(BridgeError):
    """A body that can never become events. Permanent: the relay parks it and acks the source.

    ``reason`` is a stable machine-readable code; ``detail`` says in words what is wrong.
    """

    def __init__(self, reason: PayloadReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class TransientError(BridgeError):
    """A failure that may go away by itself. The source message is left unacked and retried."""


class SourceUnavailableError(TransientError):
    """The source could not be read from or settled against right now."""


class SinkUnavailableError(TransientError):
    """A publish was not confirmed by the broker (down, blocked, timed out, or nacked)."""


class UnroutableError(BridgeError):
    """The broker accepted the publish but could route it nowhere (returned with ``mandatory``).

    Permanent for that message: the relay parks the source body with this as the reason.
    """


class EndOfSource(BridgeError):  # noqa: N818 - a state, like anyio.EndOfStream, not a failure
    """A finite source (memory, a file) has nothing more to give; the relay finishes normally."""
