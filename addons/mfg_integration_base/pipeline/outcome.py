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


def write_done(cr, done, uid):
    """The 'done' outcomes of a batch, ``[(id, vals)]``, in one statement."""
    if not done:
        return
    execute_values(
        cr,
        """UPDATE mfg_message m
              SET state = 'done', attempts = v.attempts, processed_at = v.processed_at,
                  duration_ms = v.duration_ms, response = COALESCE(v.response, m.response),
                  next_attempt_at = NULL, claim_token = NULL, error_class = NULL,
                  error_message = NULL, error_path = NULL,
                  write_date = now() AT TIME ZONE 'UTC', write_uid = v.uid
             FROM (VALUES %s) AS v(id, attempts, processed_at, duration_ms, response, uid)
            WHERE m.id = v.id""",
        [
            (
                mid,
                vals["attempts"],
                vals["processed_at"],
                vals["duration_ms"],
                pg_text(vals.get("response")),
                uid,
            )
            for mid, vals in done
        ],
        template="(%s, %s, %s::timestamp, %s, %s::text, %s)",
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
