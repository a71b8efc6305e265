# media-event-bridge: `media-bridge run`, configured through MEDIA_BRIDGE_* environment variables.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY consumer ./consumer
COPY adapters ./adapters
COPY emulators ./emulators
# The versions the tests ran with (constraints.txt), not whatever pyproject's ranges admit today.
RUN pip install -c constraints.txt . && useradd --system --uid 10001 --no-create-home bridge

USER bridge
# Status endpoints (/metrics, /healthz, /readyz); listen on all interfaces inside the container.
ENV MEDIA_BRIDGE_HTTP__HOST=0.0.0.0
EXPOSE 9108
# SIGTERM drains in-flight deliveries within MEDIA_BRIDGE_RELAY__GRACE_PERIOD_S (default 20 s):
# give the container a longer stop timeout than that (compose: stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["media-bridge"]
CMD ["run"]
