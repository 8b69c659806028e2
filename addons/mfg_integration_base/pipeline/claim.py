"""Claims: which messages a drain takes, and how a claim belongs to a live drain. No ORM.

Every function takes a database cursor and ids; the models call them (``mfg.message._mfg_claim``
and friends) and ``mfg.backend._mfg_drain`` holds the lock.
"""

import logging
import uuid
from contextlib import contextmanager

from ..lib import settings
from .states import BLOCKING_STATES, CLAIMABLE_STATES

_logger = logging.getLogger(__name__)

DEFAULT_CLAIM_LEASE = 900  # seconds; [mfg_integration] claim_lease_seconds


def claim_lease_seconds():
    """How long a claim protects a message before another drain may take it (dead drain)."""
    try:
        return settings.get_int("claim_lease_seconds", DEFAULT_CLAIM_LEASE, minimum=1)
    except (TypeError, ValueError):
        return DEFAULT_CLAIM_LEASE


DEFAULT_DRAIN_PARTITIONS = 2  # [mfg_integration] drain_partitions


def drain_partitions():
    """Drain jobs per backend, channel and direction that may run side by side. Messages are
    spread over them by ordering key (all messages of a key in one partition, so the key's
    order holds), so that several workers apply different keys at the same time."""
    try:
        return max(1, settings.get_int("drain_partitions", DEFAULT_DRAIN_PARTITIONS))
    except (TypeError, ValueError):
        return DEFAULT_DRAIN_PARTITIONS


# A claim belongs to a live drain: the drain holds the PostgreSQL advisory lock
# (CLAIM_LOCK_CLASS, claim_lock) from before its claim until its outcomes are committed. The
# lock dies with the drain's database session (kill -9, crash, lost connection), so a message
# left 'processing' whose lock nobody holds is orphaned and claimable again at once; the time
# lease (claim_lease_seconds) is only the last resort (a drain alive but hung).
CLAIM_LOCK_CLASS = 0x6D6667  # "mfg": first key of the two-key advisory locks of claims


def live_claim_locks_sql():
    """SQL: the claim locks held right now (by live drains) in this database."""
    return f"""(SELECT l.objid::bigint FROM pg_locks l
                 WHERE l.locktype = 'advisory' AND l.granted AND l.classid = {CLAIM_LOCK_CLASS}
                   AND l.objsubid = 2
                   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))"""


def orphaned_claim_sql(alias="m"):
    """SQL condition on message ``alias``: 'processing' but its drain is gone (or, last resort,
    its lease of %(lease)s seconds ran out). Needs the ``lease`` query parameter."""
    return f"""({alias}.state = 'processing' AND (
                  ({alias}.claim_lock IS NOT NULL AND {alias}.claim_lock NOT IN {live_claim_locks_sql()})
                  OR {alias}.claimed_at < (now() AT TIME ZONE 'UTC') - make_interval(secs => %(lease)s)))"""


# SQL: the partition of message m (by ordering key, or by id when it has none).
PARTITION_SQL = (
    "mod(CASE WHEN m.ordering_key IS NULL THEN m.id "
    "ELSE hashtext(m.ordering_key)::bigint + 2147483648 END, %(partitions)s) = %(partition)s"
)


