from odoo.tests import BaseCase, tagged

from ..lib import codec, session


def _msg(kind, seq=None, metrics=(), device=None, node="N1"):
    topic = codec.parse_topic(f"spBv1.0/G/{kind}/{node}" + (f"/{device}" if device else ""))
    return topic, codec.payload(list(metrics), seq=seq, timestamp=1000).SerializeToString()


BIRTH = [
    {"name": "bdSeq", "datatype": "UInt64", "value": 7},
    {"name": "Node Control/Rebirth", "datatype": "Boolean", "value": False},
]
DEVICE_BIRTH = [
    {"name": "Machine/State", "alias": 10, "datatype": "Int32", "value": 1},
    {"name": "Counts/Good", "alias": 11, "datatype": "UInt64", "value": 100},
]


@tagged("post_install", "-at_install")
class TestSparkplugSession(BaseCase):
    def setUp(self):
        super().setUp()
        self.host = session.HostSession("G", rebirth_timeout=60)
        self.now = 0.0

    def handle(self, kind, seq=None, metrics=(), device=None, node="N1"):
        return self.host.handle(*_msg(kind, seq, metrics, device, node), self.now)

    def kinds(self, events):
        return [e.kind for e in events]

    def born(self):
        self.handle("NBIRTH", 0, BIRTH)
        self.handle("DBIRTH", 1, DEVICE_BIRTH, device="M1")

    def test_birth_then_data_by_alias(self):
        events = self.handle("NBIRTH", 0, BIRTH)
        self.assertEqual(events[0].kind, "online")
        self.assertEqual(events[0].data["bd_seq"], 7)
        events = self.handle("DBIRTH", 1, DEVICE_BIRTH, device="M1")
        self.assertEqual(self.kinds(events), ["online", "metric", "metric"])
        events = self.handle(
            "DDATA",
            2,
            [{"alias": 11, "datatype": "UInt64", "value": 105, "omit_datatype": True}],
            device="M1",
        )
        metric = [e for e in events if e.kind == "metric"][0]
        self.assertEqual(
            (metric.data["metric"], metric.data["value"], metric.data["datatype"]),
            ("Counts/Good", 105, "UInt64"),
        )

    def test_seq_wraps_from_255_to_0(self):
        self.handle("NBIRTH", 254, BIRTH)
        self.assertEqual(self.kinds(self.handle("NDATA", 255)), ["seq"])
        self.assertEqual(self.kinds(self.handle("NDATA", 0)), ["seq"])
        self.assertEqual(self.kinds(self.handle("NDATA", 1)), ["seq"])

    def test_gap_asks_one_rebirth_and_ignores_until_the_birth(self):
        self.born()
        events = self.handle("DDATA", 4, [{"alias": 11, "datatype": "UInt64", "value": 1}], device="M1")
        self.assertEqual(self.kinds(events), ["ignored", "rebirth"])
        self.assertIn("sequence gap", events[1].data["reason"])
        for seq in (5, 6, 7):
            self.assertEqual(self.kinds(self.handle("DDATA", seq, device="M1")), ["ignored"])
        # a lost request is asked again once the timeout passed
        self.now = 61
        self.assertEqual(self.kinds(self.handle("DDATA", 8, device="M1")), ["ignored", "rebirth"])
        self.born()
        self.assertEqual(self.kinds(self.handle("DDATA", 2, device="M1")), ["seq"])

    def test_data_before_birth_asks_a_rebirth(self):
        self.assertEqual(self.kinds(self.handle("NDATA", 3)), ["ignored", "rebirth"])
        self.handle("NBIRTH", 0, BIRTH)
        # a device that never had a DBIRTH
        self.assertEqual(self.kinds(self.handle("DDATA", 1, device="M9")), ["ignored", "rebirth"])

    def test_unknown_alias_asks_a_rebirth(self):
        self.born()
        events = self.handle("DDATA", 2, [{"alias": 99, "datatype": "Int32", "value": 1}], device="M1")
        self.assertEqual(self.kinds(events), ["ignored", "rebirth"])
        self.assertIn("alias 99", events[0].data["reason"])

    def test_deaths(self):
        self.born()
        self.assertEqual(self.kinds(self.handle("DDEATH", 2, device="M1")), ["offline"])
        self.assertEqual(self.kinds(self.handle("DDATA", 3, device="M1")), ["ignored", "rebirth"])
        self.born()
        # an NDEATH of an older session (other bdSeq) is stale; the current one takes node and devices down
        self.assertEqual(
            self.kinds(self.handle("NDEATH", metrics=[{"name": "bdSeq", "datatype": "UInt64", "value": 6}])),
            ["stale_death"],
        )
        events = self.handle("NDEATH", metrics=[{"name": "bdSeq", "datatype": "UInt64", "value": 7}])
        self.assertEqual([(e.kind, e.device) for e in events], [("offline", None), ("offline", "M1")])

    def test_malformed_payload(self):
        topic = codec.parse_topic("spBv1.0/G/NDATA/N1")
        events = self.host.handle(topic, b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01garbage", 0)
        self.assertEqual(self.kinds(events), ["malformed"])
