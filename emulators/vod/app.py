"""The emulator's ASGI application: API 3.0 JSON in and out at ``/``, admin routes beside it.

A lean ASGI callable rather than a framework: every API request takes the same path (check the
signature, parse the JSON body, run one action), and the benchmark pushes thousands of events a
second through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

import orjson

from emulators.serving import (
    Receive,
    Scope,
    Send,
    drop_response,
    read_body,
    respond,
)
from emulators.vod import errors
from emulators.vod.actions import PollSettings, VodActions
from emulators.vod.admin import ADMIN_PREFIX, serve_admin
from emulators.vod.auth import SignedRequest, Tc3Verifier
from emulators.vod.config import VOD_VERSION, FaultKind, FaultSettings, VodEmulatorConfig
from emulators.vod.documents import event_bodies, events_in
from emulators.vod.errors import VodApiError
from emulators.vod.events import EventCounts
from emulators.vod.faults import FaultInjector, RateLimiter
from emulators.vod.registry import EventRegistry

JSON = b"application/json"  # exactly: the SDK only raises API errors for this Content-Type
_FAULT_ERRORS = {
    FaultKind.REQUEST_LIMIT: errors.request_limit_exceeded,
    FaultKind.INTERNAL: errors.internal_error,
}


class VodEmulatorApp:
    """Serves VOD's PullEvents/ConfirmEvents (POST ``/``) and the ``/_admin/`` routes."""

    def __init__(self, config: VodEmulatorConfig) -> None:
        self.config = config
        self.registry = EventRegistry()
        self.settings = PollSettings.from_config(config)
        self.actions = VodActions(self.registry, self.settings)
        self.faults = FaultInjector(config.faults)
        self.rate_limiter = RateLimiter(config.rate_limit)
        self.requests: Counter[str] = Counter()  # per X-TC-Action, including refused ones
        self._verifier = Tc3Verifier(config.credentials, config.max_clock_skew_s)
        self._closing = asyncio.Event()

    # -- in-process control (tests, the admin routes) --------------------------------------------

    def app_id(self, sub_app_id: int | None) -> int:
        """The SubAppId that ``sub_app_id`` addresses: itself, or the main app for None."""
        return self.settings.main_app_id if sub_app_id is None else sub_app_id

    def inject(
        self, sub_app_id: int | None, events: Mapping[str, Any] | Iterable[Mapping[str, Any]]
    ) -> int:
        """Make events pullable for ``sub_app_id`` (None: the main app); how many were added.

        ``events`` is one event object, a PullEvents-style document (each EventSet element), or
        an iterable of event objects. Raises ``InjectionError`` (a ValueError) for non-objects.
        """
        items = events_in(events) if isinstance(events, Mapping) else events
        return self.registry.get(self.app_id(sub_app_id)).inject(event_bodies(items))

    def counts(self, sub_app_id: int | None = None) -> EventCounts:
        """The counters of one SubAppId (None: the main app)."""
        return self.registry.get(self.app_id(sub_app_id)).counts()

    def stats(self, sub_app_id: int | None = None) -> dict[str, Any]:
        """Counts per SubAppId (all, or just one), requests per action and faults injected."""
        apps = self.registry.all()
        if sub_app_id is not None:
            apps = {sub_app_id: self.registry.get(sub_app_id)}
        return {
            "sub_apps": {str(app): asdict(events.counts()) for app, events in apps.items()},
            "requests": dict(self.requests),
            "faults": {f"{a}:{k.value}": n for (a, k), n in self.faults.injected.items()},
        }

    def expire_leases(self, sub_app_id: int | None = None) -> int:
        """End the leases of one SubAppId (None: of all) now; how many ended."""
        if sub_app_id is not None:
            return self.registry.get(sub_app_id).expire_leases()
        return sum(events.expire_leases() for events in self.registry.all().values())

    def set_faults(self, settings: FaultSettings) -> None:
        """Replace the fault settings (and restart the seeded random sequence)."""
        self.faults = FaultInjector(settings)

    def close(self) -> None:
        """Release held requests and long polls so the server can shut down promptly."""
        self._closing.set()
        self.registry.close()

    # -- HTTP ------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/":
            await self._api(scope, receive, send)
        elif path.startswith(ADMIN_PREFIX):
            await serve_admin(self, scope, receive, send)
        else:
            await respond(send, 404, b"text/plain", b"Not Found")

    async def _api(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive)
        if body is None:
            await respond(send, 413, b"text/plain", b"Request Entity Too Large")
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        action = headers.get("x-tc-action", "")
        self.requests[action] += 1
        faults = self.faults
        if faults.settings.latency_s:
            await asyncio.sleep(faults.settings.latency_s)
        fault = faults.draw(action)
        if fault is FaultKind.HTTP_5XX:
            await respond(
                send, 503, b"text/html", b"<html><body>503 Service Unavailable</body></html>"
            )
            return
        if fault is FaultKind.TIMEOUT:
            await self._hold(faults.settings.timeout_hold_s)
            await drop_response(send)
        fault_error = _FAULT_ERRORS.get(fault) if fault is not None else None
        if fault_error is not None:
            await respond(send, 200, JSON, _error_reply(fault_error()))
            return
        request = SignedRequest(
            scope["method"], "/", scope["query_string"].decode("latin-1"), headers, body
        )
        reply = await self._perform(action, request)
        if fault is FaultKind.DROP_RESPONSE:
            await drop_response(send)
        await respond(send, 200, JSON, reply)

    async def _perform(self, action: str, request: SignedRequest) -> bytes:
        try:
            if request.method != "POST":
                raise errors.unsupported_operation("the emulator serves POST requests only")
            content_type = request.headers.get("content-type", "")
            if content_type.split(";")[0].strip().lower() != "application/json":
                raise errors.unsupported_operation("the request body must be application/json")
            credential = self._verifier.verify(request)
            version = request.headers.get("x-tc-version")
            if not version:
                raise errors.missing_parameter("X-TC-Version")
            if version != VOD_VERSION:
                raise errors.no_such_version(version)
            if not action:
                raise errors.missing_parameter("X-TC-Action")
            handler = self.actions.lookup(action)
            if handler is None:
                raise errors.invalid_action(action)
            if not self.rate_limiter.allow(credential.secret_id):
                raise errors.request_limit_exceeded()
            return _ok_reply(await handler(_params(request.body)))
        except VodApiError as exc:
            return _error_reply(exc)

    async def _hold(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)


def _params(body: bytes) -> dict[str, Any]:
    try:
        params = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise errors.invalid_parameter("the request body is not valid JSON") from None
    if not isinstance(params, dict):
        raise errors.invalid_parameter("the request body must be a JSON object")
    return params


class _RequestIds:
    """UUID-shaped RequestIds: a random one per emulator run, its last 12 digits a counter.

    ``uuid4()`` per reply read the OS's random source each time, a syscall on every request of
    a benchmark; clients only log a RequestId and never parse it, so unique is what matters.
    """

    def __init__(self) -> None:
        random_id = str(uuid.uuid4())
        self._prefix = random_id[:24]
        self._next = itertools.count(int(random_id[24:], 16))

    def __call__(self) -> bytes:
        return f"{self._prefix}{next(self._next) & 0xFFFFFFFFFFFF:012x}".encode()


_request_id = _RequestIds()


def _ok_reply(fields: bytes) -> bytes:
    return b'{"Response":{' + fields + b'"RequestId":"' + _request_id() + b'"}}'


def _error_reply(exc: VodApiError) -> bytes:
    error = {"Code": exc.code, "Message": exc.message}
    return orjson.dumps({"Response": {"Error": error, "RequestId": _request_id().decode()}})
