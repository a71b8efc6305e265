"""Send Tencent notification samples (and malformed bodies) into a CMQ queue with Tencent's SDK.

    .venv/bin/python examples/feed_cmq.py --endpoint http://127.0.0.1:9911 --queue mps-events
    .venv/bin/python examples/feed_cmq.py a.json b.json --malformed 2

Uses ``qcloud-cmq-sdk-py3`` (Tencent's own CMQ API 2.0 client, installed with the dev extra), as
MPS would put its notifications into a TDMQ-CMQ queue. By default it sends the MPS/VTS samples
and the VOD samples from ../shared/samples. Credentials: --secret-id/--secret-key or
$CMQ_SECRET_ID / $CMQ_SECRET_KEY (defaults: the local emulator's dev credentials).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from cmq.account import Account
from cmq.queue import Message

from emulators.cmq.cli import DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples"
MALFORMED = ["this is not JSON", "{}", '{"EventType": "SomethingNew"}']
# Without a handler of its own the SDK writes CMQ_python_sdk.log into the working directory.
logging.getLogger("CMQ_python_sdk").addHandler(logging.NullHandler())


def default_files() -> list[Path]:
    """The MPS/VTS task notifications first (what MPS puts in CMQ), then the VOD ones."""
    mps = sorted(SAMPLES.glob("mps__*.json"))
    vod = sorted(p for p in SAMPLES.glob("vod__*.json") if "ConfirmEvents" not in p.name)
    return mps + vod


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="*", help=f"notification files (default: {SAMPLES})")
    parser.add_argument("--endpoint", default="http://127.0.0.1:9911")
    parser.add_argument("--queue", default="mps-events")
    parser.add_argument("--malformed", type=int, default=0, help="also send N malformed bodies")
    parser.add_argument("--secret-id", default=os.environ.get("CMQ_SECRET_ID", DEFAULT_SECRET_ID))
    parser.add_argument(
        "--secret-key", default=os.environ.get("CMQ_SECRET_KEY", DEFAULT_SECRET_KEY)
    )
    args = parser.parse_args()
    files = [Path(p) for p in args.paths] or default_files()
    bodies = [(path.name, path.read_text()) for path in files]
    bodies += [(f"malformed #{n + 1}", MALFORMED[n % len(MALFORMED)]) for n in range(args.malformed)]
    account = Account(args.endpoint, args.secret_id, args.secret_key)
    account.set_sign("sha256")
    queue = account.get_queue(args.queue)
    try:
        for name, body in bodies:
            sent = queue.send_message(Message(body))
            print(f"sent {name} ({len(body)} bytes) as CMQ message {sent.msgId}")
    finally:
        account.cmq_client.close_connection()
    print(f"{len(bodies)} messages sent to CMQ queue {args.queue}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
