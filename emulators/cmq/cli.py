"""``python -m emulators.cmq`` (and ``media-bridge cmq-emulator``): run the emulator standalone."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from emulators.cmq.config import (
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


def _fault(text: str) -> FaultRule:
    """KIND:RATE[:ACTION], e.g. ``drop-response:0.05:BatchDeleteMessage``."""
    kind, _, rest = text.partition(":")
    rate, _, action = rest.partition(":")
    try:
        return FaultRule(FaultKind(kind), float(rate), action or None)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None


def build_parser(prog: str = "python -m emulators.cmq") -> argparse.ArgumentParser:
    """The emulator's command-line arguments (reusable by a parent CLI's subcommand)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="A local CMQ / TDMQ-CMQ (API 2.0 data plane) server: queues in memory.",
        epilog=(
            "credentials default to $CMQ_EMULATOR_SECRET_ID / $CMQ_EMULATOR_SECRET_KEY / "
            f"$CMQ_EMULATOR_TOKEN, else SecretId {DEFAULT_SECRET_ID} with a fixed dev key. "
            f"Fault kinds: {', '.join(k.value for k in FaultKind)}."
        ),
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1")
    add("--port", type=int, default=9911)
    add("--queue", action="append", default=[], help="queue name (repeatable)")
    add("--visibility-timeout", type=float, default=30.0, metavar="S")
    add("--max-msg-size", type=int, default=1024 * 1024, metavar="BYTES")
    add("--polling-wait-seconds", type=int, default=0, metavar="S", help="queue default")
    add("--qps-limit", type=int, default=None, help="per queue; over it: code 4420")
    add("--auto-create", action="store_true", help="create unknown queues on first use")
    add("--secret-id", default=os.environ.get("CMQ_EMULATOR_SECRET_ID", DEFAULT_SECRET_ID))
    add("--secret-key", default=os.environ.get("CMQ_EMULATOR_SECRET_KEY", DEFAULT_SECRET_KEY))
    add("--token", default=os.environ.get("CMQ_EMULATOR_TOKEN"))
    add("--fault", type=_fault, action="append", default=[], metavar="KIND:RATE[:ACTION]")
    add("--seed", type=int, default=0, help="fault RNG seed")
    add("--latency-ms", type=float, default=0.0, help="added to every reply")
    add("--timeout-hold", type=float, default=15.0, metavar="S", help="'timeout' fault hold")
    add("--max-clock-skew", type=float, default=None, metavar="S", help="reject stale Timestamps")
    return parser


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
