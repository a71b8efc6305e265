"""Every VOD sample, pulled from the emulator, comes out normalized on the events exchange."""

from __future__ import annotations

from collections import Counter

import pytest

from adapters.vod import VodSource
from consumer.normalize import normalize
from tests.e2e_cmq.support import broker_tap, relaying
from tests.e2e_vod.support import MALFORMED_EVENTS, events_of, vod_sample_files
from tests.relay_support import wait_until
from tests.vod.helpers import source_options
from tests.vod_emulator.helpers import MAIN_APP, emulator

pytestmark = pytest.mark.rabbitmq


async def test_every_vod_sample_is_relayed_with_its_normalize_id_and_every_handle_confirmed() -> (
    None
):
    """Ids on the exchange equal normalize() of the sample files; malformed events are parked;
    every handle is confirmed and VOD holds nothing pullable or leased afterwards."""
    files = vod_sample_files()
    expected = Counter(item.event.id for path in files for item in normalize(path.read_bytes()))
    injected = [element for path in files for element in events_of(path)]
    async with emulator(window=5.0) as running, broker_tap() as tap:
        running.inject(MAIN_APP, injected)
        running.inject(MAIN_APP, list(MALFORMED_EVENTS))
        total = len(injected) + len(MALFORMED_EVENTS)
        source = await VodSource.connect(source_options(running, confirm_window=5.0))
        async with relaying(source, tap.names):
            await wait_until(lambda: running.counts(MAIN_APP).confirmed >= total, timeout_s=30)
        await tap.collect()
        counts = running.counts(MAIN_APP)
    assert tap.event_ids() == expected
    reasons = sorted(str((m.header.properties.headers or {})["x-park-reason"]) for m in tap.parked)
    assert reasons == ["invalid_field", "not_a_notification", "unknown_event_type"]
    assert (counts.confirmed, counts.pullable, counts.leased) == (total, 0, 0)
    assert counts.redelivered == 0  # nothing was confirmed late or lost on the way
