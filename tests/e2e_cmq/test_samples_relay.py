"""Every shared sample, sent with Tencent's SDK into the emulator, crosses the bridge intact."""

from __future__ import annotations

import anyio
import pytest

from adapters.cmq import CmqSource
from tests.cmq.helpers import emulator, source_options
from tests.e2e_cmq.support import (
    broker_tap,
    expected_event_ids,
    park_reason,
    relaying,
    send_with_sdk,
)
from tests.samples import sample_files

pytestmark = pytest.mark.rabbitmq

# Bodies no notification format accepts; each must be parked with its reason, never lost.
MALFORMED = [
    "<xml>not a notification</xml>",
    '{"EventType": "NoSuchEventType", "Whatever": {}}',
    '{"EventType": "NewFileUpload", "FileUploadEvent": ',
    "[" * 200 + "]" * 200,
]


async def test_every_sample_is_relayed_or_parked_and_deleted_from_cmq() -> None:
    """Sample events arrive once each; malformed bodies are parked with a reason; CMQ ends empty."""
    bodies = [path.read_text(encoding="utf-8") for path in sample_files()] + MALFORMED
    raw = [body.encode() for body in bodies]
    expected_ids = expected_event_ids(raw)
    expected_parked = sorted((body, reason) for body in raw if (reason := park_reason(body)))
    assert expected_ids
    assert len(expected_parked) >= len(MALFORMED)

    async with emulator("mps-events") as running, broker_tap() as tap:
        await send_with_sdk(running.url, "mps-events", bodies)
        assert running.queue("mps-events").counts()["stored"] == len(bodies)
        source = await CmqSource.connect(source_options(running, "mps-events"))
        with anyio.fail_after(30):
            async with relaying(source, tap.names):
                while (
                    tap.event_ids().total() < expected_ids.total()
                    or len(tap.parked) < len(expected_parked)
                    or running.queue("mps-events").counts()["stored"] > 0
                ):
                    await anyio.sleep(0.05)
                    await tap.collect()
        await anyio.sleep(0.2)  # anything published twice would show up now
        await tap.collect()
        counts = running.queue("mps-events").counts()
        stats = source.stats

    assert tap.event_ids() == expected_ids
    headers = [m.header.properties.headers or {} for m in tap.parked]
    reasons = [str(header["x-park-reason"]) for header in headers]
    parked = sorted(zip([m.body for m in tap.parked], reasons, strict=True))
    assert parked == expected_parked
    for header in headers:
        assert str(header["x-source"]) == "cmq:mps-events"
        assert header["x-park-detail"]
    assert counts == {"stored": 0, "visible": 0, "invisible": 0}
    assert stats.deleted == len(bodies)
