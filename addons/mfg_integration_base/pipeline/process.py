"""Processing (steps 2-5 of the pipeline): one claimed message validated, mapped and applied
(inbound) or sent (outbound), and its outcome recorded. No ORM model: the functions take a
message record and go through its hooks (``_mfg_run_step``, ``_mfg_payload``, ``_mfg_apply``,
``_mfg_send``, ``_mfg_classify``, ``_mfg_record_failure``, ``_mfg_write_outcome``), so that an
addon can still override one step; the drain (``mfg.backend._mfg_process_claimed``) calls
``mfg.message._mfg_process``.
"""

import logging
import time
import traceback
from datetime import timedelta

import psycopg2
import psycopg2.errors

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.exceptions import ValidationError as OdooValidationError

from ..exceptions import MfgError, MfgTransientError
from ..lib import contract, error_signature
from ..lib.retry_policy import retry_delay
from . import outcome
from .states import CONFLICT_PGCODES, TRANSIENT_PGCODES

_logger = logging.getLogger(__name__)

OUTCOMES_CACHE_KEY = "mfg_outcomes"  # cr.cache: the outcomes a drain batch writes at its end
# cr.cache: set by a drain that redoes work hit by a concurrent update (see ConcurrentUpdate)
CONFLICTS_CACHE_KEY = "mfg_redo_conflicts"
MAX_ERROR_MESSAGE = 10000  # characters kept of an error text
MAX_ERROR_DETAIL = 20000  # characters kept of a traceback (its end)


class ConcurrentUpdate(Exception):
    """A message's work met a concurrent transaction's committed change of the same rows
    (PostgreSQL serialization failure or deadlock). Inside a drain that can start a fresh
    transaction, this is raised instead of recording a failed attempt: the drain commits what is
    done and applies the message again in a new snapshot (see ``drain.process_claimed``)."""


def is_conflict(exc):
    """True when ``exc`` is a concurrent update (serialization failure, deadlock)."""
    return isinstance(
        exc, ConcurrentUpdate | psycopg2.errors.SerializationFailure | psycopg2.errors.DeadlockDetected
    ) or (isinstance(exc, psycopg2.Error) and getattr(exc, "pgcode", None) in CONFLICT_PGCODES)


def payload(message):
    """Step 2: the payload parsed and checked against the contract."""
    message.ensure_one()
    data = contract.parse_json(message.payload or "")
    contract.validate(message.exchange_type_id.json_schema, data)
    return data


def apply(message, data):
    """Steps 3-4: the exchange type's handler maps codes and updates Odoo."""
    message.ensure_one()
    # Only a registered handler (mfg.handler.mixin, _mfg_handle_*) is ever called.
    handler = message.exchange_type_id._mfg_handler(mfg_message_id=message.id)
    return handler(message, data)


def send(message):
    """Outbound: hand the message to its transport (mfg.transport.<code>)."""
    message.ensure_one()
    env = message.env
    transport = message.transport or "http"
    if f"mfg.transport.{transport}" not in env:
        # Outbound replays made before 18.0.1.x carried 'replay' (where the message came
        # from) instead of where it goes: send them by the flow's transport.
        flow = message.backend_id._mfg_flow(message.exchange_type_id)
        transport = flow.transport or transport
    model = f"mfg.transport.{transport}"
    if model not in env:
        raise MfgError(env._("Unknown transport %(t)r for message %(m)s.", t=transport, m=message.name))
    return env[model]._mfg_send(message)


JSON_CONTENT_TYPE = "application/json"


def wire_body(message):
    """Outbound: ``(bytes, content type)`` a transport sends for ``message``. On a flow whose
    wire format is the JSON contract, the payload itself; in another wire format (e.g. B2MML),
    the canonical payload encoded by ``mfg.wire.<code>._mfg_encode``, and what was encoded kept
    on the message (``wire_payload``) beside the canonical JSON."""
    message.ensure_one()
    env = message.env
    flow = message.backend_id._mfg_flow(message.exchange_type_id)
    wire = env["mfg.wire.format"]._mfg_wire(flow.wire_format if flow else None)
    if wire is None:
        return (message.payload or "").encode("utf-8"), JSON_CONTENT_TYPE
    body, content_type = wire._mfg_encode(message, contract.parse_json(message.payload or ""))
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    message.sudo().write({"wire_payload": text, "wire_format_sent": wire._mfg_code()})
    return (body.encode("utf-8") if isinstance(body, str) else body), content_type


