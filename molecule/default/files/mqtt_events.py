"""Publish and watch Kompose events with a real MQTT client (paho-mqtt), from outside the containers.

  mqtt_events.py wait HOST PORT USER TOPIC COUNT TIMEOUT READY_FILE [MATCH]
      subscribe to TOPIC (QoS 1), create READY_FILE once the broker acknowledged the subscription,
      print the first COUNT messages' payloads whose text holds MATCH (default: any) as one JSON
      list (payloads that are not JSON as text); exit 1 after TIMEOUT seconds with fewer.
  mqtt_events.py burst HOST PORT USER COUNT CHECK
      publish COUNT health-check events (kompose/system/health/check, version 1, data {check: CHECK,
      status: fail, summary: "<CHECK> <i>"}) with QoS 1, each once the broker acknowledged the one
      before; print their ids (one JSON list).

The password is MQTT_PASSWORD. The envelope is written here by hand, from the contract in
events/README.md ({id, topic, version, time, source, data}), not with the engine's own code.
"""

import json
import os
import sys
import threading
import uuid
from datetime import datetime, timezone

import paho.mqtt.client as mqtt

HEALTH = "kompose/system/health/check"


def client(host, port, user):
    connected = threading.Event()
    mqttc = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    mqttc.username_pw_set(user, os.environ["MQTT_PASSWORD"])
    mqttc.on_connect = lambda c, u, f, reason_code, p: connected.set() if not reason_code.is_failure else None
    mqttc.connect(host, int(port), keepalive=30)
    mqttc.loop_start()
    if not connected.wait(10):
        sys.exit("mqtt_events: %s could not connect to %s:%s" % (user, host, port))
    return mqttc


def wait(host, port, user, topic, count, timeout, ready_file, match=""):
    count, received, done = int(count), [], threading.Event()

    def on_message(_client, _userdata, message):
        if match.encode() not in message.payload:
            return
        try:
            received.append(json.loads(message.payload))
        except ValueError:
            received.append(message.payload.decode("utf-8", "replace"))
        if len(received) >= count:
            done.set()

    def on_subscribe(_client, _userdata, _mid, _codes, _properties):
        with open(ready_file, "w", encoding="utf-8") as handle:
            handle.write("subscribed\n")

    mqttc = client(host, port, user)
    mqttc.on_message = on_message
    mqttc.on_subscribe = on_subscribe
    mqttc.subscribe(topic, qos=1)
    done.wait(float(timeout))
    mqttc.disconnect()
    mqttc.loop_stop()
    print(json.dumps(received[:count]))
    if len(received) < count:
        sys.exit("mqtt_events: %d of %d messages on %s within %s s" % (len(received), count, topic, timeout))


def burst(host, port, user, count, check):
    mqttc = client(host, port, user)
    ids = []
    for index in range(int(count)):
        moment = datetime.now(timezone.utc)
        event = {
            "id": str(uuid.uuid4()),
            "topic": HEALTH,
            "version": 1,
            "time": moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000),
            "source": "drill",
            "data": {"check": check, "status": "fail", "summary": "%s %d" % (check, index)},
        }
        info = mqttc.publish(HEALTH, json.dumps(event), qos=1)
        info.wait_for_publish(10)
        if not info.is_published():
            sys.exit("mqtt_events: the broker did not acknowledge event %d" % index)
        ids.append(event["id"])
    mqttc.disconnect()
    mqttc.loop_stop()
    print(json.dumps(ids))


if __name__ == "__main__":
    commands = {"wait": (wait, (7, 8)), "burst": (burst, (5,))}
    if len(sys.argv) < 2 or sys.argv[1] not in commands or len(sys.argv) - 2 not in commands[sys.argv[1]][1]:
        sys.exit(__doc__)
    commands[sys.argv[1]][0](*sys.argv[2:])
