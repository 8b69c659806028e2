"""Scale-out, proved: two Odoo hosts on one PostgreSQL, each in its own network namespace.

Host a and host b (``tests/scale_support.Cluster`` on a ``tests/netns_support.NetLab``) each run
an Odoo server with its queue_job runner (threaded server, ``--max-cron-threads=1``) and an
``odoo mfg_mqtt`` listener; both listeners are in one MQTT v5 shared subscription group on a
private Mosquitto in a third namespace; PostgreSQL is the machine's, reached through a forwarder in
the root namespace. queue_job elects one runner for the database; it starts every drain job
through a load balancer over both hosts (``[queue_job] host``), ``channels = root:4``,
``drain_partitions = 4``. The hosts work on a copy of the suite's database (so that the suite's
own server is not the elected runner); everything is removed afterwards, also on failure.

The plant publishes ``test.order_report`` messages for ORDER_KEYS orders (the ordering key), one
message per order and round: round r+1 is published once round r is stored. That is how a plant's
events of one order come (seconds apart), and it is what per-key order can promise with a shared
group: MQTT gives no order across the members of a group, so two messages of one key published
within the same moment may reach the hub through different hosts in either order; once stored,
the hub applies every key in the order it stored it. The handler appends the round to its order's
``history``: the test reads each key's applied sequence there.
"""

import json
import os
import signal
import threading
import time

import pytest
from mqtt_support import Publisher, wait_until
from netns_support import netns_unavailable, our_namespaces
from scale_support import (
    Cluster,
    Sql,
    claimed_ids,
    copy_database,
    copy_name,
    drop_database,
    make_plant,
    runner_master,
    sessions_by_host,
    sweep_stale_copies,
)

pytestmark = pytest.mark.scale_out

N_MESSAGES = 20_000
ORDER_KEYS = 500
ROUNDS = N_MESSAGES // ORDER_KEYS  # 40 messages per key
KILL_MESSAGES = 10_000  # the kill -9 run: 20 rounds of 500 keys
KILL_ROUNDS = KILL_MESSAGES // ORDER_KEYS
KILL_AFTER_ROUND = 6  # the kill: during round 7, while the host of the elected runner holds claims
DONE_TIMEOUT = 180  # seconds, after the last round is stored (20,000 messages: ~40 s seen)


def _interrupt(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="module")
def cluster(odoo_settings, tmp_path_factory):
    reason = netns_unavailable()
    if reason:
        pytest.skip(f"the scale-out test runs its hosts in Linux network namespaces: {reason}")
    conf, src = odoo_settings["conf"], odoo_settings["db"]
    sweep_stale_copies(conf)
    db = copy_name(src)
    work = tmp_path_factory.mktemp("scale-out")
    cl = sql = None
    # SIGTERM (a CI timeout, kill <pid>) unwinds like Ctrl-C: the finalizer below removes the lab
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        copy_database(conf, src, db)
        sql = Sql(conf, db)
        # the copy is ours alone: no backend of other tests listens, no job of theirs runs
        sql("UPDATE mfg_backend SET mqtt_enabled = false WHERE mqtt_enabled")
        sql("DELETE FROM queue_job WHERE state NOT IN ('done', 'failed', 'cancelled')")
        # threaded hosts: one pool each; 16 covers 4 drains (2 connections each), the cron, RPC
        cl = Cluster(
            conf, db, odoo_settings["odoo_bin"], work, workers=0, channels=4, partitions=4, db_maxconn=16
        )
        cl.sql = sql
        cl.start()
        yield cl
    finally:
        try:
            if cl is not None:
                cl.close()  # raises if one of its namespaces is left behind
        finally:
            if sql is not None:
                sql.close()
            drop_database(conf, db)
            signal.signal(signal.SIGTERM, previous)
    assert not our_namespaces(), our_namespaces()


