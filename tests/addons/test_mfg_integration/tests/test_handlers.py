from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import MfgPipelineCase

LOG_MESSAGE = "odoo.addons.mfg_integration_base.pipeline.process"


@tagged("post_install", "-at_install")
class TestHandlerRegistry(MfgPipelineCase):
    """Handlers run as superuser in the drain: an exchange type may name only a ``_mfg_handle_*``
    method of a model that inherits ``mfg.handler.mixin`` — at save and again at every call."""

    def _new_type(self, **vals):
        return self.env["mfg.exchange.type"].create(
            {"name": "Scratch", "code": "test.scratch", "direction": "inbound", **vals}
        )

    def test_callables_that_are_not_handlers_cannot_be_saved(self):
        refused = [
            # (model, method, what the error must say)
            ("mfg.test.order", "unlink", r"'unlink' is not a handler method of mfg\.test\.order"),
            ("mfg.test.order", "sudo", r"'sudo' is not a handler method"),
            ("mfg.test.order", "_compute_display_name", r"'_compute_display_name' is not a handler method"),
            ("mfg.test.order", "_mfg_handle_", r"is not a handler method"),
            ("mfg.test.order", "_mfg_handle_no_such_thing", r"is not a handler method"),
            ("mfg.message", "_compute_name", r"handler model 'mfg\.message' is not a handler model"),
            ("res.users", "unlink", r"handler model 'res\.users' is not a handler model"),
            ("mfg.handler.mixin", "_mfg_handle_order_report", r"is not a handler model"),
            ("mfg.no.such.model", "_mfg_handle_order_report", r"is not a handler model"),
        ]
        for model, method, error in refused:
            with self.subTest(model=model, method=method):
                with self.assertRaisesMatch(ValidationError, error):
                    self._new_type(handler_model=model, handler_method=method)
                with self.assertRaisesMatch(ValidationError, error):
                    self.etype_in.write({"handler_model": model, "handler_method": method})
        self.assertFalse(self.env["mfg.exchange.type"].search([("code", "=", "test.scratch")]))
        self.assertEqual(
            (self.etype_in.handler_model, self.etype_in.handler_method),
            ("mfg.test.order", "_mfg_handle_order_report"),
            "the exchange type keeps its handler",
        )

    def test_error_names_the_field_value_and_the_choices(self):
        with self.assertRaises(ValidationError) as caught:
            self.etype_in.handler_method = "unlink"
        text = str(caught.exception)
        self.assertIn("test.order_report.v1", text)
        self.assertIn("_mfg_handle_<what>", text)
        self.assertIn("this model has: _mfg_handle_order_report", text)
        with self.assertRaises(ValidationError) as caught:
            self.etype_in.handler_model = "res.users"
        self.assertIn("mfg.handler.mixin", str(caught.exception))
        self.assertIn("mfg.test.order", str(caught.exception), "the error lists the handler models")
        with self.assertRaisesMatch(ValidationError, "has no handler model"):
            self._new_type(handler_method="_mfg_handle_order_report")

    def test_registered_handlers_are_offered_and_saved(self):
        offered = dict(
            self.env["mfg.exchange.type"]._fields["handler_model"]._description_selection(self.env)
        )
        for model in ("mfg.backend", "mfg.test.order", "mfg.mes.handlers", "mfg.flatfile.handlers"):
            self.assertIn(model, offered)
        for model in ("res.users", "mfg.message", "mfg.handler.mixin", "ir.config_parameter"):
            self.assertNotIn(model, offered)
        ok = self._new_type(handler_model="mfg.test.order", handler_method="_mfg_handle_order_report")
        self.assertEqual(
            ok.handler_methods_available, "_mfg_handle_order_report, _mfg_handle_order_report_batched"
        )
        ok.write({"handler_model": "mfg.backend", "handler_method": "_mfg_handle_heartbeat"})
        self.assertEqual(ok.handler_method, "_mfg_handle_heartbeat")

    def test_a_batch_variant_is_found_by_its_handler_name_and_is_no_handler_itself(self):
        with self.assertRaisesMatch(ValidationError, r"is not a handler method"):
            self._new_type(handler_model="mfg.test.order", handler_method="_mfg_batch_order_report_batched")
        etype = self._new_type(
            handler_model="mfg.test.order", handler_method="_mfg_handle_order_report_batched"
        )
        self.assertEqual(etype._mfg_batch_handler().__name__, "_mfg_batch_order_report_batched")
        etype.handler_method = "_mfg_handle_order_report"
        self.assertIsNone(etype._mfg_batch_handler(), "no _mfg_batch_order_report: one at a time")

    def test_every_shipped_exchange_type_names_a_registered_handler(self):
        types = (
            self.env["mfg.exchange.type"]
            .with_context(active_test=False)
            .search([("handler_model", "!=", False)])
        )
        self.assertGreaterEqual(len(types), 10, "the connectors' inbound contracts are installed")
        for etype in types:
            with self.subTest(contract=etype.contract):
                self.assertFalse(etype._mfg_handler_problem())

    def test_tampered_handler_fails_the_message_without_calling_anything(self):
        order = self.Order.create({"name": "KEEP"})
        cases = [
            ("mfg.test.order", "unlink", "'unlink' is not a handler method of mfg.test.order"),
            ("res.users", "_mfg_handle_order_report", "handler model 'res.users' is not a handler model"),
            ("mfg.test.order", "_mfg_handle_order_report(); x", "is not a handler method"),
        ]
        for i, (model, method, error) in enumerate(cases):
            with self.subTest(model=model, method=method):
                msg = self._receive_one(self._payload(f"tamper-{i}", order=f"T{i}"))
                self.env.flush_all()
                # Behind the ORM's back: no constraint runs.
                self.env.cr.execute(
                    "UPDATE mfg_exchange_type SET handler_model = %s, handler_method = %s WHERE id = %s",
                    (model, method, self.etype_in.id),
                )
                self.env.invalidate_all()
                with mute_logger(LOG_MESSAGE):
                    self._drain()
                self.assertEqual(msg.state, "failed")
                self.assertEqual(msg.error_class, "business", "a permanent error, not a crash")
                self.assertIn("test.order_report.v1", msg.error_message)
                self.assertIn(error, msg.error_message)
                self.assertFalse(msg.next_attempt_at, "never retried on its own")
        self.assertTrue(order.exists(), "nothing was called")
        self.assertFalse(self.Order.search([("name", "=like", "T_")]), "no handler ran")

    def test_only_managers_write_handler_fields(self):
        user = self._create_user("Integration user", "mfg-handler-user", [self.group_user])
        with self.assertRaises(AccessError):
            self.etype_in.with_user(user).write({"handler_method": "_mfg_handle_order_report"})
        manager = self._create_user("Integration manager", "mfg-handler-mgr", [self.group_manager])
        with self.assertRaisesMatch(ValidationError, "is not a handler method"):
            self.etype_in.with_user(manager).write({"handler_method": "unlink"})
        self.etype_in.with_user(manager).write({"handler_method": "_mfg_handle_order_report"})
