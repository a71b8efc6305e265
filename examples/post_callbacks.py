"""POST the Tencent samples to the bridge's HTTP source, signed as VOD and MPS sign their callbacks.

    .venv/bin/python examples/post_callbacks.py --url http://127.0.0.1:9110 \\
        --vod-key "$VOD_SIGN_KEY" --mps-key "$MPS_NOTIFY_KEY" --token "$PUSH_TOKEN" [--malformed 3]

* every VOD v3 push-body sample → ``/vod`` with ``T`` (now + 10 min) and
  ``Sign = MD5(SignKey + T)`` added to the body;
* every MPS sample → ``/mps`` with ``Timestamp`` and ``Sign = MD5(Timestamp + NotifyKey)``;
* every legacy VOD v2 sample → ``/vod-v2`` and the CMQ topic push sample → ``/cmq``, both with
  ``Authorization: Bearer <token>`` (they have no signature scheme);
* ``--malformed N``: N authentic bodies the bridge can't normalize (it parks them, then 200).

Each answer is printed; a 503 is retried after its ``Retry-After``, as Tencent would. Exit
status 0 when every callback was answered 200.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import httpx
import orjson

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples"
MALFORMED = [b"this is not JSON", b'{"EventType": "SomethingNew"}', b"\xff\xfe\x00", b"[]"]
MAX_ATTEMPTS = 5


def signed(body: bytes, fields: dict[str, object]) -> bytes:
    doc = orjson.loads(body)
    if set(doc) == {"Response"}:  # ParseNotification output as tccli prints it
        return orjson.dumps({"Response": {**doc["Response"], **fields}})
    return orjson.dumps({**doc, **fields})


def vod_signed(body: bytes, key: str) -> bytes:
    t = int(time.time()) + 600
    return signed(body, {"T": t, "Sign": hashlib.md5(f"{key}{t}".encode()).hexdigest()})


def mps_signed(body: bytes, key: str) -> bytes:
    ts = int(time.time()) + 600
    return signed(body, {"Timestamp": ts, "Sign": hashlib.md5(f"{ts}{key}".encode()).hexdigest()})


def callbacks(args: argparse.Namespace) -> list[tuple[str, str, bytes, dict[str, str]]]:
    """(label, path, body, headers) of every callback to send."""
    json_type = {"content-type": "application/json"}
    bearer = {**json_type, "authorization": f"Bearer {args.token}"}
    found: list[tuple[str, str, bytes, dict[str, str]]] = []
    for path in sorted(SAMPLES.glob("*.json")):
        body, name = path.read_bytes(), path.name
        if name.startswith("vod__") and "push-body" in name and args.vod_key:
            found.append((name, args.vod_path, vod_signed(body, args.vod_key), json_type))
        elif name.startswith("mps__") and args.mps_key:
            found.append((name, args.mps_path, mps_signed(body, args.mps_key), json_type))
        elif name.startswith("vodlegacy__") and args.token:
            found.append((name, args.vod_v2_path, body, bearer))
        elif name.startswith("cmq__TopicHttpPush") and args.token:
            found.append((name, args.cmq_path, body, {**bearer, "content-type": "text/plain"}))
    for n in range(args.malformed):
        body = MALFORMED[n % len(MALFORMED)]
        found.append(
            (f"malformed #{n + 1}", args.cmq_path, body, {**bearer, "content-type": "text/plain"})
        )
    return found


def send(http: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    """POST, retrying a 503 after its Retry-After (at most MAX_ATTEMPTS times)."""
    for _ in range(MAX_ATTEMPTS - 1):
        response = http.post(url, content=body, headers=headers)
        if response.status_code != 503:
            return response
        time.sleep(min(float(response.headers.get("retry-after", "1")), 5.0))
    return http.post(url, content=body, headers=headers)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:9110", help="the HTTP source's base URL")
    parser.add_argument("--vod-key", default="", help="VOD SignKey (ModifyEventConfig)")
    parser.add_argument("--mps-key", default="", help="MPS NotifyKey (TaskNotifyConfig)")
    parser.add_argument("--token", default="", help="shared secret of the vod_v2 and cmq paths")
    parser.add_argument("--vod-path", default="/vod")
    parser.add_argument("--mps-path", default="/mps")
    parser.add_argument("--vod-v2-path", default="/vod-v2")
    parser.add_argument("--cmq-path", default="/cmq")
    parser.add_argument("--malformed", type=int, default=0, metavar="N")
    args = parser.parse_args()
    answered_ok = 0
    todo = callbacks(args)
    with httpx.Client(timeout=30) as http:
        for label, path, body, headers in todo:
            response = send(http, args.url.rstrip("/") + path, body, headers)
            answered_ok += response.status_code == 200
            print(f"{response.status_code} {path} {label} ({len(body)} bytes)")
    print(f"{answered_ok}/{len(todo)} callbacks answered 200")
    return 0 if answered_ok == len(todo) else 1


if __name__ == "__main__":
    sys.exit(main())
