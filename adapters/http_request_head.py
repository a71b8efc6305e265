"""The few request headers the receiver acts on, read in one pass over uvicorn's header list."""

from __future__ import annotations

from dataclasses import dataclass

# Headers whose value names the delivery in logs and parking headers, in order of preference:
# CMQ topic pushes carry their message id; other senders may carry a request id.
_ID_HEADERS = (b"x-cmq-message-id", b"x-request-id")
MAX_ID_CHARS = 128


@dataclass(slots=True)
class RequestHead:
    content_type: bytes | None = None  # the media type alone, lower-cased (no parameters)
    content_length: int | None = None
    authorization: bytes | None = None
    delivery_id: str | None = None
    expects_continue: bool = False  # the body comes only once asked for (100 Continue)

    @classmethod
    def parse(cls, headers: list[tuple[bytes, bytes]]) -> RequestHead:
        """From ASGI headers (names arrive lower-cased)."""
        head = cls()
        for name, value in headers:
            if name == b"content-type":
                head.content_type = value.split(b";", 1)[0].strip().lower()
            elif name == b"content-length" and value.isdigit():  # the parser vetted the rest
                head.content_length = int(value)
            elif name == b"authorization":
                head.authorization = value
            elif name in _ID_HEADERS and head.delivery_id is None:
                head.delivery_id = value.decode("latin-1")[:MAX_ID_CHARS]
            elif name == b"expect":
                head.expects_continue = value.lower() == b"100-continue"
        return head
