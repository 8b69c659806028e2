"""Drains: the queue_job job that claims a batch of messages and applies (inbound) or sends
(outbound) them, the jobs that start drains, and the recovery of drains that died. No ORM models.

The functions take the backend (one ``mfg.backend`` record) or an environment. ``mfg.backend``
keeps one thin method per function, under the names that queue_job (the job target is
``mfg.backend._mfg_drain``), the crons, the connectors and the tests use; the functions call
the models' hooks by those names (``backend._mfg_process_claimed``, ``mfg.message._mfg_claim``,
``_mfg_process``...), so that an addon may still override any step.

The order of a batch (runs of inbound messages in one savepoint, batches for a batch handler,
waves of ordering keys, run and batch sizes) is ``schedule.RunSchedule``: plain Python, tested
without a database (tests/test_pipeline_drain.py).
"""

import logging

from odoo import api, fields

from .claim import claim_lease_seconds, drain_partitions, orphaned_claim_sql
from .process import CONFLICTS_CACHE_KEY, ConcurrentUpdate, is_conflict
from .schedule import RUN_MAX, GiveBack, RunSchedule, waves  # noqa: F401 (RUN_MAX, waves: the drain's API)
from .states import CLAIMABLE_STATES

_logger = logging.getLogger(__name__)

DRAIN_BATCH = 100  # messages claimed by one drain
MAX_REDOS = 10  # fresh transactions a drain starts for work hit by concurrent updates


# ---------------------------------------------------------------------- starting drains
def identity_key(backend_id, direction, channel, sync_class, part, partitions, eta=None):
    """queue_job identity key of a drain job: one waiting job per backend, direction, channel,
    class and partition (and minute, for a drain at a retry's ``eta``)."""
    key = f"mfg_drain:{backend_id}:{direction}:{channel}:{sync_class}:p{part}of{partitions}"
    if eta:
        key += f":{fields.Datetime.to_datetime(eta):%Y%m%d%H%M}"
    return key


def description(backend_code, direction, channel, part, partitions):
    """The description of a drain job in queue_job's screens."""
    return f"Drain {direction} messages of {backend_code} ({channel}, part {part + 1}/{partitions})"


def enqueue(backend, direction, channel, eta=None, sync_class="realtime", partition=None):
    """``mfg.backend._mfg_enqueue_drain``: start drain jobs for this backend and channel (one per
    partition, or the given partition only), unless one is already waiting for that partition —
    once this transaction has committed.

    Why after the commit: a waiting drain job found now would be reused, but it may start and
    claim before this transaction commits, and then never see the messages this transaction adds
    (they would wait for the drain-due cron). Looked up after the commit, a waiting job is sure to
    claim after the messages are visible. Requests in one transaction are merged: one look-up per
    backend, direction, channel and class.
    """
    backend.ensure_one()
    if sync_class == "batch":
        return
    if backend._mfg_single_transaction():
        backend._mfg_enqueue_drain_now(direction, channel, eta, sync_class, partition)
        return
    postcommit = backend.env.cr.postcommit
    wanted = postcommit.data.get("mfg_drains")
    if wanted is None:
        wanted = postcommit.data["mfg_drains"] = {}
        registry, uid, context = backend.env.registry, backend.env.uid, dict(backend.env.context)

        @postcommit.add
        def enqueue_after_commit():
            try:
                with registry.cursor() as cr:
                    env = api.Environment(cr, uid, context)
                    for request, args in list(wanted.items()):
                        env["mfg.backend"].browse(request[0])._mfg_enqueue_drain_now(*args)
            except Exception:
                _logger.exception("mfg: could not start drain jobs; the drain-due cron will start them")

    args = (direction, channel, eta, sync_class, partition)
    wanted[(backend.id, *args)] = args


# The states of queue_job's identity-key look-up (``Job.job_record_with_same_identity_key``):
# a job in them has not started, so it claims after the caller's messages are visible.
WAITING_JOB_STATES = ("wait_dependencies", "pending", "enqueued")


