from lxml import etree

from odoo.tests import BaseCase, tagged

from odoo.addons.mfg_integration_base.exceptions import MfgValidationError

from ..lib import b2mml, xml_safe
from .common import document


@tagged("post_install", "-at_install")
class TestB2mmlLib(BaseCase):
    """The reader without the pipeline: dates, quantities, versions, vendor extensions."""

    def _el(self, xml):
        return etree.fromstring(xml)

    def test_dates_become_rfc3339(self):
        el = self._el("<CreationDateTime/>")
        self.assertEqual(b2mml.rfc3339("2026-03-01T10:14", el), "2026-03-01T10:14:00Z")
        self.assertEqual(b2mml.rfc3339("2026-03-01T10:14+01:00", el), "2026-03-01T10:14:00+01:00")
        self.assertEqual(b2mml.rfc3339("2026-03-01T10:14:05.25Z", el), "2026-03-01T10:14:05.25Z")
        with self.assertRaisesRegex(
            MfgValidationError, r"/CreationDateTime: element <CreationDateTime> \(value '1\.3\.2026'\)"
        ):
            b2mml.rfc3339("1.3.2026", el)

    def test_quantity_string_data_type_and_unit(self):
        actual = self._el(
            "<MaterialActual><Quantity><QuantityString> 12.500 </QuantityString><DataType>decimal</DataType>"
            "<UnitOfMeasure>kg</UnitOfMeasure></Quantity></MaterialActual>"
        )
        qty, unit = b2mml.quantity(actual)
        self.assertEqual((b2mml.number(qty), unit), (12.5, "kg"))
        bad = self._el(
            "<MaterialActual><Quantity><QuantityString>12</QuantityString><DataType>string</DataType>"
            "<UnitOfMeasure>kg</UnitOfMeasure></Quantity></MaterialActual>"
        )
        with self.assertRaisesRegex(MfgValidationError, "DataType 'string'"):
            b2mml.quantity(bad)
        no_unit = self._el(
            "<MaterialActual><Quantity><QuantityString>1</QuantityString></Quantity></MaterialActual>"
        )
        with self.assertRaisesRegex(MfgValidationError, r"/MaterialActual/Quantity: .*no UnitOfMeasure"):
            b2mml.quantity(no_unit)
        for text in ("NaN", "Infinity", "-1", "0"):
            el = self._el(
                f"<MaterialActual><Quantity><QuantityString>{text}</QuantityString>"
                "<UnitOfMeasure>kg</UnitOfMeasure></Quantity></MaterialActual>"
            )
            with self.assertRaisesRegex(MfgValidationError, "finite number above 0"):
                b2mml.quantity(el)

    def test_three_versions_read_alike_vendor_elements_skipped(self):
        """The same facts from V0401 element names and namespace, V0600 prefixes and V0700."""
        facts = {}
        for name in (
            "v0401_process_production_performance.xml",
            "v0600_sync_production_performance.xml",
            "v0700_sync_operations_performance.xml",
        ):
            root = xml_safe.parse(document(name, MO="WO-1"), 10**7)
            _key, found = b2mml.decode(root, {}, None)
            facts[name] = found
            self.assertEqual({payload["work_order"] for _code, payload in found}, {"WO-1"})
        self.assertEqual(len(facts["v0401_process_production_performance.xml"]), 4)
        self.assertEqual(len(facts["v0600_sync_production_performance.xml"]), 6)
        self.assertEqual(len(facts["v0700_sync_operations_performance.xml"]), 4)

    def test_elements_of_other_namespaces_are_not_read(self):
        raw = document("v0700_sync_operations_performance.xml", MO="WO-1").replace(
            b"<MaterialActual>", b'<MaterialActual xmlns="urn:vendor">', 1
        )
        root = xml_safe.parse(raw, 10**7)
        _key, found = b2mml.decode(root, {}, None)
        self.assertEqual(len(found), 3, "the first actual is in a vendor namespace: skipped, not fatal")

    def test_mapping_problems_are_named(self):
        self.assertIsNone(b2mml.mapping_problem({"item_policy": "create"}))
        self.assertIn("'burn'", b2mml.mapping_problem({"material_use": {"Burnt": "burn"}}))
        self.assertIn("Unknown key", b2mml.mapping_problem({"materialuse": {}}))
        self.assertIn("max_document_bytes", b2mml.mapping_problem({"max_document_bytes": -1}))
