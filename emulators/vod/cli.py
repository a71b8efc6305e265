"""``python -m emulators.vod`` (and ``media-bridge vod-emulator``): run the emulator standalone."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from emulators.vod.config import (
    DEFAULT_MAIN_APP_ID,
    FAULT_ACTIONS,
    Credential,
    FaultKind,
    FaultRule,
    FaultSettings,
    VodEmulatorConfig,
)
from emulators.vod.documents import InjectionError, load_events_file
from emulators.vod.server import serve_forever

DEFAULT_PORT = 9912
DEFAULT_SECRET_ID = "AKIDLOCALVODEMULATOR00000000000000"
DEFAULT_SECRET_KEY = "local-vod-emulator-secret-key"  # a dev-only key, like a test fixture

EX_USAGE = 64  # bad settings
EX_NOINPUT = 66  # a --load file is unreadable or not JSON
EX_UNAVAILABLE = 69  # cannot listen on the port

_FAULT_HELP = """\
fault kinds (--fault KIND:RATE[:ACTION], ACTION one of {actions}; none: any):
  RequestLimitExceeded  that API error code; the action is not performed
  InternalError         that API error code; the action is not performed
  http-5xx              HTTP 503; the action is not performed
  timeout               hold the request --timeout-hold s, then drop the connection;
                        not performed
  drop-response         the action IS performed, then the connection drops mid-reply
                        (a pull's events stay leased and come back after the window)
Faults come from a seeded RNG (--seed): one draw per matching rule per request, so the same
seed and request sequence give the same faults.

credentials default to $VOD_EMULATOR_SECRET_ID / $VOD_EMULATOR_SECRET_KEY /
$VOD_EMULATOR_TOKEN, else SecretId {secret_id} with a fixed dev key.
Unsigned admin routes (tests and demos only): POST /_admin/events[?SubAppId=N],
GET /_admin/stats, POST /_admin/expire-leases. See emulators/vod/README.md."""


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not in 0-65535")
    return port


def _fault(text: str) -> FaultRule:
    """KIND:RATE[:ACTION], e.g. ``drop-response:0.05:ConfirmEvents``."""
    kind, _, rest = text.partition(":")
    rate, _, action = rest.partition(":")
    try:
        return FaultRule(FaultKind(kind), float(rate), action or None)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None


class _OneLineErrorParser(argparse.ArgumentParser):
    """A usage error is one line on stderr (exit 2), not the whole usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser(prog: str = "python -m emulators.vod") -> argparse.ArgumentParser:
    """The emulator's command-line arguments (reusable by a parent CLI's subcommand)."""
    parser = _OneLineErrorParser(
        prog=prog,
        description=(
            "A local Tencent Cloud VOD API 3.0 server for reliable callbacks: PullEvents and "
            "ConfirmEvents with TC3-HMAC-SHA256 signatures, events kept in memory per SubAppId."
        ),
        epilog=_FAULT_HELP.format(secret_id=DEFAULT_SECRET_ID, actions=", ".join(FAULT_ACTIONS)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    add("--port", type=_port, default=DEFAULT_PORT, help="0-65535, 0: any (default: %(default)s)")
    add(
        "--secret-id",
        default=os.environ.get("VOD_EMULATOR_SECRET_ID", DEFAULT_SECRET_ID),
        help="the SecretId accepted, starting with AKID "
        f"(default: $VOD_EMULATOR_SECRET_ID, else {DEFAULT_SECRET_ID})",
    )
    add(
        "--secret-key",
        default=os.environ.get("VOD_EMULATOR_SECRET_KEY", DEFAULT_SECRET_KEY),
        help="its SecretKey (default: $VOD_EMULATOR_SECRET_KEY, else a fixed dev key)",
    )
    add(
        "--token",
        default=os.environ.get("VOD_EMULATOR_TOKEN"),
        help="require this X-TC-Token, as for temporary credentials "
        "(default: $VOD_EMULATOR_TOKEN, else none)",
    )
    add(
        "--main-app-id",
        type=int,
        default=DEFAULT_MAIN_APP_ID,
        metavar="N",
        help="the SubAppId of requests that name none (default: %(default)s)",
    )
    add(
        "--confirm-window",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds a pulled event stays leased before it is pullable again under a new "
        "handle (default: %(default)s)",
    )
    add(
        "--hold",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds an empty PullEvents is held (default: %(default)s)",
    )
    add(
        "--empty-event-set",
        choices=("list", "null"),
        default="list",
        help="what an empty poll answers as EventSet: [] or null (default: %(default)s)",
    )
    add(
        "--max-clock-skew",
        type=float,
        default=300.0,
        metavar="S",
        help="X-TC-Timestamp further from now gets AuthFailure.SignatureExpire "
        "(default: %(default)s)",
    )
    add(
        "--load",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="inject the events of a JSON file at start (an event object, an array of them or "
        "a PullEvents response); repeatable (default: none)",
    )
    add(
        "--sub-app-id",
        type=int,
        default=None,
        metavar="N",
        help="the SubAppId --load injects into (default: the main app id)",
    )
    add(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="KIND:RATE[:ACTION]",
        help="inject a fault, see the kinds below; repeatable (default: none)",
    )
    add("--seed", type=int, default=0, help="fault RNG seed (default: %(default)s)")
    add(
        "--latency-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="added before every API reply (default: %(default)s)",
    )
    add(
        "--timeout-hold",
        type=float,
        default=15.0,
        metavar="S",
        help="how long a 'timeout' fault holds a request (default: %(default)s)",
    )
    add(
        "--rate-limit",
        type=int,
        default=None,
        metavar="N",
        help="requests per second per SecretId, both actions together, before "
        "RequestLimitExceeded (default: off)",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> VodEmulatorConfig:
    """Turn parsed arguments into a VodEmulatorConfig (ValueError on bad values)."""
    faults = FaultSettings(
        rules=tuple(args.fault),
        seed=args.seed,
        latency_s=args.latency_ms / 1000,
        timeout_hold_s=args.timeout_hold,
    )
    return VodEmulatorConfig(
        credentials=(Credential(args.secret_id, args.secret_key, args.token),),
        main_app_id=args.main_app_id,
        confirm_window_s=args.confirm_window,
        empty_hold_s=args.hold,
        empty_event_set_null=args.empty_event_set == "null",
        max_clock_skew_s=args.max_clock_skew,
        rate_limit=args.rate_limit,
        faults=faults,
    )


def _load(paths: Sequence[Path]) -> list[Mapping[str, Any]]:
    events: list[Mapping[str, Any]] = []
    for path in paths:
        events.extend(load_events_file(path))
    return events


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _error(text: str) -> None:
    print(f"vod-emulator: error: {text}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted: 0 after SIGINT/SIGTERM, 64 bad settings, 66 a --load file
    unreadable or not JSON objects, 69 the port unusable."""
    try:
        config = config_from_args(args)
        if args.sub_app_id is not None and args.sub_app_id < 1:
            raise ValueError("--sub-app-id must be a positive integer")
    except ValueError as exc:
        _error(str(exc))
        return EX_USAGE
    try:
        events = _load(args.load)
    except (OSError, InjectionError) as exc:
        _error(f"cannot load events: {exc}")
        return EX_NOINPUT

    def announce(port: int) -> None:
        loaded = f"  loaded: {len(events)} events" if args.load else ""
        print(
            f"VOD emulator on http://{args.host}:{port}/  SecretId: {args.secret_id}  "
            f"main app id: {config.main_app_id}{loaded}",
            file=sys.stderr,
            flush=True,
        )

    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal with the
    # previous handler: make both end in KeyboardInterrupt, caught below for a clean exit 0.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        serve_forever(
            config,
            host=args.host,
            port=args.port,
            preload=[(args.sub_app_id, events)],
            on_listening=announce,
        )
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # typically: the port is taken
        _error(f"cannot listen on {args.host}:{args.port}: {exc}")
        return EX_UNAVAILABLE
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse ``argv`` (default: sys.argv[1:]) and serve."""
    return run(build_parser().parse_args(argv))
