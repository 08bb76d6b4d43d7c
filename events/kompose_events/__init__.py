"""kompose-events: the pure core of Kompose's event engine (issue 20).

Envelopes and schemas for the ``kompose/...`` topics, the sources' mappings (Vaultwarden's log,
Linkwarden's database) with durable cursors, rules as data, at-least-once bookkeeping and the
engine's metrics. No MQTT, HTTP or database client lives here: the engine that wires them to
this core is not written yet, and nothing of this package is deployed.
"""

__version__ = "0.1.0"
