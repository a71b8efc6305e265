"""TC3-HMAC-SHA256, the API 3.0 signature, written from Tencent's "接口鉴权 v3" description.

Deliberately independent of ``tencentcloud-sdk-python``'s implementation, so that the SDK
talking to the emulator is a real cross-check of both. The emulator verifies with these
functions; tests use ``authorization`` to sign their hand-made requests.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime

ALGORITHM = "TC3-HMAC-SHA256"
TERMINATOR = "tc3_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"  # X-TC-Content-SHA256 value: the body is not signed


def utc_date(timestamp: int) -> str:
    """The ``YYYY-MM-DD`` UTC date of a Unix timestamp, as the credential scope carries it."""
    return _utc_day(timestamp // 86_400)  # Unix time has no leap seconds: 86,400 s a day


@functools.lru_cache(maxsize=8)
def _utc_day(day: int) -> str:
    # Every request asks; the answer changes once a day.
    return datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d")


def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: Sequence[tuple[str, str]],
    payload_hash: str,
) -> str:
    """``METHOD\\nPATH\\nQUERY\\nname:value\\n...\\n\\nnames\\nhash``.

    ``headers`` are the signed headers in the order the Authorization names them; names and
    values are lower-cased and trimmed, as the v3 description prescribes.
    """
    canonical_headers = "".join(
        f"{name.lower()}:{value.strip().lower()}\n" for name, value in headers
    )
    signed_names = ";".join(name.lower() for name, _ in headers)
    return f"{method}\n{path}\n{query}\n{canonical_headers}\n{signed_names}\n{payload_hash}"


def string_to_sign(timestamp: int, date: str, service: str, canonical: str) -> str:
    """``TC3-HMAC-SHA256\\n<ts>\\n<date>/<service>/tc3_request\\n<sha256(canonical)>``."""
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{ALGORITHM}\n{timestamp}\n{date}/{service}/{TERMINATOR}\n{digest}"


def signing_key(secret_key: str, date: str, service: str) -> bytes:
    """The derived key: HMAC chain ``"TC3" + SecretKey`` → date → service → ``tc3_request``."""
    key = ("TC3" + secret_key).encode()
    for part in (date, service, TERMINATOR):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature(key: bytes, text: str) -> str:
    """Hex HMAC-SHA256 of the string to sign under the derived key."""
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def payload_sha256(body: bytes) -> str:
    """Hex SHA-256 of the request body (the last line of the canonical request)."""
    return hashlib.sha256(body).hexdigest()


def authorization(
    *,
    secret_id: str,
    secret_key: str,
    host: str,
    body: bytes,
    timestamp: int,
    service: str = "vod",
    content_type: str = "application/json",
    method: str = "POST",
    query: str = "",
    date: str | None = None,
) -> str:
    """The Authorization header value for a request signed over ``content-type;host``.

    ``date`` overrides the scope date (tests use it to build a wrongly dated signature).
    """
    scope_date = date or utc_date(timestamp)
    headers = (("content-type", content_type), ("host", host))
    canonical = canonical_request(method, "/", query, headers, payload_sha256(body))
    text = string_to_sign(timestamp, scope_date, service, canonical)
    hex_signature = signature(signing_key(secret_key, scope_date, service), text)
    return (
        f"{ALGORITHM} Credential={secret_id}/{scope_date}/{service}/{TERMINATOR}, "
        f"SignedHeaders=content-type;host, Signature={hex_signature}"
    )
