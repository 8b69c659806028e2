"""The ORM-free parts of the drain (pipeline/drain.py), tested without a database: the order in
which a batch is applied (runs, ordering keys, run sizes) and the names of drain jobs."""

from collections import namedtuple
from datetime import datetime

from odoo.tests import BaseCase, tagged

from ..pipeline import drain

Msg = namedtuple("Msg", "id ordering_key direction", defaults=(False, "inbound"))


class Plant:
    """Applies messages like a drain would, recording what it was asked; ``fail``: ids that do
    not end done (a run holding one of them fails as a whole)."""

    def __init__(self, fail=()):
        self.fail = set(fail)
        self.calls = []

    def process_one(self, msg):
        self.calls.append(("one", msg.id))
        return msg.id not in self.fail

    def apply_run(self, run):
        self.calls.append(("run", [m.id for m in run]))
        return not any(m.id in self.fail for m in run)

    def schedule(self, held_back=(), run_max=4):
        return drain.RunSchedule(set(held_back), self.process_one, self.apply_run, run_max=run_max)


@tagged("post_install", "-at_install")
class TestRunSchedule(BaseCase):
    def test_inbound_messages_are_applied_in_runs_of_the_run_size(self):
        plant = Plant()
        schedule = plant.schedule(run_max=4)
        schedule.feed([Msg(i) for i in range(1, 11)])
        self.assertEqual(plant.calls, [("run", [1, 2, 3, 4]), ("run", [5, 6, 7, 8]), ("run", [9, 10])])
        self.assertEqual((schedule.done, schedule.skipped), (10, []))

    def test_a_failed_run_is_applied_again_one_by_one_and_the_run_size_halves(self):
        plant = Plant(fail={2})
        schedule = plant.schedule(run_max=4)
        schedule.feed([Msg(i) for i in range(1, 9)])
        self.assertEqual(
            plant.calls,
            [
                ("run", [1, 2, 3, 4]),
                ("one", 1),
                ("one", 2),
                ("one", 3),
                ("one", 4),
                ("run", [5, 6]),  # halved after the failure
                ("run", [7, 8]),
            ],
        )
        self.assertEqual(schedule.done, 7, "only the failed message is not done")
        self.assertEqual(schedule.run_size, 4, "doubled again after good runs, up to run_max")

    def test_a_failure_holds_the_rest_of_its_key_not_the_flow(self):
        plant = Plant(fail={1})
        schedule = plant.schedule(run_max=1)
        schedule.feed([Msg(1, "MO-1"), Msg(2, "MO-2"), Msg(3, "MO-1"), Msg(4)])
        self.assertEqual(plant.calls, [("one", 1), ("one", 2), ("one", 4)])
        self.assertEqual(schedule.skipped, [3], "MO-1 waits behind its failed message")
        self.assertEqual(schedule.done, 2)

    def test_a_key_held_outside_the_batch_is_skipped_with_its_later_messages(self):
        plant = Plant()
        schedule = plant.schedule(held_back={2})
        schedule.feed([Msg(1, "A"), Msg(2, "B"), Msg(3, "B"), Msg(4, "A")])
        self.assertEqual(plant.calls, [("run", [1, 4])])
        self.assertEqual(schedule.skipped, [2, 3])

    def test_a_key_that_fails_inside_a_run_holds_its_later_messages(self):
        plant = Plant(fail={2})
        schedule = plant.schedule(run_max=4)
        schedule.feed([Msg(1, "A"), Msg(2, "B"), Msg(3, "B"), Msg(4, "A")])
        self.assertEqual(
            plant.calls,
            [("run", [1, 2, 3, 4]), ("one", 1), ("one", 2), ("one", 4)],
        )
        self.assertEqual((schedule.done, schedule.skipped), (2, [3]))

    def test_outbound_messages_are_sent_one_at_a_time_between_runs(self):
        plant = Plant()
        schedule = plant.schedule(run_max=4)
        schedule.feed([Msg(1), Msg(2), Msg(3, direction="outbound"), Msg(4)])
        self.assertEqual(plant.calls, [("run", [1, 2]), ("one", 3), ("one", 4)])
        self.assertEqual(schedule.done, 4)


@tagged("post_install", "-at_install")
class TestDrainJobNames(BaseCase):
    def test_identity_key_per_partition_and_retry_minute(self):
        self.assertEqual(
            drain.identity_key(7, "inbound", "root.mfg", "realtime", 0, 2),
            "mfg_drain:7:inbound:root.mfg:realtime:p0of2",
        )
        self.assertEqual(
            drain.identity_key(
                7, "outbound", "root.mfg.out", "all", 1, 2, eta=datetime(2026, 3, 1, 8, 5, 59)
            ),
            "mfg_drain:7:outbound:root.mfg.out:all:p1of2:202603010805",
        )

    def test_description_counts_partitions_from_one(self):
        self.assertEqual(
            drain.description("plant1-mes", "inbound", "root.mfg", 0, 2),
            "Drain inbound messages of plant1-mes (root.mfg, part 1/2)",
        )