def payload(plant, rnd, key, gate=None):
    """One message of round ``rnd`` for ordering key ``key``; ``gate``: an advisory lock its handler
    waits for (test addon's ``wait_lock`` switch)."""
    data = {
        "message_id": f"{plant['suffix']}-{rnd}-{key}",
        "order": f"SO-{plant['suffix']}-{key:03d}",
        "product": plant["product"],
        "quantity": 1,
        "step": str(rnd),
    }
    if gate is not None:
        data["wait_lock"] = gate
    return json.dumps(data)


def counts(sql, plant):
    total, distinct, done, processing = sql(
        """SELECT count(*), count(DISTINCT external_id), count(*) FILTER (WHERE state = 'done'),
                  count(*) FILTER (WHERE state = 'processing')
             FROM mfg_message WHERE backend_id = %s""",
        (plant["backend_id"],),
    )[0]
    states = dict(
        sql(
            "SELECT state, count(*) FROM mfg_message WHERE backend_id = %s GROUP BY 1", (plant["backend_id"],)
        )
    )
    return {"total": total, "distinct": distinct, "done": done, "processing": processing, "states": states}


def orders(sql, plant):
    """{order: (applied_count, [rounds in the order they were applied])}."""
    rows = sql(
        "SELECT name, applied_count, coalesce(history, '') FROM mfg_test_order WHERE name LIKE %s",
        (f"SO-{plant['suffix']}-%",),
    )
    return {name: (n, [s for s in history.split(",") if s]) for name, n, history in rows}


def start_listeners(cluster, plant, roles=("a", "b")):
    listeners = {role: cluster.hosts[role].listener(f"{role}{plant['suffix']}") for role in roles}
    for lp in listeners.values():
        lp.start()
    for lp in listeners.values():
        lp.wait_log(plant["subscribed"], timeout=120)
    return listeners


def publish_rounds(cluster, plant, rounds, during_round=None, timeout=120, gate=None):
    """Publish ``rounds`` rounds of one message per key; each round once the previous one is stored.
    ``during_round(r)``: called right after round r is published, before waiting for it.
    ``gate``: ``(round, lock)``: the messages of that round wait for that advisory lock."""
    sql = cluster.sql
    pub = Publisher(cluster.broker.port, f"plant-{plant['suffix']}", host=cluster.broker_addr)
    gate_round, gate_lock = gate or (None, None)
    try:
        for rnd in range(rounds):
            for key in range(ORDER_KEYS):
                pub.publish(
                    plant["topic"], payload(plant, rnd, key, gate_lock if rnd == gate_round else None)
                )
            if during_round:
                during_round(rnd)
            stored = (rnd + 1) * ORDER_KEYS
            assert pub.wait_acked(stored, timeout=timeout), f"broker acknowledged {pub.acked}/{stored}"
            assert wait_until(
                lambda n=stored: counts(sql, plant)["total"] >= n, timeout=timeout, interval=0.02
            ), (f"round {rnd}: stored {counts(sql, plant)} of {stored}", cluster_tails(cluster))
    finally:
        pub.close()


def cluster_tails(cluster):
    return {
        role: {"server": h.server.log_tail(15), "listeners": [lp.tail(10) for lp in h.listeners]}
        for role, h in cluster.hosts.items()
    }


def processed_by_host(cluster, plant):
    """{role: messages whose (last) drain job ran on that host}, {role: drain jobs}. In the
    threaded server a job's ``worker_pid`` is the server's pid."""
    hosts = cluster.host_of_pid()
    rows = cluster.sql(
        """SELECT j.worker_pid, count(m.id), count(DISTINCT j.uuid)
             FROM mfg_message m JOIN queue_job j ON j.uuid = m.job_uuid
            WHERE m.backend_id = %s GROUP BY 1""",
        (plant["backend_id"],),
    )
    messages, jobs = {}, {}
    for pid, n_messages, n_jobs in rows:
        role = hosts.get(pid, f"pid {pid}")
        messages[role] = messages.get(role, 0) + n_messages
        jobs[role] = jobs.get(role, 0) + n_jobs
    return messages, jobs


