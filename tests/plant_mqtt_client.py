"""A plant system on the plant broker, run inside the plant's network namespace by
tests/test_plant_bridge_e2e.py (``ip netns exec <ns> python plant_mqtt_client.py ...``).

    publish   --port P --topic T --prefix S --count N --rate R --orders K --status FILE
        publishes N facts (test.order_report, message_id S-i, order WO-S-(i mod K), step i) with
        QoS 1 at R per second; FILE (JSON, replaced atomically) says how many were published and
        acknowledged by the plant broker; exits 0 once all are acknowledged.
    subscribe --port P --topic T --client-id C --out FILE
        QoS 1 subscriber; FILE gets one JSON line per message received (topic, payload, retain)
        and a first line {"subscribed": true} once the broker acknowledged the subscription.
    put       --port P --topic T --payload TEXT [--retain]
        publishes one message with QoS 1 (retained when asked) and exits once acknowledged.

MQTT 3.1.1 like the bridge: the message id is in the payload.
"""

import argparse
import json
import os
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion


def write_status(path, data):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as out:
        json.dump(data, out)
    os.replace(tmp, path)


def publish(args):
    acked = [0]
    lock = threading.Lock()
    connected = threading.Event()

    def on_publish(*_a):
        with lock:
            acked[0] += 1

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"plant-pub-{args.prefix}",
        protocol=MQTTProtocolVersion.MQTTv311,
        clean_session=False,
    )
    client.on_publish = on_publish
    client.on_connect = lambda *a: connected.set()
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", args.port, keepalive=10)
    client.loop_start()
    if not connected.wait(10):
        sys.exit("publisher: no connection to the plant broker")
    start = time.monotonic()
    for i in range(args.count):
        # steady rate: message i leaves at start + i / rate
        delay = start + i / args.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        body = {
            "message_id": f"{args.prefix}-{i}",
            "order": f"WO-{args.prefix}-{i % args.orders}",
            "product": args.product,
            "quantity": 1,
            "step": str(i),
        }
        client.publish(args.topic, json.dumps(body), qos=1)
        if i % 10 == 9 or i == args.count - 1:
            write_status(args.status, {"published": i + 1, "acked": acked[0]})
    deadline = time.monotonic() + 60
    while acked[0] < args.count and time.monotonic() < deadline:
        time.sleep(0.05)
    write_status(args.status, {"published": args.count, "acked": acked[0], "finished": True})
    client.disconnect()
    client.loop_stop()
    sys.exit(0 if acked[0] >= args.count else 1)


def subscribe(args):
    out = open(args.out, "a", buffering=1)
    done = threading.Event()

    def on_connect(client, *_a):
        client.subscribe(args.topic, qos=1)

    def on_subscribe(*_a):
        out.write(json.dumps({"subscribed": True}) + "\n")

    def on_message(_c, _u, msg):
        line = {
            "topic": msg.topic,
            "payload": msg.payload.decode(errors="replace"),
            "retain": bool(msg.retain),
        }
        out.write(json.dumps(line) + "\n")

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=args.client_id,
        protocol=MQTTProtocolVersion.MQTTv311,
        clean_session=False,
    )
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.reconnect_delay_set(min_delay=0.2, max_delay=2)
    client.connect("127.0.0.1", args.port, keepalive=10)
    client.loop_start()
    done.wait()  # until killed


def put(args):
    """One message, QoS 1 (retained with --retain); exits 0 once the broker acknowledged it."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv311)
    client.connect("127.0.0.1", args.port, keepalive=10)
    client.loop_start()
    info = client.publish(args.topic, args.payload, qos=1, retain=args.retain)
    info.wait_for_publish(30)
    client.disconnect()
    client.loop_stop()
    sys.exit(0 if info.is_published() else 1)


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    pub = sub.add_parser("publish")
    pub.add_argument("--port", type=int, required=True)
    pub.add_argument("--topic", required=True)
    pub.add_argument("--prefix", required=True)
    pub.add_argument("--product", required=True)
    pub.add_argument("--count", type=int, required=True)
    pub.add_argument("--rate", type=float, required=True)
    pub.add_argument("--orders", type=int, required=True)
    pub.add_argument("--status", required=True)
    subs = sub.add_parser("subscribe")
    subs.add_argument("--port", type=int, required=True)
    subs.add_argument("--topic", required=True)
    subs.add_argument("--client-id", required=True)
    subs.add_argument("--out", required=True)
    one = sub.add_parser("put")
    one.add_argument("--port", type=int, required=True)
    one.add_argument("--topic", required=True)
    one.add_argument("--payload", required=True)
    one.add_argument("--retain", action="store_true")
    args = parser.parse_args()
    {"publish": publish, "subscribe": subscribe, "put": put}[args.mode](args)


if __name__ == "__main__":
    main()
