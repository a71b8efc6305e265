"""Signed VOD API 3.0 calls through Tencent's own async SDK, its errors translated at this boundary.

The signing (TC3-HMAC-SHA256, ``X-TC-Token`` for temporary credentials) is the SDK's
``CommonClient`` from ``tencentcloud.common``: we do not sign by hand. A call returns the reply's
``Response`` object or raises :class:`VodApiError` (the reply carried ``Response.Error``) or
:class:`VodTransportError` (no usable reply: network error, timeout, non-200 status, a body that
is not a Tencent reply). No message ever contains the SecretKey or the token: the request, which
carries the signature and token headers, is never put into an error or a log line, and the SDK's
own logger (which dumps whole requests at DEBUG) is held at INFO.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from tencentcloud.common.common_client_async import CommonClient
from tencentcloud.common.credential import Credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from adapters.request_budget import RequestBudget
from adapters.vod_options import VodSourceOptions

SERVICE, VERSION = "vod", "2018-07-17"
THROTTLED = "RequestLimitExceeded"  # also RequestLimitExceeded.* sub-codes
INVALID_VALUE = "InvalidParameterValue"  # ConfirmEvents with a handle past its window
AUTH_FAILURE = "AuthFailure"  # AuthFailure.SignatureFailure, .SecretIdNotFound, ...
_TRANSIENT_CODES = frozenset({"InternalError", "FailedOperation", "ResourceUnavailable"})
_SDK_LOGGER = "tencentcloud_sdk_common"


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

    async def call(
        self, action: str, params: dict[str, Any], *, urgent: bool = False
    ) -> dict[str, Any]:
        """Perform ``action`` and return ``Response`` (without ``Error``)."""
        await self._budget.acquire(urgent=urgent)
        try:
            reply = await self._client.call_and_deserialize(action, params, resp_cls=dict)
        except TencentCloudSDKException as exc:
            raise _translate_sdk_error(action, exc) from None
        except httpx.TimeoutException as exc:
            raise VodTransportError(action, f"timed out ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            # str(exc) names the failure, never the request (which holds the signature).
            raise VodTransportError(action, f"{type(exc).__name__}: {exc}") from None
        except (ValueError, KeyError, TypeError) as exc:  # the SDK parsing a non-Tencent reply
            raise VodTransportError(action, f"reply is not a Tencent API reply ({exc!r})") from None
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

    async def aclose(self) -> None:
        await self._client.close()


def _translate_sdk_error(action: str, exc: TencentCloudSDKException) -> Exception:
    code = str(exc.code or "")
    if code == "ServerNetworkError":
        # Non-200 status; the message is the body, which is not ours to echo in full.
        return VodTransportError(action, f"HTTP error reply ({str(exc.message)[:80]!r})")
    if code in ("ClientNetworkError", "ClientError"):
        return VodTransportError(action, f"{code}: {exc.message}")
    return VodApiError(action, code, str(exc.message or ""), exc.requestId)