def stored_by_listener(lp):
    line = [
        ln for ln in lp.log.read_text(errors="replace").splitlines() if "mfg mqtt: stopping (stored" in ln
    ]
    assert line, lp.tail()
    return int(line[-1].split("stored ")[1].split()[0])


def assert_ordered_once(sql, plant, rounds):
    got = orders(sql, plant)
    assert len(got) == ORDER_KEYS, len(got)
    expected = [str(r) for r in range(rounds)]
    wrong = {name: steps for name, (n, steps) in got.items() if steps != expected or n != rounds}
    assert (
        not wrong
    ), f"{len(wrong)} order(s) not applied once each in round order, e.g. {list(wrong.items())[:3]}"
    return sum(n for n, _steps in got.values())


def test_20000_messages_over_500_keys_split_between_two_hosts(cluster, capsys):
    sql = cluster.sql
    plant = make_plant(cluster)
    listeners = start_listeners(cluster, plant)
    t0 = time.monotonic()
    publish_rounds(cluster, plant, ROUNDS)
    stored_s = time.monotonic() - t0
    assert wait_until(lambda: counts(sql, plant)["done"] >= N_MESSAGES, timeout=DONE_TIMEOUT, interval=0.2), (
        counts(sql, plant),
        cluster_tails(cluster),
    )
    done_s = time.monotonic() - t0
    for lp in listeners.values():
        lp.stop()
    c = counts(sql, plant)
    assert c["states"] == {"done": N_MESSAGES}, c
    assert c["total"] == c["distinct"] == N_MESSAGES, c
    # each message applied exactly once, in order per key
    applied = assert_ordered_once(sql, plant, ROUNDS)
    assert applied == c["distinct"] == N_MESSAGES
    # both hosts did work: received (their listeners) and processed (their Odoo's drains)
    stored = {role: stored_by_listener(lp) for role, lp in listeners.items()}
    assert sum(stored.values()) == N_MESSAGES and all(stored.values()), stored
    messages, jobs = processed_by_host(cluster, plant)
    assert set(messages) == {"a", "b"} and sum(messages.values()) == N_MESSAGES, messages
    master = runner_master(sql)
    with capsys.disabled():
        print(
            f"\n[scale-out] {N_MESSAGES:,} messages, {ORDER_KEYS} keys, 2 hosts: all stored in {stored_s:.1f} s "
            f"(rounds of {ORDER_KEYS}, each published once the previous one was stored), all done in "
            f"{done_s:.1f} s = {N_MESSAGES / done_s:,.0f} msg/s; stored by listener {stored}; "
            f"processed by host {messages} in drain jobs {jobs}; job requests via the balancer "
            f"{ {k[0]: v for k, v in cluster.balancer.counts.items()} }; elected runner: {master}"
        )


class Timeline(threading.Thread):
    """Watches, after a host was killed, when (seconds after the kill) its PostgreSQL sessions are
    gone, the survivor's runner is the elected one, and the dead host's orphaned claims are taken
    again and done. Its own connection; polls every 10 ms."""

    def __init__(self, cluster, victim, survivor, orphaned, t_kill):
        super().__init__(daemon=True)
        self.sql = Sql(cluster.base_conf, cluster.db)
        self.victim, self.survivor, self.orphaned, self.t_kill = victim, survivor, tuple(orphaned), t_kill
        self.events = {}
        self._halt = threading.Event()

    def _mark(self, name, happened):
        if name not in self.events and happened:
            self.events[name] = time.monotonic() - self.t_kill

    def run(self):
        try:
            while True:
                stopping = self._halt.is_set()  # one more look after stop(): nothing is missed
                self._mark("sessions gone", not sessions_by_host(self.sql).get(self.victim))
                master = runner_master(self.sql) or ""
                self._mark(f"runner elected on {self.survivor}", master.startswith(f"so-{self.survivor}-"))
                left = {}
                if self.orphaned:
                    query = "SELECT state, count(*) FROM mfg_message WHERE id IN %s GROUP BY 1"
                    left = dict(self.sql(query, (self.orphaned,)))
                self._mark("orphaned claims taken again", not left.get("processing"))
                self._mark("orphaned claims done", set(left) <= {"done"})
                if stopping or len(self.events) == 4:
                    return
                time.sleep(0.01)
        finally:
            self.sql.close()

    def start(self):
        super().start()
        return self

    def stop(self):
        self._halt.set()
        self.join(10)

    def text(self):
        return ", ".join(f"{name} {at:.2f}" for name, at in sorted(self.events.items(), key=lambda kv: kv[1]))


