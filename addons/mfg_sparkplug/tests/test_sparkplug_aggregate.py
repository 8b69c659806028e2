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
