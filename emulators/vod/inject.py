"""``python -m emulators.vod.inject URL FILE...``: post sample files to a running emulator.

Each file is checked locally first (readable, JSON, made of event objects), so a bad file means
nothing is injected at all. The files go, as they are, to the emulator's unsigned
``POST /_admin/events`` route, which takes the same documents as ``--load``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx

from emulators.vod.documents import InjectionError, load_events_file

EX_BAD_FILE = 2  # a file is unreadable, not JSON or not made of event objects
EX_REFUSED = 65  # the emulator refused a document
EX_UNAVAILABLE = 69  # the emulator could not be reached


def build_inject_parser(prog: str = "python -m emulators.vod.inject") -> argparse.ArgumentParser:
    """The inject client's command-line arguments (reusable by a parent CLI's subcommand)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Inject the events of JSON files (an event object, an array of them, or a "
        "PullEvents response) into a running VOD emulator, as VOD generating them would.",
    )
    parser.add_argument("url", metavar="URL", help="the emulator, e.g. http://127.0.0.1:9912")
    parser.add_argument("files", metavar="FILE", type=Path, nargs="+", help="JSON files to inject")
    parser.add_argument(
        "--sub-app-id",
        type=int,
        default=None,
        metavar="N",
        help="the SubAppId to inject into (default: the emulator's main app id)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="HTTP timeout (default: %(default)s)",
    )
    return parser


def _check(files: Sequence[Path]) -> str | None:
    """The first problem with the files, or None when all of them can be injected."""
    for path in files:
        try:
            load_events_file(path)
        except OSError as exc:
            return f"cannot read {path}: {exc.strerror or exc}"
        except InjectionError as exc:
            return f"{path}: {exc}"
    return None


def run_inject(args: argparse.Namespace) -> int:
    """Inject every file: 0 done, 2 a bad file, 65 refused by the emulator, 69 unreachable."""
    problem = _check(args.files)
    if problem is not None:
        print(f"vod-inject: error: {problem}", file=sys.stderr)
        return EX_BAD_FILE
    params = {} if args.sub_app_id is None else {"SubAppId": str(args.sub_app_id)}
    url = args.url.rstrip("/") + "/_admin/events"
    total = 0
    with httpx.Client(timeout=args.timeout) as http:
        for path in args.files:
            try:
                reply = http.post(url, params=params, content=path.read_bytes())
            except httpx.HTTPError as exc:
                print(f"vod-inject: error: cannot reach {url}: {exc}", file=sys.stderr)
                return EX_UNAVAILABLE
            if reply.status_code != 200:
                print(f"vod-inject: error: {path}: {reply.text}", file=sys.stderr)
                return EX_REFUSED
            result = reply.json()
            total += result["injected"]
            print(
                f"{path}: {result['injected']} events injected into SubAppId {result['sub_app_id']}"
            )
    print(f"{total} events injected")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse ``argv`` (default: sys.argv[1:]) and inject."""
    return run_inject(build_inject_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
