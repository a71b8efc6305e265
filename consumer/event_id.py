"""Deterministic CloudEvents ids.

``id = uuid5(MEDIA_EVENT_NAMESPACE, "<vendor>:<event_type>:" + canonical JSON of the event)``

where the canonical JSON is the vendor event object with null fields removed, delivery handles
(``EventHandle``, ``msgHandle``) and per-delivery signature fields (``Timestamp``, ``Sign``, ``T``)
left out, keys sorted, no whitespace. So the same vendor event has the same id whether it came
through CMQ, PullEvents, an HTTP callback or a RabbitMQ stand-in queue, and on every redelivery;
downstream consumers deduplicate on ``source`` + ``id`` as the CloudEvents spec suggests.

Two *different* states of one task (PROCESSING, then FINISH) are different events with
different ids. A v2 (legacy) and a v3 callback of one task are different wire objects and also
get different ids.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import orjson

from consumer.canonical import UNSTABLE_KEYS, without_keys

MEDIA_EVENT_NAMESPACE = uuid.UUID("6f1c63c2-1f7e-5d5e-9a57-2b8f3f0c1e4d")
_NAMESPACE_BYTES = MEDIA_EVENT_NAMESPACE.bytes


def event_id(vendor: str, event_type: str, canonical_raw: dict[str, Any]) -> str:
    """The deterministic id of one canonical vendor event object (see module docstring)."""
    stable = without_keys(canonical_raw, UNSTABLE_KEYS)
    digest_input = orjson.dumps(stable, option=orjson.OPT_SORT_KEYS)
    # Exactly uuid.uuid5(MEDIA_EVENT_NAMESPACE, f"{vendor}:{event_type}:{json}") (RFC 4122 §4.3),
    # computed on the bytes: uuid5() would decode, re-encode and build a UUID object, which cost
    # more than the rest of the id.
    digest = bytearray(
        hashlib.sha1(
            _NAMESPACE_BYTES + f"{vendor}:{event_type}:".encode() + digest_input,
            usedforsecurity=False,
        ).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    hexa = digest.hex()
    return f"{hexa[:8]}-{hexa[8:12]}-{hexa[12:16]}-{hexa[16:20]}-{hexa[20:]}"
