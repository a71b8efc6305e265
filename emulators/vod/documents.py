"""Turning what is injected (admin route, ``--load`` files, tests) into stored event bodies.

An injected document is one of:

* a JSON object: one event (a push-callback body such as ``vod__*__push-body-v3.json``);
* a JSON array of objects: one event each;
* a PullEvents response, ``{"Response": {"EventSet": [...]}}``, or just ``{"EventSet": [...]}``
  (the value a list or null): each element is one event.

Any ``EventHandle`` an event carries is stripped (a pull adds a fresh one). Nothing else about
an event is checked: ``{}`` or ``{"EventType": "NoSuchType"}`` are stored as they are, because
the bridge must cope with such events. Key order and values are kept exactly, including
integers beyond 64 bits (which orjson would turn into floats), so parsing uses the stdlib.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson


class InjectionError(ValueError):
    """The document is not JSON, or an item to inject is not a JSON object."""


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InjectionError(f"number {text} is out of range")
    return value


def _no_constants(name: str) -> Any:
    raise InjectionError(f"{name} is not valid JSON")


def parse_document(raw: bytes) -> Any:
    """Parse an injected document exactly (big integers stay integers)."""
    try:
        return json.loads(raw, parse_float=_finite, parse_constant=_no_constants)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InjectionError(f"not valid JSON: {exc}") from None


def _event_set(document: Any) -> list[Any] | None:
    """The EventSet of a PullEvents-style document, or None if ``document`` is not one."""
    if not isinstance(document, dict):
        return None
    response = document.get("Response")
    holder = response if isinstance(response, dict) and "EventSet" in response else document
    if "EventSet" not in holder:
        return None
    events = holder["EventSet"]
    if events is None:
        return []
    if not isinstance(events, list):
        raise InjectionError("EventSet must be a JSON array or null")
    return events


def events_in(document: Any) -> list[Mapping[str, Any]]:
    """The events an injected document contributes, in order (see the module docstring)."""
    event_set = _event_set(document)
    if event_set is not None:
        items = event_set
    elif isinstance(document, list):
        items = document
    else:
        items = [document]
    for position, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InjectionError(f"item {position} is a JSON {type(item).__name__}, not an object")
    return items


def event_body(event: Mapping[str, Any]) -> bytes:
    """The stored form of one event: its JSON object bytes, without EventHandle."""
    fields = {k: v for k, v in event.items() if k != "EventHandle"}
    try:
        return orjson.dumps(fields)
    except TypeError:
        pass  # an integer beyond 64 bits, or a value that is not JSON at all
    try:
        return json.dumps(
            fields, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode()
    except (TypeError, ValueError) as exc:
        raise InjectionError(f"event is not JSON-serialisable: {exc}") from None


def event_bodies(events: Iterable[Mapping[str, Any]]) -> list[bytes]:
    """The stored form of each event; InjectionError if any is not a JSON object."""
    bodies = []
    for position, event in enumerate(events):
        if not isinstance(event, Mapping):
            raise InjectionError(f"item {position} is not a JSON object")
        bodies.append(event_body(event))
    return bodies


def load_events_file(path: Path) -> list[Mapping[str, Any]]:
    """The events a sample file contributes; OSError if unreadable, InjectionError if not JSON."""
    return events_in(parse_document(path.read_bytes()))
