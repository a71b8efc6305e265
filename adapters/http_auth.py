"""Why a request is not accepted as Tencent's, and the checks made before its body is read.

The address and shared-secret checks need only the request head, so a refused request costs
no body buffering. Signatures (in the body) are checked in ``adapters.http_signatures``.

Shared secret: ``Authorization: Bearer <token>``, or ``?token=<token>`` for senders that can't
set headers (a CMQ topic subscription's endpoint URL, the VOD v2 callback URL). Compared in
constant time against every configured token.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from enum import StrEnum
from ipaddress import ip_address
from urllib.parse import parse_qs

from adapters.http_options import Network

TOKEN_PARAMETER = "token"
_BEARER = b"bearer "


class AuthFailure(StrEnum):
    """The reason label of ``media_bridge_http_auth_failures_total`` and of the log line."""

    SIGNATURE_MISSING = "signature_missing"
    SIGNATURE_MALFORMED = "signature_malformed"  # Sign not 32 hex digits, expiry not a number
    SIGNATURE_MISMATCH = "signature_mismatch"
    SIGNATURE_EXPIRED = "signature_expired"  # genuine, but its T/Timestamp (+ skew) has passed
    TOKEN_MISSING = "token_missing"
    TOKEN_MISMATCH = "token_mismatch"
    ADDRESS_REFUSED = "address_refused"

    @property
    def status(self) -> int:
        """401: the credentials are missing or wrong; 403: the sender may not use this path."""
        return 403 if self is AuthFailure.ADDRESS_REFUSED else 401


def check_address(client_host: str | None, allow_from: Sequence[Network]) -> AuthFailure | None:
    """None when ``allow_from`` is empty or holds the client's address."""
    if not allow_from:
        return None
    if client_host is None:
        return AuthFailure.ADDRESS_REFUSED
    try:
        address = ip_address(client_host)
    except ValueError:
        return AuthFailure.ADDRESS_REFUSED
    if address.version == 6 and address.ipv4_mapped is not None:  # ::ffff:a.b.c.d on dual stack
        address = address.ipv4_mapped
    if any(address in network for network in allow_from):
        return None
    return AuthFailure.ADDRESS_REFUSED


def check_token(
    authorization: bytes | None, query_string: bytes, tokens: Sequence[bytes]
) -> AuthFailure | None:
    """None when ``tokens`` is empty or the request presents one of them."""
    if not tokens:
        return None
    given = _presented_token(authorization, query_string)
    if given is None:
        return AuthFailure.TOKEN_MISSING
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(token, given)  # no early exit: which one says nothing
    return None if matched else AuthFailure.TOKEN_MISMATCH


def _presented_token(authorization: bytes | None, query_string: bytes) -> bytes | None:
    if authorization is not None and authorization[: len(_BEARER)].lower() == _BEARER:
        return authorization[len(_BEARER) :].strip()
    if TOKEN_PARAMETER.encode() not in query_string:
        return None
    values = parse_qs(query_string.decode("latin-1"), keep_blank_values=True).get(TOKEN_PARAMETER)
    return values[0].encode() if values else None  # percent-decoded as UTF-8, errors replaced
