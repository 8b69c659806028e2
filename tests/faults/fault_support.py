"""Helpers of the fault suite: plants with a service identity, REST posts, and the counting.

Everything here talks to the real server (HTTP) or to the real database (SQL, or Odoo's ORM in
the test process through ``odoo_env``); nothing of Odoo is mocked.
"""

import json
import time
import uuid

import requests
from mqtt_support import wait_until  # noqa: F401 - the fault tests take it from here

# Message states in which nothing is waiting any more (retrying waits for its next attempt).
SETTLED_STATES = ("done", "failed", "rejected", "dead", "discarded")


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_plant(odoo_env, prefix, inbound=("test.order_report",), outbound=(), **backend_vals):
    """A backend enabled for the given contracts, its own service user and API key (the governed
    way: one technical user per backend), throttling off unless ``backend_vals`` says otherwise,
    and a product the test orders can name."""
    code = unique(prefix)
    with odoo_env() as env:
        from odoo import fields

        Type = env["mfg.exchange.type"]
        flows = [fields.Command.create({"exchange_type_id": Type._find(c).id}) for c in inbound]
        flows += [
            fields.Command.create({"exchange_type_id": Type._find(c).id, "transport": "http"})
            for c in outbound
        ]
        backend = env["mfg.backend"].create(
            {
                "name": f"Fault {code}",
                "code": code,
                "flow_ids": flows,
                "api_rate_limit": 0,  # storms and fuzzing measure the pipeline, not the throttle
                "api_burst": 0,
                **backend_vals,
            }
        )
        user = env["res.users"].with_context(no_reset_password=True).create(backend._mfg_service_user_vals())
        backend.service_user_id = user
        _record, key = env["mfg.api.key"]._mfg_generate(backend, user)
        product = env["product.product"].create({"name": f"Part {code}", "default_code": f"P-{code}"})
        return {
            "backend_id": backend.id,
            "code": code,
            "key": key,
            "product": product.default_code,
            "user_id": user.id,
        }


def warm_up(server):
    """One request before a concurrent burst. On its first request with a path of three or more
    segments, Odoo parses every addon manifest (``Application.statics``, computed once); several
    first requests at once race in CPython 3.11's AST constructor (python/cpython#106905) and one
    of them may answer 500 ("AST constructor recursion depth mismatch"). Not what the storms test."""
    requests.get(f"{server.base_url}/mfg/api/v1/openapi.json", timeout=60)


def post(server, plant, contract, body, headers=None, timeout=60):
    """POST ``body`` (dict/list/scalar: sent as JSON; bytes/str: sent as is) to the REST ingest.
    Returns (status, parsed answer or None, headers)."""
    if isinstance(body, bytes | str):
        data = body.encode() if isinstance(body, str) else body
    else:
        data = json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json", "Authorization": f"Bearer {plant['key']}"}
    all_headers.update(headers or {})
    resp = requests.post(
        f"{server.base_url}/mfg/api/v1/{plant['code']}/{contract}",
        data=data,
        headers=all_headers,
        timeout=timeout,
    )
    try:
        answer = resp.json()
    except ValueError:
        answer = None
    return resp.status_code, answer, resp.headers


def order_report(plant, i, order, step=None, **extra):
    """Payload of test.order_report number ``i`` (its step names it in the order's history)."""
    data = {
        "message_id": f"{plant['code']}-{i}",
        "order": order,
        "product": plant["product"],
        "quantity": 1,
        "step": str(i if step is None else step),
    }
    data.update(extra)
    return data


def state_counts(sql, backend_id, direction="inbound"):
    rows = sql(
        "SELECT state, count(*) FROM mfg_message WHERE backend_id = %s AND direction = %s GROUP BY state",
        (backend_id, direction),
    )
    return dict(rows)


def stored(sql, backend_id, direction="inbound"):
    """(rows, distinct external ids) of the backend."""
    return tuple(
        sql(
            """SELECT count(*), count(DISTINCT external_id) FROM mfg_message
                WHERE backend_id = %s AND direction = %s""",
            (backend_id, direction),
        )[0]
    )


def order_effects(sql, order_prefix):
    """The business effect on the test orders named ``order_prefix...``: {order: (applied_count,
    [steps in the order they were applied])}."""
    rows = sql(
        "SELECT name, applied_count, coalesce(history, '') FROM mfg_test_order WHERE name LIKE %s",
        (order_prefix + "%",),
    )
    return {name: (count, [s for s in history.split(",") if s]) for name, count, history in rows}


def tally(published_steps, effects):
    """(applied, lost, duplicated) of messages identified by their step.

    ``applied``: business applications seen (sum of applied_count); ``lost``: published steps never
    applied; ``duplicated``: applications beyond the first of a step."""
    applied_steps = [s for _count, steps in effects.values() for s in steps]
    applied = sum(count for count, _steps in effects.values())
    published = set(published_steps)
    lost = len(published - set(applied_steps))
    duplicated = max(len(applied_steps), applied) - len(set(applied_steps))
    return applied, lost, duplicated


def drain_jobs_active(sql, code):
    """Drain jobs of the backend due and not finished yet (waiting, enqueued or running); a drain
    scheduled later (the next attempt of a retrying message) does not count."""
    return sql(
        """SELECT count(*) FROM queue_job WHERE method_name = '_mfg_drain'
              AND state IN ('wait_dependencies', 'pending', 'enqueued', 'started')
              AND (eta IS NULL OR eta <= now() AT TIME ZONE 'UTC')
              AND name LIKE %s""",
        (f"% of {code} (%",),
    )[0][0]


def drain_jobs_failed(sql, code):
    return sql(
        """SELECT count(*) FROM queue_job WHERE method_name = '_mfg_drain' AND state = 'failed'
              AND name LIKE %s""",
        (f"% of {code} (%",),
    )[0][0]


def post_as_sender(server, plant, contract, body, attempts=6, headers=None):
    """POST like a plant system's sender does (at-least-once): again after a 5xx, a 429 or a
    broken connection, after a short pause (Retry-After for 429).

    Returns (final status, final answer, [status of every attempt])."""
    seen = []
    status, answer = None, None
    for _attempt in range(attempts):
        try:
            status, answer, answer_headers = post(server, plant, contract, body, headers=headers)
        except requests.RequestException as exc:
            seen.append(type(exc).__name__)
            time.sleep(0.2)
            continue
        seen.append(status)
        if status < 500 and status != 429:
            break
        time.sleep(float(answer_headers.get("Retry-After") or 0.2) if status == 429 else 0.2)
    return status, answer, seen


def request_errors(server, since=0, through=None):
    """What made the server answer 500 after character ``since`` of its log: for each
    'Exception during request handling' traceback, (exception line, innermost frame of our code).
    ``through``: only the tracebacks with a frame in a file whose path contains it (e.g.
    "/controllers/ingest.py": the REST ingest's requests, not the queue_job runner's)."""
    errors = []
    block = None

    def close(lines):
        frames = [ln for ln in lines if ln.startswith('File "')]
        if through and not any(through in ln for ln in frames):
            return
        ours = [ln for ln in frames if "/addons/mfg_" in ln]
        errors.append((lines[-1] if lines else "?", ours[-1] if ours else ""))

    for line in server.log_text()[since:].splitlines():
        starts_record = len(line) > 24 and line[:4].isdigit() and line[4] == "-" and line[10] == " "
        if starts_record:
            if block is not None:
                close(block)
            block = [] if "Exception during request handling" in line else None
        elif block is not None and line.strip():
            block.append(line.strip())
    if block is not None:
        close(block)
    return errors
