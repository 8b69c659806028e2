"""A production planner for the demo (setup/run --sim): once the server answers, confirms a manufacturing
order of DEMO-PUMP every N seconds, so that orders move through Odoo on their own (the simulated MES answers
each release). Stops after --count orders or when the server goes away.

    python setup/demo_orders.py --url http://127.0.0.1:8069 --db mfg_demo [--every 30] [--count 20]
"""

import argparse
import time
import urllib.request
import xmlrpc.client


def wait_up(url, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/web/health", timeout=5) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(2)
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8069")
    parser.add_argument("--db", default="mfg_demo")
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between two orders")
    parser.add_argument("--count", type=int, default=20, help="orders in all")
    parser.add_argument("--quantity", type=float, default=2.0)
    args = parser.parse_args()
    if not wait_up(args.url):
        raise SystemExit(f"demo planner: {args.url} did not answer")
    uid = xmlrpc.client.ServerProxy(f"{args.url}/xmlrpc/2/common").authenticate(
        args.db, args.login, args.password, {}
    )
    models = xmlrpc.client.ServerProxy(f"{args.url}/xmlrpc/2/object", allow_none=True)

    def call(model, method, *params, **kw):
        return models.execute_kw(args.db, uid, args.password, model, method, list(params), kw)

    product = call("product.product", "search", [["default_code", "=", "DEMO-PUMP"]], limit=1)
    if not product:
        raise SystemExit("demo planner: no DEMO-PUMP product (run setup/run --sim once to create it)")
    for n in range(args.count):
        mo = call("mrp.production", "create", {"product_id": product[0], "product_qty": args.quantity})
        call("mrp.production", "action_confirm", [mo])
        name = call("mrp.production", "read", [mo], ["name"])[0]["name"]
        print(f"[planner {time.strftime('%H:%M:%S')}] confirmed {name} ({n + 1}/{args.count})", flush=True)
        time.sleep(args.every)


if __name__ == "__main__":
    try:
        main()
    except (ConnectionError, xmlrpc.client.Error, OSError) as exc:
        print(f"demo planner stopped: {exc}")
