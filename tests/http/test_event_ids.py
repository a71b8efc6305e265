"""A signed push body and the same event pulled with PullEvents are published under one id.

``Sign``/``T``/``Timestamp`` change with every delivery, so they are left out of the id
(``consumer.canonical``): a subscriber deduplicating on ``source`` + ``id`` sees a callback and
a reliable-callback pull of one event, or two retries signed at different times, as one event.
"""

from __future__ import annotations

import httpx
import orjson

from adapters.memory import MemorySink
from tests.http.support import JSON, event_ids, mps_signed, receiving, vod_signed
from tests.relay_support import MPS_WORKFLOW, NEW_FILE_UPLOAD


def pulled(push_body: bytes) -> bytes:
    """The same event as one element of a PullEvents reply (with its EventHandle, nulls in)."""
    event = orjson.loads(push_body)
    event["ProcedureStateChangeEvent"] = None  # PullEvents lists the other kinds as null
    return orjson.dumps(
        {"Response": {"EventSet": [{**event, "EventHandle": "handle-1"}], "RequestId": "r-1"}}
    )


async def test_a_signed_push_and_a_pulled_event_share_one_id() -> None:
    sink = MemorySink()
    first = vod_signed(NEW_FILE_UPLOAD, expires_in=600)
    retry = vod_signed(NEW_FILE_UPLOAD, expires_in=900)  # re-signed: another T, another Sign
    assert first != retry
    async with receiving(sink) as source, httpx.AsyncClient() as http:
        for body in (first, retry):
            assert (await http.post(f"{source.url}/vod", content=body, headers=JSON)).is_success
    published = [message.message_id for message in sink.published]
    assert published == event_ids(pulled(NEW_FILE_UPLOAD)) * 2
    assert len(set(published)) == 1


async def test_an_mps_notification_keeps_its_id_however_it_is_signed() -> None:
    sink = MemorySink()
    async with receiving(sink) as source, httpx.AsyncClient() as http:
        answer = await http.post(f"{source.url}/mps", content=mps_signed(MPS_WORKFLOW))
    assert answer.status_code == 200
    # The CMQ message body of the same task (no Timestamp/Sign at all) gives the same id.
    assert [message.message_id for message in sink.published] == event_ids(MPS_WORKFLOW)