def waiting_keys(cr, keys):
    """The identity keys among ``keys`` that a job not started yet holds: one statement for all
    the partitions (queue_job looks each up through the ORM), run on every receive's commit."""
    cr.execute(
        "SELECT DISTINCT identity_key FROM queue_job WHERE identity_key IN %s AND state IN %s",
        (tuple(keys), WAITING_JOB_STATES),
    )
    return {key for (key,) in cr.fetchall()}


def enqueue_now(
    backend, direction, channel, eta=None, sync_class="realtime", partition=None, deduplicate=True
):
    """``mfg.backend._mfg_enqueue_drain_now``: the drain jobs, in this transaction; one per
    partition (or the given one), unless a job not started yet holds its identity key (the
    partitions are looked up in one statement first). Returns the jobs created (queue_job's
    delayables).

    ``deduplicate=False``: enqueue even if a drain job of the same partition seems to wait (its
    identity key): after a crash the jobs of the dead server stay 'enqueued' or 'started' until
    queue_job's runner finds them dead, and drains are safe side by side.
    """
    backend.ensure_one()
    partitions = drain_partitions()
    keys = {
        part: identity_key(backend.id, direction, channel, sync_class, part, partitions, eta)
        for part in (range(partitions) if partition is None else [partition])
    }
    waiting = waiting_keys(backend.env.cr, keys.values()) if deduplicate else set()
    jobs = []
    for part, key in keys.items():
        if key in waiting:
            continue  # queue_job would find that job and return it: same outcome, no ORM work
        jobs.append(
            backend.with_delay(
                channel=channel,
                eta=eta,
                identity_key=key if deduplicate else None,
                description=description(backend.code, direction, channel, part, partitions),
            )._mfg_drain(direction, channel, sync_class == "all", DRAIN_BATCH, part, partitions)
        )
    return jobs


def schedule_next_retry(backend, direction, channel, type_ids, own_partition, part):
    """``mfg.backend._mfg_schedule_next_retry``: a drain for the earliest retry of this
    partition that is not due yet.

    Retry drains share one job per partition and minute (identity key), which keeps the eta of
    the first failure: messages that failed later in the same minute were not due when it ran,
    and waited for the drain-due cron. Each drain looks ahead once at its end.
    """
    first = backend.env["mfg.message"]._mfg_next_retry(backend, direction, type_ids, **part)
    if first:
        backend._mfg_enqueue_drain(
            direction,
            channel,
            eta=first.next_attempt_at,
            sync_class="all",
            partition=first._mfg_partition(),
        )


def drain_type_ids(env, channel, include_batch):
    """Ids of the exchange types a drain of ``channel`` takes (real-time ones only, unless
    ``include_batch``); archived types included (their messages still drain)."""
    domain = [("channel", "=", channel)]
    if not include_batch:
        domain.append(("sync_class", "=", "realtime"))
    return env["mfg.exchange.type"].with_context(active_test=False).search(domain).ids


