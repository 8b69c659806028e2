import json
from contextlib import contextmanager
from datetime import timedelta

from odoo import fields
from odoo.fields import Command
from odoo.tests import TransactionCase


class MfgPipelineCase(TransactionCase):
    """A backend with flows for test.order_report (inbound) and test.order_notice (outbound),
    a product known by its internal reference, and helpers to feed and drain the pipeline."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Message = cls.env["mfg.message"]
        cls.Order = cls.env["mfg.test.order"]
        cls.etype_in = cls.env.ref("test_mfg_integration.exchange_type_order_report")
        cls.etype_out = cls.env.ref("test_mfg_integration.exchange_type_order_notice")
        cls.backend = cls._create_backend("Test plant MES", "test-plant")
        cls.product = cls.env["product.product"].create({"name": "Test widget", "default_code": "WID-1"})
        cls.group_user = cls.env.ref("mfg_integration_base.group_mfg_user")
        cls.group_manager = cls.env.ref("mfg_integration_base.group_mfg_manager")

    # ------------------------------------------------------------------ fixtures
    @classmethod
    def _create_backend(cls, name, code, company=None, **vals):
        return cls.env["mfg.backend"].create(
            {
                "name": name,
                "code": code,
                "company_id": (company or cls.env.company).id,
                "flow_ids": [
                    Command.create({"exchange_type_id": cls.etype_in.id}),
                    Command.create({"exchange_type_id": cls.etype_out.id}),
                ],
                **vals,
            }
        )

    @classmethod
    def _create_user(cls, name, login, groups, company=None):
        company = company or cls.env.company
        return (
            cls.env["res.users"]
            .with_context(no_reset_password=True)
            .create(
                {
                    "name": name,
                    "login": login,
                    "email": f"{login}@example.com",
                    "company_id": company.id,
                    "company_ids": [Command.set(company.ids)],
                    "groups_id": [Command.set([g.id for g in groups])],
                }
            )
        )

    # ------------------------------------------------------------------ helpers
    def _payload(self, message_id, order="A", product="WID-1", quantity=1.0, **extra):
        data = {"message_id": message_id, "order": order, "product": product, "quantity": quantity}
        data.update(extra)
        return json.dumps(data)

    def _receive(self, *payloads, backend=None, etype=None, **kw):
        """Receive raw payloads (one item each); return the result dicts of _mfg_receive."""
        return self.Message._mfg_receive(
            backend or self.backend,
            etype or self.etype_in,
            [{"payload": p} for p in payloads],
            transport=kw.pop("transport", "test"),
            **kw,
        )

    def _receive_one(self, payload, **kw):
        """Receive one payload; return the stored mfg.message."""
        (result,) = self._receive(payload, **kw)
        self.assertTrue(result["id"], "the message must be stored")
        return self.Message.browse(result["id"])

    @contextmanager
    def assertRaisesMatch(self, exception, regex):
        """assertRaises (rolls back to a savepoint, unlike unittest's assertRaisesRegex) whose
        error text must match ``regex``."""
        with self.assertRaises(exception) as caught:
            yield caught
        self.assertRegex(str(caught.exception), regex)

    def _drain(self, direction="inbound", backend=None):
        # A drain job runs after the transaction that queued the work has committed.
        self.env.flush_all()
        res = (backend or self.backend)._mfg_drain(direction, "root.mfg")
        # Drains write through raw SQL as well as the ORM: read the messages afresh.
        self.env.invalidate_all()
        return res

    def _make_due(self, messages):
        """Move the next attempt of ``messages`` to the past (the claim compares with the
        transaction's start time, so a retry scheduled 'in 10 s' is never due in a test)."""
        past = fields.Datetime.now() - timedelta(minutes=5)
        self.env.cr.execute(
            "UPDATE mfg_message SET next_attempt_at = %s WHERE id IN %s", (past, tuple(messages.ids))
        )
        self.env.invalidate_all()

    def _set_column(self, messages, column, value):
        """Raw SQL write of a readonly column (received_at, processed_at...) for set-up."""
        self.env.flush_all()
        self.env.cr.execute(
            f"UPDATE mfg_message SET {column} = %s WHERE id IN %s",
            (value, tuple(messages.ids)),
        )
        self.env.invalidate_all()

    def _order(self, name):
        return self.Order.search([("name", "=", name)])

    def _chatter(self, record):
        """Plain text of the chatter messages posted on ``record`` (newest first)."""
        record.invalidate_recordset(["message_ids"])
        return [str(body) for body in record.message_ids.mapped("body")]

    def _drain_jobs(self, direction="inbound", backend=None):
        backend = backend or self.backend
        return self.env["queue.job"].search(
            [
                ("model_name", "=", "mfg.backend"),
                ("method_name", "=", "_mfg_drain"),
                ("identity_key", "=like", f"mfg_drain:{backend.id}:{direction}:%"),
            ]
        )
