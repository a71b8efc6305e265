"""CmqSource passes the Source contract against the CMQ emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from adapters.cmq import CmqSource
from tests.cmq.helpers import VISIBILITY_S, emulator, raw_client, source_options
from tests.contract.source_contract import OpenSource, SourceContract


class TestCmqSource(SourceContract):
    # A nack or a close only lets the lease lapse: redelivery takes the visibility timeout.
    redelivery_timeout_s = VISIBILITY_S + 3
    # Longer than the lease, so a delete that silently failed would show up as a redelivery.
    quiet_period_s = VISIBILITY_S + 0.5

    @asynccontextmanager
    async def make_queue(self, bodies: list[bytes]) -> AsyncIterator[OpenSource]:
        async with emulator("contract") as running:
            async with raw_client(running) as cmq:
                await cmq.send("contract", *(body.decode() for body in bodies))

            async def open_source() -> CmqSource:
                return await CmqSource.connect(source_options(running, "contract"))

            yield open_source