# ---------------------------------------------------------------------- the drain job
def drain(backend, direction, channel, include_batch, limit, partition, partitions):
    """``mfg.backend._mfg_drain`` (the job): claim a batch of due messages, process it, commit.

    The claim is its own short READ COMMITTED transaction (``SKIP LOCKED``: concurrent drains on
    other workers or hosts never share a message); the batch is then processed in a fresh
    transaction, whose snapshot already sees the claim. After that commit, a follow-up drain is
    enqueued if claimable messages remain. ``partition``/``partitions``: this drain takes only
    the ordering keys of its partition, so that drains of other partitions apply other keys at
    the same time. Under Odoo's test runner everything runs in the test's transaction instead.
    """
    backend.ensure_one()
    type_ids = backend._mfg_drain_type_ids(channel, include_batch)
    if not type_ids:
        return "claimed 0, no exchange type on this channel"
    job_uuid = backend.env.context.get("job_uuid")
    sync_class = "all" if include_batch else "realtime"
    part = {"partition": partition, "partitions": partitions}
    # A follow-up takes the same partition, unless this drain did not run as one of the
    # configured partitions (a direct call): then every partition gets one.
    own_partition = partition if partitions == drain_partitions() else None
    if backend._mfg_single_transaction():
        Message = backend.env["mfg.message"].sudo()
        with backend._mfg_claim_lock(backend.env.cr, own_transaction=False) as lock:
            messages, token = Message._mfg_claim(
                backend, direction, type_ids, limit, job_uuid=job_uuid, claim_lock=lock, **part
            )
            stats = backend._mfg_process_claimed(messages, token)
        if stats["claimed"] >= limit:
            backend._mfg_enqueue_drain(direction, channel, sync_class=sync_class, partition=own_partition)
        backend._mfg_schedule_next_retry(direction, channel, type_ids, own_partition, part)
        return "claimed {claimed}, done {done}, held by ordering key {held}".format(**stats) + (
            ", redone after concurrent updates {redone}".format(**stats) if stats.get("redone") else ""
        )
    stats = {"claimed": 0, "done": 0, "held": 0}
    # One connection for the whole drain: it holds the claim lock from before the claim
    # until the outcomes are committed, so that its claims die with it (see _mfg_claim).
    with backend.env.registry.cursor() as cr, backend._mfg_claim_lock(cr) as lock:
        env = backend.env(cr=cr)
        messages, token = (
            env["mfg.message"]
            .sudo()
            ._mfg_claim(
                backend.with_env(env), direction, type_ids, limit, job_uuid=job_uuid, claim_lock=lock, **part
            )
        )
        ids = messages.ids
        # The drain's own cursor (not the job's): the claim is its own short transaction.
        cr.commit()  # pylint: disable=invalid-commit
        if ids:
            # A fresh transaction (REPEATABLE READ, Odoo's default) whose snapshot sees the claim.
            try:
                env = backend.env(cr=cr)
                stats = backend.with_env(env)._mfg_process_claimed(
                    env["mfg.message"].sudo().browse(ids), token, restart=cr.commit
                )
                cr.commit()  # pylint: disable=invalid-commit
            except Exception:
                cr.rollback()
                backend.env(cr=cr)["mfg.message"]._mfg_release(ids, token)
                cr.commit()  # pylint: disable=invalid-commit
                raise
        # Committed. Is there more to do in this partition that no other drain will pick up?
        # (Checked in a new transaction, so that it sees every commit, other drains' included.)
        cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        env = backend.env(cr=cr)
        backend = backend.with_env(env)
        if env["mfg.message"]._mfg_claimable_count(backend, direction, type_ids, **part):
            backend._mfg_enqueue_drain(direction, channel, sync_class=sync_class, partition=own_partition)
        backend._mfg_schedule_next_retry(direction, channel, type_ids, own_partition, part)
    return "claimed {claimed}, done {done}, held by ordering key {held}".format(**stats) + (
        ", redone after concurrent updates {redone}".format(**stats) if stats.get("redone") else ""
    )


