"""CMQ error replies: an exception carrying the ``code``/``message`` pair the service returns.

Codes are Tencent's; message texts are modelled on the docs (module code in parentheses where
the docs show one) but are not guaranteed to match the real service word for word.
"""

from __future__ import annotations

from typing import Any


class CmqApiError(Exception):
    """Answer the request with HTTP 200 and this ``code``/``message`` (plus ``extra`` fields)."""

    def __init__(self, code: int, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.extra = extra or {}


def invalid_param(detail: str) -> CmqApiError:
    """4000: a missing or out-of-range parameter."""
    return CmqApiError(4000, f"(10110)invalid parameter: {detail}")


def auth_failed(detail: str) -> CmqApiError:
    """4100: the signature or the credentials were refused."""
    return CmqApiError(4100, f"(10030)authentication failed: {detail}")


def no_such_queue(name: str) -> CmqApiError:
    """4440: the queue does not exist."""
    return CmqApiError(4440, f"(10100)queue does not exist: {name}")


NO_MESSAGE = CmqApiError(7000, "(10200)no message")
INVALID_HANDLE_MESSAGE = "invalid receiptHandle"  # the text of the documented 6010 errorList
