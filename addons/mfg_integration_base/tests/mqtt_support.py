"""A real paho client against the test broker (Mosquitto, 127.0.0.1:1883): what is retained on
a topic, and clearing it. Used by the tests of retained reference data (base and connectors)."""

import threading
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

BROKER = ("127.0.0.1", 1883)
WAIT = 10.0  # seconds to wait for the broker's answers (an event wait, not a sleep)


def unique_prefix():
    """A topic prefix of its own per test, so parallel test runs on one broker do not meet."""
    return f"t{uuid.uuid4().hex[:10]}"


def _client():
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex}")
    client.connect(*BROKER)
    client.loop_start()
    return client


def retained(topic_filter):
    """{topic: (payload bytes, retain flag)} of what the broker hands a new subscriber of
    ``topic_filter``: its retained messages. Complete when a marker published after the SUBACK
    comes back (a broker delivers the retained messages of a subscription before it)."""
    got, done = {}, threading.Event()
    marker = f"mfg-test-marker/{uuid.uuid4().hex}"
    client = _client()

    def on_message(_client, _userdata, msg):
        if msg.topic == marker:
            done.set()
        else:
            got[msg.topic] = (msg.payload, msg.retain)

    client.on_message = on_message
    client.on_subscribe = lambda *_args: client.publish(marker, b"end", qos=1)
    try:
        client.subscribe([(topic_filter, 1), (marker, 1)])
        if not done.wait(WAIT):
            raise AssertionError(f"the broker {BROKER} did not answer the subscription of {topic_filter}")
    finally:
        client.disconnect()
        client.loop_stop()
    return got


def clear(*topics):
    """Remove the retained messages of ``topics`` (an empty retained publish each)."""
    client = _client()
    try:
        for topic in topics:
            client.publish(topic, b"", qos=1, retain=True).wait_for_publish(WAIT)
    finally:
        client.disconnect()
        client.loop_stop()
