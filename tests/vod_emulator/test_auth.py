"""Every authentication and request-level error code, over real HTTP."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from emulators.vod import Credential
from emulators.vod.signing import (
    authorization,
    canonical_request,
    payload_sha256,
    signature,
    signing_key,
    string_to_sign,
    utc_date,
)
from tests.vod_emulator.helpers import SECRET_ID, SECRET_KEY, emulator, event, raw_client

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def _bad_signature(**signing: Any) -> str:
    """A well-formed header whose signature is not the request's."""
    header = authorization(**signing)
    return header[: header.index("Signature=")] + "Signature=" + "0" * 64


@dataclass(frozen=True)
class SecondsFromNow:
    offset: int

    def timestamp(self) -> int:
        return int(time.time()) + self.offset


@pytest.mark.parametrize(
    ("knobs", "code"),
    [
        (
            {"sign": lambda **_: "TC3-HMAC-SHA256 Credential=oops"},
            "AuthFailure.InvalidAuthorization",
        ),
        ({"sign": lambda **_: "HMAC-SHA256 Credential=x"}, "AuthFailure.InvalidAuthorization"),
        ({"secret_id": "AKIDNOSUCHKEY000000000000000000000000"}, "AuthFailure.SecretIdNotFound"),
        ({"secret_key": "not-the-key"}, "AuthFailure.SignatureFailure"),
        ({"sign": _bad_signature}, "AuthFailure.SignatureFailure"),
        ({"service": "cvm"}, "AuthFailure.SignatureFailure"),
        ({"date": "2001-01-01"}, "AuthFailure.SignatureFailure"),
        ({"host": "vod.tencentcloudapi.com"}, "AuthFailure.SignatureFailure"),
        ({"timestamp": SecondsFromNow(-400)}, "AuthFailure.SignatureExpire"),
        ({"timestamp": SecondsFromNow(400)}, "AuthFailure.SignatureExpire"),
        ({"version": "2017-01-01"}, "NoSuchVersion"),
        ({"version": None}, "MissingParameter"),
    ],
)
async def test_request_errors(knobs: dict[str, Any], code: str) -> None:
    """Each way of getting the request wrong gets its code; nothing is pulled."""
    # A skewed timestamp is taken when the request is made: parameters are built at
    # collection, minutes before a test late in a long run.
    knobs = {k: v.timestamp() if isinstance(v, SecondsFromNow) else v for k, v in knobs.items()}
    async with emulator() as running, raw_client(running) as vod:
        running.inject(None, event(1))
        reply = await vod.call("PullEvents", {}, **knobs)
        pullable = running.counts().pullable
    assert reply.error_code == code
    assert pullable == 1


async def test_error_reply_shape_and_content_type() -> None:
    """HTTP 200, Content-Type exactly application/json, Error{Code,Message} plus a uuid."""
    async with emulator() as running, raw_client(running, secret_key="wrong") as vod:
        response = await vod.send("PullEvents", {})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = orjson.loads(response.content)
    assert list(document) == ["Response"]
    assert list(document["Response"]) == ["Error", "RequestId"]
    assert list(document["Response"]["Error"]) == ["Code", "Message"]
    assert document["Response"]["Error"]["Code"] == "AuthFailure.SignatureFailure"
    assert UUID.fullmatch(document["Response"]["RequestId"])


async def test_missing_authorization_and_timestamp() -> None:
    """No Authorization → InvalidAuthorization; no X-TC-Timestamp → MissingParameter."""
    async with emulator() as running, raw_client(running) as vod:
        headers = vod.headers("PullEvents", b"{}")
        del headers["Authorization"]
        no_auth = await vod.http.post(running.url, content=b"{}", headers=headers)
        headers = vod.headers("PullEvents", b"{}")
        del headers["X-TC-Timestamp"]
        no_ts = await vod.http.post(running.url, content=b"{}", headers=headers)
    assert orjson.loads(no_auth.content)["Response"]["Error"]["Code"] == (
        "AuthFailure.InvalidAuthorization"
    )
    assert orjson.loads(no_ts.content)["Response"]["Error"]["Code"] == "MissingParameter"


