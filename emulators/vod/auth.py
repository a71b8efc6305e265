"""Checking an API 3.0 request's TC3-HMAC-SHA256 Authorization, as the VOD endpoint would.

The checks run in this order, and the first failure answers the request:

1. Authorization missing, not ``TC3-HMAC-SHA256`` or malformed, or a header it signs is
   absent → ``AuthFailure.InvalidAuthorization``
2. X-TC-Timestamp missing → ``MissingParameter``; not an integer → ``InvalidParameterValue``
3. ``|now - X-TC-Timestamp|`` over the allowed skew → ``AuthFailure.SignatureExpire``
4. unknown SecretId → ``AuthFailure.SecretIdNotFound``
5. the credential has a token and X-TC-Token differs or is missing → ``AuthFailure.TokenFailure``
6. scope date not the timestamp's UTC date, service not ``vod``, or the signature differs →
   ``AuthFailure.SignatureFailure``
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass

from emulators.vod import errors
from emulators.vod.config import Credential
from emulators.vod.signing import (
    ALGORITHM,
    TERMINATOR,
    UNSIGNED_PAYLOAD,
    canonical_request,
    payload_sha256,
    signature,
    signing_key,
    string_to_sign,
    utc_date,
)

SERVICE = "vod"
REQUIRED_SIGNED_HEADERS = frozenset({"content-type", "host"})  # Tencent requires both


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """The parts of an HTTP request a TC3 signature covers. Header names are lower case."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class AuthorizationHeader:
    """``TC3-HMAC-SHA256 Credential=<id>/<date>/<service>/tc3_request, SignedHeaders=..., ...``."""

    secret_id: str
    date: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str | None) -> AuthorizationHeader:
    """Split the header into its fields; InvalidAuthorization if it is absent or malformed."""
    if not value:
        raise errors.invalid_authorization("the Authorization header is missing")
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise errors.invalid_authorization(f"only {ALGORITHM} is supported")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, field_value = part.strip().partition("=")
        if not sep:
            raise errors.invalid_authorization(f"malformed field {part.strip()!r}")
        fields[name] = field_value
    missing = [f for f in ("Credential", "SignedHeaders", "Signature") if not fields.get(f)]
    if missing:
        raise errors.invalid_authorization(f"missing {', '.join(missing)}")
    scope = fields["Credential"].split("/")
    if len(scope) != 4 or not scope[0] or scope[3] != TERMINATOR:
        raise errors.invalid_authorization(
            "Credential must be <SecretId>/<date>/<service>/tc3_request"
        )
    signed = tuple(fields["SignedHeaders"].lower().split(";"))
    if not set(signed) >= REQUIRED_SIGNED_HEADERS:
        raise errors.invalid_authorization("SignedHeaders must include content-type and host")
    return AuthorizationHeader(scope[0], scope[1], scope[2], signed, fields["Signature"])


def _timestamp(headers: Mapping[str, str]) -> int:
    raw = headers.get("x-tc-timestamp")
    if not raw:
        raise errors.missing_parameter("X-TC-Timestamp")
    if not raw.isdigit():
        raise errors.invalid_parameter_value("X-TC-Timestamp must be a Unix time in seconds")
    return int(raw)


class Tc3Verifier:
    """Checks requests against the configured credentials; see the module docstring."""

    def __init__(self, credentials: tuple[Credential, ...], max_clock_skew_s: float | None) -> None:
        self._by_id = {c.secret_id: c for c in credentials}
        self._max_skew = max_clock_skew_s
        self._keys: dict[tuple[str, str], bytes] = {}  # (SecretId, date) -> derived key

    def verify(self, request: SignedRequest) -> Credential:
        """The credential that signed ``request``; raises VodApiError otherwise."""
        auth = parse_authorization(request.headers.get("authorization"))
        absent = [name for name in auth.signed_headers if name not in request.headers]
        if absent:
            raise errors.invalid_authorization(f"signed header {absent[0]} is not in the request")
        timestamp = _timestamp(request.headers)
        if self._max_skew is not None and abs(time.time() - timestamp) > self._max_skew:
            raise errors.signature_expire()
        credential = self._by_id.get(auth.secret_id)
        if credential is None:
            raise errors.secret_id_not_found()
        if credential.token is not None and request.headers.get("x-tc-token") != credential.token:
            raise errors.token_failure()
        if auth.date != utc_date(timestamp):
            raise errors.signature_failure("the credential date is not the timestamp's UTC date")
        if auth.service != SERVICE:
            raise errors.signature_failure(f"the credential service must be {SERVICE}")
        expected = self._expected_signature(credential, auth, timestamp, request)
        if not hmac.compare_digest(expected.encode(), auth.signature.encode()):
            raise errors.signature_failure("signature mismatch")
        return credential

    def _expected_signature(
        self,
        credential: Credential,
        auth: AuthorizationHeader,
        timestamp: int,
        request: SignedRequest,
    ) -> str:
        headers = request.headers
        signed = [(name, headers[name]) for name in auth.signed_headers]  # all present: verify()
        if headers.get("x-tc-content-sha256") == UNSIGNED_PAYLOAD:
            payload_hash = payload_sha256(UNSIGNED_PAYLOAD.encode())
        else:
            payload_hash = payload_sha256(request.body)
        canonical = canonical_request(
            request.method, request.path, request.query, signed, payload_hash
        )
        text = string_to_sign(timestamp, auth.date, SERVICE, canonical)
        return signature(self._key(credential, auth.date), text)

    def _key(self, credential: Credential, date: str) -> bytes:
        # Three HMACs per request are cheap, but the derived key only changes once a day.
        cache_key = (credential.secret_id, date)
        key = self._keys.get(cache_key)
        if key is None:
            if len(self._keys) > 64:
                self._keys.clear()
            key = self._keys[cache_key] = signing_key(credential.secret_key, date, SERVICE)
        return key
