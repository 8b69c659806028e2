"""The demo plant is demo data (demo/ of the base and of each connector); setup/run loads it
(setup/demo_plant.py). The databases of the tests have demo data off, so it is loaded here the
same way, to keep the files loadable as the models change."""

from odoo.modules.module import get_manifest
from odoo.tests import TransactionCase, tagged
from odoo.tools import convert_file


@tagged("post_install", "-at_install")
class TestDemoPlant(TransactionCase):
    def _load_demo_files(self):
        modules = (
            self.env["ir.module.module"]
            .search([("state", "=", "installed"), ("name", "=like", "mfg_%")])
            .mapped("name")
        )
        loaded = []
        for module in sorted(modules, key=lambda name: (name != "mfg_integration_base", name)):
            for filename in get_manifest(module).get("demo", []):
                convert_file(self.env, module, filename, {}, mode="update", noupdate=True, kind="demo")
                loaded.append(module)
        return loaded

    def test_demo_plant_has_a_flow_of_each_exchange_type_on_mqtt(self):
        modules = self._load_demo_files()
        self.assertIn("mfg_integration_base", modules)
        backend = self.env.ref("mfg_integration_base.demo_backend_plant1_mes")
        self.assertEqual(
            (backend.code, backend.plant_code, backend.system_kind), ("plant1-mes", "P01", "mes")
        )
        self.assertTrue(backend.mqtt_enabled, "the demo plant talks to the local MQTT broker")
        # Every exchange type of an addon with demo files, but the unroutable one, has its flow.
        types = self.env["mfg.exchange.type"].search([])
        xmlids = types.get_external_id()
        expected = types.filtered(
            lambda t: xmlids.get(t.id, "").partition(".")[0] in modules
            and t != self.env.ref("mfg_integration_base.exchange_type_unroutable")
        )
        self.assertIn(self.env.ref("mfg_integration_base.exchange_type_plant_heartbeat"), expected)
        self.assertEqual(backend.flow_ids.exchange_type_id, expected)
        outbound = backend.flow_ids.filtered(lambda f: f.direction == "outbound")
        self.assertEqual(
            set(outbound.mapped("transport")) - {"mqtt"},
            set(),
            "the demo plant has no HTTP endpoint: it is sent to over MQTT",
        )

    def test_loading_again_keeps_what_the_user_changed(self):
        self._load_demo_files()
        backend = self.env.ref("mfg_integration_base.demo_backend_plant1_mes")
        backend.write({"name": "Plant 1 (renamed)", "plant_code": "P09"})
        flows = backend.flow_ids
        self._load_demo_files()
        self.assertEqual((backend.name, backend.plant_code), ("Plant 1 (renamed)", "P09"))
        self.assertEqual(backend.flow_ids, flows, "no flow is added twice")
