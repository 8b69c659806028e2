"""Reusable test case for addons that plug exchange types into the message pipeline.

    from odoo.addons.mfg_integration_base.tests.common import MfgPipelineCase

    class MyExchangeTypeCase(MfgPipelineCase):
        @classmethod
        def setUpClass(cls):
            super().setUpClass()
            cls.etype = {"scrap": cls.env.ref("my_addon.exchange_type_scrap")}
            cls.backend = cls._create_backend("Plant MES", "plant-mes", cls.etype.values())

        def test_scrap(self):
            msg = self._receive("scrap", {"message_id": "s-1", ...})
            self._drain()
            self.assertDone(msg)

The case drives the real pipeline (``_mfg_receive``, ``_mfg_drain``) in the test's
transaction: nothing of the pipeline is mocked.
"""

import json
from contextlib import contextmanager
from datetime import timedelta

from odoo import fields
from odoo.fields import Command
from odoo.tests import TransactionCase

DRAIN_CHANNEL = "root.mfg"


class OutboxTrap:
    """What a ``with self._outbox_trap() as trap:`` block wrote to the outbox.

    ``trap.messages`` (mfg.message, oldest first) is filled when the block exits.
    """

    def __init__(self, case, backend):
        self._case = case
        self._backend = backend
        self.messages = case.env["mfg.message"]

    def of(self, etype):
        """The trapped messages of one exchange type (record, ``etype`` key or code)."""
        etype = self._case._exchange_type(etype)
        return self.messages.filtered(lambda m: m.exchange_type_id == etype)


