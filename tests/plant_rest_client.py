"""A plant system that can only POST, run inside the plant's network namespace by
tests/test_edge_agent_e2e.py (``ip netns exec <ns> python plant_rest_client.py ...``).

    post --url U --contract C --prefix S --product P --count N --rate R --orders K --status FILE
        posts N facts (message_id S-i, order WO-S-(i mod K), step i) to U/v1/facts/C at R per
        second, each one until the edge agent accepts it (202, or 200: already spooled); while the
        agent is unreachable (killed, restarting) or its spool is full it tries the same fact again
        every 50 ms, as a plant system with a retry loop does. FILE (JSON, replaced atomically):
        how many were accepted, retries, answers 200; exits 0 once all are accepted.
    get --url U
        one GET; prints the JSON answer (exit 1 when the agent does not answer).
"""

import argparse
import http.client
import json
import os
import sys
import time
from urllib.parse import urlsplit


def write_status(path, data):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as out:
        json.dump(data, out)
    os.replace(tmp, path)


def post(args):
    url = urlsplit(args.url)
    conn = None
    status = {"posted": 0, "retries": 0, "answered_200": 0, "refused": {}}
    start = time.monotonic()
    for i in range(args.count):
        delay = start + i / args.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        body = json.dumps(
            {
                "message_id": f"{args.prefix}-{i}",
                "order": f"WO-{args.prefix}-{i % args.orders}",
                "product": args.product,
                "quantity": 1,
                "step": str(i),
            }
        )
        while True:
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
                conn.request("POST", f"/v1/facts/{args.contract}", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                if response.status in (200, 202):
                    status["answered_200"] += response.status == 200
                    break
                status["refused"][str(response.status)] = status["refused"].get(str(response.status), 0) + 1
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None
            status["retries"] += 1
            time.sleep(0.05)
        status["posted"] = i + 1
        if i % 10 == 9 or i == args.count - 1:
            write_status(args.status, status)
    write_status(args.status, {**status, "finished": True})


def get(args):
    url = urlsplit(args.url)
    try:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
        conn.request("GET", url.path + (f"?{url.query}" if url.query else ""))
        response = conn.getresponse()
        print(response.read().decode())
    except (OSError, http.client.HTTPException) as e:
        print(json.dumps({"error": str(e)}))
        sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("post")
    for name in ("--url", "--contract", "--prefix", "--product", "--status"):
        p.add_argument(name, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--orders", type=int, required=True)
    g = sub.add_parser("get")
    g.add_argument("--url", required=True)
    args = parser.parse_args()
    (post if args.mode == "post" else get)(args)


if __name__ == "__main__":
    main()
