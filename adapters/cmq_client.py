"""Signed CMQ API 2.0 calls over httpx, with httpx's exceptions translated at this boundary.

A call either returns the reply's JSON object (``code`` 0) or raises :class:`CmqApiError`
(any other ``code``) or :class:`CmqTransportError` (no usable reply: network error, timeout,
a non-200 status or a body that is not JSON). Neither message ever contains the SecretKey: the
request body is never put into an error or a log line.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from adapters.cmq_options import CmqSourceOptions
from adapters.cmq_signing import signed_params

THROTTLED = frozenset({4420, 4480})  # QPS limit, interface frequency limit
# Worth retrying: throttling, internal errors (6000) and too many unacked messages (6070).
TRANSIENT_CODES = THROTTLED | {6000, 6070}
NO_MESSAGE = 7000
AUTH_FAILED = 4100
INVALID_HANDLE = 4430
NO_SUCH_QUEUE = 4440
BATCH_DELETE_PARTIAL, BATCH_DELETE_FAILED = 6010, 6020
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class CmqApiError(Exception):
    """CMQ answered with a non-zero ``code``."""

    def __init__(self, action: str, reply: dict[str, Any]) -> None:
        self.action = action
        self.code = int(reply.get("code", -1))
        self.message = str(reply.get("message", ""))
        self.request_id = str(reply.get("requestId", ""))
        self.reply = reply
        super().__init__(
            f"{action}: code {self.code} {self.message!r} (requestId {self.request_id})"
        )

    @property
    def transient(self) -> bool:
        """Whether the same request may succeed later."""
        return self.code in TRANSIENT_CODES

    @property
    def queue_missing(self) -> bool:
        """4440, or TDMQ's spelling of it: code 4000 with module code 10100."""
        return self.code == NO_SUCH_QUEUE or (self.code == 4000 and "10100" in self.message)


class CmqTransportError(Exception):
    """No usable reply: the request may or may not have been performed."""

    def __init__(self, action: str, detail: str, status: int | None = None) -> None:
        super().__init__(f"{action}: {detail}")
        self.status = status

    @property
    def transient(self) -> bool:
        """Network trouble and 5xx/429 may pass; other statuses mean a wrong endpoint."""
        return self.status is None or self.status >= 500 or self.status == 429


def is_transient(exc: Exception) -> bool:
    """Whether a failed call is worth retrying."""
    return isinstance(exc, CmqApiError | CmqTransportError) and exc.transient


class CmqClient:
    """Sends signed actions to one CMQ endpoint."""

    def __init__(self, options: CmqSourceOptions, http: httpx.AsyncClient | None = None) -> None:
        self._options = options
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=options.http_timeout,
            limits=httpx.Limits(max_connections=8 * len(options.queues) + 8),
        )

    async def call(
        self, action: str, params: dict[str, str], *, wait: float = 0.0
    ) -> dict[str, Any]:
        """Perform ``action``; ``wait`` (a long poll's seconds) extends the read timeout."""
        o = self._options
        signed = signed_params(
            {"Action": action, **params},
            host=o.host,
            secret_id=o.secret_id,
            secret_key=o.secret_key,
            signature_method=o.signature_method,
            token=o.token,
        )
        timeout = httpx.Timeout(o.http_timeout, read=o.http_timeout + wait)
        try:
            response = await self._http.post(
                o.url, content=urlencode(signed).encode(), headers=_FORM, timeout=timeout
            )
        except httpx.TimeoutException as exc:
            raise CmqTransportError(action, f"timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            # str(exc) names the failure, never the request body (which holds the signature).
            raise CmqTransportError(action, f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise CmqTransportError(action, f"HTTP {response.status_code}", response.status_code)
        try:
            reply = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise CmqTransportError(action, "reply is not JSON") from exc
        if not isinstance(reply, dict):
            raise CmqTransportError(action, "reply is not a JSON object")
        if reply.get("code") != 0:
            raise CmqApiError(action, reply)
        return reply

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            await self._http.aclose()
