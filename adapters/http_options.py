"""``HttpSourceOptions``: where the HTTP push receiver listens, what each path accepts, its limits.

Each :class:`Endpoint` is one callback path with the checks a request must pass there:

* ``scheme``: the signature Tencent puts on that kind of callback (``Scheme.VOD``:
  ``Sign = MD5(SignKey + T)``; ``Scheme.MPS``: ``Sign = MD5(Timestamp + NotifyKey)``), checked
  against ``keys``; ``Scheme.NONE`` for callbacks without one (legacy VOD v2, CMQ topic push);
* ``tokens``: a shared secret the sender must present (``Authorization: Bearer`` or ``?token=``);
* ``allow_from``: the networks a request may come from.

Every check configured must pass. A path with none of them is refused unless it says
``unauthenticated=True`` on purpose (a private network only). Validated on construction
(``ConfigurationError``); keys and tokens are masked in ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network

from consumer.errors import ConfigurationError

DEFAULT_PORT = 9110  # the status endpoints are on 9108, the emulators on 9911/9912
DEFAULT_MAX_BODY_BYTES = 1024 * 1024  # the largest notification CMQ would carry
DEFAULT_CONTENT_TYPES = ("application/json", "text/plain")  # CMQ topic push sends text/plain

Network = IPv4Network | IPv6Network


class Scheme(StrEnum):
    """Which signature a path verifies."""

    VOD = "vod"  # VOD v3 normal callback: Sign = MD5(SignKey + T), T an expiry (Unix seconds)
    MPS = "mps"  # MPS URL notification: Sign = MD5(Timestamp + NotifyKey), Timestamp an expiry
    NONE = "none"  # no signature scheme exists (legacy VOD v2, CMQ topic push)


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Endpoint:
    """One callback path and the checks a request to it must pass (see the module docstring)."""

    path: str
    scheme: Scheme = Scheme.NONE
    keys: tuple[str, ...] = ()  # SignKey / NotifyKey; several while a key is being rotated
    tokens: tuple[str, ...] = ()
    allow_from: tuple[Network, ...] = ()
    unauthenticated: bool = False

    def __post_init__(self) -> None:
        if not self.path.startswith("/") or "?" in self.path or "#" in self.path:
            raise ConfigurationError(f"HTTP path {self.path!r} must start with / (no query)")
        if self.scheme is Scheme.NONE and self.keys:
            raise ConfigurationError(f"HTTP path {self.path}: keys need a signature scheme")
        if self.scheme is not Scheme.NONE and not self.keys:
            raise ConfigurationError(f"HTTP path {self.path}: a {self.scheme} signature needs keys")
        if any(not key for key in (*self.keys, *self.tokens)):
            raise ConfigurationError(f"HTTP path {self.path}: a key or token is empty")
        checked = bool(self.keys or self.tokens or self.allow_from)
        if checked and self.unauthenticated:
            raise ConfigurationError(
                f"HTTP path {self.path}: unauthenticated contradicts its keys/tokens/allow_from"
            )
        if not checked and not self.unauthenticated:
            raise ConfigurationError(
                f"HTTP path {self.path} checks nothing: configure keys, tokens or allow_from, "
                "or set unauthenticated to serve it to anyone who can reach it"
            )

    def __repr__(self) -> str:
        return (
            f"Endpoint(path={self.path!r}, scheme={self.scheme.value}, keys={len(self.keys)} "
            f"(masked), tokens={len(self.tokens)} (masked), allow_from={self.allow_from!r}, "
            f"unauthenticated={self.unauthenticated})"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpSourceOptions:
    """Settings of an :class:`~adapters.http_source.HttpSource` (secrets live in ``endpoints``).

    * ``request_timeout``: each request's whole budget; a request not confirmed by then is
      answered 503 (it is also the delivery's ``deadline``). Keep it below the sender's timeout.
    * ``max_in_progress``: requests admitted at once (reading, verifying, relaying); beyond it
      503 + Retry-After at once. Buffered bodies never exceed this × ``max_body_bytes``.
    * ``max_connections``: open connections; beyond it uvicorn answers 503 to each request.
    * ``header_timeout`` / ``body_timeout``: a request's head, then its body, must arrive within
      these (slow clients); ``keep_alive_timeout``: how long an idle connection stays open.
    * ``retry_after``: seconds sent in ``Retry-After`` with every 503.
    * ``max_clock_skew``: how far past its expiry (``T``/``Timestamp``) a signature is accepted.
    * ``trusted_proxies``: addresses whose ``X-Forwarded-For`` is believed (an ingress), so
      ``allow_from`` sees the sender's address instead of the proxy's.
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    endpoints: tuple[Endpoint, ...]
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    content_types: tuple[str, ...] = DEFAULT_CONTENT_TYPES
    max_in_progress: int = 256
    max_connections: int = 1024
    request_timeout: float = 5.0
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    keep_alive_timeout: int = 5
    retry_after: int = 5
    max_clock_skew: float = 300.0
    trusted_proxies: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.endpoints:
            raise ConfigurationError("the HTTP source needs at least one path")
        paths = [endpoint.path for endpoint in self.endpoints]
        if len(set(paths)) != len(paths):
            raise ConfigurationError(f"the HTTP source serves a path twice: {sorted(paths)}")
        if not 0 <= self.port <= 65535:
            raise ConfigurationError(f"HTTP port must be 0-65535, got {self.port}")
        positive = {
            "max_body_bytes": self.max_body_bytes,
            "max_in_progress": self.max_in_progress,
            "max_connections": self.max_connections,
            "request_timeout": self.request_timeout,
            "header_timeout": self.header_timeout,
            "body_timeout": self.body_timeout,
            "keep_alive_timeout": self.keep_alive_timeout,
            "retry_after": self.retry_after,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ConfigurationError(f"HTTP {name} must be positive, got {value}")
        if self.max_clock_skew < 0:
            raise ConfigurationError("HTTP max_clock_skew must not be negative")
        if not self.content_types:
            raise ConfigurationError("HTTP content_types must name at least one media type")
        # Compared with the request's media type, which is lower-cased (RFC 9110 §8.3.1).
        object.__setattr__(
            self, "content_types", tuple(kind.strip().lower() for kind in self.content_types)
        )