async def test_body_changed_after_signing_fails_the_signature() -> None:
    """The payload hash is part of the signature."""
    async with emulator() as running, raw_client(running) as vod:
        headers = vod.headers("PullEvents", b"{}")
        response = await vod.http.post(running.url, content=b'{"SubAppId": 7}', headers=headers)
    assert orjson.loads(response.content)["Response"]["Error"]["Code"] == (
        "AuthFailure.SignatureFailure"
    )


async def test_clock_skew_window_is_configurable() -> None:
    """A 20 s old timestamp passes the default 300 s window but not a 10 s one."""
    old = int(time.time()) - 20
    async with emulator() as running, raw_client(running) as vod:
        assert (await vod.call("PullEvents", {}, timestamp=old)).error_code is None
    async with emulator(max_clock_skew_s=10.0) as running, raw_client(running) as vod:
        late = await vod.call("PullEvents", {}, timestamp=old)
    assert late.error_code == "AuthFailure.SignatureExpire"


async def test_temporary_credentials_need_their_token() -> None:
    """With a token configured, the right X-TC-Token passes; a wrong or missing one does not."""
    creds = (Credential(SECRET_ID, SECRET_KEY, token="tmp-token-1"),)
    async with emulator(credentials=creds) as running:
        codes = []
        for token in ("tmp-token-1", "tmp-token-2", None):
            async with raw_client(running, token=token) as vod:
                codes.append((await vod.call("PullEvents", {})).error_code)
    assert codes == [None, "AuthFailure.TokenFailure", "AuthFailure.TokenFailure"]


async def test_action_errors() -> None:
    """An unknown action is InvalidAction; a missing one MissingParameter (after auth)."""
    async with emulator() as running, raw_client(running) as vod:
        unknown = await vod.call("DescribeMediaInfos", {})
        missing = await vod.call("", {})
    assert unknown.error_code == "InvalidAction"
    assert "DescribeMediaInfos" in unknown.response["Error"]["Message"]
    assert missing.error_code == "MissingParameter"


async def test_only_signed_json_posts_are_served() -> None:
    """GET and form-encoded bodies are UnsupportedOperation; a charset parameter is fine."""
    async with emulator() as running, raw_client(running) as vod:
        get = await vod.http.get(running.url, headers=vod.headers("PullEvents", b""))
        form = await vod.call("PullEvents", b"", content_type="application/x-www-form-urlencoded")
        charset = await vod.call("PullEvents", {}, content_type="application/json; charset=utf-8")
    assert get.status_code == 200
    assert get.headers["content-type"] == "application/json"
    assert orjson.loads(get.content)["Response"]["Error"]["Code"] == "UnsupportedOperation"
    assert form.error_code == "UnsupportedOperation"
    assert charset.error_code is None


async def test_other_paths_are_not_found() -> None:
    """Only ``/`` is the API (plus ``/_admin/``)."""
    async with emulator() as running, raw_client(running) as vod:
        response = await vod.http.post(running.url + "v2/index.php", content=b"{}")
    assert response.status_code == 404


def _sign_with_action(**signing: Any) -> str:
    """Sign content-type, host and x-tc-action (the v3 scheme allows more signed headers)."""
    date = utc_date(signing["timestamp"])
    headers = (
        ("content-type", signing["content_type"]),
        ("host", signing["host"]),
        ("x-tc-action", "PullEvents"),  # canonical values are lower-cased: "pullevents"
    )
    canonical = canonical_request("POST", "/", "", headers, payload_sha256(signing["body"]))
    text = string_to_sign(signing["timestamp"], date, "vod", canonical)
    hex_signature = signature(signing_key(signing["secret_key"], date, "vod"), text)
    return (
        f"TC3-HMAC-SHA256 Credential={signing['secret_id']}/{date}/vod/tc3_request, "
        f"SignedHeaders=content-type;host;x-tc-action, Signature={hex_signature}"
    )


def _sign_absent_header(**signing: Any) -> str:
    return authorization(**signing).replace(
        "SignedHeaders=content-type;host", "SignedHeaders=content-type;host;x-not-sent"
    )


async def test_more_signed_headers_are_verified_and_must_be_present() -> None:
    """A third signed header is checked like the others; a signed header not sent is refused."""
    async with emulator(hold=0) as running, raw_client(running) as vod:
        extra = await vod.call("PullEvents", {}, sign=_sign_with_action)
        absent = await vod.call("PullEvents", {}, sign=_sign_absent_header)
    assert extra.error_code is None
    assert absent.error_code == "AuthFailure.InvalidAuthorization"
