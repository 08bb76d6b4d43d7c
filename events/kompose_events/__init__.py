"""kompose-events: Kompose's event engine (issue 20).

The pure core: envelopes and schemas for the ``kompose/...`` topics, the sources' mappings
(Vaultwarden's log, Linkwarden's database) with durable cursors, rules as data, at-least-once
bookkeeping and the engine's metrics - no network, the standard library only. The runtime that
wires it to MQTT, HTTP, SMTP and Redis is the subpackage ``service`` (``kompose-events run``).
"""

__version__ = "0.1.0"
