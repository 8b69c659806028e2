import json
from pathlib import Path
from unittest import SkipTest

from odoo.modules.registry import Registry
from odoo.tests.common import get_db_name

from odoo.addons.mfg_integration_base.tests.common import MfgPipelineCase

DATA = Path(__file__).parent / "data"


def document(name, **placeholders):
    """A test document's bytes (tests/data/<name>), ``{{KEY}}`` placeholders replaced."""
    raw = (DATA / name).read_bytes()
    for key, value in placeholders.items():
        raw = raw.replace(b"{{" + key.encode() + b"}}", value.encode())
    return raw


def _mes_case():
    try:
        from odoo.addons.mfg_mes_connector.tests.common import MfgMesCase
    except ImportError:  # pragma: no cover - the MES connector is not in the addons path
        return MfgPipelineCase
    return MfgMesCase


class B2mmlCase(_mes_case()):
    """The MES test plant (mfg_mes_connector's MfgMesCase) with a B2MML document flow, the item
    master flow of this addon and, when the quality connector is installed, lot hold/release."""

    @classmethod
    def setUpClass(cls):
        installed = Registry(get_db_name())._init_modules
        if "mfg_mes_connector" not in installed:
            raise SkipTest("mfg_mes_connector is not installed")
        super().setUpClass()
        ref = cls.env.ref
        cls.doc_type = ref("mfg_b2mml.exchange_type_b2mml_document")
        cls.item_type = ref("mfg_b2mml.exchange_type_material_definition")
        flows = [
            {"backend_id": cls.backend.id, "exchange_type_id": cls.doc_type.id, "wire_format": "b2mml"},
            {"backend_id": cls.backend.id, "exchange_type_id": cls.item_type.id},
        ]
        cls.has_quality = "mfg_quality_connector" in installed
        if cls.has_quality:
            for xmlid in ("exchange_type_lot_hold", "exchange_type_lot_release"):
                etype = ref(f"mfg_quality_connector.{xmlid}")
                flows.append({"backend_id": cls.backend.id, "exchange_type_id": etype.id})
        cls.env["mfg.backend.flow"].create(flows)

    def _receive_doc(self, raw, backend=None):
        return self._receive(self.doc_type, raw, backend=backend)

    def _facts(self, doc):
        return doc.child_ids.sorted("document_position")

    def _payload(self, message):
        return json.loads(message.payload)
