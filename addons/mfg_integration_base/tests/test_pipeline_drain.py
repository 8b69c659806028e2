"""The ORM-free parts of the drain (pipeline/drain.py), tested without a database: the order in
which a batch is applied (runs, ordering keys, run sizes) and the names of drain jobs."""

from collections import namedtuple
from datetime import datetime

from odoo.tests import BaseCase, tagged

from ..pipeline import drain

Msg = namedtuple("Msg", "id ordering_key direction kind", defaults=(False, "inbound", None))


class Plant:
    """Applies messages like a drain would, recording what it was asked; ``fail``: ids that do
    not end done (a run holding one of them fails as a whole)."""

    def __init__(self, fail=()):
        self.fail = set(fail)
        self.calls = []
        self.applied = []  # ids in the order their effect stays (a failed run or batch leaves none)

    def process_one(self, msg):
        self.calls.append(("one", msg.id))
        if msg.id in self.fail:
            return False
        self.applied.append(msg.id)
        return True

    def apply_run(self, run):
        self.calls.append(("run", [m.id for m in run]))
        if any(m.id in self.fail for m in run):
            return False
        self.applied.extend(m.id for m in run)
        return True

    def apply_batch(self, msgs):
        self.calls.append(("batch", [m.id for m in msgs]))
        if any(m.id in self.fail for m in msgs):
            return False
        self.applied.extend(m.id for m in msgs)
        return True

    def schedule(self, held_back=(), run_max=4, batch_max=100):
        """Messages whose ``kind`` is set have a batch handler (their batch key is the kind)."""
        return drain.RunSchedule(
            set(held_back),
            self.process_one,
            self.apply_run,
            run_max=run_max,
            batch_key=lambda msg: msg.kind,
            apply_batch=self.apply_batch,
            batch_max=batch_max,
        )

    def order_of(self, key, msgs):
        """The ids of ``key``'s messages in the order their effects were kept."""
        ids = {m.id for m in msgs if m.ordering_key == key}
        return [i for i in self.applied if i in ids]


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
class TestBatchSchedule(BaseCase):
    """Messages of an exchange type with a batch handler: waves of ordering keys, one batch per
    wave and type, a failed batch applied again one by one; every guarantee of runs kept."""

    def test_a_batch_takes_one_message_of_each_key_and_keeps_the_order_per_key(self):
        plant = Plant()
        # Three work orders, their facts interleaved as a plant sends them.
        msgs = [
            Msg(1, "MO1", kind="start"),
            Msg(2, "MO2", kind="start"),
            Msg(3, "MO1", kind="consume"),
            Msg(4, "MO3", kind="start"),
            Msg(5, "MO2", kind="consume"),
            Msg(6, "MO1", kind="done"),
            Msg(7, "MO3", kind="consume"),
            Msg(8, "MO2", kind="done"),
            Msg(9, "MO3", kind="done"),
        ]
        schedule = plant.schedule()
        schedule.feed(msgs)
        self.assertEqual(plant.calls, [("batch", [1, 2, 4]), ("batch", [3, 5, 7]), ("batch", [6, 8, 9])])
        self.assertEqual((schedule.done, schedule.skipped), (9, []))
        for key, order in (("MO1", [1, 3, 6]), ("MO2", [2, 5, 8]), ("MO3", [4, 7, 9])):
            self.assertEqual(plant.order_of(key, msgs), order)

    def test_a_wave_holds_one_batch_per_type_and_runs_for_the_others(self):
        plant = Plant()
        msgs = [
            Msg(1, "A", kind="consume"),
            Msg(2, "B"),  # a type without batch handler
            Msg(3, "C", kind="scrap"),
            Msg(4, "D", kind="consume"),
            Msg(5, "E"),
            Msg(6, "F", kind="scrap"),
        ]
        plant.schedule().feed(msgs)
        self.assertEqual(
            plant.calls,
            [("batch", [1, 4]), ("run", [2, 5]), ("batch", [3, 6])],
            "types in order of first arrival",
        )

    def test_a_batch_never_holds_two_messages_of_one_key(self):
        plant = Plant()
        # Keyless messages have no order to keep: all in the first wave.
        msgs = [Msg(1, "A", kind="k"), Msg(2, "A", kind="k"), Msg(3, kind="k"), Msg(4, kind="k")]
        plant.schedule().feed(msgs)
        self.assertEqual(plant.calls, [("batch", [1, 3, 4]), ("one", 2)])
        self.assertEqual(plant.order_of("A", msgs), [1, 2])

    def test_a_failed_batch_is_applied_again_one_by_one_and_the_bad_message_fails_alone(self):
        plant = Plant(fail={2})
        msgs = [
            Msg(1, "A", kind="k"),
            Msg(2, "B", kind="k"),
            Msg(3, "C", kind="k"),
            Msg(4, "A", kind="k"),
            Msg(5, "B", kind="k"),
            Msg(6, "C", kind="k"),
        ]
        schedule = plant.schedule(batch_max=8)
        schedule.feed(msgs)
        self.assertEqual(
            plant.calls,
            [("batch", [1, 2, 3]), ("one", 1), ("one", 2), ("one", 3), ("batch", [4, 6])],
        )
        self.assertEqual(schedule.skipped, [5], "B waits behind its failed message")
        self.assertEqual(schedule.done, 4)
        self.assertEqual(plant.applied, [1, 3, 4, 6], "the failed batch left nothing: each applied once")
        self.assertEqual(schedule.batch_size, 8, "halved after the failure, doubled again after a good batch")

    def test_the_batch_size_halves_after_a_failed_batch(self):
        plant = Plant(fail={1})
        msgs = [Msg(i, f"K{i}", kind="k") for i in range(1, 9)]
        schedule = plant.schedule(batch_max=4)
        schedule.feed(msgs)
        self.assertEqual(
            plant.calls,
            [
                ("batch", [1, 2, 3, 4]),
                ("one", 1),
                ("one", 2),
                ("one", 3),
                ("one", 4),
                ("batch", [5, 6]),
                ("batch", [7, 8]),
            ],
        )

    def test_held_keys_are_skipped_in_every_wave(self):
        plant = Plant()
        msgs = [Msg(1, "A", kind="k"), Msg(2, "B", kind="k"), Msg(3, "A", kind="k"), Msg(4, "B", kind="k")]
        schedule = plant.schedule(held_back={2})
        schedule.feed(msgs)
        self.assertEqual(plant.calls, [("one", 1), ("one", 3)])
        self.assertEqual(schedule.skipped, [2, 4])

    def test_a_run_that_fails_before_a_batch_holds_the_batch_message_of_its_key(self):
        # Wave 0: A's run message (no batch handler) fails; wave 1: A's batchable message must wait.
        plant = Plant(fail={1})
        msgs = [Msg(1, "A"), Msg(2, "B"), Msg(3, "A", kind="k"), Msg(4, "B", kind="k"), Msg(5, "C", kind="k")]
        schedule = plant.schedule()
        schedule.feed(msgs)
        self.assertEqual(plant.calls, [("run", [1, 2]), ("one", 1), ("one", 2), ("batch", [5, 4])])
        self.assertEqual(schedule.skipped, [3])
        self.assertEqual(plant.applied, [2, 5, 4])

    def test_a_step_that_gives_back_stops_the_schedule_and_gives_back_the_rest(self):
        plant = Plant()
        calls = []

        def apply_batch(msgs):
            calls.append([m.id for m in msgs])
            if 3 in [m.id for m in msgs]:
                raise drain.GiveBack()
            return plant.apply_batch(msgs)

        msgs = [Msg(1, "A", kind="k"), Msg(2, "B", kind="k"), Msg(3, "A", kind="k"), Msg(4, "B", kind="k")]
        schedule = drain.RunSchedule(
            set(), plant.process_one, plant.apply_run, batch_key=lambda m: m.kind, apply_batch=apply_batch
        )
        schedule.feed(msgs)
        self.assertEqual(calls, [[1, 2], [3, 4]])
        self.assertEqual((schedule.done, sorted(schedule.skipped)), (2, [3, 4]))

    def test_without_batchable_messages_the_arrival_order_is_kept(self):
        plant = Plant()
        plant.schedule(run_max=8).feed([Msg(1, "A"), Msg(2, "B"), Msg(3, "A"), Msg(4, "C")])
        self.assertEqual(plant.calls, [("run", [1, 2, 3, 4])])


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
