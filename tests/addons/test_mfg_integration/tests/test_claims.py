"""Issue 12: a crash must not freeze a plant, one message must not stop the listener.

Claims belong to live drains: a drain holds an advisory lock (CLAIM_LOCK_CLASS, claim_lock)
for as long as it works on its claim, so a message left 'processing' by a drain that died is
taken again at once, and one whose drain lives is left alone. The "live drain" of these tests
is a second, real database session that holds the lock, as a drain on another worker would.
"""

import json
from types import SimpleNamespace

from odoo import sql_db
from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.mfg_integration_base.pipeline.claim import CLAIM_LOCK_CLASS

from . import test_outbox
from .common import MfgPipelineCase


@tagged("post_install", "-at_install")
class TestClaims(MfgPipelineCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = cls._create_user("Maria Manager", "maria.claims", [cls.group_manager])
        cls.user = cls._create_user("Uma User", "uma.claims", [cls.group_user])

    def _claim_lock(self):
        self.env.cr.execute("SELECT nextval('mfg_message_claim_lock_seq')")
        return self.env.cr.fetchone()[0]

    def _claimed_by(self, messages, lock):
        """What a drain's committed claim leaves: 'processing', claimed just now, with its lock."""
        self.env.flush_all()
        self.env.cr.execute(
            """UPDATE mfg_message SET state = 'processing', claim_token = 'drain-' || %s,
                      claimed_at = now() AT TIME ZONE 'UTC', claim_lock = %s, job_uuid = 'job-' || %s
                WHERE id IN %s""",
            (lock, lock, lock, tuple(messages.ids)),
        )
        self.env.invalidate_all()

    def _live_drain(self, lock):
        """Another database session holding ``lock``, as a running drain does. Returns a
        function that ends it: its lock goes with it, as when a drain is killed."""
        cr = sql_db.db_connect(self.env.cr.dbname).cursor()
        cr.execute("SELECT pg_advisory_lock(%s, %s)", (CLAIM_LOCK_CLASS, lock))

        def end():
            if not cr.closed:
                cr.execute("SELECT pg_advisory_unlock(%s, %s)", (CLAIM_LOCK_CLASS, lock))
                cr.close()

        self.addCleanup(end)
        return end

    def _three_of_one_order(self, order):
        res = self._receive(*(self._payload(f"{order}{i}", order=order, step=f"s{i}") for i in range(3)))
        return self.Message.browse([r["id"] for r in res])

    def test_claims_of_a_dead_drain_are_taken_again_at_once(self):
        """kill -9 mid-drain: its messages were 'processing' until the 15-minute lease ran out,
        and every later message of their work orders waited behind them."""
        first, second, third = self._three_of_one_order("DEAD")
        self._claimed_by(first | second, self._claim_lock())  # nobody holds that lock: the drain died
        self.assertEqual(first.claim_status, "orphaned")
        self.assertEqual(self.Message.search([("claim_status", "=", "orphaned")]), first | second)
        self.assertEqual(
            self.Message._mfg_claimable_count(self.backend, "inbound", [self.etype_in.id]),
            1,
            "a drain's follow-up check sees the orphans",
        )
        self._drain()
        self._drain()
        self._drain()
        self.assertEqual((first | second | third).mapped("state"), ["done"] * 3)
        self.assertEqual(self._order("DEAD").history, "s0,s1,s2", "in arrival order")

    def test_claims_of_a_live_drain_are_left_alone(self):
        first, second, third = self._three_of_one_order("LIVE")
        lock = self._claim_lock()
        end_drain = self._live_drain(lock)
        self._claimed_by(first, lock)
        self.assertEqual(first.claim_status, "live")
        self.assertIn("claimed 0,", self._drain(), "neither its message nor the later ones of its key")
        self.assertEqual((second.state, third.state), ("received", "received"))
        self.assertEqual(self.Message._mfg_claimable_count(self.backend, "inbound", [self.etype_in.id]), 0)
        with self.assertRaisesRegex(UserError, "being processed right now by a running drain"):
            first.with_user(self.manager).action_release_claim()

        end_drain()  # the drain's session ends without finishing: its claim is free
        self.env.invalidate_all()
        self.assertEqual(first.claim_status, "orphaned")
        self._drain()
        self._drain()
        self.assertEqual((first | second | third).mapped("state"), ["done"] * 3)

    def test_drain_releases_its_claim_lock(self):
        self._three_of_one_order("OWN")
        self._drain()
        self.env.cr.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND pid = pg_backend_pid()",
            (CLAIM_LOCK_CLASS,),
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0, "a drain leaves no lock on its connection")

    def test_manager_releases_a_stuck_message_and_the_drain_is_woken(self):
        first, _second, _third = self._three_of_one_order("REL")
        self._claimed_by(first, self._claim_lock())
        with self.assertRaisesRegex(UserError, "Only Integration Managers"):
            first.with_user(self.user).action_release_claim()
        self._drain_jobs().unlink()
        first.with_user(self.manager).action_release_claim()
        self.assertEqual(first.state, "queued")
        self.assertTrue(any("Released by Maria Manager" in b for b in self._chatter(first)))
        self.assertTrue(self._drain_jobs(), "a drain is started at once")
        with self.assertRaisesRegex(UserError, "Only messages in Processing"):
            first.with_user(self.manager).action_release_claim()

    def test_drain_due_cron_and_startup_resume_orphaned_claims(self):
        first, _second, _third = self._three_of_one_order("CRON")
        self._claimed_by(first, self._claim_lock())
        self._drain_jobs().unlink()
        before = self.env["queue.job"].search([("method_name", "=", "_mfg_drain")])
        self.assertEqual(self.env["mfg.backend"]._mfg_resume_orphaned_claims(), 1)
        started = self.env["queue.job"].search([("method_name", "=", "_mfg_drain")]) - before
        self.assertTrue(started, "start-up resumes the dead drain's work")
        for job in started:
            self.assertEqual(job.records, self.backend)
        self.assertFalse(started.filtered("identity_key"), "even if a dead server's job holds the key")
        started.unlink()
        # A drain job the dead server left 'started' (its lock row is not locked) is pending again.
        dead = self.backend.with_delay()._mfg_drain("inbound", "root.mfg")
        dead_job = self.env["queue.job"].search([("uuid", "=", dead.uuid)])
        dead_job.write({"state": "started"})
        self.env.flush_all()
        self.assertIn(dead.uuid, self.env["mfg.backend"]._mfg_requeue_dead_drain_jobs())
        dead_job.invalidate_recordset()
        self.assertEqual(dead_job.state, "pending")
        dead_job.unlink()
        self._drain_jobs().unlink()
        self.env["mfg.backend"]._cron_mfg_drain_due()
        self.assertTrue(self._drain_jobs())

    def test_dashboard_shows_a_stalled_backend(self):
        first, second, _third = self._three_of_one_order("STALL")
        self.backend.invalidate_recordset()
        self.assertEqual(self.backend.health, "ok", "just received: not stalled")
        self._set_column(first | second, "received_at", "2026-01-01 00:00:00")
        self.backend.invalidate_recordset()
        self.assertEqual(self.backend.health, "stalled", "waiting for minutes, nothing processed")
        self._drain()
        self.backend.invalidate_recordset()
        self.assertNotEqual(self.backend.health, "stalled", "processed just now")
        # A drain that died holding a message makes the backend stalled at once.
        other = self._three_of_one_order("STALL2")
        self._claimed_by(other[0], self._claim_lock())
        self.backend.invalidate_recordset()
        self.assertEqual((self.backend.health, self.backend.count_stuck), ("stalled", 1))

    def test_dashboard_counts_received_and_sent_apart(self):
        self._three_of_one_order("INOUT")
        self.backend._mfg_outbox("test.order_notice", {"order": "INOUT", "status": "released"})
        self.backend.invalidate_recordset()
        self.assertEqual((self.backend.count_received_today, self.backend.count_sent_today), (3, 1))


