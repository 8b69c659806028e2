"""End-to-end: the pipeline under a real Odoo server, its queue_job runner, and concurrent drains."""

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta

import pytest


def _unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def plant(odoo_env):
    """A backend enabled for the test flows, a product, and an API key of a service user."""
    code = _unique("e2e")
    with odoo_env() as env:
        from odoo import fields

        etype = env.ref("test_mfg_integration.exchange_type_order_report")
        heartbeat = env.ref("mfg_integration_base.exchange_type_plant_heartbeat")
        backend = env["mfg.backend"].create(
            {
                "name": f"E2E {code}",
                "code": code,
                "flow_ids": [
                    fields.Command.create({"exchange_type_id": etype.id}),
                    fields.Command.create({"exchange_type_id": heartbeat.id}),
                ],
            }
        )
        product = env["product.product"].create({"name": f"Part {code}", "default_code": f"P-{code}"})
        user = env["res.users"].create(
            {
                "name": f"Service {code}",
                "login": f"svc-{code}",
                "groups_id": [fields.Command.set([env.ref("mfg_integration_base.group_mfg_service").id])],
            }
        )
        backend.service_user_id = user  # service users linked to no backend are refused
        key = (
            env["res.users.apikeys"]
            .with_user(user)
            ._generate(None, "e2e", fields.Datetime.now() + timedelta(days=1))
        )
        info = {"backend_id": backend.id, "code": code, "product": product.default_code, "key": key}
    return info


def _post(server, plant, contract, payload, key=None):
    req = urllib.request.Request(
        f"{server.base_url}/mfg/api/v1/{plant['code']}/{contract}",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key or plant['key']}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _wait_states(sql, ids, wanted, timeout=90):
    deadline = time.monotonic() + timeout
    rows = []
    while time.monotonic() < deadline:
        rows = sql("SELECT id, state FROM mfg_message WHERE id = ANY(%s)", (list(ids),))
        if len(rows) == len(ids) and all(state in wanted for _id, state in rows):
            return dict(rows)
        time.sleep(0.5)
    return dict(rows)


def test_rest_to_done_through_queue_job_runner(odoo_server, plant, sql):
    """POST → 202 → the server's queue_job runner drains → done, with the business effect."""
    ids = []
    for i in range(20):
        status, body = _post(
            odoo_server,
            plant,
            "test.order_report",
            {
                "message_id": f"{plant['code']}-{i}",
                "order": f"WO-{plant['code']}-{i % 4}",
                "product": plant["product"],
                "quantity": 1,
                "step": f"s{i}",
            },
        )
        assert status == 202, body
        ids.append(body["id"])
    # the same message again: acknowledged, not stored twice
    status, body = _post(
        odoo_server,
        plant,
        "test.order_report",
        {"message_id": f"{plant['code']}-0", "order": "x", "product": plant["product"], "quantity": 1},
    )
    assert status == 200 and body["duplicate"] and body["id"] == ids[0]
    states = _wait_states(sql, ids, {"done"})
    assert set(states.values()) == {"done"}, states
    orders = sql(
        "SELECT name, applied_count, quantity, history FROM mfg_test_order WHERE name LIKE %s ORDER BY name",
        (f"WO-{plant['code']}-%",),
    )
    assert [(n, c, q) for n, c, q, _h in orders] == [(f"WO-{plant['code']}-{k}", 5, 5.0) for k in range(4)]
    # per-key ordering: each order saw its steps in arrival order
    for name, _c, _q, history in orders:
        k = int(name.rsplit("-", 1)[1])
        assert history == ",".join(f"s{i}" for i in range(20) if i % 4 == k)
    jobs = sql("SELECT count(*) FROM queue_job WHERE method_name = '_mfg_drain' AND state = 'done'")
    assert jobs[0][0] >= 1


