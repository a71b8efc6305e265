"""``python -m emulators.cmq`` (and ``media-bridge cmq-emulator``): run the emulator standalone."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from emulators.cli_types import tcp_port
from emulators.cmq.config import (
    TDMQ_MAX_MSG_SIZE,
    Credential,
    EmulatorConfig,
    FaultKind,
    FaultRule,
    FaultSettings,
    QueueSpec,
)
from emulators.cmq.server import serve_forever

DEFAULT_SECRET_ID = "AKIDLOCALCMQEMULATOR00000000000000"
DEFAULT_SECRET_KEY = "local-cmq-emulator-secret-key"  # a dev-only key, like a test fixture


# What each fault kind does to a request (the README's table), for --help.
_FAULT_EFFECTS = {
    FaultKind.HTTP_5XX: "HTTP 503",
    FaultKind.TIMEOUT: "held --timeout-hold seconds, then the connection drops",
    FaultKind.DROP_RESPONSE: "the action IS performed, then the connection drops mid-reply",
    FaultKind.THROTTLED: "throttled, QPS limit",
    FaultKind.FREQUENCY_LIMIT: "throttled, frequency limit",
    FaultKind.INTERNAL: "internal error",
}


def _fault(text: str) -> FaultRule:
    """KIND:RATE[:ACTION], e.g. ``drop-response:0.05:BatchDeleteMessage``."""
    kind, _, rest = text.partition(":")
    rate, _, action = rest.partition(":")
    try:
        return FaultRule(FaultKind(kind), float(rate), action or None)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None


def _fault_help() -> str:
    kinds = ", ".join(f"{kind.value} ({_FAULT_EFFECTS[kind]})" for kind in FaultKind)
    return (
        "with probability RATE (0 to 1), apply fault KIND to a request for ACTION, a CMQ action "
        "name such as BatchReceiveMessage or BatchDeleteMessage (default: any action); "
        f"repeatable. KIND: {kinds}. Only drop-response lets the action happen."
    )


def build_parser(prog: str = "python -m emulators.cmq") -> argparse.ArgumentParser:
    """The emulator's command-line arguments (reusable by a parent CLI's subcommand)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="A local CMQ / TDMQ-CMQ (API 2.0 data plane) server: queues in memory.",
        epilog=(
            "example: --queue mps-events --fault drop-response:0.05:BatchDeleteMessage "
            "--fault 4420:0.1. Queues, leases, signatures and faults are described in "
            "emulators/cmq/README.md."
        ),
    )
    _add_queue_options(parser)
    _add_credential_options(parser)
    _add_fault_options(parser)
    return parser


def _add_queue_options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    add("--port", type=tcp_port, default=9911, help="TCP port, 1-65535 (default: %(default)s)")
    add(
        "--queue",
        action="append",
        default=[],
        metavar="NAME",
        help="a queue to serve; repeatable (default: none, which needs --auto-create)",
    )
    add(
        "--auto-create",
        action="store_true",
        help="create unknown queues on first use, with the attributes below (default: off)",
    )
    add(
        "--visibility-timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds a received message stays hidden, its lease (default: %(default)s)",
    )
    add(
        "--max-msg-size",
        type=int,
        default=TDMQ_MAX_MSG_SIZE,
        metavar="BYTES",
        help="largest body; a larger send gets code 4400 (default: %(default)s, TDMQ's 1 MiB)",
    )
    add(
        "--polling-wait-seconds",
        type=int,
        default=0,
        metavar="S",
        help="long poll, 0-30, of a receive that names no pollingWaitSeconds "
        "(default: %(default)s)",
    )
    add(
        "--qps-limit",
        type=int,
        default=None,
        metavar="N",
        help="requests per second per queue; more get code 4420 (default: no limit)",
    )


def _add_credential_options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "--secret-id",
        default=os.environ.get("CMQ_EMULATOR_SECRET_ID", DEFAULT_SECRET_ID),
        metavar="AKID...",
        help="the SecretId requests must be signed with, starting with AKID "
        f"(default: $CMQ_EMULATOR_SECRET_ID, else {DEFAULT_SECRET_ID})",
    )
    # The defaults of the key and the token may come from the environment: never shown.
    add(
        "--secret-key",
        default=os.environ.get("CMQ_EMULATOR_SECRET_KEY", DEFAULT_SECRET_KEY),
        metavar="KEY",
        help="its SecretKey (default: $CMQ_EMULATOR_SECRET_KEY, else a fixed dev key)",
    )
    add(
        "--token",
        default=os.environ.get("CMQ_EMULATOR_TOKEN"),
        help="an STS token every request must carry (default: $CMQ_EMULATOR_TOKEN, else none "
        "is checked)",
    )
    add(
        "--max-clock-skew",
        type=float,
        default=None,
        metavar="S",
        help="refuse a request whose Timestamp is more than S seconds off (default: off)",
    )


def _add_fault_options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--fault", type=_fault, action="append", default=[], metavar="KIND:RATE[:ACTION]",
        help=_fault_help())  # fmt: skip
    add(
        "--seed",
        type=int,
        default=0,
        metavar="N",
        help="seed of the fault draws: the same seed and requests give the same faults "
        "(default: %(default)s)",
    )
    add(
        "--latency-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="milliseconds added before every reply (default: %(default)s)",
    )
    add(
        "--timeout-hold",
        type=float,
        default=15.0,
        metavar="S",
        help="seconds a 'timeout' fault holds the request (default: %(default)s)",
    )


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """Turn parsed arguments into an EmulatorConfig (ValueError on bad values)."""
    if not args.queue and not args.auto_create:
        raise ValueError("name at least one --queue, or pass --auto-create")
    template = QueueSpec(
        name="auto",
        visibility_timeout=args.visibility_timeout,
        max_msg_size=args.max_msg_size,
        polling_wait_seconds=args.polling_wait_seconds,
        qps_limit=args.qps_limit,
    )
    queues = tuple(
        QueueSpec(
            name,
            template.visibility_timeout,
            template.max_msg_size,
            template.polling_wait_seconds,
            qps_limit=template.qps_limit,
        )
        for name in args.queue
    )
    faults = FaultSettings(
        rules=tuple(args.fault),
        seed=args.seed,
        latency_s=args.latency_ms / 1000,
        timeout_hold_s=args.timeout_hold,
    )
    return EmulatorConfig(
        queues=queues,
        credentials=(Credential(args.secret_id, args.secret_key, args.token),),
        auto_create=args.auto_create,
        default_queue=template,
        faults=faults,
        max_clock_skew_s=args.max_clock_skew,
    )


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted: 0 after SIGINT, 64 (EX_USAGE) bad settings, 69 port unusable."""
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"cmq-emulator: error: {exc}", file=sys.stderr)
        return 64
    names = ", ".join(q.name for q in config.queues) or "(auto-create)"
    print(
        f"CMQ emulator on http://{args.host}:{args.port}  queues: {names}  "
        f"SecretId: {args.secret_id}",
        file=sys.stderr,
        flush=True,
    )
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal with the
    # previous handler: make both end in KeyboardInterrupt, caught below for a clean exit 0.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        serve_forever(config, host=args.host, port=args.port)
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # typically: the port is taken
        print(
            f"cmq-emulator: error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr
        )
        return 69  # EX_UNAVAILABLE
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse ``argv`` (default: sys.argv[1:]) and serve."""
    return run(build_parser().parse_args(argv))
