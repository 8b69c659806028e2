"""REST storms against the live server: the same messages posted many times at once, and
out-of-order bursts on many orders at once. Throttling is off on these backends (api_rate_limit 0):
the storms measure the pipeline, not the throttle.

The senders behave like plant systems (at-least-once): a 5xx or a broken connection is posted
again. The counts are what the pipeline must guarantee whatever the answers were. The 500s
themselves are counted, and each must be explained by the server's log: a 500 whose cause is not
the known serialization failure fails the test; the known one makes the test xfail after all its
counts have passed (see ``_judge_500s``).
"""

import random
import threading
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest
from fault_support import (
    drain_jobs_active,
    make_plant,
    order_effects,
    order_report,
    post_as_sender,
    request_errors,
    state_counts,
    stored,
    tally,
    wait_until,
    warm_up,
)

CONTRACT = "test.order_report"


def _wait_all_done(sql, plant, n):
    return wait_until(
        lambda: state_counts(sql, plant["backend_id"]) == {"done": n}
        and not drain_jobs_active(sql, plant["code"]),
        timeout=120,
        interval=0.5,
    )


def _describe(counter):
    return ", ".join(f"{n} x {s}" for s, n in sorted(counter.items(), key=str))


def _judge_500s(server, log_start, answers):
    """Every 500 must come from a serialization failure the request could not get past.

    Known defect (reported): each REST receive runs ``UPDATE mfg_backend SET last_contact_at``
    (``mfg.backend._mfg_touch_contact``) in the request's REPEATABLE READ transaction, so
    concurrent posts of one backend conflict on that row; Odoo retries a request 5 times, then
    answers 500. Nothing is stored then, and the sender's retry gets it through."""
    errors = request_errors(server, log_start)
    unexplained = [e for e in errors if "SerializationFailure" not in e[0]]
    assert not unexplained, unexplained
    assert len(errors) == answers[500], (errors, answers)
    if errors:
        where = sorted({frame.split(", in ")[-1] for _exc, frame in errors})
        pytest.xfail(
            f"{len(errors)} x 500 (serialization failure under concurrent posts, in {', '.join(where)}), "
            "then stored on the sender's retry"
        )


def test_duplicate_storm_over_rest_is_stored_and_applied_once(odoo_server, odoo_env, sql, fault_report):
    """100 messages, each posted 6 times, shuffled, from 12 threads at once (600 posts)."""
    n_unique, copies, threads = 100, 6, 12
    plant = make_plant(odoo_env, "dup")
    prefix = f"DS-{plant['code']}-"
    posts = [i for i in range(n_unique) for _copy in range(copies)]
    random.Random(8).shuffle(posts)
    warm_up(odoo_server)
    log_start = len(odoo_server.log_text())

    def send(i):
        status, answer, seen = post_as_sender(
            odoo_server, plant, CONTRACT, order_report(plant, i, f"{prefix}{i % 15}")
        )
        return i, status, answer, seen

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(send, posts))

    finals = Counter(status for _i, status, _a, _s in results)
    answers = Counter(s for _i, _st, _a, seen in results for s in seen)
    accepted = Counter(i for i, status, _a, _s in results if status == 202)
    ids_per_message = defaultdict(set)
    for i, status, answer, _seen in results:
        if status in (200, 202):
            ids_per_message[i].add(answer["id"])
    done = _wait_all_done(sql, plant, n_unique)
    rows, distinct = stored(sql, plant["backend_id"])
    effects = order_effects(sql, prefix)
    applied, lost, duplicated = tally([str(i) for i in range(n_unique)], effects)
    fault_report(
        "REST duplicate storm (100 x 6, 12 threads)",
        n_unique,
        rows,
        applied,
        lost,
        duplicated,
        f"{len(posts)} posts, {sum(answers.values())} requests: {_describe(answers)}",
    )
    assert set(finals) <= {200, 202}, finals  # every post ends acknowledged
    assert all(accepted[i] == 1 for i in range(n_unique)), "a message was acknowledged as new twice"
    assert finals[202] == n_unique and finals[200] == n_unique * (copies - 1)
    assert all(len(ids) == 1 for ids in ids_per_message.values()), "duplicates answered another id"
    assert done, state_counts(sql, plant["backend_id"])
    assert rows == distinct == n_unique
    assert lost == 0 and duplicated == 0 and applied == n_unique
    assert set(answers) <= {200, 202, 500}, answers
    _judge_500s(odoo_server, log_start, answers)


def test_out_of_order_burst_keeps_each_orders_arrival_order(odoo_server, odoo_env, sql, fault_report):
    """20 orders x 10 messages whose steps come in a shuffled order; 10 threads post at once, each
    the messages of its orders one after the other (the next one once the previous is
    acknowledged: that is what arrival order means for one order). One in five messages is sent
    a second time later in the burst (a sender's redelivery). Each order's history must be its
    arrival order, each message applied once."""
    n_orders, per_order, threads = 20, 10, 10
    plant = make_plant(odoo_env, "ooo")
    prefix = f"OO-{plant['code']}-"
    rnd = random.Random(11)
    plans = {}
    for k in range(n_orders):
        steps = list(range(per_order))
        rnd.shuffle(steps)  # out of order: step 7 may arrive before step 2
        plans[k] = steps
    arrival = defaultdict(list)
    finals, answers = Counter(), Counter()
    lock = threading.Lock()
    warm_up(odoo_server)
    log_start = len(odoo_server.log_text())

    def send(body):
        status, _answer, seen = post_as_sender(odoo_server, plant, CONTRACT, body)
        with lock:
            finals[status] += 1
            answers.update(seen)
        return status

    def send_orders(orders):
        local = random.Random(orders[0])
        for k in orders:
            sent = []
            for step in plans[k]:
                body = order_report(plant, k * per_order + step, f"{prefix}{k}", step=f"{k}.{step}")
                if send(body) == 202:
                    arrival[k].append(f"{k}.{step}")
                sent.append(body)
                if local.random() < 0.2:  # a redelivery of an earlier message of this order
                    send(local.choice(sent))

    groups = [list(range(n_orders))[t::threads] for t in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send_orders, groups))

    n = n_orders * per_order
    done = _wait_all_done(sql, plant, n)
    rows, distinct = stored(sql, plant["backend_id"])
    effects = order_effects(sql, prefix)
    published = [f"{k}.{s}" for k in range(n_orders) for s in range(per_order)]
    applied, lost, duplicated = tally(published, effects)
    in_order = sum(1 for k in range(n_orders) if effects.get(f"{prefix}{k}", (0, []))[1] == arrival[k])
    fault_report(
        "REST out-of-order burst (20 orders x 10)",
        n,
        rows,
        applied,
        lost,
        duplicated,
        f"history = arrival order for {in_order}/{n_orders} orders; "
        f"{sum(answers.values())} requests: {_describe(answers)}",
    )
    assert set(finals) <= {200, 202}, finals
    assert finals[202] == n
    assert done, state_counts(sql, plant["backend_id"])
    assert rows == distinct == n
    assert lost == 0 and duplicated == 0 and applied == n
    # the steps really came out of order, and each order kept its arrival order
    assert any(arrival[k] != sorted(arrival[k], key=lambda s: int(s.split(".")[1])) for k in arrival)
    assert in_order == n_orders, {k: (arrival[k], effects[f"{prefix}{k}"][1]) for k in range(n_orders)}
    assert set(answers) <= {200, 202, 500}, answers
    _judge_500s(odoo_server, log_start, answers)
