"""Log lines for refused requests, rate-limited: a forged-request flood must not flood the logs.

At most one WARNING per (path, reason) per ``interval_s``, saying how many more were refused
for that reason since the last line. What is logged: the path, the reason and the client's
address; never a key, a token, a computed digest or the ``Sign`` the request carried (a valid
Sign of a stale request is still a credential until its expiry).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from adapters.http_auth import AuthFailure

log = logging.getLogger("adapters.http")

DEFAULT_INTERVAL_S = 10.0


class RefusalLog:
    """See the module docstring. ``clock`` is monotonic seconds (injectable for tests)."""

    def __init__(
        self, interval_s: float = DEFAULT_INTERVAL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._last: dict[tuple[str, AuthFailure], tuple[float, int]] = {}  # logged at, not logged

    def refused(self, path: str, reason: AuthFailure, client: str | None) -> None:
        now = self._clock()
        key = (path, reason)
        logged = self._last.get(key)
        if logged is not None and now - logged[0] < self._interval_s:
            self._last[key] = (logged[0], logged[1] + 1)
            return
        self._last[key] = (now, 0)
        log.warning(
            "request refused: not authenticated as Tencent's",
            extra={
                "path": path,
                "reason": reason.value,
                "status": reason.status,
                "client": client,
                "refused_since_last_line": 0 if logged is None else logged[1],
            },
        )
