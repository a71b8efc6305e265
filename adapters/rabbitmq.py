"""The RabbitMQ adapters: ``RabbitSource`` (stand-in source queue) and ``RabbitSink`` (events).

Split by job: ``rabbitmq_connect`` (connection, URL masking, error translation),
``rabbitmq_topology`` (declarations), ``rabbitmq_source`` + ``rabbitmq_delivery`` (consuming,
settling) and ``rabbitmq_sink`` (publishing with confirms).
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
