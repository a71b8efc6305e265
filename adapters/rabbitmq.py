"""The RabbitMQ adapters: ``RabbitSource`` (stand-in source queue) and ``RabbitSink`` (events).

Split by job: ``rabbitmq_connect`` (connection to the first node that answers, URL masking,
error translation), ``rabbitmq_link`` (is the connection up, and why not: readiness, the
reconnect log, and the next node after a loss), ``rabbitmq_topology`` (declarations) +
``rabbitmq_queue_types`` (classic or quorum, and an existing queue of another type), ``rabbitmq_source`` + ``rabbitmq_arrivals`` +
``rabbitmq_tapped_consumer`` + ``rabbitmq_delivery`` + ``rabbitmq_acks`` (consuming, settling)
and ``rabbitmq_sink`` + ``rabbitmq_properties`` + ``rabbitmq_confirms`` (publishing with
confirms).

aio-pika owns each connection (handshake, heartbeats, declarations, reconnect); on the fast
path the per-message frames travel through ``rabbitmq_transport`` + ``rabbitmq_tap`` (a frame
tap on the connection's reader) and ``amqp_wire`` (their encoding), past aiormq's per-frame
machinery. ``rabbitmq_tap_check`` proves the tap is attached on every connection; without it
(or with ``fast_path=False``) the adapters use ``rabbitmq_plain_source`` / ``rabbitmq_plain_sink``:
aio-pika's public API only.
"""

from adapters.rabbitmq_connect import mask_url
from adapters.rabbitmq_delivery import RabbitDelivery
from adapters.rabbitmq_sink import RabbitSink, RabbitSinkOptions
from adapters.rabbitmq_source import RabbitSource, RabbitSourceOptions

__all__ = [
    "RabbitDelivery",
    "RabbitSink",
    "RabbitSinkOptions",
    "RabbitSource",
    "RabbitSourceOptions",
    "mask_url",
]
