"""VodSource passes the Source contract against the VOD emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson

from adapters.vod import VodSource
from tests.contract.source_contract import OpenSource, SourceContract
from tests.vod.helpers import source_options
from tests.vod_emulator.helpers import MAIN_APP, WINDOW_S, emulator


class TestVodSource(SourceContract):
    fast_path = True  # SDK-signed requests over the lean HTTP client (adapters.vod_api)

    # A nack or a close only lets the window lapse: redelivery takes the confirm window.
    redelivery_timeout_s = WINDOW_S + 3
    # Longer than the window, so a confirm that silently failed would show up as a redelivery.
    quiet_period_s = WINDOW_S + 0.5

    @asynccontextmanager
    async def make_queue(self, bodies: list[bytes]) -> AsyncIterator[OpenSource]:
        async with emulator() as running:
            running.inject(MAIN_APP, [orjson.loads(body) for body in bodies])

            async def open_source() -> VodSource:
                return await VodSource.connect(source_options(running, fast_path=self.fast_path))

            yield open_source


class TestVodSourcePlainPath(TestVodSource):
    fast_path = False  # the SDK's public client: what runs when the fast path is not in place
