"""The relay's tuning knobs (a plain frozen dataclass; consumer.settings.model builds it from config)."""

from __future__ import annotations

from dataclasses import dataclass, field

from consumer.normalize import DEFAULT_LIMITS, Limits


@dataclass(frozen=True, slots=True)
class RelayOptions:
    """How the relay paces itself.

    * ``max_in_flight``: deliveries being relayed at once; the relay does not receive while full.
    * ``confirm_timeout_s``: one deadline for all confirms of a delivery's messages; past it the
      delivery is a transient failure (not acked). Keep it below the source's lease (VOD: 30 s).
    * ``backoff_initial_s`` / ``backoff_max_s`` / ``backoff_jitter``: exponential back-off
      (doubling from initial, capped at max) used while the sink or the source is failing;
      each delay is drawn from ``[delay * (1 - jitter), delay]``.
    * ``grace_period_s``: on stop, how long in-flight deliveries may still finish.
    * ``settle_timeout_s``: how long one ack/nack round-trip may take before it counts as failed.
    * ``deadline_margin_s``: a delivery whose source deadline (CMQ lease end, VOD confirm
      window) is closer than this is not started: it could not be acked in time, so relaying it
      would only make a duplicate. Its publishes also get no longer than the deadline minus this
      margin, which leaves that much time for the ack itself.
    * ``max_deliveries``: the poison cap. A delivery the source has handed out more often than
      this (``DeliveryInfo.delivery_count``, minus the times this process gave it back itself
      because the sink failed or a deadline came) is parked with the reason
      ``too_many_deliveries`` without being normalized again: a body that crashes or wedges the
      process must not loop forever. 10 leaves room for restarts and lost acks, and stays under
      RabbitMQ 4's quorum-queue ``delivery-limit`` (20), past which the broker itself drops a
      message that has no dead-letter exchange. 0: no cap.
    * ``limits``: normalization guards (body size, JSON depth).
    """

    max_in_flight: int = 64
    confirm_timeout_s: float = 15.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    backoff_jitter: float = 0.5
    grace_period_s: float = 20.0
    settle_timeout_s: float = 10.0
    deadline_margin_s: float = 0.5
    max_deliveries: int = 10
    limits: Limits = field(default_factory=lambda: DEFAULT_LIMITS)

    def __post_init__(self) -> None:
        if self.max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        for name in ("confirm_timeout_s", "backoff_initial_s", "settle_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be greater than 0")
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must be at least backoff_initial_s")
        if not 0 <= self.backoff_jitter <= 1:
            raise ValueError("backoff_jitter must be between 0 and 1")
        if self.grace_period_s < 0:
            raise ValueError("grace_period_s must not be negative")
        if self.deadline_margin_s < 0:
            raise ValueError("deadline_margin_s must not be negative")
        if self.max_deliveries < 0:
            raise ValueError("max_deliveries must not be negative (0: no cap)")