def process_claimed(backend, messages, token, restart=None):
    """``mfg.backend._mfg_process_claimed``: apply claimed messages (``RunSchedule``), write
    their outcomes, give back those their key holds. Returns the drain's figures.

    Inbound messages are applied in runs that share one savepoint (a savepoint per message costs
    a flush and two round trips each), or, for exchange types with a batch handler, in batches
    (one savepoint and one handler call for messages of many ordering keys). A run or batch in
    which anything fails is rolled back whole and applied again one message at a time, each in
    its own savepoint, so a failure still undoes only its own message; the run or batch size
    then halves (and doubles again after ones that succeed), so a flow with many failures soon
    runs message by message. Outbound messages are always sent one at a time (a send cannot be
    rolled back).

    Concurrent updates: when a step meets rows that a concurrent transaction changed and
    committed (serialization failure, deadlock: two drains booking on one stock quant, one work
    center), trying again in this transaction's snapshot would fail again, and recording a
    failed attempt would cost the message a retry delay (and, repeated, its life). With
    ``restart`` (a callable committing this transaction: the drain's ``cr.commit``) the outcomes
    so far are written and committed, and the step is applied again in a fresh snapshot (up to
    ``MAX_REDOS`` times); without it (or past that), the step's messages and the rest are given
    back untouched, for the next drain. Nothing is applied twice: a step's work is rolled back
    with its savepoint before it is done again.
    """
    env = backend.env
    cache = env.cr.cache
    cache["mfg_resolve"] = {}  # code look-ups shared by the batch (see _mfg_resolve)
    outer = cache.get("mfg_outcomes")
    batch = cache["mfg_outcomes"] = {"done": [], "links": []}
    outer_conflicts = cache.get(CONFLICTS_CACHE_KEY)
    cache[CONFLICTS_CACHE_KEY] = True
    batchable = {}
    redos = {"count": 0}

    def batch_key(msg):
        if msg.direction != "inbound":
            return None
        etype = msg.exchange_type_id
        if etype.id not in batchable:
            batchable[etype.id] = etype._mfg_batch_handler() is not None
        return etype.id if batchable[etype.id] else None

    def redone(step):
        """``step`` applied again in a fresh transaction after a concurrent update."""

        def run(arg):
            while True:
                try:
                    return step(arg)
                except ConcurrentUpdate as exc:
                    if restart is None or redos["count"] >= MAX_REDOS:
                        _logger.info(
                            "mfg: concurrent update (%.200s); giving the rest of the claim back", exc
                        )
                        raise GiveBack() from exc
                    redos["count"] += 1
                    env["mfg.message"]._mfg_write_batch_outcomes(batch)
                    batch["done"].clear()
                    batch["links"].clear()
                    restart()
                    cache["mfg_resolve"] = {}
                    env.invalidate_all(flush=False)

        return run

    schedule = RunSchedule(
        messages._mfg_held_back(token),
        process_one=redone(lambda msg: msg._mfg_process()),
        apply_run=redone(lambda run: backend._mfg_apply_run(run, batch)),
        batch_key=batch_key,
        apply_batch=redone(lambda msgs: backend._mfg_apply_batch(msgs, batch)),
    )
    try:
        schedule.feed(messages)
        env["mfg.message"]._mfg_write_batch_outcomes(batch)
    finally:
        cache.pop("mfg_resolve", None)
        if outer is None:
            cache.pop("mfg_outcomes", None)
        else:
            cache["mfg_outcomes"] = outer
        if outer_conflicts is None:
            cache.pop(CONFLICTS_CACHE_KEY, None)
        else:
            cache[CONFLICTS_CACHE_KEY] = outer_conflicts
    env["mfg.message"]._mfg_release(schedule.skipped, token)
    stats = {"claimed": len(messages), "done": schedule.done, "held": len(schedule.skipped)}
    if redos["count"]:
        stats["redone"] = redos["count"]
    return stats


def _rolled_back(env, batch, n_done, n_links):
    """After a run or batch was rolled back: drop the outcomes it buffered."""
    del batch["done"][n_done:]
    del batch["links"][n_links:]
    env.cr.cache["mfg_resolve"] = {}  # may name records the rollback undid


def apply_run(env, run, batch):
    """``mfg.backend._mfg_apply_run``: apply ``run`` (inbound messages, in order) in one
    savepoint. True when every one is done; on any error the savepoint is rolled back, the
    outcomes buffered by the run are dropped, and False is returned (the caller applies them
    again one by one) — or, for a concurrent update, ``ConcurrentUpdate`` is raised (see
    ``process_claimed``)."""
    n_done, n_links = len(batch["done"]), len(batch["links"])
    try:
        with env.cr.savepoint():
            for msg in run:
                msg._mfg_process(isolated=False)
    except Exception as exc:
        _rolled_back(env, batch, n_done, n_links)
        if is_conflict(exc) and env.cr.cache.get(CONFLICTS_CACHE_KEY):
            raise ConcurrentUpdate(str(exc)) from exc
        return False
    return True


def apply_batch(env, msgs, batch):
    """``mfg.backend._mfg_apply_batch``: apply ``msgs`` (inbound, one exchange type, distinct
    ordering keys) with the type's batch handler in one savepoint. True when all are done; on any
    error the savepoint is rolled back, their buffered outcomes are dropped, and False is
    returned (the caller applies them again one by one, each in its own savepoint) — or, for a
    concurrent update, ``ConcurrentUpdate`` is raised (see ``process_claimed``)."""
    n_done, n_links = len(batch["done"]), len(batch["links"])
    try:
        with env.cr.savepoint():
            msgs[0].browse([msg.id for msg in msgs])._mfg_process_batch()  # their env (sudo)
    except Exception as exc:
        _rolled_back(env, batch, n_done, n_links)
        if is_conflict(exc) and env.cr.cache.get(CONFLICTS_CACHE_KEY):
            raise ConcurrentUpdate(str(exc)) from exc
        _logger.info(
            "mfg: a batch of %s messages failed (%s: %.200s); applying them one by one",
            len(msgs),
            type(exc).__name__,
            exc,
        )
        return False
    return True