def run_step(message):
    """Steps 2-4 (inbound: validate, map, apply) or the send (outbound); returns the result."""
    if message.direction == "inbound":
        if message.wire_format:
            # A document (B2MML XML...): decoded into child messages, one per fact.
            return message._mfg_decode_document()
        return message._mfg_apply(message._mfg_payload())
    return message._mfg_send()


def elapsed_ms(start):
    """Milliseconds since ``start`` (a ``time.monotonic()``)."""
    return int((time.monotonic() - start) * 1000)


def process(message, isolated=True):
    """Run one claimed message through the pipeline and record its outcome; see
    ``mfg.message._mfg_process``. True when it is done."""
    message.ensure_one()
    env = message.env
    start = time.monotonic()
    attempts = message.attempts + 1
    try:
        if isolated:
            with env.cr.savepoint():
                result = message._mfg_run_step()
        else:
            result = message._mfg_run_step()
    except Exception as exc:
        if not isolated:
            raise
        if is_conflict(exc) and env.cr.cache.get(CONFLICTS_CACHE_KEY):
            raise ConcurrentUpdate(str(exc)) from exc
        _record_failure_safely(message, exc, attempts, start)
        return False
    record_done(message, result, attempts, elapsed_ms(start))
    return True


def record_done(message, result, attempts, duration_ms):
    """Record that ``message`` is done (``result``: what its handler or transport returned):
    buffered with the drain batch's other outcomes when there is one, else written now."""
    env = message.env
    response = result if message.direction == "outbound" and isinstance(result, str) else None
    vals = outcome.done(attempts, fields.Datetime.now(), duration_ms, response=response)
    links = env["mfg.message.record"]
    batch = env.cr.cache.get(OUTCOMES_CACHE_KEY)
    if batch is not None:
        # Inside a drain batch: written with the batch's other outcomes, in one statement each
        # (same transaction, so nothing changes for a reader; 2 round trips less per message).
        batch["done"].append((message.id, vals))
        if result is not None and "response" not in vals:
            batch["links"].extend(links._mfg_link_rows(message, result))
        return
    if result is not None and "response" not in vals:
        links._mfg_link(message, result)
    message._mfg_write_outcome(vals)


def process_batch(messages):
    """Apply inbound messages of one exchange type, with distinct ordering keys, with the type's
    batch handler (``mfg.exchange.type._mfg_batch_handler``) in one call, and record them done;
    see ``mfg.message._mfg_process_batch``. Raises on any error, nothing recorded: the caller
    holds the savepoint, rolls it back and applies the messages again one by one
    (``process``), so that a failure is recorded on its own message only."""
    start = time.monotonic()
    etype = messages[:1].exchange_type_id
    if len(messages.exchange_type_id) != 1 or set(messages.mapped("direction")) != {"inbound"}:
        raise MfgError(messages.env._("A batch holds inbound messages of one exchange type only."))
    handler = etype._mfg_batch_handler()
    if handler is None:
        raise MfgError(messages.env._("Exchange type %(type)s has no batch handler.", type=etype.contract))
    items = [(message, message._mfg_payload()) for message in messages]
    results = handler(items)
    if not isinstance(results, list | tuple) or len(results) != len(items):
        raise MfgError(
            messages.env._(
                "The batch handler of %(type)s returned %(n)s results for %(m)s messages.",
                type=etype.contract,
                n=len(results) if isinstance(results, list | tuple) else type(results).__name__,
                m=len(items),
            )
        )
    duration = elapsed_ms(start) // len(items)
    for message, result in zip(messages, results, strict=True):
        record_done(message, result, message.attempts + 1, duration)
    return True


def _record_failure_safely(message, exc, attempts, start):
    try:
        with message.env.cr.savepoint(flush=False):
            message._mfg_record_failure(exc, attempts, start)
    except Exception:
        # Recording the error must never crash the drain (the batch would be released
        # and claimed again, forever): keep a plain failure instead.
        _logger.exception("mfg message %s: could not record its failure", message.id)
        message._mfg_write_outcome(
            {
                "state": "failed",
                "attempts": attempts,
                "processed_at": fields.Datetime.now(),
                "error_class": "internal",
                "error_message": message.env._(
                    "Processing failed (%(type)s) and the error could not be recorded; see the server log.",
                    type=type(exc).__name__,
                ),
                "next_attempt_at": None,
                "claim_token": None,
            }
        )


