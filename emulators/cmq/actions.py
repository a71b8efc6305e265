"""The six data-plane actions: request parameters in, response fields out (or CmqApiError)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from emulators.cmq.errors import (
    INVALID_HANDLE_MESSAGE,
    NO_MESSAGE,
    CmqApiError,
    invalid_param,
)
from emulators.cmq.queue import StoredMessage
from emulators.cmq.registry import QueueRegistry

MAX_BATCH = 16
MAX_POLLING_WAIT = 30
MAX_DELAY_SECONDS = 43200  # Tencent's delay range is not documented for API 2.0; generous

Params = Mapping[str, str]
Fields = dict[str, Any]
Action = Callable[[Params, QueueRegistry], Awaitable[Fields]]


def _required(params: Params, name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise CmqApiError(4000, f"(10010)missing parameter {name}")
    return value


def _int(params: Params, name: str, low: int, high: int, default: int | None = None) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        if default is None:
            raise CmqApiError(4000, f"(10010)missing parameter {name}")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_param(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise invalid_param(f"{name} must be in [{low}, {high}]")
    return value


def _indexed(params: Params, prefix: str) -> list[str]:
    """Values of ``prefix.n``: 1-16 of them, indices consecutive from 0 or 1 (Tencent's rule)."""
    pattern = re.compile(re.escape(prefix) + r"\.(\d+)")
    found = {int(m.group(1)): v for k, v in params.items() if (m := pattern.fullmatch(k))}
    indices = sorted(found)
    if not indices:
        raise CmqApiError(4000, f"(10010)missing parameter {prefix}.n")
    if indices[0] not in (0, 1) or indices != list(range(indices[0], indices[0] + len(indices))):
        raise invalid_param(f"{prefix}.n indices must be consecutive from 0 or 1")
    if len(indices) > MAX_BATCH:
        raise invalid_param(f"at most {MAX_BATCH} {prefix} values per request")
    return [found[i] for i in indices]


def _message_fields(msg: StoredMessage) -> Fields:
    return {
        "msgBody": msg.body,
        "msgId": msg.msg_id,
        "receiptHandle": msg.receipt_handle,
        "enqueueTime": int(msg.enqueue_time),
        "firstDequeueTime": int(msg.first_dequeue_time),
        # Rounded down: a client treating it as a deadline is never told the lease is longer.
        "nextVisibleTime": int(msg.next_visible_time),
        "dequeueCount": msg.dequeue_count,
    }


def _check_body(body: str, max_size: int) -> int:
    size = len(body.encode())
    if size > max_size:
        raise CmqApiError(
            4400, f"(10230)message size {size} exceeds the queue's maxMsgSize {max_size}"
        )
    return size


async def send_message(params: Params, queues: QueueRegistry) -> Fields:
    queue = queues.get(_required(params, "queueName"))
    body = _required(params, "msgBody")
    _check_body(body, queue.spec.max_msg_size)
    delay = _int(params, "delaySeconds", 0, MAX_DELAY_SECONDS, default=0)
    if queue.is_full():
        raise CmqApiError(4410, "(10240)queue has reached its maximum number of messages")
    return {"msgId": queue.send(body, delay)}


async def batch_send_message(params: Params, queues: QueueRegistry) -> Fields:
    queue = queues.get(_required(params, "queueName"))
    bodies = _indexed(params, "msgBody")
    if any(body == "" for body in bodies):
        raise invalid_param("msgBody must not be empty")
    total = sum(_check_body(body, queue.spec.max_msg_size) for body in bodies)
    if total > queues.max_batch_body_bytes:
        limit = queues.max_batch_body_bytes
        raise CmqApiError(4470, f"(10300)total message size {total} exceeds {limit}")
    delay = _int(params, "delaySeconds", 0, MAX_DELAY_SECONDS, default=0)
    if queue.is_full(len(bodies)):
        raise CmqApiError(4410, "(10240)queue has reached its maximum number of messages")
    return {"msgList": [{"msgId": queue.send(body, delay)} for body in bodies]}


async def receive_message(params: Params, queues: QueueRegistry) -> Fields:
    queue = queues.get(_required(params, "queueName"))
    wait = _int(params, "pollingWaitSeconds", 0, MAX_POLLING_WAIT, queue.spec.polling_wait_seconds)
    leased = await queue.receive(1, wait)
    if not leased:
        raise NO_MESSAGE
    return _message_fields(leased[0])


async def batch_receive_message(params: Params, queues: QueueRegistry) -> Fields:
    queue = queues.get(_required(params, "queueName"))
    count = _int(params, "numOfMsg", 1, MAX_BATCH)
    wait = _int(params, "pollingWaitSeconds", 0, MAX_POLLING_WAIT, queue.spec.polling_wait_seconds)
    leased = await queue.receive(count, wait)
    if not leased:
        # Undocumented for the batch call; 7000 like ReceiveMessage is what the SDKs expect.
        raise NO_MESSAGE
    return {"msgInfoList": [_message_fields(msg) for msg in leased]}


def _malformed_handle(handle: str) -> bool:
    return not handle.isdigit()  # real handles are decimal numbers


async def delete_message(params: Params, queues: QueueRegistry) -> Fields:
    queue = queues.get(_required(params, "queueName"))
    handle = _required(params, "receiptHandle")
    if _malformed_handle(handle):
        raise CmqApiError(4000, "(10470)receiptHandle error")
    if not queue.delete(handle):
        raise CmqApiError(4430, f"(10260){INVALID_HANDLE_MESSAGE}")
    return {}


async def batch_delete_message(params: Params, queues: QueueRegistry) -> Fields:
    queue = queues.get(_required(params, "queueName"))
    handles = _indexed(params, "receiptHandle")
    errors: list[Fields] = []
    for handle in handles:
        if _malformed_handle(handle):
            errors.append({"code": 4000, "message": "receiptHandle error", "receiptHandle": handle})
        elif not queue.delete(handle):
            errors.append(
                {"code": 4430, "message": INVALID_HANDLE_MESSAGE, "receiptHandle": handle}
            )
    if not errors:
        return {}
    if len(errors) == len(handles):
        raise CmqApiError(6020, "delete message failed", {"errorList": errors})
    raise CmqApiError(6010, "delete message partially failed", {"errorList": errors})


ACTIONS: dict[str, Action] = {
    "SendMessage": send_message,
    "BatchSendMessage": batch_send_message,
    "ReceiveMessage": receive_message,
    "BatchReceiveMessage": batch_receive_message,
    "DeleteMessage": delete_message,
    "BatchDeleteMessage": batch_delete_message,
}