# ---------------------------------------------------------------------- recovery
def resume_at_start(backends):
    """At start-up (``mfg.backend._register_hook``, each process loading the registry): drains
    that died with the previous server left messages 'processing'; start drains for them now
    rather than wait for the queue_job runner's dead-job check or the drain-due cron. Cheap when
    there are none; never a reason for the registry not to load."""
    try:
        with backends.env.cr.savepoint():
            backends._mfg_resume_orphaned_claims()
    except Exception:
        _logger.warning("mfg: could not resume the claims of dead drains", exc_info=True)


def resume_orphaned_claims(backends):
    """``mfg.backend._mfg_resume_orphaned_claims``: re-queue the drain jobs of a dead server,
    and start drains (not deduplicated) for their claims. Returns how many drains were started."""
    backends._mfg_requeue_dead_drain_jobs()
    cr = backends.env.cr
    cr.execute(
        f"""SELECT DISTINCT m.backend_id, m.direction, t.channel
              FROM mfg_message m JOIN mfg_exchange_type t ON t.id = m.exchange_type_id
             WHERE m.state = 'processing' AND {orphaned_claim_sql()}""",
        {"lease": claim_lease_seconds()},
    )
    rows = cr.fetchall()
    for backend_id, direction, channel in rows:
        _logger.info("mfg: resuming the messages of backend %s claimed by a drain that died", backend_id)
        backends.browse(backend_id)._mfg_enqueue_drain_now(
            direction, channel, sync_class="all", deduplicate=False
        )
    return len(rows)


def requeue_dead_drain_jobs(cr):
    """``mfg.backend._mfg_requeue_dead_drain_jobs``: drain jobs left 'enqueued' or 'started' by
    a server that died, back to 'pending'. Returns their uuids.

    queue_job's runner does the same for every job, but only for jobs enqueued more than 10 s ago
    and only when it wakes up (up to a minute later); meanwhile they fill their channel's
    capacity, so no other drain runs. The same query as the runner's (a started job is dead when
    its lock row is not locked), without the delay: a drain is safe to run twice (it claims with
    SKIP LOCKED), so a job another live runner is just starting costs at most one empty run.
    """
    cr.execute(
        """
        UPDATE queue_job SET state = 'pending'
         WHERE model_name = 'mfg.backend' AND method_name = '_mfg_drain'
           AND state IN ('enqueued', 'started')
           AND (id IN (SELECT l.queue_job_id FROM queue_job_lock l WHERE l.queue_job_id = queue_job.id
                       FOR NO KEY UPDATE SKIP LOCKED)
                OR NOT EXISTS (SELECT 1 FROM queue_job_lock l WHERE l.queue_job_id = queue_job.id))
        RETURNING uuid
        """
    )
    uuids = [r[0] for r in cr.fetchall()]
    if uuids:
        _logger.warning("mfg: re-queued %s drain job(s) of a server that died: %s", len(uuids), uuids)
    return uuids


def start_due_drains(backends):
    """``mfg.backend._cron_mfg_drain_due``: start drains where due messages wait without a job,
    or where a drain died holding claims."""
    cr = backends.env.cr
    cr.execute(
        f"""
        SELECT DISTINCT m.backend_id, m.direction, t.channel
          FROM mfg_message m JOIN mfg_exchange_type t ON t.id = m.exchange_type_id
         WHERE (m.state IN %(claimable)s
                AND (m.next_attempt_at IS NULL OR m.next_attempt_at <= now() AT TIME ZONE 'UTC'))
            OR {orphaned_claim_sql()}
        """,
        {"claimable": CLAIMABLE_STATES, "lease": claim_lease_seconds()},
    )
    for backend_id, direction, channel in cr.fetchall():
        backends.browse(backend_id)._mfg_enqueue_drain(direction, channel, sync_class="all")
