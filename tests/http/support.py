"""Pieces for the HTTP source's tests: bodies signed as Tencent signs them, the receiver running
in front of a relay, and senders that retry like Tencent does.

The signatures are computed here from the documented formulas with ``hashlib`` (VOD:
``MD5(SignKey + T)``, MPS: ``MD5(Timestamp + NotifyKey)``), independently of the adapter's
own signer, so a test catches a formula written wrong on either side.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import anyio
import httpx
import orjson

from adapters.http_options import Endpoint, HttpSourceOptions, Scheme
from adapters.http_source import HttpSource
from consumer.errors import PayloadError
from consumer.normalize import normalize
from consumer.ports import Sink
from consumer.relay import RelayOptions, run_relay
from tests.samples import sample_files

# Test-only secrets, distinctive so a test can look for them in every log line.
VOD_KEY = "VodSignKey4TestsOnly77"
MPS_KEY = "MpsNotifyKey4TestsOnly88"
TOKEN = "PushToken4TestsOnly99"
SECRETS = (VOD_KEY, MPS_KEY, TOKEN)

ENDPOINTS = (
    Endpoint(path="/vod", scheme=Scheme.VOD, keys=(VOD_KEY,)),
    Endpoint(path="/mps", scheme=Scheme.MPS, keys=(MPS_KEY,)),
    Endpoint(path="/vod-v2", tokens=(TOKEN,)),
    Endpoint(path="/cmq", tokens=(TOKEN,)),
)
JSON = {"content-type": "application/json"}
BEARER = {"content-type": "application/json", "authorization": f"Bearer {TOKEN}"}
FAST_RELAY = RelayOptions(backoff_initial_s=0.05, backoff_max_s=0.2, grace_period_s=5)


def options(**overrides: Any) -> HttpSourceOptions:
    """The test receiver: a free port, the four paths above."""
    return replace(HttpSourceOptions(port=0, endpoints=ENDPOINTS), **overrides)


def vod_sign(key: str, t: int) -> str:
    return hashlib.md5(f"{key}{t}".encode()).hexdigest()


def mps_sign(key: str, timestamp: int) -> str:
    return hashlib.md5(f"{timestamp}{key}".encode()).hexdigest()


def vod_signed(body: bytes, *, key: str = VOD_KEY, expires_in: int = 600) -> bytes:
    """``body`` (a JSON object) with ``T`` and ``Sign`` at its top level, as VOD would add them."""
    t = int(time.time()) + expires_in
    return _with_fields(body, {"T": t, "Sign": vod_sign(key, t)})


def mps_signed(body: bytes, *, key: str = MPS_KEY, expires_in: int = 600) -> bytes:
    """``body`` with ``Timestamp`` and ``Sign`` beside its other notification fields."""
    timestamp = int(time.time()) + expires_in
    return _with_fields(body, {"Timestamp": timestamp, "Sign": mps_sign(key, timestamp)})


def _with_fields(body: bytes, fields: Mapping[str, object]) -> bytes:
    doc = orjson.loads(body)
    if set(doc) == {"Response"}:  # ParseNotification output as tccli prints it
        return orjson.dumps({"Response": {**doc["Response"], **fields}})
    return orjson.dumps({**doc, **fields})


def samples(prefix: str, *, containing: str = "") -> list[tuple[str, bytes]]:
    """(name, body) of the shared samples whose names start with ``prefix``."""
    return [
        (path.name, path.read_bytes())
        for path in sample_files()
        if path.name.startswith(prefix) and containing in path.name
    ]


def push_samples() -> list[tuple[str, str, bytes]]:
    """(path, name, signed body) for every VOD v3 push, VOD v2 and MPS sample, as Tencent would
    POST each to its callback path."""
    vod = [("/vod", name, vod_signed(body)) for name, body in samples("vod__", containing="push")]
    legacy = [("/vod-v2", name, body) for name, body in samples("vodlegacy__")]
    mps = [("/mps", name, mps_signed(body)) for name, body in samples("mps__")]
    return [*vod, *legacy, *mps]


def event_ids(body: bytes) -> list[str]:
    """The ids the relay publishes for ``body``; [] when it is parked."""
    try:
        return [item.event.id for item in normalize(body)]
    except PayloadError:
        return []


@asynccontextmanager
async def receiving(
    sink: Sink, http: HttpSourceOptions | None = None, relay: RelayOptions = FAST_RELAY
) -> AsyncIterator[HttpSource]:
    """An HttpSource relaying to ``sink`` until the block ends; then the source is closed (the
    caller owns the sink)."""
    source = await HttpSource.open(http or options())
    stop = anyio.Event()
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(lambda: run_relay(source, sink, relay, stop=stop))
            try:
                yield source
            finally:
                stop.set()
    finally:
        with anyio.CancelScope(shield=True):
            await source.aclose()


async def post_until_ok(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    retry_delay_s: float = 0.05,
) -> list[int | str]:
    """POST until answered 200, as Tencent retries a callback; every answer seen, in order
    (a status, or the name of the transport error)."""
    seen: list[int | str] = []
    while True:
        try:
            response = await client.post(url, content=body, headers=dict(headers))
        except httpx.TransportError as exc:
            seen.append(type(exc).__name__)
        else:
            seen.append(response.status_code)
            if response.status_code == 200:
                return seen
        await anyio.sleep(retry_delay_s)


def statuses(answers: Iterable[int | str]) -> list[int]:
    return [answer for answer in answers if isinstance(answer, int)]
