"""``media-bridge run`` with the HTTP source, as a child process, for the tests that need the
real thing: its signal handling, its exit status, and a process that must not die."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
from anyio.abc import Process

from tests.e2e_cmq.support import Names, free_port, sink_env
from tests.http.support import MPS_KEY, TOKEN, VOD_KEY


@dataclass(frozen=True)
class Bridge:
    process: Process
    port: int
    url: str  # the callbacks
    status_url: str  # /metrics, /healthz, /readyz
    log: Path


def bridge_env(names: Names, port: int, status_port: int, **extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("MEDIA_BRIDGE_")},
        **sink_env(names),
        "MEDIA_BRIDGE_SOURCE__KIND": "http",
        "MEDIA_BRIDGE_SOURCE__PORT": str(port),
        "MEDIA_BRIDGE_SOURCE__VOD__PATH": "/vod",
        "MEDIA_BRIDGE_SOURCE__VOD__KEYS": VOD_KEY,
        "MEDIA_BRIDGE_SOURCE__MPS__PATH": "/mps",
        "MEDIA_BRIDGE_SOURCE__MPS__KEYS": MPS_KEY,
        "MEDIA_BRIDGE_SOURCE__VOD_V2__PATH": "/vod-v2",
        "MEDIA_BRIDGE_SOURCE__VOD_V2__TOKENS": TOKEN,
        "MEDIA_BRIDGE_SOURCE__CMQ__PATH": "/cmq",
        "MEDIA_BRIDGE_SOURCE__CMQ__TOKENS": TOKEN,
        "MEDIA_BRIDGE_HTTP__PORT": str(status_port),
        "MEDIA_BRIDGE_LOG__LEVEL": "WARNING",
        **extra,
    }


@asynccontextmanager
async def running_bridge(names: Names, log: Path, **extra: str) -> AsyncIterator[Bridge]:
    """A bridge serving callbacks, ready (``/readyz`` 200) when the block starts; killed on the
    way out if the test did not stop it."""
    port, status_port = free_port(), free_port()
    command = [str(Path(sys.executable).with_name("media-bridge")), "run"]
    with log.open("ab") as sink:
        process = await anyio.open_process(
            command,
            env=bridge_env(names, port, status_port, **extra),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    bridge = Bridge(
        process, port, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{status_port}", log
    )
    try:
        await until_ready(bridge)
        yield bridge
    finally:
        if process.returncode is None:
            process.kill()
            with anyio.CancelScope(shield=True):
                await process.wait()


async def until_ready(bridge: Bridge, timeout_s: float = 30) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        with anyio.fail_after(timeout_s):
            while True:
                if bridge.process.returncode is not None:
                    raise AssertionError(f"the bridge exited: {bridge.log.read_text()[-2000:]}")
                try:
                    if (await http.get(f"{bridge.status_url}/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await anyio.sleep(0.05)
