"""Seeded hostile requests for the receiver: random bytes, truncated JSON, wrong types, oversized
and deeply nested bodies, forged signatures, odd content types, paths and methods.

Each request is built from one ``random.Random`` draw sequence, so a failing seed and index
reproduce it exactly. Most are authentic (the token is presented) so they reach the relay and
must be parked; the others must be refused without reaching it.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from tests.http.support import TOKEN, VOD_KEY, samples, vod_sign, vod_signed
from tests.relay_support import NEW_FILE_UPLOAD

MAX_BODY_BYTES = 16_384  # the fuzzed bridge's limit: oversized bodies stay cheap to send
_TEMPLATES = [body for _, body in samples("vod__", containing="push")] + [
    body for _, body in samples("mps__")
]
_ODD_VALUES: list[Any] = [
    None, True, 0, -1, 2**63, 2**70, 1e308, "", "x" * 300, "\u0000\ud7ff", [], {}, [[[]]], {"a": None},
]  # fmt: skip


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    kind: str = ""


def _authentic(body: bytes, kind: str, content_type: str = "application/json") -> Request:
    headers = {"content-type": content_type, "authorization": f"Bearer {TOKEN}"}
    return Request("POST", "/cmq", body, headers, kind)


def random_bytes(rng: random.Random) -> Request:
    return _authentic(rng.randbytes(rng.randrange(0, 600)), "random_bytes", "text/plain")


def truncated_json(rng: random.Random) -> Request:
    body = rng.choice(_TEMPLATES)
    return _authentic(body[: rng.randrange(0, len(body))], "truncated_json")


def wrong_types(rng: random.Random) -> Request:
    doc = orjson.loads(rng.choice(_TEMPLATES))
    for _ in range(rng.randrange(1, 6)):
        _replace_random_leaf(rng, doc)
    return _authentic(json.dumps(doc).encode(), "wrong_types")  # json: 2**70 is beyond orjson


def oversized(rng: random.Random) -> Request:
    return _authentic(b"{" + b" " * (MAX_BODY_BYTES + rng.randrange(0, 5000)) + b"}", "oversized")


def deep_nesting(rng: random.Random) -> Request:
    depth = rng.randrange(40, 4000)
    if rng.random() < 0.5:
        body = b"[" * depth + b"]" * depth
    else:
        body = b'{"EventType":' * depth + b"1" + b"}" * depth
    return _authentic(body[:MAX_BODY_BYTES], "deep_nesting")


def forged_signature(rng: random.Random) -> Request:
    doc: dict[str, Any] = orjson.loads(NEW_FILE_UPLOAD)
    choice = rng.randrange(4)
    if choice == 0:
        doc["Sign"] = rng.choice([*_ODD_VALUES, "0" * 32, "g" * 32])
        doc["T"] = rng.choice([*_ODD_VALUES, 2**31])
    elif choice == 1:
        t = rng.randrange(0, 2**40)
        doc["T"], doc["Sign"] = t, vod_sign(VOD_KEY + "x", t)
    elif choice == 2:  # genuine but long expired
        return Request(
            "POST", "/vod", vod_signed(NEW_FILE_UPLOAD, expires_in=-86_400), kind="stale"
        )
    body = json.dumps(doc).encode() if choice != 3 else rng.randbytes(80)
    return Request("POST", "/vod", body, {"content-type": "application/json"}, "forged_signature")


def odd_request(rng: random.Random) -> Request:
    """A wrong content type, path or method, or a wrong token."""
    choice = rng.randrange(4)
    body = rng.randbytes(rng.randrange(0, 200))
    if choice == 0:
        kind = rng.choice(["image/png", "application/xml", "multipart/form-data", "x/" + "y" * 50])
        return Request(
            "POST",
            "/cmq",
            body,
            {"content-type": kind, "authorization": f"Bearer {TOKEN}"},
            "content_type",
        )
    if choice == 1:
        return Request(
            "POST", rng.choice(["/", "/vodx", "/cmq/", "/%00", "/" + "a" * 900]), body, {}, "path"
        )
    if choice == 2:
        return Request(rng.choice(["GET", "PUT", "DELETE", "PATCH"]), "/cmq", body, {}, "method")
    return Request(
        "POST", "/cmq", body, {"authorization": f"Bearer {rng.randbytes(8).hex()}"}, "token"
    )


GENERATORS: list[tuple[Callable[[random.Random], Request], int]] = [
    (random_bytes, 25),
    (truncated_json, 20),
    (wrong_types, 20),
    (deep_nesting, 10),
    (oversized, 3),
    (forged_signature, 12),
    (odd_request, 10),
]


def fuzzed_requests(seed: int, count: int) -> list[Request]:
    rng = random.Random(seed)
    makers = [maker for maker, weight in GENERATORS for _ in range(weight)]
    return [rng.choice(makers)(rng) for _ in range(count)]


def _replace_random_leaf(rng: random.Random, doc: Any) -> None:
    node = doc
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            return
        key = rng.choice(keys)
        child = node[key]
        if isinstance(child, dict | list) and child and rng.random() < 0.7:
            node = child
            continue
        node[key] = copy.deepcopy(rng.choice(_ODD_VALUES))  # never one object in two places
        return
