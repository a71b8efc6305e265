"""argparse ``type=`` converters the emulators' command lines share.

Raising ``argparse.ArgumentTypeError`` leaves the exit status to the parser: 2 from a plain
``ArgumentParser``, 64 under ``media-bridge``, whose parser exits with EX_USAGE.
"""

from __future__ import annotations

import argparse

MAX_PORT = 65535


def tcp_port(text: str) -> int:
    """A TCP port to listen on, 1-65535 (0 is refused: the banner would not say which port)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port (1-{MAX_PORT})")
    return port
