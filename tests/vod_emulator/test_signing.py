"""The emulator's own TC3-HMAC-SHA256 implementation, against Tencent's documented example."""

from __future__ import annotations

import hashlib

import pytest

from emulators.vod import errors
from emulators.vod.auth import parse_authorization
from emulators.vod.signing import (
    authorization,
    canonical_request,
    signature,
    signing_key,
    string_to_sign,
    utc_date,
)

# "接口鉴权 v3": GET DescribeInstances on cvm, re-computed in the shared reference (§2.3).
DOC_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
DOC_SIGNATURE = "5da7a33f6993f0614b047e5df4582db9e9bf4672ba50567dba16c6ccf174c474"


def test_documented_example_signature() -> None:
    """The canonical request, string to sign and key chain reproduce the doc's signature."""
    headers = (
        ("content-type", "application/x-www-form-urlencoded"),
        ("host", "cvm.tencentcloudapi.com"),
    )
    empty_hash = hashlib.sha256(b"").hexdigest()
    canonical = canonical_request("GET", "/", "Limit=10&Offset=0", headers, empty_hash)
    assert canonical.splitlines()[:5] == [
        "GET",
        "/",
        "Limit=10&Offset=0",
        "content-type:application/x-www-form-urlencoded",
        "host:cvm.tencentcloudapi.com",
    ]
    date = utc_date(1539084154)
    assert date == "2018-10-09"
    text = string_to_sign(1539084154, date, "cvm", canonical)
    assert signature(signing_key(DOC_KEY, date, "cvm"), text) == DOC_SIGNATURE


def test_authorization_header_round_trips_through_the_parser() -> None:
    """The header tests sign with has the layout the SDK sends, and parses back."""
    header = authorization(
        secret_id="AKIDx", secret_key="k", host="h:1", body=b"{}", timestamp=1539084154
    )
    assert header.startswith("TC3-HMAC-SHA256 Credential=AKIDx/2018-10-09/vod/tc3_request, ")
    parsed = parse_authorization(header)
    assert (parsed.secret_id, parsed.date, parsed.service) == ("AKIDx", "2018-10-09", "vod")
    assert parsed.signed_headers == ("content-type", "host")
    assert len(parsed.signature) == 64


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Basic dXNlcjpwYXNz",
        "TC3-HMAC-SHA256 Credential=AKIDx/2018-10-09/vod/tc3_request, SignedHeaders=content-type;host",
        "TC3-HMAC-SHA256 Credential=AKIDx/2018-10-09/vod, SignedHeaders=content-type;host, Signature=a",
        "TC3-HMAC-SHA256 Credential=AKIDx/2018-10-09/vod/tc3_request, SignedHeaders=host, Signature=a",
        "TC3-HMAC-SHA256 Credential=AKIDx/2018-10-09/vod/tc3_request SignedHeaders=host Signature=a",
    ],
)
def test_malformed_authorization_is_invalid_authorization(header: str | None) -> None:
    """Missing, non-TC3, incomplete or ill-scoped headers are refused before any HMAC."""
    with pytest.raises(errors.VodApiError) as caught:
        parse_authorization(header)
    assert caught.value.code == "AuthFailure.InvalidAuthorization"
