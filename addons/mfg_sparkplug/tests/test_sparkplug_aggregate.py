import copy

from odoo.tests import BaseCase, tagged

from ..lib import aggregate


def rules():
    return [
        aggregate.Rule(1, "", "", "Machine/State", "state", state_map={"2": "BRK", "3": "SETUP"}),
        aggregate.Rule(2, "", "", "Counts/Good", "good_count", uom="Units"),
        aggregate.Rule(
            3, "N1", "M1", "Counts/Reject", "reject_count", workcenter="WC-1", product="P1", counter_max=65535
        ),
    ]


@tagged("post_install", "-at_install")
class TestSparkplugAggregate(BaseCase):
    def setUp(self):
        super().setUp()
        self.agg = aggregate.Aggregator("G", rules())

    def test_state_change_is_one_downtime_fact(self):
        feed = self.agg.feed
        feed("N1", "M1", "Machine/State", 1, 1000)
        for ts in (2000, 2500, 3000):  # repeated down value: one state
            feed("N1", "M1", "Machine/State", 2, ts)
        feed("N1", "M1", "Machine/State", 1, 62000)
        facts = self.agg.pending_facts()
        self.assertEqual(len(facts), 1)
        fact = facts[0]
        self.assertEqual(fact["contract"], "mes.downtime")
        self.assertEqual(fact["workcenter"], "M1")
        self.assertEqual(fact["payload"]["reason"], "BRK")
        self.assertEqual(fact["payload"]["start"], "1970-01-01T00:00:02.000Z")
        self.assertEqual(fact["payload"]["end"], "1970-01-01T00:01:02.000Z")
        # the same messages again (a redelivery) add nothing
        self.agg.committed()
        feed("N1", "M1", "Machine/State", 2, 2000)
        feed("N1", "M1", "Machine/State", 1, 62000)
        self.assertEqual(self.agg.pending_facts(), [])

    def test_counters_are_summed_with_resets_and_rollovers(self):
        feed = self.agg.feed
        feed("N1", "M2", "Counts/Good", 100, 1000)  # baseline
        for i, value in enumerate((101, 105, 110, 3, 7)):  # reset to 0 after 110: +3, +4
            feed("N1", "M2", "Counts/Good", value, 2000 + i)
        feed("N1", "M1", "Counts/Reject", 65534, 1000)
        feed("N1", "M1", "Counts/Reject", 1, 2000)  # rollover after 65535: 65535, 0, 1 = +3
        facts = {f["contract"]: f for f in self.agg.pending_facts()}
        self.assertEqual(
            facts["mes.production_completion"]["payload"], {"quantity": 17, "uom": "Units", "final": False}
        )
        self.assertEqual(
            facts["mes.production_completion"]["external_id"], "sp:G:N1:M2:Counts/Good:2000-2004"
        )
        self.assertEqual(facts["mes.scrap"]["payload"], {"quantity": 3, "uom": "Units", "product": "P1"})
        self.assertEqual(facts["mes.scrap"]["workcenter"], "WC-1")

    def test_a_progress_counter_reports_increments_without_closing(self):
        agg = aggregate.Aggregator(
            "G", [aggregate.Rule(9, "", "", "Counts/Good", "good_progress", uom="pcs")]
        )
        for value, ts in ((4, 1000), (9, 2000), (12, 3000)):
            agg.feed("N1", "M1", "Counts/Good", value, ts)
        [fact] = agg.pending_facts()
        self.assertEqual(fact["contract"], "mes.production_progress")
        self.assertEqual(fact["payload"], {"quantity": 8, "uom": "pcs"})

    def test_aggregation_turns_many_updates_into_few_facts(self):
        for i in range(1, 1001):
            self.agg.feed("N1", f"M{i % 5}", "Counts/Good", i, i)
            self.agg.feed("N1", f"M{i % 5}", "Temperature", 20.5, i)
        facts = self.agg.pending_facts()
        self.assertEqual(len(facts), 5)  # one per device and flush
        self.assertEqual(self.agg.unmapped, {("N1", f"M{i}"): 200 for i in range(5)})

    def test_redelivered_counter_values_count_once(self):
        self.agg.feed("N1", "M2", "Counts/Good", 10, 1000)
        self.agg.feed("N1", "M2", "Counts/Good", 15, 2000)
        state = dict(self.agg.state)
        self.agg.committed()
        again = aggregate.Aggregator("G", rules(), state)  # after a restart, from the persisted state
        again.feed("N1", "M2", "Counts/Good", 15, 2000)
        again.feed("N1", "M2", "Counts/Good", 18, 3000)
        [fact] = again.pending_facts()
        self.assertEqual(fact["payload"]["quantity"], 3)

    def test_rule_lookup_and_state_map(self):
        self.assertEqual(self.agg.rule("N1", "M1", "Counts/Reject").rule_id, 3)
        self.assertIsNone(self.agg.rule("N2", "M1", "Counts/Reject"))
        self.assertEqual(self.agg.rule("N7", None, "Machine/State").rule_id, 1)
        self.assertEqual(aggregate.parse_state_map("2=BRK, 3 = SETUP\n"), {"2": "BRK", "3": "SETUP"})
        with self.assertRaisesRegex(ValueError, "'oops' is not value=loss reason code"):
            aggregate.parse_state_map("2=BRK, oops")
        self.assertEqual(aggregate.state_key(2.0), "2")
        self.assertLessEqual(len(aggregate.fact_id("sp", "G" * 100, "N" * 100, "M", "x", 1)), 128)

    def _known(self):
        """Before the host went away: running since 1000, 5 good parts at 1000."""
        self.agg.feed("N1", "M1", "Machine/State", 1, 1000)
        self.agg.feed("N1", "M1", "Counts/Good", 5, 1000)
        self.agg.committed()

    def _backfill(self, agg):
        """The host is back: the birth's current values, then the stored data (historical)."""
        agg.feed("N1", "M1", "Machine/State", 1, 9000, birth=True, now=9000)
        agg.feed("N1", "M1", "Counts/Good", 12, 9000, birth=True, now=9000)
        for metric, value, ts in (
            ("Machine/State", 2, 3000),
            ("Counts/Good", 8, 3000),
            ("Machine/State", 1, 5000),
            ("Counts/Good", 12, 5000),
        ):
            agg.feed("N1", "M1", metric, value, ts, historical=True)

    def test_backfill_after_a_birth_is_applied_in_timestamp_order(self):
        """A downtime that began and ended while the host was away: one fact with its own start
        and end, though the birth (newer, running) came first; the counter counted once."""
        self._known()
        self._backfill(self.agg)
        self.assertEqual(self.agg.pending_facts(), [])  # waiting for the node's live data
        self.agg.feed("N1", "M1", "Counts/Good", 13, 10000)  # live: what waits comes first
        facts = self.agg.pending_facts()
        downtime = [f for f in facts if f["contract"] == "mes.downtime"]
        self.assertEqual(len(downtime), 1)
        self.assertEqual(downtime[0]["payload"]["start"], "1970-01-01T00:00:03.000Z")
        self.assertEqual(downtime[0]["payload"]["end"], "1970-01-01T00:00:05.000Z")
        [produced] = [f for f in facts if f["contract"] == "mes.production_completion"]
        self.assertEqual(produced["payload"]["quantity"], 8)  # 5 → 8 → 12 → 12 → 13
        self.assertEqual(self.agg.pending, {})
        self.assertEqual(self.agg.state["N1/M1/Machine/State"]["since"], 5000)

    def test_backfill_waiting_survives_a_restart_and_counts_once(self):
        """What waits is persisted with the state; after a restart the edge node's redelivered
        messages (the broker's QoS 1 retry) are neither applied twice nor waited for twice."""
        self._known()
        self._backfill(self.agg)
        saved = self.agg.snapshot(self.agg.dirty)[("N1", "M1")]
        self.assertEqual(len(saved["pending"]["N1/M1/Machine/State"]["updates"]), 3)
        self.agg.committed()
        again = aggregate.Aggregator("G", rules(), saved["state"], saved["buckets"], saved["pending"])
        self._backfill(again)  # redelivered
        self.assertEqual(len(again.pending["N1/M1/Machine/State"]["updates"]), 3)
        again.feed("N1", "M1", "Counts/Good", 13, 10000)
        facts = again.pending_facts()
        self.assertEqual(len([f for f in facts if f["contract"] == "mes.downtime"]), 1)
        self.assertEqual(sum(f["payload"].get("quantity", 0) for f in facts), 8)
        # applied and stored; the same backfill once more adds nothing
        state = copy.deepcopy(again.state)
        again.committed()
        third = aggregate.Aggregator("G", rules(), state)
        self._backfill(third)
        third.settle("N1", "M1")
        self.assertEqual(third.pending_facts(), [])

    def test_historical_data_without_a_birth_is_applied_sorted_at_the_checkpoint(self):
        self._known()
        for value, ts in ((1, 6000), (2, 2000), (3, 4000)):  # out of order
            self.agg.feed("N1", "M1", "Machine/State", value, ts, historical=True)
        self.agg.settle(None, now=6000)  # the checkpoint
        downtimes = [(f["payload"]["reason"], f["payload"]["start"][17:23]) for f in self.agg.pending_facts()]
        self.assertEqual(downtimes, [("BRK", "02.000"), ("SETUP", "04.000")])

    def test_a_birth_waits_at_most_hold_ms_and_until_a_death(self):
        self._known()
        self.agg.feed("N1", "M1", "Machine/State", 2, 9000, birth=True, now=9000)
        self.agg.settle(None, now=9000 + aggregate.HOLD_MS - 1)
        self.assertIn("N1/M1/Machine/State", self.agg.pending)
        self.agg.settle(None, now=9000 + aggregate.HOLD_MS)
        self.assertEqual(self.agg.state["N1/M1/Machine/State"]["value"], "2")
        self.agg.feed("N1", "M1", "Machine/State", 1, 12000, birth=True, now=12000)
        self.agg.settle("N1", all_devices=True)  # the node died
        [fact] = self.agg.pending_facts()
        self.assertEqual(fact["payload"]["end"], "1970-01-01T00:00:12.000Z")