@tagged("post_install", "-at_install")
class TestManualActionsWakeDrains(MfgPipelineCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = cls._create_user("Maria Manager", "maria.wake", [cls.group_manager])

    def test_discard_wakes_the_drain_of_the_held_key(self):
        """After a Discard, the key's held messages waited for the 5-minute cron."""
        res = self._receive(
            self._payload("W1", order="W", step="w1", fail="business"),
            self._payload("W2", order="W", step="w2"),
        )
        w1, w2 = self.Message.browse([r["id"] for r in res])
        self._drain()
        self.assertEqual((w1.state, w2.state), ("failed", "queued"))
        self._drain_jobs().unlink()
        w1.with_user(self.manager).action_discard("the plant cancelled it")
        self.assertTrue(self._drain_jobs(), "the discard starts a drain for the held key")
        self._drain()
        self.assertEqual(w2.state, "done")


@tagged("post_install", "-at_install")
class TestReceiveIds(MfgPipelineCase):
    """Ids given by a transport (headers, MQTT user properties) are checked before they reach
    the unique index: a 2.7 KB id made the insert fail ("index row size exceeds btree
    maximum"), which stopped the MQTT listener for every backend."""

    def test_too_long_or_control_character_ids_are_stored_rejected(self):
        cases = [
            ({"external_id": "x" * 3000}, "message id is 3,000 characters long; at most 255"),
            ({"correlation_id": "c" * 256}, "correlation id is 256 characters long; at most 255"),
            ({"external_id": "a\x00b"}, "message id 'a\\\\x00b' holds a NUL character"),
            ({"correlation_id": "c\x00"}, "correlation id 'c\\\\x00' holds a NUL character"),
            ({"correlation_id": "tab\tin"}, None),
        ]
        for n, (ids, error) in enumerate(cases):
            with self.subTest(ids=list(ids)):
                (res,) = self.Message._mfg_receive(
                    self.backend,
                    self.etype_in,
                    [{"payload": self._payload(f"ids-{n}", order=f"IDS{n}"), **ids}],
                    transport="mqtt",
                )
                msg = self.Message.browse(res["id"])
                if error is None:
                    self.assertEqual(msg.state, "received", "a tab is text like any other")
                    continue
                self.assertEqual(msg.state, "rejected")
                self.assertRegex(msg.error_message, error)
                self.assertFalse(msg.external_id, "the sender may send it again with a valid id")
                self.assertFalse(msg.correlation_id)
        ok = self._receive_one(self._payload("ids-ok", order="IDSOK"))
        self.assertEqual(ok.state, "received", "a normal message is not affected")

    def test_mqtt_message_that_could_not_be_stored_is_kept_bare(self):
        """The listener's last isolation step: the raw bytes, rejected, with the storing error."""
        self.backend.write({"plant_code": "P9"})
        item = SimpleNamespace(
            backend_id=self.backend.id,
            topic="mfg/P9/mes/test.order_report",
            payload=b'{"order": "BARE"}',
            user_props={"message_id": "bare-1"},
            raw_fallback=True,
            bare=True,
            store_error="ProgramLimitExceeded: index row size exceeds btree maximum",
        )
        self.assertEqual(self.env["mfg.transport.mqtt"]._mfg_receive_batch([item]), 1)
        msg = self.Message.search([("backend_id", "=", self.backend.id)])
        self.assertEqual(msg.state, "rejected")
        self.assertEqual(msg.exchange_type_id, self.env.ref("mfg_integration_base.exchange_type_unroutable"))
        self.assertIn("index row size exceeds btree maximum", msg.error_message)
        self.assertTrue(msg.payload.startswith("base64:"))
        self.assertFalse(msg.external_id)


@tagged("post_install", "-at_install")
class TestOutboundReplay(MfgPipelineCase):
    _start_receiver = test_outbox.TestOutboundHttp._start_receiver

    def test_replay_of_an_outbound_message_is_sent_again(self):
        """Replay set transport = 'replay' and the send looked up mfg.transport.replay."""
        server = self._start_receiver(200)
        manager = self._create_user("Maria Manager", "maria.replay", [self.group_manager])
        msg = self.backend._mfg_outbox("test.order_notice", {"order": "RO", "status": "released"})
        self._drain("outbound")
        self.assertEqual(msg.state, "done", msg.error_message)
        msg.with_user(manager).action_replay()
        replay = msg.replay_ids
        self.assertEqual(replay.transport, msg.transport, "where it goes, as the original")
        self._drain("outbound")
        self.assertEqual(replay.state, "done", replay.error_message)
        self.assertEqual(len(server.received), 2)
        self.assertEqual(json.loads(server.received[1]["body"]), {"order": "RO", "status": "released"})


@tagged("post_install", "-at_install")
class TestRuns(MfgPipelineCase):
    """Inbound messages share one savepoint per run (issue 15); a failure still fails alone."""

    def test_a_failure_in_a_run_fails_alone_and_the_others_apply_once(self):
        payloads = [self._payload(f"run-{i}", order=f"RUN{i}", step=f"s{i}") for i in range(12)]
        payloads[7] = self._payload("run-7", order="RUN7", step="s7", fail="business")
        res = self._receive(*payloads)
        msgs = self.Message.browse([r["id"] for r in res])
        self.assertIn("claimed 12, done 11, held by ordering key 0", self._drain())
        self.assertEqual(msgs.mapped("state"), ["done"] * 7 + ["failed"] + ["done"] * 4)
        self.assertEqual(msgs[7].attempts, 1, "the run's attempt is not counted")
        for i in range(12):
            order = self._order(f"RUN{i}")
            if i == 7:
                self.assertFalse(order, "the failed message's effect is undone")
            else:
                self.assertEqual(order.applied_count, 1, f"RUN{i} applied once, not again after the run")
        self.assertEqual(msgs[0].record_count, 1, "links of a run rolled back and redone are not doubled")

    def test_a_failure_in_a_run_holds_the_rest_of_its_key(self):
        res = self._receive(
            self._payload("k-1", order="KR", step="k1"),
            self._payload("k-2", order="KR", step="k2", fail="business"),
            self._payload("k-3", order="KR", step="k3"),
            self._payload("o-1", order="OR", step="o1"),
        )
        k1, k2, k3, o1 = self.Message.browse([r["id"] for r in res])
        self._drain()
        self.assertEqual((k1.state, k2.state, k3.state, o1.state), ("done", "failed", "queued", "done"))
        self.assertEqual(self._order("KR").history, "k1")
        self.assertEqual(self._order("OR").history, "o1")

    def test_an_error_text_holding_nul_is_recorded_and_the_drain_goes_on(self):
        """A JSON escape \\u0000 in a payload reaches the error text; PostgreSQL refused the
        outcome, the drain crashed, and its batch was claimed again, forever."""
        res = self._receive(
            '{"message_id": "nul-1", "order": "A\\u0000B", "product": "WID-1", "quantity": 1, "fail": "business"}',
            self._payload("nul-2", order="NUL2"),
        )
        bad, good = self.Message.browse([r["id"] for r in res])
        self._drain()
        self.assertEqual((bad.state, good.state), ("failed", "done"))
        self.assertIn("Order A\ufffdB is closed", bad.error_message)
