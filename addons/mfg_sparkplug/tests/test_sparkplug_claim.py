import json
import time

from odoo.tests import TransactionCase, tagged

from odoo.addons.mfg_integration_base.transports.mqtt.claims import Services

from ..lib import codec
from ..transport.sparkplug_claim import SparkplugClaim, make_claim


class Recorder:
    """Stands in for the paho client of the listener: keeps what the claim publishes."""

    def __init__(self):
        self.published = []

    def publish(self, topic, payload, qos=0, retain=False):
        self.published.append((topic, payload, qos, retain))

    def ack(self, mid, qos):
        self.published.append(("ack", mid, qos, None))


class Item:
    def __init__(self, topic, payload, mid=0, qos=0):
        self.topic, self.payload, self.mid, self.qos = topic, payload, mid, qos
        self.retain = False
        self.received = time.time()
        self.client = None


@tagged("post_install", "-at_install")
class TestSparkplugClaim(TransactionCase):
    """The claim of the listener against the database (flushes run in the test's transaction)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = cls.env["mfg.backend"].create(
            {
                "name": "Sparkplug plant",
                "code": "sp-unit",
                "mqtt_enabled": True,
                "sparkplug_enabled": True,
                "sparkplug_group": "G1",
                "sparkplug_rule_ids": [
                    (0, 0, {"metric": "Machine/State", "kind": "state", "state_map": "2=BRK"}),
                    (0, 0, {"metric": "Counts/Good", "kind": "good_count"}),
                ],
            }
        )

    def test_central_broker_acl_gives_odoo_the_claims_topics(self):
        text = self.env["mfg.backend"]._mfg_mqtt_broker_acl(odoo_identities=["odoo-central"])
        odoo_block = text.split("user odoo-central\n", 1)[1].split("\n\n", 1)[0]
        for topic in self.claim.filters():  # spBv1.0/G1/#, spBv1.0/STATE/odoo-sp-unit
            self.assertIn(f"topic readwrite {topic}", odoo_block.splitlines())
        self.assertNotIn("spBv1.0", text.split("user plant-sp-unit\n", 1)[1], "not for the plant identity")

    def setUp(self):
        super().setUp()
        settings = self.backend._mfg_mqtt_settings()
        self.assertEqual(settings["claims"]["sparkplug"], ("G1", "odoo-sp-unit", 60, ""))
        self.claim = SparkplugClaim(
            self.backend.id, settings["claims"]["sparkplug"], Services(in_db=lambda fn: fn(self.env))
        )
        self.claim.client = Recorder()
        self.seq = -1

    def send(self, kind, metrics=(), device=None, seq=True, qos=0, mid=0, timestamp=None):
        if seq:
            self.seq = (self.seq + 1) % 256
        topic = f"spBv1.0/G1/{kind}/L1" + (f"/{device}" if device else "")
        payload = codec.payload(
            list(metrics), seq=self.seq if seq else None, timestamp=timestamp
        ).SerializeToString()
        self.claim.on_message(Item(topic, payload, mid, qos))

    def flush(self):
        """The end of a flush interval (and of any backoff)."""
        self.claim.last_flush = 0.0
        self.claim.tick(max(time.time(), self.claim.retry_at))

    def node(self, device=False):
        return self.env["mfg.sparkplug.node"].search(
            [("backend_id", "=", self.backend.id), ("edge_node", "=", "L1"), ("device", "=", device)]
        )

    def birth(self, timestamp=None):
        self.seq = -1
        self.send("NBIRTH", [{"name": "bdSeq", "datatype": "UInt64", "value": 4}], timestamp=timestamp)
        self.send(
            "DBIRTH",
            [
                {"name": "Machine/State", "alias": 1, "datatype": "Int32", "value": 1},
                {"name": "Counts/Good", "alias": 2, "datatype": "UInt64", "value": 10},
                {"name": "Temperature", "alias": 3, "datatype": "Double", "value": 21.0},
            ],
            device="M1",
            timestamp=timestamp,
        )

    def test_state_will_and_birth(self):
        topic, payload, qos, retain = self.claim.will()
        self.assertEqual((topic, qos, retain), ("spBv1.0/STATE/odoo-sp-unit", 1, True))
        self.assertEqual(json.loads(payload)["online"], False)
        self.claim.on_connect(self.claim.client)
        topic, payload, qos, retain = self.claim.client.published[-1]
        self.assertEqual((topic, qos, retain), ("spBv1.0/STATE/odoo-sp-unit", 1, True))
        self.assertEqual(
            json.loads(payload), {"online": True, "timestamp": json.loads(self.claim.will()[1])["timestamp"]}
        )

    def test_births_data_and_deaths_on_the_records(self):
        self.birth()
        self.send(
            "DDATA", [{"alias": 3, "datatype": "Double", "value": 22.5, "omit_datatype": True}], device="M1"
        )
        self.send(
            "DDATA", [{"alias": 2, "datatype": "UInt64", "value": 15, "omit_datatype": True}], device="M1"
        )
        self.flush()
        node, device = self.node(), self.node("M1")
        self.assertTrue(node.online and device.online)
        self.assertEqual((node.bd_seq, node.last_seq), (4, 3))
        self.assertEqual(device.metrics_counted, 2)  # Temperature: in the birth and once after
        self.assertEqual(device.metrics_applied, 3)
        self.assertEqual(json.loads(device.rule_state)["state"]["L1/M1/Counts/Good"]["last"], 15)
        self.send("DDEATH", device="M1")
        self.flush()
        self.assertFalse(device.online)
        self.assertTrue(node.online)
        self.send("NDEATH", [{"name": "bdSeq", "datatype": "UInt64", "value": 4}], seq=False)
        self.flush()
        self.assertFalse(node.online)

    def test_gap_requests_one_rebirth_and_no_fact(self):
        self.birth()
        self.flush()
        before = self.env["mfg.message"].search_count([("backend_id", "=", self.backend.id)])
        self.seq += 1  # one message lost
        for value in (20, 30, 40):
            self.send("DDATA", [{"alias": 2, "datatype": "UInt64", "value": value}], device="M1")
        self.flush()
        ncmds = [p for p in self.claim.client.published if p[0] == "spBv1.0/G1/NCMD/L1"]
        self.assertEqual(len(ncmds), 1)
        self.assertEqual(codec.decode(ncmds[0][1]).metrics[0].name, "Node Control/Rebirth")
        self.assertEqual(self.node().rebirths_requested, 1)
        self.assertIn("sequence gap", self.node().last_issue)
        self.assertEqual(self.env["mfg.message"].search_count([("backend_id", "=", self.backend.id)]), before)

    def test_facts_without_flow_or_running_order_are_kept_rejected_with_the_reason(self):
        self.birth()
        self.send("DDATA", [{"alias": 1, "datatype": "Int32", "value": 2}], device="M1")
        self.send("DDATA", [{"alias": 1, "datatype": "Int32", "value": 1}], device="M1")
        self.send("DDATA", [{"alias": 2, "datatype": "UInt64", "value": 17}], device="M1")
        self.flush()
        messages = self.env["mfg.message"].search([("backend_id", "=", self.backend.id)])
        self.assertEqual(len(messages), 2, messages.mapped("payload"))
        self.assertEqual(set(messages.mapped("state")), {"rejected"})
        for msg in messages:
            self.assertRegex(msg.error_message, "Unknown work center code 'M1'|no inbound exchange type")
        payloads = {json.loads(m.payload).get("quantity") for m in messages}
        self.assertIn(7, payloads)
        # the same flush again stores nothing twice: the facts were committed and cleared
        self.flush()
        self.assertEqual(self.env["mfg.message"].search_count([("backend_id", "=", self.backend.id)]), 2)

    def test_malformed_payload_is_kept_rejected_and_counted(self):
        self.birth()
        self.claim.on_message(Item("spBv1.0/G1/NDATA/L1", b"\xff\xfe not protobuf"))
        self.claim.on_message(Item("spBv1.0/G1/BOGUS/L1", b""))
        self.flush()
        rejected = self.env["mfg.message"].search(
            [("backend_id", "=", self.backend.id), ("state", "=", "rejected")]
        )
        self.assertEqual(len(rejected), 2)
        self.assertTrue(any("not a Sparkplug B protobuf message" in m.error_message for m in rejected))
        self.assertEqual(self.node().malformed_count, 1)

    def test_only_the_named_listener_is_the_primary_host(self):
        self.backend.sparkplug_listener = "host-a"
        config = self.backend._mfg_mqtt_settings()["claims"]["sparkplug"]
        self.assertIsNone(make_claim(self.backend.id, config, Services(listener_name="host-b")))
        self.assertIsInstance(
            make_claim(self.backend.id, config, Services(listener_name="host-a")), SparkplugClaim
        )

    def test_a_failed_flush_keeps_everything_and_waits(self):
        self.birth()

        def down(_fn):
            raise OSError("database away")

        self.claim.services = Services(in_db=down)
        with self.assertRaises(OSError):
            self.flush()
        self.assertTrue(self.claim.updates)  # kept
        self.claim.tick(self.claim.retry_at - 0.1)  # not before the backoff
        self.claim.services = Services(in_db=lambda fn: fn(self.env))
        self.flush()
        self.assertFalse(self.claim.updates)
        self.assertTrue(self.node("M1").online)

    def test_a_checkpoint_acknowledges_and_keeps_the_increments_for_the_interval(self):
        """Within the flush interval a checkpoint commits the node records and the aggregation
        state (increments included) and acknowledges; the counter becomes a fact only at the end
        of the interval, also after a restart of the listener (the claim rebuilt from the database)."""
        recorder = self.claim.client
        self.birth()
        now = time.time()
        self.claim.last_flush = now  # the interval has just begun
        self.claim.urgent = False
        for mid, value in ((7, 13), (8, 16)):
            item = Item(
                "spBv1.0/G1/DDATA/L1/M1",
                codec.payload(
                    [{"alias": 2, "datatype": "UInt64", "value": value}], seq=self.seq + 1
                ).SerializeToString(),
                mid=mid,
                qos=1,
            )
            self.seq += 1
            item.client = recorder
            item.received = now
            self.claim.on_message(item)
        self.claim.tick(now + 0.1)  # not yet: nothing waited ACK_DELAY
        self.assertNotIn(("ack", 7, 1, None), recorder.published)
        self.claim.tick(now + 0.3)  # a checkpoint
        self.assertIn(("ack", 8, 1, None), recorder.published)
        saved = json.loads(self.node("M1").rule_state)
        self.assertEqual(saved["buckets"]["L1/M1/Counts/Good"]["qty"], 6)
        completion = [("backend_id", "=", self.backend.id), ("payload", "like", '"quantity": 6')]
        self.assertFalse(self.env["mfg.message"].search(completion))
        # the listener restarts: a new claim, its state from the records
        again = SparkplugClaim(self.backend.id, self.claim.config, Services(in_db=lambda fn: fn(self.env)))
        again.client = Recorder()
        again.services.in_db(again._load)
        again.tick(now + 3600)
        self.assertEqual(len(self.env["mfg.message"].search(completion)), 1)
        self.assertEqual(json.loads(self.node("M1").rule_state)["buckets"], {})

    def test_qos1_messages_are_acknowledged_after_the_flush(self):
        recorder = self.claim.client
        self.seq = -1
        topic = "spBv1.0/G1/NBIRTH/L1"
        item = Item(
            topic,
            codec.payload([{"name": "bdSeq", "datatype": "UInt64", "value": 1}], seq=0).SerializeToString(),
            mid=42,
            qos=1,
        )
        item.client = recorder
        self.claim.on_message(item)
        self.assertNotIn(("ack", 42, 1, None), recorder.published)
        self.flush()
        self.assertIn(("ack", 42, 1, None), recorder.published)

    def test_the_work_center_shows_its_machine_state(self):
        workcenter = self.env["mrp.workcenter"].create({"name": "Press M1", "code": "M1"})
        self.assertFalse(workcenter.sparkplug_state)
        self.birth()
        self.flush()
        workcenter.invalidate_recordset()
        self.assertRegex(workcenter.sparkplug_state, r"^Running since .* L1/M1 Machine/State = 1$")
        self.send("DDATA", [{"alias": 1, "datatype": "Int32", "value": 2}], device="M1")
        self.flush()
        workcenter.invalidate_recordset()
        self.assertRegex(workcenter.sparkplug_state, r"^Down \(BRK\) since .* = 2$")
        self.send("DDEATH", device="M1")
        self.flush()
        workcenter.invalidate_recordset()
        self.assertRegex(workcenter.sparkplug_state, r"^Offline, last down \(brk\) since")

    def test_backfill_after_a_rebirth_is_applied_in_timestamp_order(self):
        """The edge node's stored data (historical DDATA after its new birth, older than the
        birth): one downtime with the stored start and end once live data resumes."""
        self.birth(timestamp=500_000)  # running, 10 parts
        self.flush()
        self.birth(timestamp=2_000_000)  # the host was away: a new birth, then the stored data
        for value, ts in ((2, 1_000_000), (1, 1_090_000)):
            self.send(
                "DDATA",
                [{"alias": 1, "datatype": "Int32", "value": value, "timestamp": ts, "is_historical": True}],
                device="M1",
            )
        self.flush()
        downtime = [("backend_id", "=", self.backend.id), ("payload", "like", '"reason": "BRK"')]
        self.assertFalse(self.env["mfg.message"].search(downtime))  # waiting for live data
        pending = json.loads(self.node("M1").rule_state)["pending"]
        self.assertEqual(len(pending["L1/M1/Machine/State"]["updates"]), 3)  # birth + 2 stored
        self.send("DDATA", [{"alias": 2, "datatype": "UInt64", "value": 11}], device="M1")
        self.flush()
        [message] = self.env["mfg.message"].search(downtime)
        payload = json.loads(message.payload)
        self.assertEqual(
            (payload["start"], payload["end"]), ("1970-01-01T00:16:40.000Z", "1970-01-01T00:18:10.000Z")
        )
        self.assertEqual(json.loads(self.node("M1").rule_state)["pending"], {})
