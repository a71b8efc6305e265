"""The emulator's ASGI application: HTTP in, CMQ API 2.0 JSON out, with injected faults.

A lean ASGI callable rather than a framework: every request takes the same path (parse the
form, verify the signature, run one action), and the benchmark pushes thousands of messages a
second through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import orjson

from adapters.cmq_signing import CMQ_PATH
from emulators.cmq.actions import ACTIONS, Fields
from emulators.cmq.auth import Verifier
from emulators.cmq.config import EmulatorConfig, FaultKind, FaultSettings
from emulators.cmq.errors import CmqApiError
from emulators.cmq.faults import FaultInjector
from emulators.cmq.registry import QueueRegistry
from emulators.serving import drop_response, read_body, respond

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_FAULT_CODES = {
    FaultKind.THROTTLED: (4420, "(10250)qps limit exceeded"),
    FaultKind.FREQUENCY_LIMIT: (4480, "(10460)interface frequency limit exceeded"),
    FaultKind.INTERNAL: (6000, "(10050)internal error"),
}


class CmqEmulatorApp:
    """Serves ``/v2/index.php`` over GET (query) or POST (form body, any Content-Type)."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.queues = QueueRegistry(config)
        self.faults = FaultInjector(config.faults)
        self.requests: Counter[str] = Counter()  # per Action, including refused ones
        self._verifier = Verifier(config.credentials, config.max_clock_skew_s)
        self._request_ids = itertools.count(random.randrange(10**10, 10**11))
        self._closing = asyncio.Event()

    def set_faults(self, settings: FaultSettings) -> None:
        """Replace the fault settings (and restart the seeded random sequence)."""
        self.faults = FaultInjector(settings)

    def close(self) -> None:
        """Release held requests and long polls so the server can shut down promptly."""
        self._closing.set()
        for queue in self.queues.all():
            queue.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != CMQ_PATH:
            await _plain(send, 404, b"Not Found")
            return
        method = scope["method"]
        if method not in ("GET", "POST"):
            await _plain(send, 405, b"Method Not Allowed")
            return
        body = await read_body(receive)
        if body is None:
            await _plain(send, 413, b"Request Entity Too Large")
            return
        raw = scope["query_string"] if method == "GET" else body
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
        await self._serve(raw, method, host, send)

    async def _serve(self, raw: bytes, method: str, host: str, send: Send) -> None:
        try:
            params = dict(parse_qsl(raw.decode(), keep_blank_values=True, errors="strict"))
        except UnicodeDecodeError:
            await self._reply(send, _error(CmqApiError(4000, "(10110)request is not valid UTF-8")))
            return
        action_name = params.get("Action", "")
        self.requests[action_name] += 1
        latency = self.faults.settings.latency_s
        if latency:
            await asyncio.sleep(latency)
        fault = self.faults.draw(action_name)
        if fault is FaultKind.HTTP_5XX:
            await _plain(send, 503, b"<html><body>503 Service Unavailable</body></html>")
            return
        if fault is FaultKind.TIMEOUT:
            await self._hold()
            await drop_response(send)
        fault_code = _FAULT_CODES.get(fault) if fault is not None else None
        if fault_code is not None:
            await self._reply(send, _error(CmqApiError(*fault_code)))
            return
        fields = await self._perform(action_name, params, method, host)
        if fault is FaultKind.DROP_RESPONSE:
            await drop_response(send)
        await self._reply(send, fields)

    async def _perform(
        self, action_name: str, params: dict[str, str], method: str, host: str
    ) -> Fields:
        try:
            action = ACTIONS.get(action_name)
            if action is None:
                raise CmqApiError(4000, f"(10280)action not exist: {action_name}")
            self._verifier.verify(params, method=method, host=host, path=CMQ_PATH)
            return {"code": 0, "message": "", **await action(params, self.queues)}
        except CmqApiError as exc:
            return _error(exc)

    async def _hold(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), self.faults.settings.timeout_hold_s)

    async def _reply(self, send: Send, fields: Fields) -> None:
        # requestId goes third, after code and message, as in Tencent's samples.
        reply = {"code": fields.pop("code"), "message": fields.pop("message")}
        reply["requestId"] = str(next(self._request_ids))
        reply.update(fields)
        await respond(send, 200, b"application/json; charset=utf-8", orjson.dumps(reply))


def _error(exc: CmqApiError) -> Fields:
    return {"code": exc.code, "message": exc.message, **exc.extra}


async def _plain(send: Send, status: int, body: bytes) -> None:
    await respond(send, status, b"text/html; charset=utf-8", body)
