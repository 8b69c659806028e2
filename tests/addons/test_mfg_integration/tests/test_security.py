from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import MfgPipelineCase

SECRET_FIELDS = ("hmac_secret", "http_token")


@tagged("post_install", "-at_install")
class TestSecurity(MfgPipelineCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create({"name": "Plant B Manufacturing"})
        cls.backend_b = cls._create_backend("Plant B MES", "plant-b", company=cls.company_b)
        cls.user_a = cls._create_user("Ann Integrator", "ann.mfg", [cls.group_user], cls.company_a)
        cls.user_b = cls._create_user("Bea Integrator", "bea.mfg", [cls.group_user], cls.company_b)
        cls.manager_a = cls._create_user("Max Manager", "max.mfg", [cls.group_manager], cls.company_a)
        cls.backend.write({"hmac_secret": "s3cret-a", "http_token": "token-a"})

    def setUp(self):
        super().setUp()
        self.msg_a = self._receive_one(self._payload("sec-a", order="SA"))
        self.msg_b = self._receive_one(self._payload("sec-b", order="SB"), backend=self.backend_b)
        self.assertEqual(self.msg_b.company_id, self.company_b)

    def test_other_company_messages_invisible(self):
        Message_b = self.Message.with_user(self.user_b)
        both = [("id", "in", (self.msg_a | self.msg_b).ids)]
        self.assertEqual(Message_b.search(both), self.msg_b.with_user(self.user_b))
        self.assertEqual(Message_b.search_count([("external_id", "=", "sec-a")]), 0)
        with self.assertRaises(AccessError):
            Message_b.browse(self.msg_a.id).read(["state", "payload"])
        self.assertEqual(Message_b.browse(self.msg_b.id).read(["state"])[0]["state"], "received")
        # Nor its backend.
        with self.assertRaises(AccessError):
            self.backend.with_user(self.user_b).read(["name"])

    def test_own_company_messages_visible_only(self):
        Message_a = self.Message.with_user(self.user_a)
        both = [("id", "in", (self.msg_a | self.msg_b).ids)]
        self.assertEqual(Message_a.search(both).ids, self.msg_a.ids)
        with self.assertRaises(AccessError):
            Message_a.browse(self.msg_b.id).read(["state"])
        self.assertEqual(
            self.env["mfg.backend"].with_user(self.user_a).search([("id", "in", self.backend_b.ids)]).ids, []
        )

    def test_other_company_user_cannot_retry(self):
        self.msg_a.sudo().write({"state": "failed"})
        with self.assertRaises(AccessError):
            self.msg_a.with_user(self.user_b).action_retry()
        self.assertEqual(self.msg_a.state, "failed")

    def test_secrets_hidden_from_integration_user(self):
        backend_as_user = self.backend.with_user(self.user_a)
        self.assertEqual(backend_as_user.read(["code"])[0]["code"], "test-plant")
        for fname in SECRET_FIELDS:
            with self.assertRaises(AccessError, msg=fname):
                backend_as_user.read([fname])
        fields = self.env["mfg.backend"].with_user(self.user_a).fields_get()
        self.assertTrue(set(SECRET_FIELDS).isdisjoint(fields))
        self.assertIn("http_url", fields)
        # Managers see (and set) them.
        values = self.backend.with_user(self.manager_a).read(list(SECRET_FIELDS))[0]
        self.assertEqual((values["hmac_secret"], values["http_token"]), ("s3cret-a", "token-a"))

    def test_secrets_not_copied(self):
        copy = self.backend.copy({"code": "test-plant-copy", "name": "Copy"})
        self.assertFalse(copy.hmac_secret)
        self.assertFalse(copy.http_token)

    def test_integration_user_cannot_change_messages_or_configuration(self):
        with self.assertRaises(AccessError):
            self.msg_a.with_user(self.user_a).write({"state": "done"})
        with self.assertRaises(AccessError):
            self.msg_a.with_user(self.user_a).unlink()
        with self.assertRaises(AccessError):
            self.env["mfg.code.mapping"].with_user(self.user_a).create(
                {"backend_id": self.backend.id, "kind": "product", "external_code": "X", "value": "x"}
            )
        with self.assertRaises(AccessError):
            self.backend.with_user(self.user_a).write({"http_url": "http://evil.example.com"})
        self.assertEqual(self.msg_a.state, "received")
        self.assertFalse(self.backend.http_url)
