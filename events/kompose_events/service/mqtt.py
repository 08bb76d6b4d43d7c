"""A thin wrapper around paho-mqtt 2.x: connect, subscribe, publish and wait for the PUBACK, ack.

The engine and the sources use only this class's methods, so the tests replace it with a fake
and never need a broker. MQTT 3.1.1, QoS 1 throughout.

- The automation client subscribes with a persistent session (``clean_session=False``, a fixed
  client id) and acknowledges by hand (``manual_ack=True``): the broker keeps what was not
  acknowledged and delivers it again after a reconnect.
- paho's own thread connects and reconnects with backoff (1 s doubling to 10 s: the broker back after a restart is found within seconds).
- A message's ``Receipt`` names the connection it arrived on. An acknowledgement is only sent on
  that same connection: after a reconnect the broker delivers the message again, and that new
  delivery is the one to acknowledge (a packet id from an old connection may since have been
  given to another message).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import paho.mqtt.client as paho

LOG = logging.getLogger(__name__)
RECONNECT_MIN_SECONDS = 1
RECONNECT_MAX_SECONDS = 10
# what paho keeps for a publish that could not go out at once (bounded memory)
MAX_QUEUED = 1000


class PublishError(Exception):
    """A message was not acknowledged by the broker (not connected, refused, no PUBACK in time)."""


@dataclass(frozen=True)
class Receipt:
    """What acknowledging a delivery takes: its packet id and the connection it arrived on."""

    mid: int
    connection: int


@dataclass(frozen=True)
class Message:
    """A message as the engine sees it; ``receipt`` is None for QoS 0 (nothing to acknowledge)."""

    topic: str
    payload: bytes
    receipt: Receipt | None


class MqttClient:
    """One MQTT connection. ``name`` labels it in logs and metrics (``automation``, a source)."""

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        keepalive: int,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        subscriber: bool = False,
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.keepalive = keepalive
        self._filters: list[str] = []
        self._on_message: Callable[[Message], None] | None = None
        self._lock = threading.Lock()
        self._connection = 0
        self._connected = False
        self._failing: str | None = None  # the last connection problem logged (logged once)
        self._client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=not subscriber,
            protocol=paho.MQTTv311,
            manual_ack=subscriber,
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.reconnect_delay_set(RECONNECT_MIN_SECONDS, RECONNECT_MAX_SECONDS)
        self._client.max_queued_messages_set(MAX_QUEUED)
        self._client.on_connect = self._connected_cb
        self._client.on_connect_fail = self._connect_failed_cb
        self._client.on_disconnect = self._disconnected_cb
        self._client.on_message = self._message_cb

    @property
    def connected(self) -> bool:
        """Whether the connection is up (for /healthz and the metrics)."""
        return self._connected

    def subscribe(self, filters: Sequence[str], on_message: Callable[[Message], None]) -> None:
        """Subscribe to ``filters`` (QoS 1) on every connect; call before ``start``."""
        self._filters = list(filters)
        self._on_message = on_message

    def start(self) -> None:
        """Connect in the background; paho's thread reconnects whenever the connection drops."""
        self._client.connect_async(self.host, self.port, self.keepalive)
        self._client.loop_start()

    def stop(self) -> None:
        """Disconnect without acknowledging anything more; the broker keeps what is unacknowledged."""
        was_connected = self._connected
        with self._lock:
            self._connection += 1  # no acknowledgement from now on
            self._connected = False
        self._client.disconnect()
        if was_connected:
            self._client.loop_stop()
        # not connected: paho's thread is a daemon that ends with the process (it may be in a
        # connect attempt that only times out later)

    def publish(self, topic: str, payload: bytes, timeout: float) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK; PublishError otherwise."""
        self.publish_all([(topic, payload)], timeout)

    def publish_all(self, messages: Sequence[tuple[str, bytes]], timeout: float) -> None:
        """Publish all ``messages`` (QoS 1, not retained), then wait until each one is acknowledged."""
        if not self._connected:
            raise PublishError(f"mqtt {self.name}: not connected")
        deadline = time.monotonic() + timeout
        infos = [self._client.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            try:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
                published = info.is_published()
            except (RuntimeError, ValueError) as error:
                raise PublishError(f"mqtt {self.name}: {error}") from None
            if not published:
                raise PublishError(f"mqtt {self.name}: no PUBACK within {timeout:g} s")

    def ack(self, receipt: Receipt) -> bool:
        """Acknowledge a delivery, if the connection it arrived on is still the current one."""
        with self._lock:
            if receipt.connection != self._connection or not self._connected:
                return False
            return self._client.ack(receipt.mid, 1) == paho.MQTT_ERR_SUCCESS

    # paho's callbacks (its network thread)

    def _connected_cb(
        self, client: paho.Client, userdata: object, flags: object, reason: object, props: object
    ) -> None:
        if getattr(reason, "is_failure", False):
            self._log_problem(f"connection refused by {self.host}:{self.port}: {reason}")
            return
        with self._lock:
            self._connection += 1
            self._connected = True
        self._failing = None
        present = getattr(flags, "session_present", False)
        LOG.info("mqtt %s: connected to %s:%s (session present: %s)", self.name, self.host, self.port, present)
        if self._filters:
            client.subscribe([(item, 1) for item in self._filters])

    def _connect_failed_cb(self, client: paho.Client, userdata: object) -> None:
        self._log_problem(f"cannot connect to {self.host}:{self.port}; retrying")

    def _disconnected_cb(
        self, client: paho.Client, userdata: object, flags: object, reason: object, props: object
    ) -> None:
        with self._lock:
            was_connected = self._connected
            self._connected = False
        if was_connected:
            LOG.warning("mqtt %s: disconnected (%s); reconnecting", self.name, reason)

    def _message_cb(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        receipt = Receipt(message.mid, self._connection) if message.qos > 0 else None
        if self._on_message is not None:
            self._on_message(Message(message.topic, bytes(message.payload), receipt))

    def _log_problem(self, text: str) -> None:
        if text != self._failing:
            self._failing = text
            LOG.warning("mqtt %s: %s", self.name, text)
