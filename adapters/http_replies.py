"""The receiver's answers: their status, text and headers, and writing one as ASGI messages.

Every answer carries ``Content-Length`` (so a kept-alive connection knows where it ends) and,
when it has a text, says what went wrong in words for whoever reads it in a sender's log; the
detail of a refusal (which check failed) is the operator's, in metrics and logs, not the sender's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from adapters.http_options import Scheme

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]

CLOSE = (b"connection", b"close")
_TEXT = (b"content-type", b"text/plain; charset=utf-8")


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    text: bytes = b""
    headers: tuple[tuple[bytes, bytes], ...] = ()

    def closing(self) -> Reply:
        """The same answer, ending the connection."""
        if CLOSE in self.headers:
            return self
        return Reply(self.status, self.text, (*self.headers, CLOSE))


OK = Reply(200)
NOT_FOUND = Reply(404, b"no such callback path\n")
METHOD_NOT_ALLOWED = Reply(405, b"only POST is accepted here\n", ((b"allow", b"POST"),))
UNSUPPORTED_TYPE = Reply(415, b"unsupported content type\n")
TOO_LARGE = Reply(413, b"body too large\n")
BODY_TIMEOUT = Reply(408, b"the body came too slowly\n", (CLOSE,))  # the rest may never come
FORBIDDEN = Reply(403, b"forbidden\n")


def not_authenticated(scheme: Scheme) -> Reply:
    """401, naming the scheme that would be accepted (RFC 9110 asks for WWW-Authenticate)."""
    if scheme is Scheme.NONE:
        challenge = b'Bearer realm="media-bridge"'
    else:
        challenge = f'Tencent-{scheme.value.upper()}-Sign realm="media-bridge"'.encode()
    return Reply(401, b"not authenticated\n", ((b"www-authenticate", challenge),))


def unavailable(text: bytes, retry_after_s: int, *, closing: bool = False) -> Reply:
    """503 with ``Retry-After``: the sender should come back (nothing was acked)."""
    headers = ((b"retry-after", str(retry_after_s).encode()),)
    return Reply(503, text, (*headers, CLOSE) if closing else headers)


async def send_reply(send: Send, reply: Reply) -> None:
    headers = [(b"content-length", str(len(reply.text)).encode()), *reply.headers]
    if reply.text:
        headers.append(_TEXT)
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.text})