def test_a_drain_that_ran_before_the_receive_committed_is_followed_by_another(
    odoo_server, plant, odoo_env, sql
):
    """The race of a reused waiting drain: it starts and finds nothing while the receiving
    transaction is still open. The messages must not wait for the 5-minute safety cron."""
    from odoo.addons.mfg_integration_base.pipeline.claim import drain_partitions

    # drain jobs waiting under the identity keys a receive reuses; they start in 3 s, while
    # the receiving transaction below is still open
    with odoo_env() as env:
        backend = env["mfg.backend"].browse(plant["backend_id"])
        partitions = drain_partitions()
        jobs = [
            backend.with_delay(
                channel="root.mfg",
                eta=3,
                identity_key=f"mfg_drain:{backend.id}:inbound:root.mfg:realtime:p{part}of{partitions}",
            )._mfg_drain("inbound", "root.mfg", False, 100, part, partitions)
            for part in range(partitions)
        ]
        uuids = [job.uuid for job in jobs]
    with odoo_env() as env:
        backend = env["mfg.backend"].browse(plant["backend_id"])
        etype = env.ref("test_mfg_integration.exchange_type_order_report")
        payload = {
            "message_id": f"race-{plant['code']}",
            "order": f"RO-{plant['code']}",
            "product": plant["product"],
            "quantity": 1,
        }
        [result] = env["mfg.message"]._mfg_receive(backend, etype, [{"payload": json.dumps(payload)}])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            left = sql("SELECT count(*) FROM queue_job WHERE uuid = ANY(%s) AND state != 'done'", (uuids,))
            if not left[0][0]:
                break
            time.sleep(0.2)
        assert not left[0][0], "the waiting drains did not run"
    # committed now, after every waiting drain ran and found nothing
    states = _wait_states(sql, [result["id"]], {"done"}, timeout=30)
    assert states == {result["id"]: "done"}, states


def test_two_concurrent_drains_never_apply_a_message_twice(plant, odoo_env, odoo_registry, sql):
    """Two drain transactions at once (SKIP LOCKED + key locks): every message applied exactly once."""
    n_orders, per_order = 30, 5
    with odoo_env() as env:
        backend = env["mfg.backend"].browse(plant["backend_id"])
        etype = env.ref("test_mfg_integration.exchange_type_order_report")
        items = []
        for step in range(per_order):
            for k in range(n_orders):
                items.append(
                    {
                        "payload": json.dumps(
                            {
                                "message_id": f"c-{plant['code']}-{k}-{step}",
                                "order": f"CO-{plant['code']}-{k}",
                                "product": plant["product"],
                                "quantity": 1,
                                "step": str(step),
                            }
                        )
                    }
                )
        results = env["mfg.message"]._mfg_receive(backend, etype, items, transport="test")
        ids = [r["id"] for r in results]
    assert len(set(ids)) == n_orders * per_order

    import odoo

    barrier = threading.Barrier(2)
    errors = []
    claimed_by = {0: 0, 1: 0}

    def drainer(idx):
        try:
            barrier.wait(timeout=30)
            idle = 0
            while idle < 3:
                with odoo_registry.cursor() as cr:
                    env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
                    result = (
                        env["mfg.backend"]
                        .browse(plant["backend_id"])
                        ._mfg_drain("inbound", "root.mfg", limit=20)
                    )
                n = int(result.split()[1].rstrip(","))
                claimed_by[idx] += n
                idle = idle + 1 if n == 0 else 0
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=drainer, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    # the server's own queue_job drains may still be finishing a batch they claimed
    states = _wait_states(sql, ids, {"done"}, timeout=60)
    assert set(states.values()) == {"done"}, set(states.values())
    rows = sql(
        "SELECT name, applied_count, history FROM mfg_test_order WHERE name LIKE %s",
        (f"CO-{plant['code']}-%",),
    )
    assert len(rows) == n_orders
    for name, applied, history in rows:
        assert applied == per_order, (name, applied)
        assert history == ",".join(str(s) for s in range(per_order)), (name, history)
    # both drains really worked (otherwise the test proves nothing about concurrency)
    assert claimed_by[0] > 0 and claimed_by[1] > 0, claimed_by


def test_this_suite_runs_the_real_transaction_path(odoo_env):
    """An addon's test package switches the pipeline to one transaction when it is imported
    (``tests/__init__.py`` sets ``pipeline.tx.FORCED`` for Odoo's test runner). Imported into this
    process — the SFTP end-to-end test once imported its test server that way — every later test
    here ran its drains inside the caller's transaction: a race test saw its message wait for the
    cron, two drain threads a serialization failure. Helpers of a test package are loaded from
    their file instead (``test_flatfile_sftp_e2e._sftp_test_server``)."""
    import sys

    from odoo.addons.mfg_integration_base.pipeline import tx

    imported = sorted(
        m for m in sys.modules if m.startswith("odoo.addons.") and m.split(".")[3:4] == ["tests"]
    )
    assert not imported, f"addon test packages imported into the end-to-end process: {imported}"
    assert tx.FORCED is False
    with odoo_env() as env:
        assert not tx.single_transaction(env)
