"""Declaring the bridge's queues as ``classic`` or ``quorum`` (``source.queue_type``,
``sink.queue_type``), and what an existing queue of another kind gets.

**The arguments.** A classic queue is declared with ``x-queue-type: classic`` (equivalent to an
existing classic queue declared without it; and a RabbitMQ 4 virtual host whose default queue
type is quorum does not turn it into a quorum queue behind the setting's back). A quorum queue
is declared with ``x-queue-type: quorum`` and ``x-delivery-limit: QUORUM_DELIVERY_LIMIT``, a
limit no queue of ours reaches, the same on every RabbitMQ version (a queue's arguments are
compared on every re-declaration, so they must not depend on the node the bridge happens to
reach). Why a limit at all, and why not the broker's default:

* RabbitMQ 4 gives a quorum queue without one a ``delivery-limit`` of 20 and then drops (or
  dead-letters) a message returned more often. On 4.0-4.2 every return counts, ``basic.nack``
  included: the ``parked`` command's look (a requeue), and the relay's own give-backs while the
  sink is down. The bridge's poison cap (``relay.max_deliveries``) parks a crash-looping body
  with a reason instead of letting the broker drop it.
* "No limit" can't be said the same way everywhere: RabbitMQ 4 reads a negative
  ``x-delivery-limit`` as none, RabbitMQ 3.10 as a limit below 0 and drops a message at its
  first return (measured on 3.10.8).
* With a limit set, a returned message goes back to the *head* of a quorum queue, in order, on
  every version; without one, RabbitMQ 4 re-appends it at the tail (its ``rabbit_fifo`` turns
  the return into a requeue), so ``media-bridge parked`` would reorder the parking queue.

A policy's ``delivery-limit`` still applies (RabbitMQ takes the lower of policy and argument).

**An existing queue.** The declaration is tried on a throwaway channel first (a refusal closes
the channel it came on, and the adapters' channels are robust ones that would reopen). A queue
of the other type, or with arguments of its own, can't be re-declared: RabbitMQ answers
``PRECONDITION_FAILED - inequivalent arg ...``. The bridge does not then take the queue as it
is (a passive declaration): its type is what the setting promises (confirms after a quorum of
nodes; the poison cap seeing a crash loop), a passive declaration would not re-create a deleted
queue after a reconnect, and AMQP can't say which type an existing queue has when another
argument differs too. So start-up ends with one line naming the setting to change (the queue's
type) or the argument that differs (move it into a policy, which RabbitMQ applies to existing
queues). One exception: a quorum queue that exists without our ``x-delivery-limit`` (made by
someone else, or with another limit) is used as it is, declared without the limit, with one
line (a WARNING on RabbitMQ 4, which has a default limit; INFO on 3.x) that the queue's own, or
the broker's, delivery limit applies.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Literal

import aiormq.exceptions
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection, AbstractRobustQueue

from consumer.errors import ConfigurationError

log = logging.getLogger(__name__)

QueueType = Literal["classic", "quorum"]
QUEUE_TYPE = "x-queue-type"
DELIVERY_LIMIT = "x-delivery-limit"
# Not reached by any queue of ours: the `parked` command looks at a message once per run.
QUORUM_DELIVERY_LIMIT = 1_000_000
_INEQUIVALENT = re.compile(r"inequivalent arg '([^']+)'")
_CURRENT_TYPE = re.compile(r"current is (?:the value )?'([^']+)'")


def queue_arguments(queue_type: QueueType) -> dict[str, Any]:
    """The declaration arguments of a bridge queue of ``queue_type`` (see the module doc)."""
    if queue_type == "quorum":
        return {QUEUE_TYPE: "quorum", DELIVERY_LIMIT: QUORUM_DELIVERY_LIMIT}
    return {QUEUE_TYPE: "classic"}


async def declare_queue(
    connection: AbstractRobustConnection,
    channel: AbstractRobustChannel,
    name: str,
    queue_type: QueueType,
    setting: str,
) -> AbstractRobustQueue:
    """Declare the durable queue ``name`` as ``queue_type`` on ``channel`` (robust: re-declared
    the same way after a reconnect).

    Raises:
        ConfigurationError: the queue exists with another type (naming ``setting``) or with
            arguments of its own.
    """
    arguments = queue_arguments(queue_type)
    refusal = await _refusal(connection, name, arguments)
    if refusal is not None and _argument(refusal) == DELIVERY_LIMIT:
        arguments = {key: value for key, value in arguments.items() if key != DELIVERY_LIMIT}
        refusal = await _refusal(connection, name, arguments)
        if refusal is None:
            # A real risk only where a default limit exists (RabbitMQ 4); on 3.x, for the record.
            level = logging.WARNING if _major_version(connection) >= 4 else logging.INFO
            log.log(
                level,
                "quorum queue %s exists with a delivery limit of its own (or none); using it as "
                "it is: the broker drops or dead-letters a message returned more often than "
                "that limit (RabbitMQ 4's default is 20), which relay.max_deliveries should stay "
                "below; %s declares it with x-delivery-limit = %d",
                name, setting, QUORUM_DELIVERY_LIMIT,
                extra={"queue": name},
            )
    if refusal is not None:
        raise ConfigurationError(_explain(refusal, name, queue_type, setting))
    return await channel.declare_queue(name, durable=True, arguments=arguments)


async def _refusal(
    connection: AbstractRobustConnection, name: str, arguments: dict[str, Any]
) -> str | None:
    """None if ``name`` can be declared with ``arguments``, else the broker's reply text.

    On a throwaway aiormq channel (see the module docstring).
    """
    underlay = connection.transport
    if underlay is None:  # not connected: let the real declaration say why
        return None
    channel = await underlay.connection.channel()
    try:
        await channel.queue_declare(name, durable=True, arguments=arguments)
    except aiormq.exceptions.ChannelPreconditionFailed as exc:
        return str(exc.args[0]) if exc.args else str(exc)  # the broker closed the channel
    await channel.close()
    return None


def _major_version(connection: AbstractRobustConnection) -> int:
    """The broker's major version from its Connection.Start properties (0 if not known)."""
    underlay = connection.transport
    properties = underlay.connection.server_properties if underlay is not None else {}
    version = properties.get("version") if properties else None
    text = version.decode() if isinstance(version, bytes) else str(version or "")
    head = text.split(".", 1)[0]
    return int(head) if head.isdigit() else 0


def _argument(refusal: str) -> str | None:
    match = _INEQUIVALENT.search(refusal)
    return match.group(1) if match else None


def _explain(refusal: str, name: str, queue_type: QueueType, setting: str) -> str:
    """One line: what differs and which setting (or which argument) to change."""
    variable = "MEDIA_BRIDGE_" + setting.upper().replace(".", "__")
    argument = _argument(refusal)
    if argument == QUEUE_TYPE:
        current = _CURRENT_TYPE.search(refusal)
        actual = current.group(1) if current else "classic"  # "current is none": classic
        if actual not in ("classic", "quorum"):
            return f"queue {name} exists as a {actual} queue, which {setting} can't name"
        return (
            f"queue {name} exists as a {actual} queue, but {setting} is {queue_type}: set "
            f"{variable}={actual} ({setting} = \"{actual}\" in TOML) to use it (a queue's type "
            f"can't be changed: to have it {queue_type}, drain and delete it first)"
        )
    return (
        f"queue {name} exists with arguments the bridge does not declare ({refusal}); the "
        f"bridge declares it as a durable {queue_type} queue ({setting}): declare it with no "
        "other arguments and put the others in a policy, which RabbitMQ applies to an existing "
        "queue, or delete it to let the bridge create it"
    )