def classify(exc):
    """(error_class, transient) for an exception raised while processing."""
    if isinstance(exc, MfgError):
        return exc.error_class, isinstance(exc, MfgTransientError)
    if isinstance(exc, psycopg2.Error) and getattr(exc, "pgcode", None) in TRANSIENT_PGCODES:
        return "transient", True
    if isinstance(exc, psycopg2.OperationalError):
        return "transient", True
    if isinstance(exc, UserError | OdooValidationError | AccessError):
        return "business", False
    return "internal", False


def error_text(exc):
    """What an exception says: its ``message``, else its first argument, else its repr."""
    return getattr(exc, "message", None) or (exc.args[0] if getattr(exc, "args", None) else repr(exc))


def failure_state(error_class, transient, attempts, max_attempts):
    """The state after a failed attempt: a contract error is rejected (never retried), a
    transient error is retried up to ``max_attempts`` and then dead, anything else failed."""
    if error_class == "validation":
        return "rejected"
    if transient:
        return "retrying" if attempts < max_attempts else "dead"
    return "failed"


def retry_seconds(exc, attempts, policy):
    """Seconds before the next attempt after ``exc`` (``policy``: anything with the
    ``retry_*`` attributes of ``mfg.exchange.type``)."""
    delay = retry_delay(
        attempts, policy.retry_delay, policy.retry_backoff, policy.retry_jitter, policy.retry_max_delay
    )
    if isinstance(exc, psycopg2.Error):
        # A concurrent update of the same business record: try again in a moment.
        delay = min(delay, retry_delay(attempts, 1, 2, 0.5, 30))
    if getattr(exc, "retry_after", None):
        # The other side said when to come back (HTTP Retry-After, bounded by the transport).
        delay = exc.retry_after
    return delay


def record_failure(message, exc, attempts, start):
    """Record a failed attempt: rejected, retrying (a drain at the next attempt), dead or failed."""
    env = message.env
    error_class, transient = message._mfg_classify(exc)
    text = error_text(exc)
    if error_class == "internal":
        text = env._("Unexpected error (%(type)s): %(text)s", type=type(exc).__name__, text=text)
    vals = {
        "attempts": attempts,
        "processed_at": fields.Datetime.now(),
        "duration_ms": elapsed_ms(start),
        "error_class": error_class,
        "error_message": str(text)[:MAX_ERROR_MESSAGE],
        "error_path": getattr(exc, "path", None) or None,
        "error_detail": "".join(traceback.format_exception(exc))[-MAX_ERROR_DETAIL:],
        "error_signature": error_signature.error_signature(
            error_class, str(text), getattr(exc, "kind", None), getattr(exc, "code", None)
        ),
        "claim_token": None,
    }
    etype = message.exchange_type_id
    state = failure_state(error_class, transient, attempts, etype.max_attempts)
    vals.update(state=state, next_attempt_at=None)
    if state == "retrying":
        next_at = fields.Datetime.now() + timedelta(seconds=retry_seconds(exc, attempts, etype))
        vals["next_attempt_at"] = next_at
        message.backend_id._mfg_enqueue_drain(
            message.direction,
            etype.channel,
            eta=next_at,
            sync_class="all",
            partition=message._mfg_partition(),
        )
    elif state == "dead":
        vals["error_message"] = env._(
            "Gave up after %(n)s attempts. Last error: %(text)s", n=attempts, text=vals["error_message"]
        )
    _logger.info(
        "mfg message %s (%s) %s after attempt %s: %s",
        message.id,
        etype.contract,
        state,
        attempts,
        error_class,
    )
    message._mfg_write_outcome(vals)


def write_outcome(message, vals):
    """Record a processing outcome with one UPDATE (no ORM write, no tracking, no flush):
    the drain does this for every message."""
    message.ensure_one()
    outcome.write(message.env.cr, message.id, vals, message.env.uid)
    message.invalidate_recordset(sorted(vals) + ["write_date", "write_uid"])


def write_batch_outcomes(messages, batch):
    """Write the outcomes and record links buffered by ``process`` (see the drain)."""
    cr = messages.env.cr
    outcome.write_done(cr, batch["done"], messages.env.uid)
    outcome.insert_links(cr, batch["links"])
    ids = [mid for mid, _vals in batch["done"]] + [row[0] for row in batch["links"]]
    if ids:
        messages.browse(ids).invalidate_recordset()