def test_kill_9_of_one_host_mid_run_the_other_finishes(cluster, capsys):
    """kill -9 of one host (its Odoo server and its listener) while its drains hold claims and the
    plant keeps publishing; the host killed is the one whose queue_job runner is the elected one
    (the harder case). What is observed, and asserted:

    - the dead host's PostgreSQL sessions end as soon as its processes die (the forwarder closes
      them), and with them its claim locks: its claimed messages are claimable again at once, no
      lease to wait for; they are taken again once a drain of their partition runs;
    - the other host's runner takes over the election (queue_job retries every 5 s); the dead
      host's started jobs keep their channel capacity until queue_job re-queues them (10 s after
      they were enqueued); the balancer skips the dead host;
    - the broker keeps the dead host's MQTT session (persistent, shared group): it keeps what the
      dead listener had received and not acknowledged (and would keep giving it a share of what is
      published). Right after the kill the survivor takes that session over by starting a listener
      with the dead host's listener name (what an operator or a supervisor does for a lost host);
      the round of the kill is complete only then, and the next round is published only once it is
      (the plant's order per key is the order of arrival). Every message ends done, applied once, in
      order per key.
    """
    sql = cluster.sql
    plant = make_plant(cluster)
    listeners = start_listeners(cluster, plant)
    seen = {}
    # The gate: the messages of the round of the kill wait, in their handler, for an advisory lock
    # this test holds; every drain that claims them stays in the middle of its claim until the
    # lock is released (right after the kill). So the killed host holds claims when it dies, by
    # construction, not by catching a short window (a busy machine can finish a round between two
    # looks).
    gate_sql = Sql(cluster.base_conf, cluster.db)
    gate_lock = 0x6D666700 + os.getpid()
    gate_sql("SELECT pg_advisory_lock(%s)", (gate_lock,))

    def kill_then_take_over(rnd):
        if rnd == KILL_AFTER_ROUND:
            kill_the_elected_host_while_it_holds_claims(rnd)
            # What the dead listener had received and not committed stays in its broker session
            # (how much depends on where its listener was: zero to a few hundred messages). The
            # survivor takes that session over (same listener name = same client id); the round is
            # complete only then. Taking over later would let the next round overtake those
            # messages: per key, the order applied is the order of arrival.
            victim, survivor = seen["victim"], seen["survivor"]
            takeover = cluster.hosts[survivor].listener(listeners[victim].name)
            takeover.log = takeover.log.with_name(f"listener-{takeover.name}-takeover-{os.getpid()}.log")
            seen["published_at_takeover"] = (rnd + 1) * ORDER_KEYS
            seen["stored_before_takeover"] = counts(sql, plant)["total"]
            takeover.start(wait_for=plant["subscribed"], timeout=120)
            seen["takeover_s"] = time.monotonic() - seen["t_kill"]
            seen["takeover"] = takeover
        elif rnd == KILL_AFTER_ROUND + 1:  # called once the round of the kill is stored
            seen["round_stored_s"] = time.monotonic() - seen["t_kill"]

    def kill_the_elected_host_while_it_holds_claims(rnd):
        master = runner_master(sql) or ""
        victim = master.split("-")[1] if master.startswith("so-") else "a"
        survivor = "b" if victim == "a" else "a"
        # its drains wait at the gate with their claims (the round of the kill carries the gate)
        held = wait_until(lambda: claimed_ids(sql, plant["backend_id"], victim), timeout=120, interval=0.05)
        assert held, (counts(sql, plant), cluster_tails(cluster))
        cluster.hosts[victim].kill()  # kill -9 of its server's process group and of its listener
        t_kill = time.monotonic()
        seen.update(victim=victim, survivor=survivor, master_before=master, t_kill=t_kill)
        seen["at_kill"] = counts(sql, plant)
        # what the dead host held and had not finished: 'processing', its claim lock held by nobody
        seen["orphaned"] = [
            r[0]
            for r in sql("SELECT id FROM mfg_message WHERE id IN %s AND state = 'processing'", (tuple(held),))
        ]
        seen["timeline"] = Timeline(cluster, victim, survivor, seen["orphaned"], t_kill).start()
        gate_sql("SELECT pg_advisory_unlock(%s)", (gate_lock,))  # the survivor's drains go on

    try:
        publish_rounds(
            cluster, plant, KILL_ROUNDS, during_round=kill_then_take_over, gate=(KILL_AFTER_ROUND, gate_lock)
        )
    finally:
        gate_sql.close()  # ends the session: the gate is open whatever happened
    assert "t_kill" in seen, "no host was killed"
    t_kill, victim, survivor = seen["t_kill"], seen["victim"], seen["survivor"]
    assert seen[
        "orphaned"
    ], "the kill fell between two batches of the killed host: no claim was left to take over"
    timeline = seen["timeline"]
    assert wait_until(
        lambda: counts(sql, plant)["done"] >= KILL_MESSAGES, timeout=DONE_TIMEOUT, interval=0.2
    ), (
        counts(sql, plant),
        cluster_tails(cluster),
    )
    finished_s = time.monotonic() - t_kill
    timeline.stop()
    events = timeline.events
    # the dead host's sessions, and so its claim locks, ended with its processes
    assert "sessions gone" in events, events
    assert "orphaned claims done" in events, events
    requeued = cluster.hosts[survivor].server.log_text().count("Re-queued dead job")
    assert not cluster.hosts[victim].alive and cluster.hosts[survivor].alive
    master_after = runner_master(sql)
    c = counts(sql, plant)
    assert c["states"] == {"done": KILL_MESSAGES}, c
    assert c["total"] == c["distinct"] == KILL_MESSAGES, c
    applied = assert_ordered_once(sql, plant, KILL_ROUNDS)
    assert applied == KILL_MESSAGES
    assert master_after and master_after.startswith(f"so-{survivor}-"), master_after
    messages, jobs = processed_by_host(cluster, plant)
    assert messages.get(survivor), messages
    listeners[survivor].stop()
    seen["takeover"].stop()
    stored = {
        survivor: stored_by_listener(listeners[survivor]),
        f"{survivor} as {victim} (takeover)": stored_by_listener(seen["takeover"]),
    }
    held_back = seen["published_at_takeover"] - seen["stored_before_takeover"]
    with capsys.disabled():
        print(
            f"\n[scale-out] kill -9 of host {victim} (its runner was the elected one) during round "
            f"{KILL_AFTER_ROUND + 1} of {KILL_ROUNDS} ({KILL_MESSAGES:,} messages): at the kill "
            f"{seen['at_kill']['states']}; {len(seen['orphaned'])} message(s) left 'processing' under its "
            f"claim locks; after the kill (s): {timeline.text()}; the round of the kill was complete at "
            f"{seen['round_stored_s']:.1f}, once host {survivor}'s listener had taken over the dead "
            f"host's broker session (subscribed at {seen['takeover_s']:.1f}; {held_back} of the "
            f"{seen['published_at_takeover']:,} messages published were not stored when it started); "
            f"everything done at {finished_s:.1f}; "
            f"{requeued} dead drain job(s) re-queued by queue_job; elected runner {seen['master_before']} -> "
            f"{master_after}; messages by the host that last ran their drain job {messages} (jobs {jobs}); "
            f"stored by listener {stored}"
        )
