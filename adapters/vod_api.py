"""Signed VOD API 3.0 calls through Tencent's own SDK, its errors translated at this boundary.

The signing (TC3-HMAC-SHA256, ``X-TC-Token`` for temporary credentials) is the SDK's, from
``tencentcloud.common``'s async ``CommonClient``: we do not sign by hand. Two ways to send:

* the **fast path** (default): the SDK builds and signs the request
  (``CommonClient._build_req_with_tc3_signature``, the step its own pipeline takes), and
  :class:`~adapters.keepalive_http.KeepAliveClient` sends it; the reply is parsed once with
  orjson. The SDK's pipeline costs ~1.4 ms of CPU per call here (httpx, and the reply decoded
  twice by the stdlib), the fast path ~0.2 ms; a bridge makes two calls per 16 events. A
  sub-app's PullEvents, which the SDK signs identically within a second, is signed once per
  second (:class:`~adapters.vod_signed.RequestSigner`).
* the **plain path** (``fast_path=False``, or when the start-up check finds the signing step
  missing in an SDK upgrade): the SDK's public ``call_and_deserialize``. The same tests run on
  both; the fast path was verified with the tencentcloud-sdk-python version locked in
  ``constraints.txt``.

A call returns the reply's ``Response`` object or raises :class:`VodApiError` (the reply carried
``Response.Error``) or :class:`VodTransportError` (no usable reply: network error, timeout,
non-200 status, a body that is not a Tencent reply). No message ever contains the SecretKey or
the token: the request, which carries the signature and token headers, is never put into an
error or a log line, and the SDK's own logger (which dumps whole requests at DEBUG) is held at
INFO.
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from tencentcloud.common.common_client_async import CommonClient
from tencentcloud.common.credential import Credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from adapters.keepalive_http import HttpExchangeError, KeepAliveClient
from adapters.request_budget import RequestBudget
from adapters.vod_options import VodSourceOptions
from adapters.vod_signed import RequestSigner

SERVICE, VERSION = "vod", "2018-07-17"
THROTTLED = "RequestLimitExceeded"  # also RequestLimitExceeded.* sub-codes
INVALID_VALUE = "InvalidParameterValue"  # ConfirmEvents with a handle past its window
AUTH_FAILURE = "AuthFailure"  # AuthFailure.SignatureFailure, .SecretIdNotFound, ...
_TRANSIENT_CODES = frozenset({"InternalError", "FailedOperation", "ResourceUnavailable"})
_SDK_LOGGER = "tencentcloud_sdk_common"
_SIGNING_STEP = "_build_req_with_tc3_signature"

log = logging.getLogger("adapters.vod")


class VodApiError(Exception):
    """VOD answered with ``Response.Error``."""

    def __init__(self, action: str, code: str, message: str, request_id: str | None) -> None:
        super().__init__(f"{action}: {code} {message!r} (RequestId {request_id})")
        self.action = action
        self.code = code
        self.message = message
        self.request_id = request_id

    @property
    def throttled(self) -> bool:
        return self.code == THROTTLED or self.code.startswith(THROTTLED + ".")

    @property
    def auth_failure(self) -> bool:
        return self.code.startswith(AUTH_FAILURE)

    @property
    def transient(self) -> bool:
        """Whether the same request may succeed later."""
        return self.throttled or self.code.split(".")[0] in _TRANSIENT_CODES


class VodTransportError(Exception):
    """No usable reply: the request may or may not have been performed."""

    def __init__(self, action: str, detail: str, *, transient: bool = True) -> None:
        super().__init__(f"{action}: {detail}")
        self.transient = transient


class VodApi:
    """Sends signed PullEvents/ConfirmEvents to one endpoint, within a shared request budget."""

    def __init__(self, options: VodSourceOptions, budget: RequestBudget) -> None:
        # The SDK logs every request with its headers (signature, token) at DEBUG.
        sdk_log = logging.getLogger(_SDK_LOGGER)
        if sdk_log.getEffectiveLevel() < logging.INFO:
            sdk_log.setLevel(logging.INFO)
        http = HttpProfile(
            protocol=options.scheme,
            endpoint=options.host,
            reqTimeout=options.http_timeout,
            keepAlive=True,  # the SDK's default opens a TCP (and TLS) connection per call
        )
        profile = ClientProfile(httpProfile=http)
        # The region breaker would switch to a backup *public* endpoint after failures.
        profile.disable_region_breaker = True
        credential = Credential(options.secret_id, options.secret_key, options.token)
        self._client = CommonClient(SERVICE, VERSION, credential, "", profile)
        self._budget = budget
        self._http: KeepAliveClient | None = None
        self._signer: RequestSigner | None = None
        if options.fast_path and _signing_step_works(self._client):
            self._signer = RequestSigner(getattr(self._client, _SIGNING_STEP))
            url = urlsplit(options.endpoint)
            self._http = KeepAliveClient(
                url.scheme, url.hostname or "", url.port, timeout=options.http_timeout
            )

    @property
    def fast_path(self) -> bool:
        """Whether calls take the fast path (see the module docstring)."""
        return self._http is not None

    async def reserve(self, *, urgent: bool = False) -> None:
        """Take a token of the request budget now for a call made with ``reserved=True``."""
        await self._budget.acquire(urgent=urgent)

    async def call(
        self,
        action: str,
        params: dict[str, Any],
        *,
        urgent: bool = False,
        reserved: bool = False,
    ) -> dict[str, Any]:
        """Perform ``action`` and return ``Response`` (without ``Error``).

        The call spends a token of the request budget (``urgent`` ones are served first), unless
        the caller took it already with :meth:`reserve` (``reserved``).
        """
        if not reserved:
            await self._budget.acquire(urgent=urgent)
        if self._http is not None:
            reply = await self._call_fast(action, params)
        else:
            reply = await self._call_sdk(action, params)
        response = reply.get("Response") if isinstance(reply, dict) else None
        if not isinstance(response, dict):
            raise VodTransportError(action, "reply has no Response object")
        error = response.get("Error")
        if isinstance(error, dict):
            # The SDK raises for Response.Error only when the Content-Type is exactly
            # application/json or text/plain; behind a proxy that adds "; charset=utf-8" an
            # error would otherwise pass as an empty success.
            code, message = str(error.get("Code", "")), str(error.get("Message", ""))
            raise VodApiError(action, code, message, response.get("RequestId"))
        return response

    async def _call_sdk(self, action: str, params: dict[str, Any]) -> Any:
        try:
            return await self._client.call_and_deserialize(action, params, resp_cls=dict)
        except TencentCloudSDKException as exc:
            raise _translate_sdk_error(action, exc) from None
        except httpx.TimeoutException as exc:
            raise VodTransportError(action, f"timed out ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            # str(exc) names the failure, never the request (which holds the signature).
            raise VodTransportError(action, f"{type(exc).__name__}: {exc}") from None
        except (ValueError, KeyError, TypeError) as exc:  # the SDK parsing a non-Tencent reply
            raise VodTransportError(action, f"reply is not a Tencent API reply ({exc!r})") from None

    async def _call_fast(self, action: str, params: dict[str, Any]) -> Any:
        assert self._http is not None
        assert self._signer is not None
        request = self._signer.sign(action, params)
        try:
            reply = await self._http.post(request.headers, request.body)
        except HttpExchangeError as exc:
            raise VodTransportError(action, str(exc)) from None
        if reply.status != 200:
            transient = reply.status >= 500 or reply.status == 429
            raise VodTransportError(action, f"HTTP {reply.status}", transient=transient)
        try:
            return orjson.loads(reply.body)
        except orjson.JSONDecodeError:
            raise VodTransportError(action, "reply is not JSON") from None

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        await self._client.close()


def _signing_step_works(client: CommonClient) -> bool:
    """Whether the SDK's signing step is where the fast path expects it and signs TC3 requests.

    It is an internal step of the SDK; if an upgrade moved or changed it, the plain path (the
    SDK's public call) takes over, slower but correct, and one line says why.
    """
    try:
        request = getattr(client, _SIGNING_STEP)("PullEvents", {"SubAppId": 1}, {}, {})
        signed = request.headers["Authorization"].startswith("TC3-HMAC-SHA256 Credential=")
        if signed and isinstance(request.content, bytes) and request.headers.get("Host"):
            return True
        problem = "it did not produce a TC3-signed request"
    except Exception as exc:  # noqa: BLE001 - any failure of the probe means "not in place"
        problem = type(exc).__name__
    log.warning(
        "the request-signing step of tencentcloud-sdk-python %s is not where the VOD fast path "
        "expects it (%s); VOD calls take the SDK's public client instead (correct, but slower)",
        _sdk_version(),
        problem,
    )
    return False


def _sdk_version() -> str:
    for package in ("tencentcloud-sdk-python-common", "tencentcloud-sdk-python"):
        try:
            return version(package)
        except PackageNotFoundError:
            continue
    return "(version unknown)"


def _translate_sdk_error(action: str, exc: TencentCloudSDKException) -> Exception:
    code = str(exc.code or "")
    if code == "ServerNetworkError":
        # Non-200 status; the message is the body, which is not ours to echo in full.
        return VodTransportError(action, f"HTTP error reply ({str(exc.message)[:80]!r})")
    if code in ("ClientNetworkError", "ClientError"):
        return VodTransportError(action, f"{code}: {exc.message}")
    return VodApiError(action, code, str(exc.message or ""), exc.requestId)
