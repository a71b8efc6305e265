"""Peer check: Tencent's own CMQ Python SDK (qcloud-cmq-sdk-py3) works against the emulator.

The SDK is synchronous, so each scenario runs in a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio.to_thread
import pytest
from cmq.account import Account
from cmq.cmq_exception import CMQServerException
from cmq.queue import Message

from tests.cmq.helpers import SECRET_ID, SECRET_KEY, emulator

# Without a handler of its own, the SDK's logger adds a file handler writing CMQ_python_sdk.log
# into the working directory.
logging.getLogger("CMQ_python_sdk").addHandler(logging.NullHandler())


@contextmanager
def sdk_queue(
    url: str, name: str = "q", *, key: str = SECRET_KEY, sign: str = "sha1"
) -> Iterator[Any]:
    account = Account(url, SECRET_ID, key)
    account.set_sign(sign)
    try:
        yield account.get_queue(name)
    finally:
        account.cmq_client.close_connection()


def error_code(call: Callable[..., Any], *args: Any) -> int:
    """The code of the CMQServerException ``call(*args)`` raises (0 if it succeeds)."""
    try:
        call(*args)
    except CMQServerException as exc:
        return int(exc.code)
    return 0


async def in_thread(scenario: Callable[[], Any]) -> Any:
    return await anyio.to_thread.run_sync(scenario)


@pytest.mark.parametrize("sign", ["sha1", "sha256"])
async def test_sdk_sends_receives_and_deletes(sign: str) -> None:
    """send, batch send, batch receive, receive, delete and batch delete all succeed."""
    async with emulator() as running:

        def scenario() -> tuple[list[str], list[str]]:
            with sdk_queue(running.url, sign=sign) as queue:
                queue.send_message(Message('{"EventType": "WorkflowTask"}'))
                queue.batch_send_message([Message("b"), Message("c")])
                batch = queue.batch_receive_message(2, 1)
                queue.batch_delete_message([m.receiptHandle for m in batch])
                single = queue.receive_message(1)
                queue.delete_message(single.receiptHandle)
                return [m.msgBody for m in batch], [single.msgBody]

        batch_bodies, single_bodies = await in_thread(scenario)
        counts = running.queue("q").counts()
    assert batch_bodies + single_bodies == ['{"EventType": "WorkflowTask"}', "b", "c"]
    assert counts["stored"] == 0


async def test_sdk_with_wrong_secret_key_gets_4100() -> None:
    """The SDK raises CMQServerException with code 4100 for a wrong SecretKey."""
    async with emulator() as running:

        def scenario() -> int:
            with sdk_queue(running.url, key="wrong-key") as queue:
                try:
                    queue.send_message(Message("x"))
                except CMQServerException as exc:
                    return int(exc.code)
                return 0

        code = await in_thread(scenario)
    assert code == 4100


async def test_sdk_empty_receive_gets_7000() -> None:
    """An empty queue makes the SDK raise CMQServerException with code 7000."""
    async with emulator() as running:

        def scenario() -> list[int]:
            with sdk_queue(running.url) as queue:
                return [
                    error_code(queue.receive_message, 0),
                    error_code(queue.batch_receive_message, 16, 0),
                ]

        codes = await in_thread(scenario)
    assert codes == [7000, 7000]


async def test_sdk_sees_partial_batch_delete_error_list() -> None:
    """A 6010 reply reaches the SDK with its errorList in the exception data."""
    async with emulator() as running:

        def scenario() -> tuple[int, list[dict[str, Any]]]:
            with sdk_queue(running.url) as queue:
                queue.send_message(Message("x"))
                [msg] = queue.batch_receive_message(1, 0)
                try:
                    queue.batch_delete_message([msg.receiptHandle, "999"])
                except CMQServerException as exc:
                    return int(exc.code), list(exc.data["errorList"])
                return 0, []

        code, errors = await in_thread(scenario)
    assert code == 6010
    assert [(e["code"], e["receiptHandle"]) for e in errors] == [(4430, "999")]
