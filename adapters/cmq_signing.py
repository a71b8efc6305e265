"""CMQ API 2.0 request signing (shared by the CMQ source and the CMQ emulator).

The string to sign is ``METHOD + host[:port] + path + "?" + sorted name=value pairs`` with raw
(not URL-encoded) values and ``_`` replaced by ``.`` in parameter *names*; the signature is the
Base64 HMAC of it with the SecretKey. The HMAC itself comes from tencentcloud-sdk-python's
``Sign.sign`` so the project has one HMAC implementation, the one Tencent maintains.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from enum import StrEnum

from tencentcloud.common.sign import Sign

CMQ_PATH = "/v2/index.php"


class SignatureMethod(StrEnum):
    """The two values CMQ accepts in ``SignatureMethod``; anything else means HmacSHA1."""

    HMAC_SHA1 = "HmacSHA1"
    HMAC_SHA256 = "HmacSHA256"

    @classmethod
    def from_param(cls, value: str | None) -> SignatureMethod:
        """The method the server applies: HmacSHA256 only when asked for exactly, else HmacSHA1."""
        return cls.HMAC_SHA256 if value == cls.HMAC_SHA256.value else cls.HMAC_SHA1


def string_to_sign(
    method: str,
    host: str,
    params: Mapping[str, str],
    *,
    path: str = CMQ_PATH,
    skip_at_values: bool = False,
) -> str:
    """The CMQ API 2.0 string to sign; ``Signature`` itself is never part of it.

    ``skip_at_values`` reproduces Tencent's own SDKs, which leave POST values starting with
    ``@`` out of the signature (an old PHP file-upload convention).
    """
    pairs = sorted(
        (name.replace("_", "."), value)
        for name, value in params.items()
        if name != "Signature" and not (skip_at_values and value.startswith("@"))
    )
    joined = "&".join(f"{name}={value}" for name, value in pairs)
    return f"{method.upper()}{host}{path}?{joined}"


def compute_signature(secret_key: str, text: str, method: SignatureMethod) -> str:
    """Base64 HMAC of ``text`` keyed by the SecretKey."""
    signature: str = Sign.sign(secret_key, text, method.value)
    return signature


def signed_params(
    params: Mapping[str, str],
    *,
    host: str,
    secret_id: str,
    secret_key: str,
    signature_method: SignatureMethod = SignatureMethod.HMAC_SHA256,
    token: str | None = None,
    http_method: str = "POST",
) -> dict[str, str]:
    """``params`` plus the common parameters and the ``Signature`` over all of them.

    ``host`` is the endpoint's ``host[:port]`` exactly as it appears in the URL. ``Token``
    (temporary credentials) is an ordinary parameter, so it is signed like the others.
    """
    signed = dict(params)
    signed.update(
        SecretId=secret_id,
        # Nonce: a random positive integer, like the official SDK's randint(1, sys.maxsize).
        Nonce=str(secrets.randbelow(2**63 - 1) + 1),
        Timestamp=str(int(time.time())),
        SignatureMethod=signature_method.value,
    )
    if token is not None:
        signed["Token"] = token
    # Skip "@" values exactly as Tencent's SDKs do, so a body starting with "@" signs the same way.
    text = string_to_sign(http_method, host, signed, skip_at_values=http_method.upper() == "POST")
    signed["Signature"] = compute_signature(secret_key, text, signature_method)
    return signed