class MfgPipelineCase(TransactionCase):
    """Helpers to build backends with flows, feed payloads to the pipeline, drain it and
    assert the outcome. Subclasses create their backend(s) in ``setUpClass``, usually with
    :meth:`_create_backend`, and keep it in ``cls.backend`` (the default of every helper).

    Exchange types may be given as records, as a key of the ``etype`` dict a subclass sets
    (``cls.etype = {"scrap": ref(...)}``), or as an exchange type code (``code`` or
    ``code.vN``).
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Message = cls.env["mfg.message"]
        cls.group_user = cls.env.ref("mfg_integration_base.group_mfg_user")
        cls.group_manager = cls.env.ref("mfg_integration_base.group_mfg_manager")

    # ------------------------------------------------------------------ fixtures
    @classmethod
    def _create_backend(cls, name, code, exchange_types, company=None, **vals):
        """A backend with one flow per exchange type (records, or an iterable of records)."""
        return cls.env["mfg.backend"].create(
            {
                "name": name,
                "code": code,
                "company_id": (company or cls.env.company).id,
                "flow_ids": [Command.create({"exchange_type_id": t.id}) for t in exchange_types],
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

    @classmethod
    def _exchange_type(cls, etype):
        """The exchange type record for a record, an ``etype`` key or a code."""
        if not isinstance(etype, str):
            return etype
        known = getattr(cls, "etype", None)
        if isinstance(known, dict) and etype in known:
            return known[etype]
        found = cls.env["mfg.exchange.type"].with_context(active_test=False)._find(etype)
        if not found:
            raise ValueError(f"no exchange type {etype!r}")
        return found

    # ------------------------------------------------------------------ receive
    def _receive_results(self, etype, *payloads, backend=None, transport="test", **kw):
        """Receive payloads (raw ``str``/``bytes``, or dicts sent as JSON), one item each, for
        ``etype``; return the result dicts of ``_mfg_receive`` (refusals included)."""
        items = [{"payload": p if isinstance(p, str | bytes) else json.dumps(p)} for p in payloads]
        return self.Message._mfg_receive(
            backend or self.backend, self._exchange_type(etype), items, transport=transport, **kw
        )

    def _receive(self, etype, *payloads, **kw):
        """Receive payloads like :meth:`_receive_results`; return the stored messages, in the
        order of the payloads (one record for one payload). Fails if one was not stored."""
        results = self._receive_results(etype, *payloads, **kw)
        for result in results:
            self.assertTrue(result.get("id"), f"the message must be stored: {result}")
        return self.Message.browse([r["id"] for r in results])

    # ------------------------------------------------------------------ drain
    def _drain(self, direction="inbound", backend=None, **kw):
        """One drain job of ``direction`` (keywords go to ``_mfg_drain``, e.g. ``limit``,
        ``include_batch``); return its summary. A drain job runs after the transaction that
        queued the work has committed: flush first. Drains write through raw SQL as well as the
        ORM: read the messages afresh afterwards."""
        self.env.flush_all()
        res = (backend or self.backend)._mfg_drain(direction, DRAIN_CHANNEL, **kw)
        self.env.invalidate_all()
        return res

    def _drain_all(self, direction="inbound", backend=None, **kw):
        """Drain until a drain claims nothing (a drain takes one batch at a time)."""
        while not self._drain(direction, backend, **kw).startswith("claimed 0"):
            pass

    def _drain_jobs(self, direction="inbound", backend=None):
        """The queued drain jobs of ``backend`` for ``direction``."""
        backend = backend or self.backend
        return self.env["queue.job"].search(
            [
                ("model_name", "=", "mfg.backend"),
                ("method_name", "=", "_mfg_drain"),
                ("identity_key", "=like", f"mfg_drain:{backend.id}:{direction}:%"),
            ]
        )

    # ------------------------------------------------------------------ outbox
    def _outbound(self, etype=None, key=None, backend=None):
        """Outbound messages (oldest first), optionally of one exchange type, ordering key or
        backend."""
        domain = [("direction", "=", "outbound")]
        if etype:
            domain.append(("exchange_type_id", "=", self._exchange_type(etype).id))
        if key:
            domain.append(("ordering_key", "=", key))
        if backend:
            domain.append(("backend_id", "=", backend.id))
        return self.Message.search(domain, order="id")

    @contextmanager
    def _outbox_trap(self, backend=None):
        """Collect the outbound messages the block writes (of ``backend`` if given):

        with self._outbox_trap() as trap:
            mo.action_confirm()
        self.assertEqual(trap.of("work_order_release").ordering_key, mo.name)
        """
        trap = OutboxTrap(self, backend)
        before = self._outbound(backend=backend)
        yield trap
        self.env.flush_all()
        trap.messages = self._outbound(backend=backend) - before

    # ------------------------------------------------------------------ assertions
    def assertDone(self, *messages):
        """Each message is done; on failure, show its error."""
        for msg in messages:
            self.assertEqual(msg.state, "done", f"{msg.name}: {msg.error_message}")

    def assertFailedWith(self, msg, error_class, regex):
        """The message failed with ``error_class`` (validation, mapping, business, transient,
        internal) and an error text matching ``regex``."""
        self.assertEqual(
            (msg.state, msg.error_class),
            ("failed", error_class),
            f"{msg.name}: {msg.error_message}",
        )
        self.assertRegex(msg.error_message or "", regex)

    @contextmanager
    def assertRaisesMatch(self, exception, regex):
        """assertRaises (rolls back to a savepoint, unlike unittest's assertRaisesRegex) whose
        error text must match ``regex``."""
        with self.assertRaises(exception) as caught:
            yield caught
        self.assertRegex(str(caught.exception), regex)

    # ------------------------------------------------------------------ set-up helpers
    def _make_due(self, messages):
        """Move the next attempt of ``messages`` to the past (the claim compares with the
        transaction's start time, so a retry scheduled 'in 10 s' is never due in a test)."""
        self._set_column(messages, "next_attempt_at", fields.Datetime.now() - timedelta(minutes=5))

    def _set_column(self, messages, column, value):
        """Raw SQL write of a readonly column (received_at, processed_at...) for set-up."""
        self.env.flush_all()
        self.env.cr.execute(
            f"UPDATE mfg_message SET {column} = %s WHERE id IN %s",
            (value, tuple(messages.ids)),
        )
        self.env.invalidate_all()

    def _chatter(self, record):
        """Plain text of the chatter messages posted on ``record`` (newest first)."""
        record.invalidate_recordset(["message_ids"])
        return [str(body) for body in record.message_ids.mapped("body")]
