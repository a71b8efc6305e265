"""Breaking the frame tap's installation on purpose, the ways an aio-pika or aiormq release could.

The tap is installed through aio-pika passing ``connection.kwargs["transport_factory"]`` on to
``aiormq.connect``. :data:`FORGETFUL` is aio-pika's ``UnderlayConnection.make_connection`` no
longer doing that (silently: aiormq then uses its own transport); :data:`NEW_ARGUMENT` is
aiormq calling the factory with an argument the tap was never verified with. Tests put one in
place with ``monkeypatch.setattr(UnderlayConnection, "make_connection", FORGETFUL)``; a child
process calls :func:`break_installation` before running the bridge.
"""

from __future__ import annotations

from typing import Any

import aiormq
from aio_pika.abc import UnderlayConnection
from yarl import URL

_MAKE_CONNECTION = UnderlayConnection.make_connection  # bound to the class already


async def _forgetful(
    cls: type[UnderlayConnection], /, url: URL,
    timeout: Any = None,  # noqa: ASYNC109 - aio-pika's signature
    **kwargs: Any,
) -> aiormq.abc.AbstractConnection:
    kwargs.pop("transport_factory", None)
    return await _MAKE_CONNECTION(url, timeout=timeout, **kwargs)


async def _with_new_argument(
    cls: type[UnderlayConnection], /, url: URL,
    timeout: Any = None,  # noqa: ASYNC109 - aio-pika's signature
    **kwargs: Any,
) -> aiormq.abc.AbstractConnection:
    # aiormq hands unknown connect() keywords to the transport factory's create(); this one is
    # valid for asyncio.open_connection, so a factory that passes it on still connects.
    return await _MAKE_CONNECTION(url, timeout=timeout, happy_eyeballs_delay=0.25, **kwargs)


FORGETFUL = classmethod(_forgetful)
NEW_ARGUMENT = classmethod(_with_new_argument)


def break_installation() -> None:
    """For a child process: from now on aio-pika does not pass the transport factory on."""
    setattr(UnderlayConnection, "make_connection", FORGETFUL)  # noqa: B010 - a method, on purpose