def claim(
    cr,
    backend_id,
    direction,
    type_ids,
    limit,
    lease=None,
    job_uuid=None,
    partition=0,
    partitions=1,
    claim_lock=None,
):
    """Claim up to ``limit`` due messages for one drain: ``UPDATE ... SET state = 'processing'``
    over ``SELECT ... FOR UPDATE SKIP LOCKED``, so concurrent drains never share a message.

    A message whose ordering key has an earlier message in a blocking state (processing,
    retrying, failed, dead) is not claimed: a failure blocks its key, not the flow. A message
    left 'processing' by a drain that died (nobody holds its claim lock) is claimed again at
    once; one whose drain lives is left alone until its lease expired. ``claim_lock``: the
    advisory lock the calling drain holds (see CLAIM_LOCK_CLASS).
    Returns the claimed ids (sorted) and the claim token.
    """
    token = str(uuid.uuid4())
    cr.execute(
        f"""
        UPDATE mfg_message SET state = 'processing', claim_token = %(token)s,
               claimed_at = now() AT TIME ZONE 'UTC', write_date = now() AT TIME ZONE 'UTC',
               job_uuid = coalesce(%(job_uuid)s, job_uuid), claim_lock = %(claim_lock)s
         WHERE id IN (
            SELECT m.id FROM mfg_message m
             WHERE m.backend_id = %(backend)s AND m.direction = %(direction)s
               AND m.exchange_type_id = ANY(%(types)s)
               AND {PARTITION_SQL}
               AND (
                    (m.state IN %(claimable)s
                     AND (m.next_attempt_at IS NULL OR m.next_attempt_at <= (now() AT TIME ZONE 'UTC')))
                 OR {orphaned_claim_sql()}
               )
               AND (m.ordering_key IS NULL OR NOT EXISTS (
                    SELECT 1 FROM mfg_message p
                     WHERE p.backend_id = m.backend_id AND p.direction = m.direction
                       AND p.ordering_key = m.ordering_key AND p.id < m.id
                       AND p.state IN %(blocking)s))
             ORDER BY m.id
             LIMIT %(limit)s
             FOR UPDATE OF m SKIP LOCKED)
        RETURNING id
        """,
        {
            "partition": partition,
            "partitions": partitions,
            "backend": backend_id,
            "direction": direction,
            "claimable": CLAIMABLE_STATES,
            "types": list(type_ids),
            "blocking": BLOCKING_STATES,
            "limit": limit,
            "lease": lease if lease is not None else claim_lease_seconds(),
            "token": token,
            "job_uuid": job_uuid,
            "claim_lock": claim_lock,
        },
    )
    return sorted(r[0] for r in cr.fetchall()), token


def claimable(cr, backend_id, direction, type_ids, partition=0, partitions=1):
    """True when a drain would find something to claim now (same rules as ``claim``, orphaned
    and expired claims included)."""
    cr.execute(
        f"""
        SELECT 1 FROM mfg_message m
         WHERE m.backend_id = %(backend)s AND m.direction = %(direction)s
           AND m.exchange_type_id = ANY(%(types)s)
           AND {PARTITION_SQL}
           AND ((m.state IN %(claimable)s
                 AND (m.next_attempt_at IS NULL OR m.next_attempt_at <= (now() AT TIME ZONE 'UTC')))
                OR {orphaned_claim_sql()})
           AND (m.ordering_key IS NULL OR NOT EXISTS (
                SELECT 1 FROM mfg_message p
                 WHERE p.backend_id = m.backend_id AND p.direction = m.direction
                   AND p.ordering_key = m.ordering_key AND p.id < m.id
                   AND p.state IN %(blocking)s))
         LIMIT 1
        """,
        {
            "partition": partition,
            "partitions": partitions,
            "backend": backend_id,
            "direction": direction,
            "types": list(type_ids),
            "claimable": CLAIMABLE_STATES,
            "blocking": BLOCKING_STATES,
            "lease": claim_lease_seconds(),
        },
    )
    return bool(cr.fetchall())


def next_retry(cr, backend_id, direction, type_ids, partition=0, partitions=1):
    """The id of the retrying message of this partition due next, if not due yet (else None)."""
    cr.execute(
        f"""
        SELECT m.id FROM mfg_message m
         WHERE m.backend_id = %(backend)s AND m.direction = %(direction)s
           AND m.exchange_type_id = ANY(%(types)s) AND {PARTITION_SQL}
           AND m.state = 'retrying' AND m.next_attempt_at > (now() AT TIME ZONE 'UTC')
         ORDER BY m.next_attempt_at LIMIT 1
        """,
        {
            "partition": partition,
            "partitions": partitions,
            "backend": backend_id,
            "direction": direction,
            "types": list(type_ids),
        },
    )
    row = cr.fetchone()
    return row[0] if row else None


