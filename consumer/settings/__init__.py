"""Settings: defaults, then ``media-bridge.toml``, then ``MEDIA_BRIDGE_*`` variables.

* ``model``: the root :class:`Settings` (sink, relay, amqp, http, log sections) and
  :func:`load_settings`, which reports every problem at once as one line each;
* ``sources``: the ``[source]`` section, one model per source kind (rabbitmq, cmq, vod, http);
* ``base``: what every section shares (strict keys, the environment naming, masked URLs);
* ``environment``: variables that look like settings but name none (typos);
* ``error_lines``: pydantic's validation errors as one line per problem, secrets masked;
* ``listing``: every setting with its variable, default and description (``run --help``).

The names most callers need are re-exported here.
"""

from consumer.settings.model import (
    CONFIG_ENV,
    DEFAULT_AMQP_URL,
    ENV_DELIMITER,
    ENV_PREFIX,
    AmqpSettings,
    CmqSourceSettings,
    HttpSettings,
    LogSettings,
    RabbitSourceSettings,
    RelaySettings,
    Settings,
    SinkSettings,
    SourceSettings,
    load_settings,
    masked_url,
)

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_AMQP_URL",
    "ENV_DELIMITER",
    "ENV_PREFIX",
    "AmqpSettings",
    "CmqSourceSettings",
    "HttpSettings",
    "LogSettings",
    "RabbitSourceSettings",
    "RelaySettings",
    "Settings",
    "SinkSettings",
    "SourceSettings",
    "load_settings",
    "masked_url",
]
