from importlib.metadata import version

from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestEnvironment(TransactionCase):
    """The runtime the pipeline is built on is the one DESIGN.md names."""

    def test_dependencies_installed(self):
        mods = self.env["ir.module.module"].search(
            [("name", "in", ["queue_job", "mail", "stock", "mrp", "mfg_integration_base"])]
        )
        self.assertEqual(set(mods.mapped("state")), {"installed"})
        self.assertEqual(len(mods), 5)

    def test_python_libraries(self):
        import jsonschema
        import paho.mqtt.client as mqtt

        # Contracts are JSON Schema Draft 2020-12.
        validator = jsonschema.Draft202012Validator({"type": "object", "required": ["qty"]})
        errors = list(validator.iter_errors({}))
        self.assertEqual(len(errors), 1)
        self.assertIn("'qty' is a required property", errors[0].message)
        # The MQTT transport uses the paho-mqtt 2.x callback API.
        self.assertGreaterEqual(int(version("paho-mqtt").split(".")[0]), 2)
        self.assertTrue(hasattr(mqtt, "CallbackAPIVersion"))
