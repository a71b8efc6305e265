"""API 3.0 error replies: an exception carrying the ``Error.Code``/``Error.Message`` pair.

Codes are Tencent's common and VOD codes; message texts are modelled on the docs but are not
guaranteed to match the real service word for word. Clients should key on ``Code``.
"""

from __future__ import annotations


class VodApiError(Exception):
    """Answer the request with HTTP 200 and ``{"Response": {"Error": {Code, Message}, ...}}``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def invalid_authorization(detail: str) -> VodApiError:
    """The Authorization header is missing or not a TC3-HMAC-SHA256 one."""
    return VodApiError("AuthFailure.InvalidAuthorization", f"Authorization is invalid: {detail}")


def signature_failure(detail: str) -> VodApiError:
    """The signature does not match (also: wrong date or service in the credential scope)."""
    return VodApiError(
        "AuthFailure.SignatureFailure",
        "The provided credentials could not be validated. Please check your signature is "
        f"correct. ({detail})",
    )


def signature_expire() -> VodApiError:
    """X-TC-Timestamp is further from the server clock than the allowed skew."""
    return VodApiError(
        "AuthFailure.SignatureExpire",
        "Signature expired. The timestamp is too far from the server time.",
    )


def secret_id_not_found() -> VodApiError:
    """The Credential names a SecretId the emulator was not configured with."""
    return VodApiError(
        "AuthFailure.SecretIdNotFound",
        "The SecretId is not found, please ensure that your SecretId is correct.",
    )


def token_failure() -> VodApiError:
    """X-TC-Token is missing or differs from the temporary credential's token."""
    return VodApiError("AuthFailure.TokenFailure", "The token is invalid or missing.")


def request_limit_exceeded() -> VodApiError:
    """Too many requests per second (injected, or over the configured rate limit)."""
    return VodApiError(
        "RequestLimitExceeded",
        "Your current request times equals to `MaxRequestTimes` in a second.",
    )


def internal_error() -> VodApiError:
    """An injected server-side failure; nothing was done."""
    return VodApiError("InternalError", "An internal error has occurred. Retry later.")


def missing_parameter(name: str) -> VodApiError:
    """A required parameter or header is absent."""
    return VodApiError("MissingParameter", f"The request is missing a required parameter `{name}`.")


def unknown_parameter(name: str) -> VodApiError:
    """The body names a parameter the action does not take."""
    return VodApiError("UnknownParameter", f"The parameter `{name}` is not recognized.")


def invalid_parameter(detail: str) -> VodApiError:
    """The request is malformed as a whole (e.g. the body is not a JSON object)."""
    return VodApiError("InvalidParameter", detail)


def invalid_parameter_value(detail: str) -> VodApiError:
    """A parameter has the wrong type or an out-of-range value."""
    return VodApiError("InvalidParameterValue", detail)


def invalid_action(action: str) -> VodApiError:
    """The action is not one the emulator serves."""
    return VodApiError(
        "InvalidAction", f"The requested action `{action}` does not exist or is not supported."
    )


def no_such_version(version: str) -> VodApiError:
    """X-TC-Version is not VOD's ``2018-07-17``."""
    return VodApiError(
        "NoSuchVersion", f"The requested version `{version}` of action does not exist."
    )


def unsupported_operation(detail: str) -> VodApiError:
    """A request form the emulator does not serve (GET, form bodies, legacy signatures)."""
    return VodApiError("UnsupportedOperation", detail)
