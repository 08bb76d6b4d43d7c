"""Prove the broker's access rules with real MQTT clients (paho-mqtt), from outside the container.

Prints one JSON object: the anonymous connect result, the connect results of the users, and the
topics the subscriber received. A publish the ACL denies is still acknowledged by the broker, so a
denial is proven by the allowed subscriber never receiving it (see REFERENCES.md).
Passwords come from the environment: PUBLISHER_PASSWORD, SUBSCRIBER_PASSWORD.
"""

import json
import os
import sys
import threading
import time

import paho.mqtt.client as mqtt


def connect(host, port, user=None, password=None):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
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
    if not ready.wait(10):
        result.update(rc="timeout", ok=False)
    return client, result


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    publisher, subscriber, subscribe_to = sys.argv[3], sys.argv[4], sys.argv[5]
    topics = sys.argv[6:]
    report = {}

    anon, report["anonymous"] = connect(host, port)
    anon.loop_stop()
    anon.disconnect()

    received = []
    sub, report["subscriber"] = connect(host, port, subscriber, os.environ["SUBSCRIBER_PASSWORD"])
    subscribed = threading.Event()
    sub.on_message = lambda client, userdata, message: received.append(message.topic)
    sub.on_subscribe = lambda *args: subscribed.set()
    sub.subscribe(subscribe_to, qos=1)
    subscribed.wait(5)

    pub, report["publisher"] = connect(host, port, publisher, os.environ["PUBLISHER_PASSWORD"])
    for topic in topics:
        pub.publish(topic, b"probe", qos=1).wait_for_publish(5)
    time.sleep(2)
    for client in (pub, sub):
        client.loop_stop()
        client.disconnect()
    report["received"] = sorted(received)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
