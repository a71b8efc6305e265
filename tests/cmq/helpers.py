"""Shared pieces of the CMQ tests: credentials, an emulator starter and a raw signed client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from adapters.cmq_options import CmqSourceOptions
from adapters.cmq_signing import CMQ_PATH, SignatureMethod, signed_params
from emulators.cmq import (
    Credential,
    EmulatorConfig,
    FaultSettings,
    QueueSpec,
    RunningEmulator,
    run_cmq_emulator,
)

SECRET_ID = "AKIDTESTCMQ0000000000000000000000001"
SECRET_KEY = "cmq-test-secret-key-5f1c0a"  # a test fixture key
VISIBILITY_S = 2.0  # the shortest lease whose whole-second nextVisibleTime leaves >= 1 s to ack


@asynccontextmanager
async def emulator(
    *names: str,
    visibility: float = VISIBILITY_S,
    faults: FaultSettings | None = None,
    credentials: tuple[Credential, ...] = (Credential(SECRET_ID, SECRET_KEY),),
    max_msg_size: int = 1024 * 1024,
    qps_limit: int | None = None,
) -> AsyncIterator[RunningEmulator]:
    """An emulator on a free port with the named queues (default: one called ``q``)."""
    queues = tuple(
        QueueSpec(name, visibility, max_msg_size, qps_limit=qps_limit) for name in names or ("q",)
    )
    config = EmulatorConfig(
        queues=queues, credentials=credentials, faults=faults or FaultSettings()
    )
    async with run_cmq_emulator(config) as running:
        yield running


def source_options(running: RunningEmulator, *queues: str, **overrides: Any) -> CmqSourceOptions:
    """CmqSource settings for ``running``, tuned for fast tests."""
    settings: dict[str, Any] = {
        "endpoint": running.url,
        "secret_id": SECRET_ID,
        "secret_key": SECRET_KEY,
        "queues": queues or ("q",),
        "polling_wait_seconds": 1,
        "http_timeout": 3.0,
        "retry_initial_backoff": 0.01,
        "retry_max_backoff": 0.05,
    }
    settings.update(overrides)
    return CmqSourceOptions(**settings)


class RawCmq:
    """Signed requests straight to the emulator, returning the reply whatever its code."""

    def __init__(
        self,
        running: RunningEmulator,
        *,
        secret_id: str = SECRET_ID,
        secret_key: str = SECRET_KEY,
        method: SignatureMethod = SignatureMethod.HMAC_SHA256,
        token: str | None = None,
    ) -> None:
        self.running = running
        self._sign = {
            "host": f"{running.host}:{running.port}",
            "secret_id": secret_id,
            "secret_key": secret_key,
            "signature_method": method,
            "token": token,
        }
        self.http = httpx.AsyncClient(timeout=40)

    def signed(
        self, action: str, params: dict[str, str], http_method: str = "POST"
    ) -> dict[str, str]:
        return signed_params({"Action": action, **params}, http_method=http_method, **self._sign)  # type: ignore[arg-type]

    async def call(self, action: str, **params: str) -> dict[str, Any]:
        """POST a signed ``action``; the reply's JSON object."""
        return await self.post(self.signed(action, params))

    async def post(self, form: dict[str, str]) -> dict[str, Any]:
        response = await self.http.post(self.running.index_url, content=urlencode(form).encode())
        assert response.status_code == 200, response.text
        reply: dict[str, Any] = orjson.loads(response.content)
        return reply

    async def get(self, action: str, **params: str) -> dict[str, Any]:
        """The same call as a GET with the parameters in the query string."""
        form = self.signed(action, params, http_method="GET")
        response = await self.http.get(self.running.url + CMQ_PATH, params=form)
        reply: dict[str, Any] = orjson.loads(response.content)
        return reply

    async def send(self, queue: str, *bodies: str) -> list[str]:
        """Send each body; their msgIds."""
        ids = []
        for body in bodies:
            reply = await self.call("SendMessage", queueName=queue, msgBody=body)
            assert reply["code"] == 0, reply
            ids.append(reply["msgId"])
        return ids

    async def aclose(self) -> None:
        await self.http.aclose()


@asynccontextmanager
async def raw_client(running: RunningEmulator, **kwargs: Any) -> AsyncIterator[RawCmq]:
    client = RawCmq(running, **kwargs)
    try:
        yield client
    finally:
        await client.aclose()
