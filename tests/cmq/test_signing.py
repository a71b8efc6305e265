"""The CMQ API 2.0 signer reproduces Tencent's published test vector."""

from __future__ import annotations

from adapters.cmq_signing import SignatureMethod, compute_signature, signed_params, string_to_sign

VECTOR_KEY = "pPgfLipfEXZ7VcRzhAMIyPaU7UbQyFFx"
VECTOR_PARAMS = {
    "Action": "SendMessage",
    "Nonce": "2889712707386595659",
    "RequestClient": "SDK_Python_1.3",
    "SecretId": "AKIDPcYDclDJCn8D0Xypa4f3pKYUCVYLn3zT",
    "SignatureMethod": "HmacSHA1",
    "Timestamp": "1534154812",
    "clientRequestId": "1231231231",
    "delaySeconds": "0",
    "msgBody": "msg",
    "queueName": "test1",
}
VECTOR_HOST = "cmq-queue-gz.api.tencentyun.com"


def test_string_to_sign_sorts_raw_params_after_method_host_and_path() -> None:
    """Names sort in byte order (upper case first); values are not URL-encoded."""
    text = string_to_sign("post", VECTOR_HOST, {**VECTOR_PARAMS, "Signature": "ignored"})
    assert text == (
        "POSTcmq-queue-gz.api.tencentyun.com/v2/index.php?Action=SendMessage"
        "&Nonce=2889712707386595659&RequestClient=SDK_Python_1.3"
        "&SecretId=AKIDPcYDclDJCn8D0Xypa4f3pKYUCVYLn3zT&SignatureMethod=HmacSHA1"
        "&Timestamp=1534154812&clientRequestId=1231231231&delaySeconds=0&msgBody=msg"
        "&queueName=test1"
    )


def test_hmac_sha1_reproduces_the_documented_signature() -> None:
    """Tencent's documented HmacSHA1 example signs to C16WEtEXsD5v5tnaUMLAbZewXhI=."""
    text = string_to_sign("POST", VECTOR_HOST, VECTOR_PARAMS)
    assert (
        compute_signature(VECTOR_KEY, text, SignatureMethod.HMAC_SHA1)
        == "C16WEtEXsD5v5tnaUMLAbZewXhI="
    )


def test_hmac_sha256_reproduces_the_derived_signature() -> None:
    """The same request with SignatureMethod=HmacSHA256 signs to the reference value."""
    params = {**VECTOR_PARAMS, "SignatureMethod": "HmacSHA256"}
    text = string_to_sign("POST", VECTOR_HOST, params)
    assert (
        compute_signature(VECTOR_KEY, text, SignatureMethod.HMAC_SHA256)
        == "7aNNVzszJftqWPLvvnHU3lDznBYFPof7ACkTD3OJUu4="
    )


def test_underscores_in_names_become_dots_only_in_the_string_to_sign() -> None:
    """A parameter named a_b is signed as a.b; its value keeps its underscores."""
    text = string_to_sign("GET", "h:81", {"a_b": "x_y"})
    assert text == "GETh:81/v2/index.php?a.b=x_y"


def test_signed_params_add_common_params_and_sign_the_token() -> None:
    """SecretId, Nonce, Timestamp, SignatureMethod and Token are all covered by Signature."""
    params = signed_params(
        {"Action": "ReceiveMessage", "queueName": "q"},
        host="127.0.0.1:9911",
        secret_id="AKIDx",
        secret_key="k",
        token="session-token",
    )
    assert params["Token"] == "session-token"
    assert params["SignatureMethod"] == "HmacSHA256"
    assert {"SecretId", "Nonce", "Timestamp", "Signature"} <= params.keys()
    unsigned = {k: v for k, v in params.items() if k != "Signature"}
    text = string_to_sign("POST", "127.0.0.1:9911", unsigned)
    assert compute_signature("k", text, SignatureMethod.HMAC_SHA256) == params["Signature"]
    tampered = string_to_sign("POST", "127.0.0.1:9911", {**unsigned, "Token": "other"})
    assert compute_signature("k", tampered, SignatureMethod.HMAC_SHA256) != params["Signature"]


def test_unknown_signature_method_means_hmac_sha1() -> None:
    """Like the server, anything but exactly HmacSHA256 selects HmacSHA1."""
    assert SignatureMethod.from_param("HmacSHA256") is SignatureMethod.HMAC_SHA256
    assert SignatureMethod.from_param("hmacsha256") is SignatureMethod.HMAC_SHA1
    assert SignatureMethod.from_param(None) is SignatureMethod.HMAC_SHA1
