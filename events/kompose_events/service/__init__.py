"""The engine's runtime: the process that runs in the container (``kompose-events run``).

It wires the pure core (rules, delivery, sources, metrics) to Mosquitto, the apps and Redis.
One process, plain threads, no asyncio. Where things are:

- ``cli.py``: the commands ``run``, ``check`` and ``health``;
- ``config.py``: the JSON config file, validated whole at start (errors name the key and value);
- ``app.py``: builds the service from the config, starts it, stops it on SIGTERM/SIGINT;
- ``engine.py``: the automation loop: MQTT messages in, rule jobs to the workers, results back
  to the dispatcher, parked jobs stored and replayed, messages acknowledged when settled;
- ``actions.py``: runs one built action: http, gotify, mail, publish;
- ``workers.py``: the small thread pool the actions run in;
- ``mqtt.py``: a thin wrapper around paho-mqtt (connect, subscribe, publish and wait, ack);
- ``stores.py``: Redis or memory stores (dedup, cursors, parked jobs) and the retry on Redis errors;
- ``sources.py``: the Vaultwarden log poller and the Alertmanager webhook;
- ``dbsource.py``: the polled database sources (Linkwarden, Umami, LetterSpace) through psycopg;
- ``probe.py``: the periodic health probe (HTTP GETs into health check events);
- ``http.py``: ``/metrics``, ``/healthz`` and the webhooks;
- ``metrics.py``: thread-safe engine metrics and the runtime's own gauges.

Only ``run`` imports paho-mqtt, redis and psycopg; ``check`` and ``health`` need the standard
library only.
"""