def measurement_rules(lower=9.9, upper=10.1):
    return [
        aggregate.Rule(
            7,
            "",
            "",
            "Quality/Diameter",
            "measurement",
            characteristic="DIA",
            lower=lower,
            upper=upper,
            unit="mm",
        )
    ]


@tagged("post_install", "-at_install")
class TestSparkplugMeasurement(BaseCase):
    def feed(self, agg, *values, start=1000):
        for i, value in enumerate(values):
            agg.feed("N1", "M1", "Quality/Diameter", value, start + i * 1000)

    def test_values_of_a_flush_interval_are_one_inspection_result(self):
        agg = aggregate.Aggregator("G", measurement_rules())
        self.feed(agg, 10.0, 9.95, 10.05, 10)  # the int 10 is a value too
        agg.feed("N1", "M1", "Quality/Diameter", True, 9000)  # a boolean is no measurement
        [fact] = agg.pending_facts()
        self.assertEqual(fact["contract"], "qms.inspection_result")
        self.assertEqual(fact["workcenter"], "M1")
        self.assertEqual(fact["external_id"], "sp:G:N1:M1:Quality/Diameter:1000-4000")
        payload = fact["payload"]
        self.assertEqual(payload["inspection_id"], fact["external_id"])
        self.assertEqual(payload["verdict"], "pass")
        self.assertEqual(payload["evaluated_at"], "1970-01-01T00:00:04.000Z")
        self.assertEqual(
            payload["characteristics"],
            [
                {
                    "characteristic": "DIA",
                    "description": "Mean of 4 values, min 9.95, max 10.05",
                    "value": 10.0,
                    "result": "pass",
                    "unit": "mm",
                    "lower_limit": 9.9,
                    "upper_limit": 10.1,
                }
            ],
        )
        self.assertIn("4 values", payload["note"])
        # the next interval starts empty
        agg.committed()
        self.assertEqual(agg.pending_facts(), [])
        self.feed(agg, 10.02, start=10000)
        [fact] = agg.pending_facts()
        self.assertEqual(fact["payload"]["characteristics"][0]["value"], 10.02)

    def test_limits_give_the_verdict(self):
        cases = [
            ((10.0, 9.8, 10.0), 9.9, 10.1, "fail"),  # min below the lower limit
            ((10.0, 10.2), 9.9, 10.1, "fail"),  # max above the upper limit
            ((9.9, 10.1), 9.9, 10.1, "pass"),  # on the limits: inside
            ((9.0, 11.0), None, None, "pass"),  # no limits
            ((9.0, 11.0), None, 12.0, "pass"),  # an upper limit only
            ((9.0, 11.0), 9.5, None, "fail"),  # a lower limit only
        ]
        for values, lower, upper, verdict in cases:
            with self.subTest(values=values, lower=lower, upper=upper):
                agg = aggregate.Aggregator("G", measurement_rules(lower, upper))
                self.feed(agg, *values)
                [fact] = agg.pending_facts()
                self.assertEqual(fact["payload"]["verdict"], verdict)
                [line] = fact["payload"]["characteristics"]
                self.assertEqual(line["result"], verdict)
                self.assertEqual("lower_limit" in line, lower is not None)
                self.assertEqual("upper_limit" in line, upper is not None)

    def test_a_restart_from_the_saved_state_loses_and_repeats_nothing(self):
        agg = aggregate.Aggregator("G", measurement_rules())
        self.feed(agg, 10.0, 9.95)  # 1000, 2000
        # a checkpoint: state and the open bucket saved, the interval not over
        saved = copy.deepcopy(agg.snapshot(agg.dirty)[("N1", "M1")])
        agg.committed(counters=False)
        again = aggregate.Aggregator(
            "G", measurement_rules(), saved["state"], saved["buckets"], saved["pending"]
        )
        self.feed(again, 10.0, 9.95)  # redelivered by the broker: already in the bucket
        self.feed(again, 10.05, 9.92, start=3000)  # new
        [fact] = again.pending_facts()
        line = fact["payload"]["characteristics"][0]
        self.assertEqual(line["description"], "Mean of 4 values, min 9.92, max 10.05")
        self.assertEqual(line["value"], 9.98)
        self.assertEqual(fact["external_id"], "sp:G:N1:M1:Quality/Diameter:1000-4000")
        # the fact stored (the end of the interval): its values are never aggregated again
        state = copy.deepcopy(again.state)
        again.committed()
        third = aggregate.Aggregator("G", measurement_rules(), state)
        self.feed(third, 10.0, 9.95, 10.05, 9.92)
        self.assertEqual(third.pending_facts(), [])
        self.feed(third, 10.3, start=5000)
        [fact] = third.pending_facts()
        self.assertEqual(
            fact["payload"]["characteristics"][0]["description"], "Mean of 1 values, min 10.3, max 10.3"
        )
        self.assertEqual(fact["payload"]["verdict"], "fail")

    def test_historical_values_are_aggregated_in_timestamp_order_once(self):
        agg = aggregate.Aggregator("G", measurement_rules())
        self.feed(agg, 10.0)  # known: 1000
        for value, ts in ((10.04, 3000), (9.96, 2000), (10.04, 3000), (10.0, 1000)):
            agg.feed("N1", "M1", "Quality/Diameter", value, ts, historical=True)
        agg.settle(None, now=4000)
        [fact] = agg.pending_facts()
        self.assertEqual(
            fact["payload"]["characteristics"][0]["description"], "Mean of 3 values, min 9.96, max 10.04"
        )
        self.assertEqual(fact["external_id"], "sp:G:N1:M1:Quality/Diameter:1000-3000")
