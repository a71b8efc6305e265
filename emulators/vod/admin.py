"""Unsigned test/demo routes under ``/_admin/``: inject events, read counters, end leases.

They stand in for VOD generating events. No signature is checked, so never expose an emulator
with them beyond a test machine. Replies are JSON; bad input gets HTTP 400 with ``{"error"}``.

* ``POST /_admin/events[?SubAppId=N]``: body = an injected document (see ``documents.py``);
  answers ``{"injected": n, "sub_app_id": N}``.
* ``GET /_admin/stats[?SubAppId=N]``: counts per SubAppId, requests per action, faults.
* ``POST /_admin/expire-leases[?SubAppId=N]``: end every lease now; ``{"expired": n}``.
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import parse_qs

import orjson

from emulators.serving import Receive, Scope, Send, read_body, respond
from emulators.vod.documents import InjectionError, events_in, parse_document

ADMIN_PREFIX = "/_admin/"
EVENTS_PATH = "/_admin/events"
STATS_PATH = "/_admin/stats"
EXPIRE_PATH = "/_admin/expire-leases"
_METHODS = {EVENTS_PATH: "POST", STATS_PATH: "GET", EXPIRE_PATH: "POST"}


class AdminTarget(Protocol):
    """The in-process operations the routes expose (the emulator app provides them)."""

    def app_id(self, sub_app_id: int | None) -> int: ...

    def inject(self, sub_app_id: int | None, events: Any) -> int: ...

    def stats(self, sub_app_id: int | None = None) -> dict[str, Any]: ...

    def expire_leases(self, sub_app_id: int | None = None) -> int: ...


async def serve_admin(target: AdminTarget, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer one ``/_admin/*`` request."""
    path = scope["path"]
    method = _METHODS.get(path)
    if method is None:
        await _json(send, 404, {"error": f"no admin route {path}"})
        return
    if scope["method"] != method:
        await _json(send, 405, {"error": f"{path} takes {method}"})
        return
    try:
        sub_app_id = _sub_app_id(scope["query_string"])
        if path == STATS_PATH:  # all SubAppIds unless one is named
            await _json(send, 200, target.stats(sub_app_id))
        elif path == EXPIRE_PATH:
            await _json(send, 200, {"expired": target.expire_leases(sub_app_id)})
        else:
            raw = await read_body(receive)
            if raw is None:
                await _json(send, 413, {"error": "request body too large"})
                return
            events = events_in(parse_document(raw))
            app_id = target.app_id(sub_app_id)
            injected = target.inject(app_id, events)
            await _json(send, 200, {"injected": injected, "sub_app_id": app_id})
    except InjectionError as exc:
        await _json(send, 400, {"error": str(exc)})


def _sub_app_id(query: bytes) -> int | None:
    values = parse_qs(query.decode("latin-1")).get("SubAppId")
    if not values:
        return None
    if not values[-1].isdigit() or int(values[-1]) < 1:
        raise InjectionError("SubAppId must be a positive integer")
    return int(values[-1])


async def _json(send: Send, status: int, document: Any) -> None:
    await respond(send, status, b"application/json", orjson.dumps(document))
