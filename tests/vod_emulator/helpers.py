"""Shared pieces of the VOD emulator tests: credentials, an emulator starter, a signed client."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import orjson

from emulators.vod import (
    Credential,
    FaultSettings,
    RunningVodEmulator,
    VodEmulatorConfig,
    run_vod_emulator,
)
from emulators.vod.config import VOD_VERSION
from emulators.vod.signing import authorization

SECRET_ID = "AKIDTESTVOD00000000000000000000000001"
SECRET_KEY = "vod-test-secret-key-9d2e71"  # a test fixture key
MAIN_APP = 1500000001
WINDOW_S = 0.5  # confirm window of the test emulators: short, yet long enough to confirm in
HOLD_S = 0.3  # empty-poll hold of the test emulators


@asynccontextmanager
async def emulator(
    *,
    credentials: tuple[Credential, ...] = (Credential(SECRET_ID, SECRET_KEY),),
    window: float = WINDOW_S,
    hold: float = HOLD_S,
    faults: FaultSettings | None = None,
    **config: Any,
) -> AsyncIterator[RunningVodEmulator]:
    """An emulator on a free port, tuned for fast tests."""
    settings = VodEmulatorConfig(
        credentials=credentials,
        main_app_id=MAIN_APP,
        confirm_window_s=window,
        empty_hold_s=hold,
        faults=faults or FaultSettings(),
        **config,
    )
    async with run_vod_emulator(settings) as running:
        yield running


def event(n: int, **extra: Any) -> dict[str, Any]:
    """A small well-formed event whose FileId identifies it."""
    return {"EventType": "FileDeleted", "FileDeleteEvent": {"FileIdSet": [str(n)]}, **extra}


def file_id(pulled: dict[str, Any]) -> str:
    """The FileId of an event made by ``event``."""
    value: str = pulled["FileDeleteEvent"]["FileIdSet"][0]
    return value


class ApiReply:
    """One API reply: the HTTP status, the Content-Type and the ``Response`` object."""

    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        self.content_type = response.headers.get("content-type")
        # stdlib json keeps integers exact and tells key order apart (dicts keep it)
        self.response: dict[str, Any] = json.loads(response.content)["Response"]

    @property
    def error_code(self) -> str | None:
        error = self.response.get("Error")
        return None if error is None else str(error["Code"])

    @property
    def events(self) -> list[dict[str, Any]]:
        assert self.error_code is None, self.response
        return list(self.response["EventSet"] or [])


class RawVod:
    """Hand-signed API 3.0 requests, with knobs to get each part of the request wrong."""

    def __init__(
        self,
        endpoint: str,
        http: httpx.AsyncClient,
        *,
        secret_id: str = SECRET_ID,
        secret_key: str = SECRET_KEY,
        token: str | None = None,
    ) -> None:
        self.endpoint = endpoint  # host:port
        self.url = f"http://{endpoint}/"
        self.http = http
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.token = token

    def headers(
        self,
        action: str,
        body: bytes,
        *,
        timestamp: int | None = None,
        version: str | None = VOD_VERSION,
        content_type: str = "application/json",
        sign: Callable[..., str] = authorization,
        **sign_overrides: Any,
    ) -> dict[str, str]:
        """Headers as Tencent's SDK sends them; ``sign_overrides`` go to ``authorization``."""
        ts = int(time.time()) if timestamp is None else timestamp
        signing: dict[str, Any] = {
            "secret_id": self.secret_id,
            "secret_key": self.secret_key,
            "host": self.endpoint,
            "body": body,
            "timestamp": ts,
            "content_type": content_type,
        }
        signing.update(sign_overrides)
        headers = {
            "Content-Type": content_type,
            "X-TC-Action": action,
            "X-TC-Timestamp": str(ts),
            "Authorization": sign(**signing),
        }
        if version is not None:
            headers["X-TC-Version"] = version
        if self.token is not None:
            headers["X-TC-Token"] = self.token
        return headers

    async def send(self, action: str, params: Any = None, **knobs: Any) -> httpx.Response:
        """POST a signed request; ``params`` bytes are sent as they are, anything else as JSON."""
        body = (
            params if isinstance(params, bytes) else orjson.dumps({} if params is None else params)
        )
        headers = self.headers(action, body, **knobs)
        return await self.http.post(self.url, content=body, headers=headers)

    async def call(self, action: str, params: Any = None, **knobs: Any) -> ApiReply:
        """``send``, checking the parts every reply must have (HTTP 200, JSON, a RequestId)."""
        reply = ApiReply(await self.send(action, params, **knobs))
        assert reply.status == 200
        assert reply.content_type == "application/json"
        assert isinstance(reply.response["RequestId"], str)
        return reply

    async def pull(self, sub_app_id: int | None = None) -> list[dict[str, Any]]:
        params = {} if sub_app_id is None else {"SubAppId": sub_app_id}
        return (await self.call("PullEvents", params)).events

    async def confirm(self, handles: list[str], sub_app_id: int | None = None) -> ApiReply:
        params: dict[str, Any] = {"EventHandles": handles}
        if sub_app_id is not None:
            params["SubAppId"] = sub_app_id
        return await self.call("ConfirmEvents", params)


@asynccontextmanager
async def raw_client(running: RunningVodEmulator, **kwargs: Any) -> AsyncIterator[RawVod]:
    async with httpx.AsyncClient(timeout=20) as http:
        yield RawVod(running.endpoint, http, **kwargs)


async def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait for ``condition`` (checked every few ms); fails the test after ``timeout_s``."""
    with anyio.fail_after(timeout_s):
        while not condition():  # noqa: ASYNC110 - the emulator exposes state, not events
            await anyio.sleep(0.005)
