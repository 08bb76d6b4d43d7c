"""The paho wrapper without a broker: its callbacks are driven by hand."""

from __future__ import annotations

import logging

import paho.mqtt.client as paho
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from kompose_events.service.mqtt import Message, MqttClient, PublishError, Receipt

SUCCESS = ReasonCode(PacketTypes.CONNACK, "Success")
REFUSED = ReasonCode(PacketTypes.CONNACK, "Not authorized")


def _client() -> tuple[MqttClient, list[Message], list[int]]:
    client = MqttClient("automation", "core-mqtt", 1883, 30, "kompose-events", "automation", "secret", subscriber=True)
    received: list[Message] = []
    client.subscribe(["kompose/#"], received.append)
    acks: list[int] = []
    client._client.ack = lambda mid, qos: acks.append(mid) or paho.MQTT_ERR_SUCCESS  # type: ignore[method-assign]
    return client, received, acks


def _connect(client: MqttClient) -> None:
    client._connected_cb(client._client, None, paho.ConnectFlags(session_present=True), SUCCESS, None)


def _message(client: MqttClient, mid: int, qos: int = 1) -> None:
    message = paho.MQTTMessage(mid=mid, topic=b"kompose/system/health/check")
    message.qos = qos
    message.payload = b"{}"
    client._message_cb(client._client, None, message)


def test_a_persistent_session_with_manual_acknowledgements() -> None:
    client = _client()[0]
    assert client._client._clean_session is False and client._client._manual_ack is True
    source = MqttClient("vaultwarden", "core-mqtt", 1883, 30, "kompose-events-vaultwarden")
    assert source._client._clean_session is True and source._client._manual_ack is False


def test_publishing_needs_a_connection() -> None:
    client = _client()[0]
    assert not client.connected
    with pytest.raises(PublishError, match="mqtt automation: not connected"):
        client.publish("kompose/system/health/check", b"{}", 0.1)


def test_an_acknowledgement_goes_only_to_the_connection_the_message_came_on() -> None:
    client, received, acks = _client()
    _connect(client)
    _message(client, 5)
    _message(client, 6, qos=0)
    assert received[0] == Message("kompose/system/health/check", b"{}", Receipt(5, 1))
    assert received[1].receipt is None  # QoS 0: nothing to acknowledge
    client._disconnected_cb(client._client, None, paho.DisconnectFlags(False), SUCCESS, None)
    assert client.ack(received[0].receipt) is False  # not connected
    _connect(client)
    assert client.ack(received[0].receipt) is False  # another connection: the broker delivers it again
    _message(client, 5)
    assert client.ack(received[2].receipt) is True
    assert acks == [5]
    client.stop()
    _message(client, 7)
    assert client.ack(received[3].receipt) is False  # stopping: nothing more is acknowledged


def test_connection_problems_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    client = _client()[0]
    for _index in range(3):
        client._connect_failed_cb(client._client, None)
    client._connected_cb(client._client, None, paho.ConnectFlags(False), REFUSED, None)
    client._connected_cb(client._client, None, paho.ConnectFlags(False), REFUSED, None)
    assert not client.connected
    assert caplog.text.count("mqtt automation: cannot connect to core-mqtt:1883; retrying") == 1
    assert caplog.text.count("mqtt automation: connection refused by core-mqtt:1883: Not authorized") == 1
    _connect(client)
    assert "mqtt automation: connected to core-mqtt:1883 (session present: True)" in caplog.text
    assert "secret" not in caplog.text
