"""The relay: take a delivery from the source, publish its events, ack only after the confirm.

* ``engine``: :func:`run_relay`, the pool of workers and the drain on stop;
* ``delivery``: one delivery's way through normalize → publish → confirm → ack/park/retry;
* ``gate``: back-off and the healthy gates that give the relay its backpressure;
* ``givebacks``: the process's own give-backs, kept out of the poison cap's count;
* ``options``: :class:`RelayOptions`, the tuning knobs.
"""

from consumer.relay.engine import Outcome, RelayOptions, run_relay

__all__ = ["Outcome", "RelayOptions", "run_relay"]
