from odoo.tests import BaseCase, tagged

from ..lib import codec

# Every datatype the codec reads and writes, with a value that needs it (signs, widths, bits).
DATATYPE_CASES = [
    ("Int8", -5),
    ("Int16", -300),
    ("Int32", -70000),
    ("Int64", -(2**40)),
    ("UInt8", 200),
    ("UInt16", 60000),
    ("UInt32", 4000000000),
    ("UInt64", 2**63 + 5),
    ("Float", 1.5),
    ("Double", -2.25),
    ("Boolean", True),
    ("String", "Störung"),
    ("Text", "long text"),
    ("UUID", "5b1e5a0c-0000-4000-8000-000000000001"),
    ("DateTime", 1700000000123),
    ("Bytes", b"\x00\x01\xff"),
    ("File", b"%PDF"),
    ("Int8Array", [-1, 2, -128]),
    ("Int16Array", [-300, 5]),
    ("Int32Array", [1, -2]),
    ("Int64Array", [-(2**40), 7]),
    ("UInt8Array", [255, 0]),
    ("UInt16Array", [65535]),
    ("UInt32Array", [2**32 - 1]),
    ("UInt64Array", [2**64 - 1]),
    ("FloatArray", [1.5, -0.25]),
    ("DoubleArray", [2.5, 3.5]),
    ("BooleanArray", [True, False, True, True, False, False, False, False, True]),
    ("StringArray", ["a", "", "bc"]),
    ("DateTimeArray", [1700000000000, 1700000000500]),
]


@tagged("post_install", "-at_install")
class TestSparkplugCodec(BaseCase):
    def _roundtrip(self, metrics, **kw):
        return codec.decode(codec.payload(metrics, **kw).SerializeToString())

    def test_every_datatype_round_trips(self):
        decoded = self._roundtrip([{"name": dt, "datatype": dt, "value": v} for dt, v in DATATYPE_CASES])
        self.assertEqual(len(decoded.metrics), len(DATATYPE_CASES))
        for metric, (datatype, value) in zip(decoded.metrics, DATATYPE_CASES):
            with self.subTest(datatype=datatype):
                self.assertEqual(codec.DT_NAME[metric.datatype], datatype)
                self.assertEqual(codec.metric_value(metric), value)

    def test_dataset_template_and_null(self):
        decoded = self._roundtrip(
            [
                {
                    "name": "ds",
                    "datatype": "DataSet",
                    "value": {
                        "columns": ["n", "s"],
                        "types": ["Int32", "String"],
                        "rows": [[1, "x"], [2, "y"]],
                    },
                },
                {"name": "tpl", "datatype": "Template", "value": {"template_ref": "Motor"}},
                {"name": "nothing", "datatype": "Double", "value": None},
            ]
        )
        ds, tpl, null = (codec.metric_value(m) for m in decoded.metrics)
        self.assertEqual(ds, {"columns": ["n", "s"], "rows": [[1, "x"], [2, "y"]]})
        self.assertEqual(tpl["template_ref"], "Motor")
        self.assertIsNone(null)

    def test_datatype_from_the_birth_when_the_data_metric_has_none(self):
        metric = self._roundtrip(
            [{"alias": 3, "datatype": "Int16", "value": -2, "omit_datatype": True}]
        ).metrics[0]
        self.assertEqual(metric.datatype, 0)
        self.assertEqual(codec.metric_value(metric, codec.DT["Int16"]), -2)
        with self.assertRaisesRegex(codec.SparkplugError, "unknown datatype 0"):
            codec.metric_value(metric)

    def test_malformed_and_oversized_payloads_are_refused(self):
        with self.assertRaisesRegex(codec.SparkplugError, "not a Sparkplug B protobuf message"):
            codec.decode(b"\xff\xff\xff\xff")
        with self.assertRaisesRegex(codec.SparkplugError, "exceeds the limit"):
            codec.decode(b"\x00" * (codec.MAX_PAYLOAD_BYTES + 1))

    def test_non_finite_float_and_bad_arrays_are_refused(self):
        metric = self._roundtrip([{"name": "t", "datatype": "Double", "value": float("nan")}]).metrics[0]
        with self.assertRaisesRegex(codec.SparkplugError, "not finite"):
            codec.metric_value(metric)
        metric.bytes_value = b"\x01\x02\x03"
        metric.datatype = codec.DT["Int16Array"]
        with self.assertRaisesRegex(codec.SparkplugError, "whole number of 2-byte items"):
            codec.metric_value(metric)

    def test_topics(self):
        topic = codec.parse_topic("spBv1.0/Plant1/DDATA/Line1/M01")
        self.assertEqual(
            (topic.group, topic.message_type, topic.edge_node, topic.device),
            ("Plant1", "DDATA", "Line1", "M01"),
        )
        self.assertIsNone(codec.parse_topic("spBv1.0/Plant1/NBIRTH/Line1").device)
        for bad in (
            "spBv1.0/Plant1/NBIRTH/Line1/M01",
            "spBv1.0/Plant1/DDATA/Line1",
            "spAv1.0/P/NDATA/L",
            "spBv1.0/P/XDATA/L",
        ):
            with self.subTest(topic=bad), self.assertRaises(codec.SparkplugError):
                codec.parse_topic(bad)

    def test_rebirth_command(self):
        metric = codec.decode(codec.rebirth_command().SerializeToString()).metrics[0]
        self.assertEqual(metric.name, "Node Control/Rebirth")
        self.assertIs(codec.metric_value(metric), True)
