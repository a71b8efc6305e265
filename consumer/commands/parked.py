"""``media-bridge parked``: show what is parked, without removing or reordering anything.

Settings come from the same place as ``media-bridge run``'s (``--config`` / environment): the
parking queue lives on the sink's broker (``sink.url``, ``sink.parking_queue``). The queue is
opened through the factory the CLI passes in (``cli.py`` is the only module importing adapters).

Exit status: 0 shown; 69 the broker is unreachable (or went away); 78 bad settings, refused
credentials or no such queue; 64 bad usage (argparse).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import anyio
import orjson

from consumer.errors import BridgeError, ConfigurationError
from consumer.logs import configure_logging
from consumer.parked import ParkedQueue
from consumer.parked_filter import ParkedFilter
from consumer.parked_listing import Listing, list_parked
from consumer.parked_render import listing_json, listing_summary, message_text
from consumer.settings import Settings, SinkSettings, load_settings

EXIT_OK = 0
EXIT_STILL_FAILING = 1  # replay: at least one message is still (or would stay) parked
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE: the broker can't be reached
EXIT_CONFIG = 78  # EX_CONFIG: bad settings, refused credentials, no such queue
EXIT_INTERRUPTED = 130

OpenParked = Callable[[SinkSettings, str], Awaitable[ParkedQueue]]  # settings, queue name


@dataclass(frozen=True, slots=True)
class ParkedRequest:
    """What ``media-bridge parked`` was asked (built by the CLI from its arguments)."""

    config: Path | None = None
    queue: str | None = None  # None: sink.parking_queue
    select: ParkedFilter = field(default_factory=ParkedFilter)
    limit: int = 100
    scan_limit: int = 10_000
    as_json: bool = False
    full_body: bool = False


def main_parked(
    request: ParkedRequest,
    open_queue: OpenParked,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    settings = command_settings(request.config, "parked", err)
    if settings is None:
        return EXIT_CONFIG
    try:
        listing = anyio.run(_list, settings, request, open_queue)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BridgeError as exc:
        return failed("parked", exc, err)
    if request.as_json:
        out.write(orjson.dumps(listing_json(listing), option=orjson.OPT_INDENT_2).decode() + "\n")
        return EXIT_OK
    for held, match in listing.shown:
        print(message_text(held.position, held.message, match.task_id_by,
                           full_body=request.full_body), file=out)
    print(listing_summary(listing), file=out)
    return EXIT_OK


async def _list(settings: Settings, request: ParkedRequest, open_queue: OpenParked) -> Listing:
    queue = await open_queue(settings.sink, request.queue or settings.sink.parking_queue)
    try:
        return await list_parked(
            queue,
            request.select,
            limit=request.limit,
            scan_limit=request.scan_limit,
            limits=settings.relay_options().limits,
        )
    finally:
        with anyio.CancelScope(shield=True):
            await queue.aclose()


def command_settings(config: Path | None, command: str, err: TextIO) -> Settings | None:
    """The settings (logs set up from them), or None after one line on ``err``."""
    try:
        settings = load_settings(config)
    except ConfigurationError as exc:
        failed(command, exc, err)
        return None
    configure_logging(settings.log.level, settings.log.format)
    return settings


def failed(command: str, exc: BridgeError, err: TextIO) -> int:
    """One line on stderr; the exit status for ``exc``."""
    print(f"media-bridge {command}: {exc}", file=err)
    return EXIT_CONFIG if isinstance(exc, ConfigurationError) else EXIT_UNAVAILABLE
