"""The emulator's replies have the fields (and JSON types) of Tencent's documented samples."""

from __future__ import annotations

from typing import Any

import orjson

from tests.cmq.helpers import emulator, raw_client
from tests.samples import sample


def _shape(value: Any) -> Any:
    """Field names and JSON types, recursively (values themselves differ)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def _sample_shape(name: str) -> Any:
    return _shape(orjson.loads(sample(name)))


async def test_replies_match_the_documented_response_shapes() -> None:
    """Send, batch send, receive, batch receive, delete and batch delete look like the docs."""
    async with emulator() as running, raw_client(running) as cmq:
        sent = await cmq.call("SendMessage", queueName="q", msgBody="a")
        batch_sent = await cmq.call(
            "BatchSendMessage", queueName="q", **{"msgBody.1": "b", "msgBody.2": "c"}
        )
        received = await cmq.call("ReceiveMessage", queueName="q")
        batch = await cmq.call("BatchReceiveMessage", queueName="q", numOfMsg="2")
        deleted = await cmq.call(
            "DeleteMessage", queueName="q", receiptHandle=received["receiptHandle"]
        )
        handles = {
            f"receiptHandle.{n}": m["receiptHandle"] for n, m in enumerate(batch["msgInfoList"], 1)
        }
        batch_deleted = await cmq.call("BatchDeleteMessage", queueName="q", **handles)
        partial = await cmq.call(
            "BatchDeleteMessage",
            queueName="q",
            **{"receiptHandle.1": handles["receiptHandle.1"], "receiptHandle.2": "42"},
        )
    assert _shape(sent) == _sample_shape("cmq__SendMessage__doc-response.json")
    assert _shape(batch_sent) == _sample_shape("cmq__BatchSendMessage__doc-response.json")
    assert _shape(received) == _sample_shape("cmq__ReceiveMessage__doc-response.json")
    assert _shape(batch) == _sample_shape("cmq__BatchReceiveMessage__doc-response.json")
    assert _shape(deleted) == _sample_shape("cmq__DeleteMessage__doc-response.json")
    assert _shape(batch_deleted) == _sample_shape("cmq__BatchDeleteMessage__doc-response-ok.json")
    assert _shape(partial) == _sample_shape(
        "cmq__BatchDeleteMessage__doc-response-partial-failure-6010.json"
    )
    assert list(sent)[:3] == ["code", "message", "requestId"]
