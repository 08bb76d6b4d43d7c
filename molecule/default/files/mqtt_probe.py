"""Prove the broker's access rules with real MQTT clients (paho-mqtt), from outside the container.

Usage: mqtt_probe.py HOST PORT PUBLISHER SUBSCRIBER SUBSCRIBE_TO SENTINEL_TOPIC TOPIC...
Prints one JSON object: the anonymous connect result, the connect results of the users, and the
topics the subscriber received (the sentinel aside). A publish the ACL denies is still acknowledged
by the broker, so a denial is proven by the allowed subscriber never receiving it (see
REFERENCES.md). After the TOPICs the publisher sends a sentinel (a fresh payload on SENTINEL_TOPIC,
which it may publish and the subscriber may read), each publish once the broker acknowledged the
one before: the broker has handled every TOPIC when the sentinel reaches it, and mosquitto queues a
subscriber's messages in the order it handled them, so a TOPIC not received before the sentinel
was not delivered. Exits 1 (after printing the report) when the sentinel does not arrive in time.
Passwords come from the environment: PUBLISHER_PASSWORD, SUBSCRIBER_PASSWORD. With MQTT_TLS_NAME and
MQTT_TLS_CA, every client speaks TLS to HOST:PORT as MQTT_TLS_NAME (its SNI and the name its
certificate must hold), trusting only the CA file (devices through the proxy's TLS entry point).
"""

import json
import os
import socket
import sys
import threading
import uuid

import paho.mqtt.client as mqtt

TIMEOUT = 10  # seconds for each acknowledgement and for the sentinel


def connect(host, port, user=None, password=None):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    if os.environ.get("MQTT_TLS_NAME"):
        client.tls_set(ca_certs=os.environ["MQTT_TLS_CA"])
    if user:
        client.username_pw_set(user, password)
    result = {}
    ready = threading.Event()

    def on_connect(client, userdata, flags, reason_code, properties):
        result["rc"] = str(reason_code)
        result["ok"] = not reason_code.is_failure
        ready.set()

    client.on_connect = on_connect
    client.connect(host, port, keepalive=10)
    client.loop_start()
    if not ready.wait(TIMEOUT):
        result.update(rc="timeout", ok=False)
    return client, result


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    name = os.environ.get("MQTT_TLS_NAME")
    if name:
        # the clients connect to the name (SNI, certificate check), which resolves to HOST
        resolve, address = socket.getaddrinfo, host
        socket.getaddrinfo = lambda node, *args, **kwargs: resolve(address if node == name else node, *args, **kwargs)
        host = name
    publisher, subscriber, subscribe_to, sentinel_topic = sys.argv[3:7]
    topics = sys.argv[7:]
    sentinel = uuid.uuid4().hex.encode()
    report = {}

    anon, report["anonymous"] = connect(host, port)
    anon.disconnect()  # first, as below: stopping the loop of a refused client first waits for it
    anon.loop_stop()

    received = []
    sentinel_seen = threading.Event()
    sub, report["subscriber"] = connect(host, port, subscriber, os.environ["SUBSCRIBER_PASSWORD"])
    subscribed = threading.Event()

    def on_message(client, userdata, message):
        if message.topic == sentinel_topic and message.payload == sentinel:
            sentinel_seen.set()
        else:
            received.append(message.topic)

    def on_subscribe(client, userdata, mid, reason_codes, properties):
        report["subscribed"] = [str(code) for code in reason_codes]
        subscribed.set()

    sub.on_message = on_message
    sub.on_subscribe = on_subscribe
    sub.subscribe(subscribe_to, qos=1)
    subscribed.wait(TIMEOUT)

    pub, report["publisher"] = connect(host, port, publisher, os.environ["PUBLISHER_PASSWORD"])
    unacknowledged = None
    for topic, payload in [(topic, b"probe") for topic in topics] + [(sentinel_topic, sentinel)]:
        info = pub.publish(topic, payload, qos=1)
        try:
            info.wait_for_publish(TIMEOUT)
        except (RuntimeError, ValueError):
            pass
        try:
            published = info.is_published()
        except (RuntimeError, ValueError):  # paho 2: the client is not connected (refused, or gone)
            published = False
        if not published:
            unacknowledged = topic  # the order is unknown from here: nothing more is sent
            break
    report["sentinel"] = unacknowledged is None and sentinel_seen.wait(TIMEOUT)
    for client in (pub, sub):
        client.disconnect()  # first: the network thread would wait for an unacknowledged publish forever
        client.loop_stop()
    report["received"] = sorted(received)
    print(json.dumps(report))
    if unacknowledged is not None:
        sys.exit("mqtt_probe: the broker did not acknowledge the publish on %s within %s s" % (unacknowledged, TIMEOUT))
    if not report["sentinel"]:
        sys.exit("mqtt_probe: the sentinel on %s did not reach %s within %s s: no proof that a message was not delivered"
                 % (sentinel_topic, subscriber, TIMEOUT))


if __name__ == "__main__":
    main()
