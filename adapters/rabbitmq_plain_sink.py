"""``PlainPublisher``: the sink's plain path, on aio-pika's public API only.

Used with ``amqp.fast_path = false``, or when the frame tap's self-check fails
(``adapters.rabbitmq_tap_check``). ``Exchange.publish(mandatory=True)`` on the sink's
confirm-mode channel waits for the broker's Basic.Ack; aio-pika answers a Basic.Return with
the returned message (the channel does not raise on returns), a Basic.Nack with
``DeliveryError``. Same outcomes as the tapped path, slower: aiormq's per-publish lock,
timeout scope, queue hop and pamqp encoding.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import aio_pika
import aiormq.exceptions
from aio_pika.abc import AbstractExchange
from aiormq.abc import DeliveredMessage

from adapters.rabbitmq_connect import translated
from consumer.errors import SinkUnavailableError, UnroutableError
from consumer.ports import Destination, OutboundMessage

PERSISTENT = aio_pika.DeliveryMode.PERSISTENT


class PlainPublisher:
    """Publishes each message and waits for its confirm, through aio-pika."""

    def __init__(
        self,
        exchanges: Mapping[Destination, AbstractExchange],
        timeout_s: float,
        app_id: str,
    ) -> None:
        self._exchanges = exchanges
        self._timeout_s = timeout_s
        self._app_id = app_id

    async def publish(self, message: OutboundMessage, timestamp: datetime | None) -> None:
        """Publish persistently with ``mandatory`` and wait for the broker's answer.

        Raises:
            SinkUnavailableError: nacked, not confirmed in time, or the channel is down.
            UnroutableError: returned by the broker, or a field AMQP can't carry.
        """
        outgoing = aio_pika.Message(
            message.body,
            headers=dict(message.headers),
            content_type=message.content_type,
            delivery_mode=PERSISTENT,
            message_id=message.message_id,
            timestamp=timestamp,
            type=message.type,
            app_id=self._app_id,
        )
        exchange = self._exchanges[message.destination]
        with translated(SinkUnavailableError, f"publishing to {exchange.name}"):
            try:
                result = await exchange.publish(
                    outgoing, message.routing_key, mandatory=True, timeout=self._timeout_s
                )
            except (TypeError, ValueError) as exc:
                # Over AMQP's 255-byte limits (routing key, a property): no retry can fix it;
                # aiormq rolls such a publish back before anything is written.
                raise UnroutableError(f"the message can't be sent: {exc}") from None
            except aiormq.exceptions.DeliveryError:  # Basic.Nack (its text is a bare template)
                raise SinkUnavailableError("the broker nacked the publish") from None
        if isinstance(result, DeliveredMessage):
            returned = result.delivery
            code = getattr(returned, "reply_code", "")
            text = getattr(returned, "reply_text", "")
            raise UnroutableError(f"returned by the broker ({code} {text})")
