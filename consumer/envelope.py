"""Unwrap the layers around vendor events and split batches (pure, no I/O).

Layers handled, outermost first, to a bounded depth:

* a JSON *string* holding JSON (a notification re-encoded as a string inside a message body);
* ``{"Response": {...}}`` (API-style wrappers: PullEvents, ParseNotification, tccli output);
* a CMQ message object or topic push body ``{"msgBody": "<json>", "msgId"...}``;
* batches: VOD v3 PullEvents ``EventSet`` (each element keeps its ``EventHandle``) and the
  legacy VOD 2.0 PullEvent ``eventList`` (``msgHandle`` + ``eventContent``).

Objects that are API responses rather than notifications (CMQ ``code``/``requestId`` replies,
Tencent API errors, MPS task queries) are named as such in a :class:`PayloadError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from consumer.errors import PayloadError, PayloadReason

MAX_UNWRAP_LAYERS = 4


@dataclass(frozen=True, slots=True)
class Element:
    """One vendor event object still in wire form, and the delivery handle it came with."""

    event: dict[str, Any]
    handle: str | None
    where: str  # a path for error messages, e.g. "Response.EventSet[3]"


def split(doc: Any) -> list[Element]:
    """All vendor event objects in a decoded body, in order."""
    elements = list(_split(doc, "body", 0))
    if not elements:
        raise PayloadError(PayloadReason.EMPTY_BATCH, "the batch holds no events")
    return elements


def _split(doc: Any, where: str, layer: int, in_response: bool = False) -> Iterator[Element]:
    if layer > MAX_UNWRAP_LAYERS:
        raise PayloadError(
            PayloadReason.TOO_DEEP, f"{where}: more than {MAX_UNWRAP_LAYERS} envelopes"
        )
    if isinstance(doc, str):
        yield from _split(_parse_embedded(doc, where), f"{where}(json string)", layer + 1)
        return
    if not isinstance(doc, dict):
        raise PayloadError(
            PayloadReason.NOT_A_NOTIFICATION,
            f"{where} is a JSON {_json_type(doc)}, expected an object",
        )
    _reject_non_notifications(doc, where)
    if isinstance(doc.get("Response"), dict):
        yield from _split(doc["Response"], f"{where}.Response", layer + 1, in_response=True)
    elif "msgBody" in doc:
        yield from _split(_cmq_message_body(doc, where), f"{where}.msgBody", layer + 1)
    elif "EventSet" in doc:
        yield from _event_set(doc["EventSet"], f"{where}.EventSet")
    elif "eventList" in doc:
        yield from _legacy_event_list(doc["eventList"], f"{where}.eventList")
    elif in_response and "RequestId" in doc:
        # A notification returned by an API (ParseNotification, tccli output): its RequestId
        # belongs to that API call, not to the event, so it stays out of raw and of the id.
        event = {key: value for key, value in doc.items() if key != "RequestId"}
        yield Element(event=event, handle=None, where=where)
    else:
        yield Element(event=doc, handle=None, where=where)


def _batch_items(items: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, element) for each object of a batch list; a null batch is an empty one."""
    if items is None:
        return
    if not isinstance(items, list):
        raise PayloadError(PayloadReason.INVALID_FIELD, f"{where} should be a list")
    for index, item in enumerate(items):
        path = f"{where}[{index}]"
        if not isinstance(item, dict):
            raise PayloadError(PayloadReason.INVALID_FIELD, f"{path} should be an object")
        yield path, item


def _handle(item: dict[str, Any], key: str, path: str) -> str | None:
    handle = item.get(key)
    if handle is not None and not isinstance(handle, str | int):
        raise PayloadError(PayloadReason.INVALID_FIELD, f"{path}.{key} should be a string")
    return None if handle is None else str(handle)


def _event_set(items: Any, where: str) -> Iterator[Element]:
    for path, item in _batch_items(items, where):
        yield Element(event=item, handle=_handle(item, "EventHandle", path), where=path)


def _legacy_event_list(items: Any, where: str) -> Iterator[Element]:
    for path, item in _batch_items(items, where):
        handle = _handle(item, "msgHandle", path)
        content = item.get("eventContent")
        if isinstance(content, str):
            content = _parse_embedded(content, f"{path}.eventContent")
        if not isinstance(content, dict):
            raise PayloadError(
                PayloadReason.INVALID_FIELD, f"{path}.eventContent should be an object"
            )
        yield Element(event=content, handle=handle, where=f"{path}.eventContent")


def _cmq_message_body(doc: dict[str, Any], where: str) -> Any:
    body = doc["msgBody"]
    if not isinstance(body, str):
        return body
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise PayloadError(
            PayloadReason.NOT_JSON,
            f"{where}.msgBody is not JSON (a CMQ message whose body is plain text: {body[:60]!r})",
        ) from None


def _parse_embedded(text: str, where: str) -> Any:
    stripped = text.strip()
    if not stripped.startswith(("{", "[", '"')):
        raise PayloadError(
            PayloadReason.NOT_A_NOTIFICATION,
            f"{where} is a plain JSON string, not a notification: {text[:60]!r}",
        )
    try:
        return orjson.loads(stripped)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(
            PayloadReason.NOT_JSON, f"{where} holds a string that is not valid JSON: {exc}"
        ) from None


def _reject_non_notifications(doc: dict[str, Any], where: str) -> None:
    error = doc.get("Error")
    if isinstance(error, dict) and "RequestId" in doc:
        raise PayloadError(
            PayloadReason.NOT_A_NOTIFICATION,
            f"{where} is a Tencent Cloud API error response "
            f"(Code={error.get('Code')!r}), not a notification",
        )
    if (
        "code" in doc
        and ("requestId" in doc or "message" in doc)
        and "msgBody" not in doc
        and "eventList" not in doc  # the legacy VOD PullEvent reply also has code/message
    ):
        keys = ", ".join(sorted(doc)[:8])
        raise PayloadError(
            PayloadReason.NOT_A_NOTIFICATION,
            f"{where} is a CMQ API response (code={doc.get('code')!r}, keys: {keys}), "
            "not a notification",
        )
    if "TaskType" in doc and "EventType" not in doc and "NotificationType" not in doc:
        raise PayloadError(
            PayloadReason.NOT_A_NOTIFICATION,
            f"{where} is an MPS task query result (TaskType={doc.get('TaskType')!r}, "
            "as DescribeTaskDetail returns), not a notification",
        )
    if not doc:
        raise PayloadError(PayloadReason.NOT_A_NOTIFICATION, f"{where} is an empty JSON object")
    if set(doc) == {"RequestId"}:
        raise PayloadError(
            PayloadReason.NOT_A_NOTIFICATION,
            f"{where} is a bare API acknowledgement (only RequestId), not a notification",
        )


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__
