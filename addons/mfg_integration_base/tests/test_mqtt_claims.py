from odoo.tests import BaseCase, tagged
from odoo.tools import mute_logger

from ..transports.mqtt import claims


class Message:
    def __init__(self, topic, payload=b"", mid=1, qos=1):
        self.topic, self.payload, self.mid, self.qos, self.retain = topic, payload, mid, qos, False


class Client:
    """Stands in for a paho client: keeps the will, the per-filter callbacks and subscriptions."""

    def __init__(self):
        self.will, self.callbacks, self.subscribed = None, {}, []

    def will_set(self, topic, payload, qos=0, retain=False):
        self.will = (topic, payload, qos, retain)

    def message_callback_add(self, sub, callback):
        self.callbacks[sub] = callback

    def subscribe(self, sub, qos=0):
        self.subscribed.append((sub, qos))


class Claim(claims.TopicClaim):
    def __init__(self, backend_id, config, services):
        super().__init__(backend_id, config, services)
        self.seen, self.ticks, self.connected, self.stopped = [], 0, 0, False

    def filters(self):
        return [f"plant/{self.config}/#"]

    def will(self):
        return ("plant/state", b"offline", 1, True)

    def on_connect(self, client):
        self.connected += 1

    def on_message(self, item):
        if item.payload == b"boom":
            raise ValueError("a claim that fails on one message")
        self.seen.append(item.topic)

    def tick(self, now):
        self.ticks += 1

    def stop(self):
        self.stopped = True


@tagged("post_install", "-at_install")
class TestMqttClaims(BaseCase):
    def setUp(self):
        super().setUp()
        claims.register("test_claim", Claim)
        self.addCleanup(claims._factories.pop, "test_claim", None)

    def test_a_claim_gets_its_will_filters_and_messages_in_order_and_survives_errors(self):
        [worker] = claims.make_workers(
            7, {"claims": {"test_claim": "A", "not_registered": 1}}, claims.Services()
        )
        client = Client()
        worker.attach(client)
        self.assertEqual(client.will, ("plant/state", b"offline", 1, True))
        self.assertEqual(list(client.callbacks), ["plant/A/#"])
        worker.subscribe(client)
        self.assertEqual(client.subscribed, [("plant/A/#", 1)])
        self.assertEqual(worker.claim.connected, 1)
        callback = client.callbacks["plant/A/#"]
        for topic, payload in (("plant/A/1", b""), ("plant/A/2", b"boom"), ("plant/A/3", b"")):
            callback(client, None, Message(topic, payload))
        worker.stopping.set()
        with mute_logger(claims.__name__):
            worker._loop()  # in this thread: takes what is queued, then stops
        self.assertEqual(worker.claim.seen, ["plant/A/1", "plant/A/3"])
        self.assertEqual(worker.stats, {"messages": 3, "errors": 1})
        self.assertTrue(worker.claim.stopped)  # the claim flushes what it holds

    def test_no_claims_no_workers(self):
        self.assertEqual(claims.make_workers(1, {}, claims.Services()), [])

    def test_a_factory_may_decline_for_this_listener(self):
        claims.register("test_claim", lambda b, c, s: Claim(b, c, s) if s.listener_name == c else None)
        self.assertEqual(
            claims.make_workers(
                1, {"claims": {"test_claim": "host-b"}}, claims.Services(listener_name="host-a")
            ),
            [],
        )
        [worker] = claims.make_workers(
            1, {"claims": {"test_claim": "host-a"}}, claims.Services(listener_name="host-a")
        )
        self.assertEqual(worker.claim.config, "host-a")
