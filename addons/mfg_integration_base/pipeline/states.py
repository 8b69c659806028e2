"""The states of a message, and the sets of states the engine works with: the one place that
names them (SQL takes these tuples as parameters)."""

import psycopg2.errorcodes

STATES = [
    ("received", "Received"),
    ("rejected", "Rejected"),
    ("queued", "Queued"),
    ("processing", "Processing"),
    ("done", "Done"),
    ("failed", "Failed"),
    ("retrying", "Retrying"),
    ("dead", "Dead"),
    ("discarded", "Discarded"),
]
# States a drain job may claim.
CLAIMABLE_STATES = ("received", "queued", "retrying")
# States of an earlier message that hold the later messages of the same ordering key.
BLOCKING_STATES = ("processing", "retrying", "failed", "dead")
# States that still wait for something (monitoring, SLA).
PENDING_STATES = ("received", "queued", "processing", "retrying")
ERROR_CLASSES = [
    ("validation", "Contract (schema)"),
    ("mapping", "Code mapping"),
    ("business", "Business rule"),
    ("transient", "Transient"),
    ("internal", "Internal error"),
]

# SQLSTATEs of a failure the next attempt may not meet (a concurrent update, a lock).
TRANSIENT_PGCODES = {
    psycopg2.errorcodes.SERIALIZATION_FAILURE,
    psycopg2.errorcodes.DEADLOCK_DETECTED,
    psycopg2.errorcodes.LOCK_NOT_AVAILABLE,
    psycopg2.errorcodes.QUERY_CANCELED,
}

# A concurrent transaction committed a change to a row this one changes (or a deadlock): in a
# drain, the work is done again in a fresh transaction instead of being counted as a failure.
CONFLICT_PGCODES = {
    psycopg2.errorcodes.SERIALIZATION_FAILURE,
    psycopg2.errorcodes.DEADLOCK_DETECTED,
}
