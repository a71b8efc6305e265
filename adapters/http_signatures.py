"""Tencent's callback signatures: where ``Sign`` and its expiry are found, and checking them.

* VOD v3 normal callback (``ModifyEventConfig.SignKey``): ``Sign = MD5(SignKey + T)``, ``T``
  the expiry in Unix seconds (decimal text), key first.
* MPS URL notification (``TaskNotifyConfig.NotifyKey``): ``Sign = MD5(Timestamp + NotifyKey)``,
  ``Timestamp`` the expiry, key last.

Where they are: Tencent documents MPS's as fields of the notification body; for VOD v3 the
place is not documented. So both are looked for at the top level of the JSON body (inside
``Response`` when the body is an API-style ``{"Response": {...}}`` wrapper), and, when the body
has neither field, in the query string (``?Sign=...&T=...``). The expiry text is hashed exactly
as it was sent (a JSON number as its decimal digits).

The hex digest is compared case-insensitively and in constant time, against every configured
key (all of them, so the time taken says nothing about which one matched). An authentic
signature whose expiry plus the allowed clock skew has passed is *expired*; the signature is
checked first, so ``expired`` means "genuine but stale" (a replay, or a clock off), never a
forgery. Nothing here logs: callers log the reason, never a key, a digest or the given Sign.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from adapters.http_auth import AuthFailure
from adapters.http_options import Scheme

SIGN_FIELD = "Sign"
EXPIRY_FIELD = {Scheme.VOD: "T", Scheme.MPS: "Timestamp"}
_HEX_DIGEST = re.compile(r"[0-9A-Fa-f]{32}")
_DECIMAL = re.compile(r"[0-9]{1,19}")  # an int64 of seconds, as Tencent's SDKs type it


@dataclass(frozen=True, slots=True)
class SignedFields:
    """``Sign`` and the expiry field as found, not yet checked (any JSON type)."""

    sign: object
    expiry: object


def find_signature(scheme: Scheme, doc: Any, query_string: bytes) -> SignedFields | None:
    """The signature fields of a request: from the decoded body ``doc`` (None if the body is
    not JSON), else from the query string; None when neither carries one."""
    expiry_field = EXPIRY_FIELD[scheme]
    carrier = doc
    if isinstance(doc, dict) and len(doc) == 1 and isinstance(doc.get("Response"), dict):
        carrier = doc["Response"]
    if isinstance(carrier, dict) and (SIGN_FIELD in carrier or expiry_field in carrier):
        return SignedFields(carrier.get(SIGN_FIELD), carrier.get(expiry_field))
    if not query_string:
        return None
    query = parse_qs(query_string.decode("latin-1"), keep_blank_values=True)
    if SIGN_FIELD in query or expiry_field in query:
        return SignedFields(_first(query, SIGN_FIELD), _first(query, expiry_field))
    return None


def check_signature(
    scheme: Scheme,
    found: SignedFields | None,
    keys: Sequence[bytes],
    *,
    now: float,
    max_clock_skew: float,
) -> AuthFailure | None:
    """None when ``found`` is a genuine, unexpired signature under one of ``keys``."""
    if found is None:
        return AuthFailure.SIGNATURE_MISSING
    expiry = _expiry_text(found.expiry)
    sign = found.sign if isinstance(found.sign, str) else None
    if expiry is None or sign is None or not _HEX_DIGEST.fullmatch(sign):
        return AuthFailure.SIGNATURE_MALFORMED
    given = sign.lower().encode()
    matched = False
    for key in keys:
        expected = signature(scheme, key, expiry).encode()
        matched |= hmac.compare_digest(expected, given)  # no early exit: see module docstring
    if not matched:
        return AuthFailure.SIGNATURE_MISMATCH
    if now > int(expiry) + max_clock_skew:
        return AuthFailure.SIGNATURE_EXPIRED
    return None


def signature(scheme: Scheme, key: bytes, expiry: str) -> str:
    """The lower-case hex ``Sign`` Tencent computes for ``expiry`` (decimal text) under ``key``."""
    text = expiry.encode()
    material = key + text if scheme is Scheme.VOD else text + key
    return hashlib.md5(material).hexdigest()


def _expiry_text(value: object) -> str | None:
    """The expiry as the decimal text that was signed; None for anything else."""
    if isinstance(value, bool):  # a JSON true is an int to Python, not a time
        return None
    if isinstance(value, int):
        return str(value) if 0 <= value < 2**63 else None
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return value
    return None


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None
