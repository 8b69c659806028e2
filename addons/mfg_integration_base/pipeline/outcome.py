"""Outcomes: the rows a drain writes for the messages it processed, in as few statements as
possible (no ORM write, no tracking, no flush). No ORM."""

from psycopg2.extras import execute_values


def pg_text(value):
    """``value`` as PostgreSQL can keep it: a text holds no NUL and no lone surrogate (an error
    text may quote a payload's bytes); other values unchanged."""
    if not isinstance(value, str):
        return value
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def write(cr, message_id, vals, uid):
    """One message's outcome (any columns) in one UPDATE."""
    vals = {k: pg_text(v) for k, v in vals.items()}
    columns = sorted(vals)
    cr.execute(
        "UPDATE mfg_message SET {}, write_date = now() AT TIME ZONE 'UTC', write_uid = %s WHERE id = %s".format(
            ", ".join(f'"{c}" = %s' for c in columns)
        ),
        [vals[c] for c in columns] + [uid, message_id],
    )


# A message processed without error: these columns are emptied (an earlier attempt's error and
# retry go) ...
DONE_CLEARS = ("next_attempt_at", "claim_token", "error_class", "error_message", "error_path")
# ... and these are written from the outcome's values (name: SQL type, which a VALUES list needs).
DONE_COLUMNS = {
    "attempts": "integer",
    "processed_at": "timestamp",
    "duration_ms": "integer",
    "response": "text",
}
# Of DONE_COLUMNS, those that keep their stored value when the outcome has none.
DONE_KEEPS_STORED = ("response",)
MAX_RESPONSE = 10000  # characters of an outbound answer kept

# What a new message (a replay) starts with: nothing of an earlier outcome.
FRESH_OUTCOME = {
    "attempts": 0,
    "next_attempt_at": False,
    "processed_at": False,
    "duration_ms": 0,
    "error_class": False,
    "error_message": False,
    "error_path": False,
    "error_detail": False,
    "discard_reason": False,
    "response": False,
    "job_uuid": False,
}


def done(attempts, processed_at, duration_ms, response=None):
    """The outcome of a message processed without error (``response``: an outbound message's
    answer, kept up to MAX_RESPONSE characters)."""
    vals = {
        "state": "done",
        "attempts": attempts,
        "processed_at": processed_at,
        "duration_ms": duration_ms,
        **dict.fromkeys(DONE_CLEARS),
    }
    if response is not None:
        vals["response"] = response[:MAX_RESPONSE]
    return vals


def write_done(cr, done_outcomes, uid):
    """The 'done' outcomes of a batch, ``[(id, vals)]`` (vals as made by ``done``), in one
    statement."""
    if not done_outcomes:
        return
    names = list(DONE_COLUMNS)
    assignments = [
        f"{c} = COALESCE(v.{c}, m.{c})" if c in DONE_KEEPS_STORED else f"{c} = v.{c}" for c in names
    ] + [f"{c} = NULL" for c in DONE_CLEARS]
    execute_values(
        cr,
        """UPDATE mfg_message m
              SET state = 'done', {},
                  write_date = now() AT TIME ZONE 'UTC', write_uid = v.uid
             FROM (VALUES %s) AS v(id, {}, uid)
            WHERE m.id = v.id""".format(", ".join(assignments), ", ".join(names)),
        [(mid, *(pg_text(vals.get(c)) for c in names), uid) for mid, vals in done_outcomes],
        template="(%s, {}, %s)".format(", ".join(f"%s::{DONE_COLUMNS[c]}" for c in names)),
    )


def insert_links(cr, rows):
    """Links from messages to the records they touched, ``[(message_id, model, res_id, uid, uid)]``;
    links a replay or retry already has are skipped."""
    if not rows:
        return
    execute_values(
        cr,
        """INSERT INTO mfg_message_record (message_id, res_model, res_id, create_uid, write_uid,
                                           create_date, write_date)
           SELECT v.message_id, v.res_model, v.res_id, v.create_uid, v.write_uid,
                  now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
             FROM (VALUES %s) AS v(message_id, res_model, res_id, create_uid, write_uid)
            WHERE NOT EXISTS (SELECT 1 FROM mfg_message_record r WHERE r.message_id = v.message_id
                                AND r.res_model = v.res_model AND r.res_id = v.res_id)""",
        rows,
    )
