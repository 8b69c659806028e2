import importlib.util
import json
from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import HttpCase, tagged
from odoo.tools import config, file_path, mute_logger


@tagged("post_install", "-at_install")
class TestServiceIdentity(HttpCase):
    """Service users and API keys per backend, through Odoo's real HTTP stack."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.heartbeat = cls.env.ref("mfg_integration_base.exchange_type_plant_heartbeat")
        cls.other_type = cls.env["mfg.exchange.type"].create(
            {"name": "Other inbound", "code": "gov.other_inbound", "direction": "inbound"}
        )
        Backend = cls.env["mfg.backend"]
        cls.backend_a = Backend.create(
            {
                "name": "Plant A",
                "code": "gov-a",
                "flow_ids": [fields.Command.create({"exchange_type_id": cls.heartbeat.id})],
            }
        )
        cls.backend_b = Backend.create(
            {
                "name": "Plant B",
                "code": "gov-b",
                "flow_ids": [
                    fields.Command.create({"exchange_type_id": cls.heartbeat.id}),
                    fields.Command.create({"exchange_type_id": cls.other_type.id}),
                ],
            }
        )
        cls.key_a = cls._create_key(cls.backend_a)
        cls.key_b = cls._create_key(cls.backend_b)

    @classmethod
    def _create_key(cls, backend):
        action = backend.action_create_service_user()
        return action["context"]["default_key"]

    def _post(self, backend, key, message_id, etype="plant.heartbeat", payload=None):
        body = payload or {"message_id": message_id, "sent_at": "2026-11-28T10:00:00Z", "status": "running"}
        return self.url_open(
            f"/mfg/api/v1/{backend}/{etype}",
            data=json.dumps(body),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
            timeout=30,
        )

    def _count(self, backend):
        return self.env["mfg.message"].search_count([("backend_id", "=", backend.id)])

    def test_service_user_created_once_and_linked(self):
        user = self.backend_a.service_user_id
        self.assertTrue(user.has_group("mfg_integration_base.group_mfg_service"))
        self.assertFalse(user.has_group("base.group_user"), "a technical user, not an employee")
        self.assertEqual(user.mfg_service_backend_ids, self.backend_a)
        key = self.backend_a.api_key_ids
        self.assertEqual(len(key), 1)
        self.assertEqual(key.state, "active")
        self.assertTrue(self.key_a.startswith(key.key_prefix))
        self.assertIn("API key", self.backend_a.message_ids[0].body)
        self.assertNotIn(self.key_a, self.backend_a.message_ids[0].body, "the key itself is never logged")

    def test_key_of_a_cannot_post_to_b(self):
        before = self._count(self.backend_b)
        resp = self._post("gov-b", self.key_a, "hb-a-to-b")
        self.assertEqual(resp.status_code, 403, resp.text)
        self.assertEqual(resp.json()["error"], "forbidden_backend")
        self.assertIn("gov-b", resp.json()["detail"])
        self.assertEqual(self._count(self.backend_b), before)
        ok = self._post("gov-a", self.key_a, "hb-a-to-a")
        self.assertEqual(ok.status_code, 202, ok.text)
        self.assertEqual(self.env["mfg.message"].browse(ok.json()["id"]).backend_id, self.backend_a)

    def test_type_not_enabled_on_own_backend_403(self):
        # gov.other_inbound is enabled on B only: A's service user may not post it, even to A.
        resp = self._post(
            "gov-a", self.key_a, "o-1", etype="gov.other_inbound", payload={"message_id": "o-1"}
        )
        self.assertEqual(resp.status_code, 403, resp.text)
        self.assertEqual(resp.json()["error"], "flow_not_enabled")
        self.assertEqual(self._count(self.backend_a), 0)
        resp = self._post(
            "gov-b", self.key_b, "o-2", etype="gov.other_inbound", payload={"message_id": "o-2"}
        )
        self.assertEqual(resp.status_code, 202, resp.text)

    @mute_logger("odoo.http")
    def test_rotation_grace_period_then_401(self):
        old_record = self.backend_a.api_key_ids
        wizard = self.env["mfg.api.key.rotate.wizard"].create(
            {"backend_id": self.backend_a.id, "grace_hours": 2}
        )
        action = wizard.action_rotate()
        new_key = action["context"]["default_key"]
        self.assertNotEqual(new_key, self.key_a)
        self.assertEqual(old_record.state, "grace")
        self.assertAlmostEqual(
            old_record.expires_at, fields.Datetime.now() + timedelta(hours=2), delta=timedelta(minutes=1)
        )
        # within the grace period both keys work
        self.assertEqual(self._post("gov-a", self.key_a, "rot-1").status_code, 202)
        self.assertEqual(self._post("gov-a", new_key, "rot-2").status_code, 202)
        # the grace period is over
        self.env.cr.execute(
            "UPDATE res_users_apikeys SET expiration_date = %s WHERE id = %s",
            (fields.Datetime.now() - timedelta(minutes=1), old_record.apikey_id),
        )
        old_record.invalidate_recordset()
        self.assertEqual(old_record.state, "expired")
        before = self._count(self.backend_a)
        resp = self._post("gov-a", self.key_a, "rot-3")
        self.assertEqual(resp.status_code, 401, resp.text)
        self.assertEqual(self._count(self.backend_a), before)
        self.assertEqual(self._post("gov-a", new_key, "rot-4").status_code, 202)
        self.assertIn("rotated", self.backend_a.message_ids[0].body)

    def test_revoke_stops_key_at_once(self):
        """Revocation does not depend on clocks: it was an expiry of "now - 1 s" (Python's clock,
        truncated to the second) compared with the transaction's now(), so a request in a
        transaction older than a second still got through (202, flaky). Here the revoking side's
        clock is an hour ahead of the database's — the key must still be refused at once."""
        record = self.backend_b.api_key_ids
        with freeze_time(fields.Datetime.now() + timedelta(hours=1)):
            record.action_revoke()
        resp = self._post("gov-b", self.key_b, "rev-1")
        self.assertEqual(resp.status_code, 401, resp.text)
        self.assertEqual(self._count(self.backend_b), 0)
        self.assertEqual(record.state, "revoked")
        self.assertEqual(record.revoked_by_id, self.env.user)
        self.assertFalse(self.env["res.users.apikeys"].sudo().browse(record.apikey_id).exists())
        # a revoked key does not block a new one
        new_key = self._create_key(self.backend_b)
        self.assertEqual(self._post("gov-b", new_key, "rev-2").status_code, 202)

    def test_rotation_without_grace_stops_old_key_at_once(self):
        old = self.backend_a.api_key_ids
        with freeze_time(fields.Datetime.now() + timedelta(hours=1)):
            _record, new_key = self.backend_a._mfg_rotate_api_key(0)
        self.assertEqual(self._post("gov-a", self.key_a, "rot0-1").status_code, 401)
        self.assertEqual(old.state, "revoked")
        self.assertEqual(self._post("gov-a", new_key, "rot0-2").status_code, 202)

    def test_last_use_is_recorded(self):
        record = self.backend_a.api_key_ids
        self.assertFalse(record.last_used_at)
        self.assertEqual(self._post("gov-a", self.key_a, "use-1").status_code, 202)
        record.invalidate_recordset()
        self.assertTrue(record.last_used_at)
        self.assertEqual(record.last_used_ip, "127.0.0.1")
        first = record.last_used_at
        self.assertEqual(self._post("gov-a", self.key_a, "use-2").status_code, 202)
        record.invalidate_recordset()
        self.assertEqual(record.last_used_at, first, "at most one write per key and minute")

    def test_keys_are_not_rpc_keys(self):
        """Service keys are scoped to this API: they do not open XML-RPC / JSON-RPC."""
        uid = self.env["res.users.apikeys"]._check_credentials(scope="rpc", key=self.key_a)
        self.assertFalse(uid)

    def test_ip_allowlist(self):
        self.backend_a.api_ip_allowlist = "10.9.0.0/16"
        resp = self._post("gov-a", self.key_a, "ip-1")
        self.assertEqual(resp.status_code, 403, resp.text)
        self.assertEqual(resp.json()["error"], "forbidden_address")
        self.backend_a.api_ip_allowlist = "10.9.0.0/16, 127.0.0.0/8"
        self.assertEqual(self._post("gov-a", self.key_a, "ip-2").status_code, 202)
        with self.assertRaises(ValidationError):
            self.backend_a.api_ip_allowlist = "10.9.0.300/16"

    def _legacy_service_user(self, login):
        """A service user with a hand-made key and no backend (before service identities)."""
        user = self.env["res.users"].create(
            {
                "name": "Legacy service",
                "login": login,
                "groups_id": [
                    fields.Command.set([self.env.ref("mfg_integration_base.group_mfg_service").id])
                ],
            }
        )
        key = (
            self.env["res.users.apikeys"]
            .with_user(user)
            ._generate(None, "legacy", fields.Datetime.now() + timedelta(days=1))
        )
        return user, key

    def test_unlinked_service_user_refused_by_default(self):
        """A service user linked to no backend is refused (it would post for every backend of its
        company); only an explicit service_user_requires_backend = False lets it through."""
        _user, key = self._legacy_service_user("gov-legacy-service")
        section = config.misc.setdefault("mfg_integration", {})
        self.assertNotIn("service_user_requires_backend", section)
        resp = self._post("gov-a", key, "legacy-1")
        self.assertEqual(resp.status_code, 403, resp.text)
        self.assertEqual(resp.json()["error"], "forbidden_backend")
        self.assertEqual(self._count(self.backend_a), 0)
        section["service_user_requires_backend"] = "False"
        try:
            resp = self._post("gov-a", key, "legacy-2")
        finally:
            section.pop("service_user_requires_backend", None)
        self.assertEqual(resp.status_code, 202, resp.text)

    def test_upgrade_links_unlinked_service_users(self):
        """The 18.0.1.2.0 migration: an unlinked service user is linked to the one backend it
        posted to (so that plant keeps working); one that posted to two backends stays unlinked."""
        path = file_path("mfg_integration_base/migrations/18.0.1.2.0/post-migration.py")
        spec = importlib.util.spec_from_file_location("mfg_base_post_migration_18_0_1_2_0", path)
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        backend_c = self.env["mfg.backend"].create(
            {
                "name": "Plant C",
                "code": "gov-c",
                "flow_ids": [fields.Command.create({"exchange_type_id": self.heartbeat.id})],
            }
        )
        backend_d = self.env["mfg.backend"].create(
            {
                "name": "Plant D",
                "code": "gov-d",
                "flow_ids": [fields.Command.create({"exchange_type_id": self.heartbeat.id})],
            }
        )
        one, one_key = self._legacy_service_user("gov-legacy-one")
        two, two_key = self._legacy_service_user("gov-legacy-two")
        section = config.misc.setdefault("mfg_integration", {})
        section["service_user_requires_backend"] = "False"  # as before the upgrade
        try:
            self.assertEqual(self._post("gov-c", one_key, "mig-1").status_code, 202)
            self.assertEqual(self._post("gov-c", two_key, "mig-2").status_code, 202)
            self.assertEqual(self._post("gov-d", two_key, "mig-3").status_code, 202)
        finally:
            section.pop("service_user_requires_backend", None)
        with self.assertLogs("odoo.addons.mfg_integration_base.models.mfg_backend_api", "WARNING") as logs:
            migration.migrate(self.env.cr, "18.0.1.0.0")
        self.assertEqual(backend_c.service_user_id, one)
        self.assertFalse(backend_d.service_user_id)
        self.assertFalse(two.mfg_service_backend_ids)
        self.assertIn("gov-legacy-two", logs.output[0])
        self.assertNotIn("gov-legacy-one", logs.output[0])
        self.assertEqual(self._post("gov-c", one_key, "mig-4").status_code, 202)
        self.assertEqual(self._post("gov-d", one_key, "mig-5").status_code, 403)
        self.assertEqual(self._post("gov-d", two_key, "mig-6").status_code, 403)

    def test_secret_change_logged_without_value(self):
        self.backend_a.hmac_secret = "s3cr3t-value"
        body = self.backend_a.message_ids[0].body
        self.assertIn("HMAC secret", body)
        self.assertNotIn("s3cr3t-value", body)