def partition_of(cr, message_id, ordering_key, partitions):
    """The drain partition of a message (see PARTITION_SQL)."""
    cr.execute(
        """SELECT mod(CASE WHEN %(key)s::varchar IS NULL THEN %(id)s
                           ELSE hashtext(%(key)s)::bigint + 2147483648 END, %(partitions)s)""",
        {"key": ordering_key or None, "id": message_id, "partitions": partitions},
    )
    return cr.fetchone()[0]


def release(cr, ids, token):
    """Give claimed but unprocessed messages back (state queued) for a later drain."""
    if not ids:
        return 0
    cr.execute(
        """UPDATE mfg_message SET state = 'queued', claim_token = NULL, claimed_at = NULL
            WHERE id IN %s AND state = 'processing' AND claim_token = %s""",
        (tuple(ids), token),
    )
    return cr.rowcount


def held_back(cr, keyed_ids, token):
    """Those of ``keyed_ids`` (claimed messages with an ordering key, one claim ``token``) that
    must wait: an earlier message of their key is still open and is not part of this claim.

    One query per batch. Within the batch, the drain applies messages in id order and skips the
    rest of a key once one of its messages did not end done. Together with the claim (which
    never takes a key's message while an earlier one is processing elsewhere), only the drain
    holding a key's earliest open message applies that key: in arrival order.
    """
    if not keyed_ids:
        return set()
    cr.execute(
        """
        SELECT m.id FROM mfg_message m
         WHERE m.id IN %s
           AND EXISTS (SELECT 1 FROM mfg_message p
                        WHERE p.backend_id = m.backend_id AND p.direction = m.direction
                          AND p.ordering_key = m.ordering_key AND p.id < m.id
                          AND p.state IN %s
                          AND p.claim_token IS DISTINCT FROM %s)
        """,
        (tuple(keyed_ids), ("received", "queued", "processing", "retrying", "failed", "dead"), token),
    )
    return {r[0] for r in cr.fetchall()}


def orphaned_ids(cr, ids=None):
    """Those of ``ids`` (all messages when None) that are 'processing' with no live drain."""
    if ids is not None and not ids:
        return set()
    where = "m.id IN %(ids)s" if ids is not None else "m.state = 'processing'"
    cr.execute(
        f"SELECT m.id FROM mfg_message m WHERE {where} AND {orphaned_claim_sql()}",
        {"ids": tuple(ids or ()), "lease": claim_lease_seconds()},
    )
    return {r[0] for r in cr.fetchall()}


@contextmanager
def claim_lock(cr, own_transaction=True):
    """Hold a fresh claim lock (a session-level advisory lock) on ``cr``'s connection.

    The lock survives the commits of the drain and is released at the end, or by PostgreSQL when
    the session dies. ``own_transaction``: ``cr`` is the drain's own cursor, starting a
    transaction now (READ COMMITTED, the claim's isolation); on an error it is rolled back before
    the lock is released, so that the lock never stays with a pooled connection.
    """
    if own_transaction:
        cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
    cr.execute("SELECT nextval('mfg_message_claim_lock_seq')")
    lock = cr.fetchone()[0]
    cr.execute("SELECT pg_advisory_lock(%s, %s)", (CLAIM_LOCK_CLASS, lock))
    try:
        yield lock
    except BaseException:
        if own_transaction:
            cr.rollback()
        _unlock(cr, lock)
        raise
    _unlock(cr, lock)


def _unlock(cr, lock):
    try:
        cr.execute("SELECT pg_advisory_unlock(%s, %s)", (CLAIM_LOCK_CLASS, lock))
    except Exception:
        # The session is gone (and its lock with it), or the transaction is aborted.
        _logger.warning("mfg: could not release claim lock %s", lock, exc_info=True)
