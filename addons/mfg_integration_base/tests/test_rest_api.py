import json
from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, tagged
from odoo.tools import config, mute_logger


@tagged("post_install", "-at_install")
class TestRestIngest(HttpCase):
    """POST /mfg/api/v1/<backend>/<type> through Odoo's real HTTP stack."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.etype = cls.env.ref("mfg_integration_base.exchange_type_plant_heartbeat")
        cls.backend = cls.env["mfg.backend"].create(
            {
                "name": "REST plant",
                "code": "rest-plant",
                "flow_ids": [fields.Command.create({"exchange_type_id": cls.etype.id})],
            }
        )
        cls.closed_backend = cls.env["mfg.backend"].create({"name": "No flows", "code": "no-flows"})
        cls.service_user = cls.env["res.users"].create(
            {
                "name": "MES service",
                "login": "mes-service",
                "groups_id": [fields.Command.set([cls.env.ref("mfg_integration_base.group_mfg_service").id])],
            }
        )
        (cls.backend | cls.closed_backend).service_user_id = cls.service_user
        cls.plain_user = cls.env["res.users"].create(
            {
                "name": "Somebody",
                "login": "somebody",
                "groups_id": [fields.Command.set([cls.env.ref("base.group_user").id])],
            }
        )
        expiry = fields.Datetime.now() + timedelta(days=1)
        cls.key = cls.env["res.users.apikeys"].with_user(cls.service_user)._generate(None, "mes", expiry)
        cls.plain_key = cls.env["res.users.apikeys"].with_user(cls.plain_user)._generate(None, "x", expiry)

    def _payload(self, message_id="hb-1", **extra):
        data = {"message_id": message_id, "sent_at": "2026-11-28T10:00:00Z", "status": "running"}
        data.update(extra)
        return json.dumps(data)

    def _post(self, body, backend="rest-plant", etype="plant.heartbeat", key=None, headers=None):
        hdrs = {"Content-Type": "application/json"}
        if key is not False:
            hdrs["Authorization"] = f"Bearer {key or self.key}"
        hdrs.update(headers or {})
        return self.url_open(f"/mfg/api/v1/{backend}/{etype}", data=body, headers=hdrs, timeout=30)

    def _count(self):
        return self.env["mfg.message"].search_count(
            [("backend_id", "in", (self.backend | self.closed_backend).ids)]
        )

    def test_202_new_message_then_processed(self):
        resp = self._post(self._payload("hb-202"))
        self.assertEqual(resp.status_code, 202, resp.text)
        body = resp.json()
        msg = self.env["mfg.message"].browse(body["id"])
        self.assertEqual(msg.state, "queued")
        self.assertEqual(msg.external_id, "hb-202")
        self.assertEqual(msg.transport, "rest")
        self.assertEqual(msg.create_uid, self.service_user)
        self.backend._mfg_drain("inbound", "root.mfg")
        self.assertEqual(msg.state, "done")
        self.assertEqual(self.backend.remote_status, "running")

    def test_200_duplicate_same_id_stored_once(self):
        first = self._post(self._payload("hb-dup"))
        self.assertEqual(first.status_code, 202)
        for _i in range(9):
            again = self._post(self._payload("hb-dup"))
            self.assertEqual(again.status_code, 200, again.text)
            self.assertEqual(again.json()["id"], first.json()["id"])
            self.assertTrue(again.json()["duplicate"])
        self.assertEqual(
            self.env["mfg.message"].search_count(
                [("external_id", "=", "hb-dup"), ("backend_id", "=", self.backend.id)]
            ),
            1,
        )

    def test_idempotency_key_header_wins(self):
        resp = self._post(self._payload("hb-a"), headers={"Idempotency-Key": "idem-42"})
        self.assertEqual(resp.status_code, 202)
        self.assertEqual(self.env["mfg.message"].browse(resp.json()["id"]).external_id, "idem-42")
        self.assertEqual(
            self._post(self._payload("hb-b"), headers={"Idempotency-Key": "idem-42"}).status_code, 200
        )

    def test_400_unparsable_json_stores_nothing(self):
        before = self._count()
        resp = self._post('{"message_id": "x", ')
        self.assertEqual(resp.status_code, 400)
        self.assertIn("not valid JSON", resp.json()["detail"])
        self.assertEqual(self._count(), before)

    def test_400_hostile_json_never_500(self):
        """Issue 13 item 7: JSON nested 50,000 deep was an HTTP 500 (RecursionError); NaN,
        Infinity and 1e309 passed as numbers. Each is a 400 with the error body, nothing stored."""
        before = self._count()
        deep = '{"message_id": "deep", "status": ' + "[" * 50000 + "]" * 50000 + "}"
        deep_objects = '{"a": ' * 50000 + "1" + "}" * 50000
        for body, words in (
            (deep, "levels deep"),
            (deep_objects, "levels deep"),
            (self._payload("hb-nan")[:-1] + ', "q": NaN}', "NaN"),
            (self._payload("hb-inf")[:-1] + ', "q": -Infinity}', "Infinity"),
            (self._payload("hb-big")[:-1] + ', "q": 1e309}', "1e309"),
        ):
            with self.subTest(body=body[:60]):
                resp = self._post(body)
                self.assertEqual(resp.status_code, 400, resp.text[:300])
                self.assertEqual(resp.json()["error"], "invalid_json")
                self.assertIn(words, resp.json()["detail"])
        self.assertEqual(self._count(), before)

    def test_400_id_header_longer_than_documented_or_with_nul(self):
        """openapi.json documents Idempotency-Key and X-Correlation-Id with maxLength 255: a
        longer value (6,000 characters was a 500) or a NUL is a 400 naming the header."""
        before = self._count()
        for name in ("Idempotency-Key", "X-Correlation-Id", "X-Message-Id"):
            for value, words in (("k" * 6000, "6,000 characters"), ("ab\x00cd", "NUL")):
                with self.subTest(header=name, value=value[:10]):
                    resp = self._post(self._payload("hb-hdr"), headers={name: value})
                    self.assertEqual(resp.status_code, 400, resp.text[:300])
                    body = resp.json()
                    self.assertEqual((body["error"], body["header"]), ("invalid_header", name))
                    self.assertIn(name, body["detail"])
                    self.assertIn(words, body["detail"])
        resp = self._post(self._payload("hb-hdr-ok"), headers={"Idempotency-Key": "k" * 255})
        self.assertEqual(resp.status_code, 202, resp.text)
        self.assertEqual(self._count(), before + 1)

    def test_400_nul_or_overlong_code_in_path(self):
        """A NUL in the backend code of the URL was a 500 (PostgreSQL refuses NUL in a query)."""
        before = self._count()
        for backend, etype, parameter in (
            ("rest%00plant", "plant.heartbeat", "backend"),
            ("rest-plant", "plant.heart%00beat", "exchange type"),
            ("r" * 300, "plant.heartbeat", "backend"),
        ):
            with self.subTest(backend=backend[:20], etype=etype):
                resp = self._post(self._payload("hb-path"), backend=backend, etype=etype)
                self.assertEqual(resp.status_code, 400, resp.text[:300])
                self.assertEqual(resp.json()["error"], "invalid_path")
                self.assertEqual(resp.json()["parameter"], parameter)
        # a version number no exchange type can have: not found, not an integer overflow
        resp = self._post(self._payload("hb-path"), etype="plant.heartbeat.v99999999999999")
        self.assertEqual(resp.status_code, 404, resp.text[:300])
        self.assertEqual(self._count(), before)

    @mute_logger("odoo.http")
    def test_401_missing_or_wrong_key_stores_nothing(self):
        before = self._count()
        missing = self._post(self._payload("hb-401"), key=False)
        self.assertEqual(missing.status_code, 401)
        self.assertIn("Bearer", missing.headers.get("WWW-Authenticate", ""))
        wrong = self._post(self._payload("hb-401"), key="not-a-real-key")
        self.assertEqual(wrong.status_code, 401)
        self.assertEqual(self._count(), before)

    def test_403_type_not_enabled_or_user_not_service(self):
        before = self._count()
        resp = self._post(self._payload("hb-403"), backend="no-flows")
        self.assertEqual(resp.status_code, 403)
        self.assertIn("not enabled", resp.json()["detail"])
        resp = self._post(self._payload("hb-403b"), key=self.plain_key)
        self.assertEqual(resp.status_code, 403)
        self.assertEqual(self._count(), before)

    def test_404_unknown_backend_or_type(self):
        self.assertEqual(self._post(self._payload(), backend="nowhere").status_code, 404)
        self.assertEqual(self._post(self._payload(), etype="mes.nothing").status_code, 404)

    def test_413_payload_too_large(self):
        before = self._count()
        section = config.misc.setdefault("mfg_integration", {})
        previous = section.get("max_payload_bytes")
        section["max_payload_bytes"] = "200"
        try:
            resp = self._post(self._payload("hb-413", detail="x" * 500))
        finally:
            if previous is None:
                section.pop("max_payload_bytes", None)
            else:
                section["max_payload_bytes"] = previous
        self.assertEqual(resp.status_code, 413)
        self.assertEqual(self._count(), before)

    def test_422_schema_violation_is_stored_rejected(self):
        resp = self._post(self._payload("hb-422", status="exploded", extra_field=1))
        self.assertEqual(resp.status_code, 422, resp.text)
        body = resp.json()
        self.assertEqual(body["state"], "rejected")
        paths = {e["path"] for e in body["errors"]}
        self.assertIn("/status", paths)
        msg = self.env["mfg.message"].browse(body["id"])
        self.assertEqual(msg.state, "rejected")
        self.assertEqual(msg.error_class, "validation")
        self.assertIn("field '/status'", msg.error_message)
        self.assertIn('"exploded"', msg.error_message)
        # never retried automatically
        self.backend._mfg_drain("inbound", "root.mfg", include_batch=True)
        self.assertEqual(msg.state, "rejected")

    def test_health_counts_per_state(self):
        self._post(self._payload("hb-h1"))
        self._post(self._payload("hb-h2", status="broken"))
        resp = self.url_open("/mfg/api/v1/health", headers={"Authorization": f"Bearer {self.key}"})
        self.assertEqual(resp.status_code, 200)
        flows = {(f["backend"], f["exchange_type"]): f for f in resp.json()["flows"]}
        entry = flows[("rest-plant", "plant.heartbeat.v1")]
        self.assertEqual(entry["counts"].get("queued"), 1)
        self.assertEqual(entry["counts"].get("rejected"), 1)
        self.assertGreaterEqual(entry["oldest_pending_seconds"], 0)
        self.assertEqual(self.url_open("/mfg/api/v1/health").status_code, 401)
