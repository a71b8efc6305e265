"""``scripts/rabbitmq-cluster``: the hand-run cluster of ``tests.cluster_broker`` (stdlib only).

Its nodes outlive the command; the layout (names, ports, dirs) is kept in
``$MEDIA_BRIDGE_TEST_CLUSTER_DIR/cluster.json`` for the next one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tests.cluster_broker import Cluster
from tests.cluster_layout import SIZE, Layout
from tests.private_broker import PrivateBrokerError

USAGE = """\
scripts/rabbitmq-cluster COMMAND [N]

  start         start the 3-node cluster (create and join it if new); prints the AMQP URLs
  stop          stop every node and epmd, and remove the cluster's files
  status        each node's state, and the running cluster members
  urls          the AMQP URLs, comma-separated (for MEDIA_BRIDGE_SOURCE__URL / SINK__URL)
  kill N        SIGKILL node N's Erlang VM (a crash)
  stop-node N   stop node N gracefully
  start-node N  start node N (it rejoins by itself)
  restart N     stop-node N, start-node N, wait until it has rejoined

Environment (read when the cluster is created; later commands read DIR/cluster.json):
  MEDIA_BRIDGE_TEST_CLUSTER_DIR         base dir of data, logs, config (default /tmp/mb-rabbitmq-cluster)
  MEDIA_BRIDGE_TEST_CLUSTER_NAME        node name prefix: NAME-1@localhost ... (default mb-cluster)
  MEDIA_BRIDGE_TEST_CLUSTER_AMQP_PORTS  comma-separated, one per node (default 5701,5702,5703)
  MEDIA_BRIDGE_TEST_CLUSTER_DIST_PORTS  Erlang distribution ports (default 25701,25702,25703)
  MEDIA_BRIDGE_TEST_CLUSTER_EPMD_PORT   the cluster's own epmd (default 4379)
The shared broker (rabbit@localhost, 5672/25672, epmd 4369) is never used or touched.
"""


def _hand_cluster(command: str) -> Cluster | None:
    """The cluster at ``$MEDIA_BRIDGE_TEST_CLUSTER_DIR``; None when there is none and ``command``
    is not ``start`` (nothing is created for a ``status``)."""
    wanted = Layout.from_environment()
    saved = Layout.load(wanted.base)
    if saved is None and command != "start":
        return None
    return Cluster(saved or wanted, owned=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/rabbitmq-cluster", usage=USAGE, add_help=True,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command",
        choices=["start", "stop", "status", "urls", "kill", "stop-node", "start-node", "restart"],
    )
    parser.add_argument("n", nargs="?", type=int)
    args = parser.parse_args(argv)
    try:
        nodes = _hand_cluster(args.command)
        if nodes is None:
            where = Layout.from_environment().base
            print(f"rabbitmq-cluster: no cluster in {where} (run start)", file=sys.stderr)
            return 0 if args.command == "stop" else 1
        if args.command in ("kill", "stop-node", "start-node", "restart"):
            if args.n is None:
                parser.error(f"{args.command} needs a node number 1-{SIZE}")
            nodes.node(args.n)
            {"kill": nodes.kill, "stop-node": nodes.stop_node, "start-node": nodes.start_node,
             "restart": nodes.restart}[args.command](args.n)
            print(nodes.status())
        elif args.command == "start":
            nodes.start()
            print(nodes.url)
        elif args.command == "stop":
            nodes.destroy()
        elif args.command == "status":
            print(nodes.status())
        else:
            print(nodes.url)
    except PrivateBrokerError as exc:
        print(f"rabbitmq-cluster: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
