from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, tagged
from odoo.tests.common import _find_executable


@tagged("post_install", "-at_install")
class TestApiAccessTour(HttpCase):
    """The API access buttons of the backend form, in a real browser."""

    def test_create_and_rotate_key_tour(self):
        if not _find_executable():
            self.fail("Chromium is not installed: run setup/bootstrap (it installs Debian's chromium).")
        self.env.ref("base.user_admin").groups_id += self.env.ref("mfg_integration_base.group_mfg_manager")
        backend = self.env["mfg.backend"].create({"name": "Tour API plant", "code": "tour-api"})
        self.start_tour(
            f"/odoo/action-mfg_integration_base.action_mfg_backend/{backend.id}",
            "mfg_api_access_tour",
            login="admin",
        )
        self.env.invalidate_all()
        self.assertEqual(backend.service_user_id.login, "mfg-service-tour-api")
        keys = backend.api_key_ids
        self.assertEqual(sorted(keys.mapped("state")), ["active", "grace"])
        old = keys.filtered(lambda k: k.state == "grace")
        self.assertAlmostEqual(
            old.expires_at, fields.Datetime.now() + timedelta(hours=2), delta=timedelta(minutes=5)
        )
