"""Soak: 100,000 callbacks through ``media-bridge run``; its memory stays flat.

Long (a minute or more), so behind ``-m soak``. The events are consumed as they arrive, so the
shared broker never holds more than a few of them.
"""

from __future__ import annotations

import signal
from pathlib import Path

import anyio
import pytest
from aiormq.abc import DeliveredMessage

from bench._http_client import HttpConnection
from bench._probe import rss_mib
from tests.e2e_cmq.support import broker_tap, unique_bodies
from tests.http.bridge_process import running_bridge
from tests.http.support import JSON, vod_signed
from tests.relay_support import NEW_FILE_UPLOAD

pytestmark = [pytest.mark.rabbitmq, pytest.mark.soak]

TOTAL = 100_000
WARM_UP = 20_000  # allocator pools, caches and the interned strings settle by then
SENDERS = 16


@pytest.mark.timeout(900)
async def test_memory_is_flat_over_a_hundred_thousand_requests(tmp_path: Path) -> None:
    templates = [vod_signed(body, expires_in=3600) for body in unique_bodies(NEW_FILE_UPLOAD, 1000)]
    arrived = 0

    async def on_event(_: DeliveredMessage) -> None:
        nonlocal arrived
        arrived += 1

    sent = 0
    rss: dict[int, float] = {}
    statuses: dict[int, int] = {}
    async with broker_tap() as tap:
        await tap.channel.basic_consume(tap.names.tap, on_event, no_ack=True)
        async with running_bridge(tap.names, tmp_path / "bridge.log") as bridge:

            async def sender() -> None:
                nonlocal sent
                connection = HttpConnection("127.0.0.1", bridge.port)
                while sent < TOTAL:
                    body = templates[sent % len(templates)]
                    sent += 1
                    status = (await connection.request("POST", "/vod", body, JSON)).status
                    statuses[status] = statuses.get(status, 0) + 1
                    if sent % 10_000 == 0:
                        rss[sent] = rss_mib(bridge.process.pid)
                await connection.aclose()

            async with anyio.create_task_group() as group:
                for _ in range(SENDERS):
                    group.start_soon(sender)
            bridge.process.send_signal(signal.SIGTERM)
            with anyio.fail_after(30):
                assert await bridge.process.wait() == 0
        with anyio.fail_after(60):
            while arrived < statuses.get(200, 0):  # noqa: ASYNC110 - the consumer counts
                await anyio.sleep(0.1)
    print(f"RSS MiB by requests sent: {rss}; answers {statuses}")
    assert statuses == {200: TOTAL}
    settled = [mib for count, mib in rss.items() if count >= WARM_UP]
    assert max(settled) - min(settled) < 8, rss