@tagged("post_install", "-at_install")
class TestThrottling(HttpCase):
    """Token bucket per backend in PostgreSQL: 429 + Retry-After above the limit, nothing lost."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.heartbeat = cls.env.ref("mfg_integration_base.exchange_type_plant_heartbeat")
        cls.backend = cls.env["mfg.backend"].create(
            {
                "name": "Throttled plant",
                "code": "gov-throttled",
                "api_rate_limit": 0.5,
                "api_burst": 5,
                "flow_ids": [fields.Command.create({"exchange_type_id": cls.heartbeat.id})],
            }
        )
        cls.key = cls.backend.action_create_service_user()["context"]["default_key"]

    def _post(self, message_id):
        body = {"message_id": message_id, "sent_at": "2026-11-28T10:00:00Z", "status": "running"}
        return self.url_open(
            "/mfg/api/v1/gov-throttled/plant.heartbeat",
            data=json.dumps(body),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"},
            timeout=30,
        )

    def test_burst_above_limit_gets_429_and_accepted_are_stored(self):
        answers = [self._post(f"burst-{i}") for i in range(12)]
        codes = [r.status_code for r in answers]
        accepted = [r.json()["id"] for r in answers if r.status_code == 202]
        limited = [r for r in answers if r.status_code == 429]
        self.assertTrue(5 <= len(accepted) <= 7, codes)  # the burst, plus what refilled meanwhile
        self.assertTrue(limited, codes)
        self.assertEqual(set(codes), {202, 429}, codes)
        for resp in limited:
            self.assertGreaterEqual(int(resp.headers["Retry-After"]), 1)
            self.assertEqual(resp.json()["error"], "too_many_requests")
        stored = self.env["mfg.message"].search([("backend_id", "=", self.backend.id)])
        self.assertEqual(sorted(stored.ids), sorted(accepted), "every 202 is stored, nothing else")

    def test_unlimited(self):
        self.backend.write({"api_rate_limit": 0})
        codes = {self._post(f"free-{i}").status_code for i in range(8)}
        self.assertEqual(codes, {202})
