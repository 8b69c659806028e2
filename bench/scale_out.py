"""Scale-out benchmark: one Odoo host vs two, on one PostgreSQL, in the same run.

    ~/.cache/mfg-hub/venv/bin/python bench/scale_out.py [--messages N] [--keys K] [--repeat R] [--keep-db]

Needs root (Linux network namespaces, see tests/netns_support.py); everything stays on this machine.

1. Writes an Odoo config (bench/mqtt_ingest.py's ``write_conf``: test addons, prefork ``workers = 2``),
   creates the throwaway database ``mfg_bench_so_<pid>`` (``odoo -i test_mfg_integration``).
2. For each setup, a fresh ``tests/scale_support.Cluster`` (namespaces, Mosquitto in its own
   namespace, socat to PostgreSQL, the queue_job load balancer) and a fresh backend:
   - 1 host: one Odoo (prefork, 2 workers, ``channels = root:2``, ``drain_partitions = 2``, 1 cron
     thread) and one ``odoo mfg_mqtt`` listener;
   - 2 hosts: two such Odoo hosts (``channels = root:4``, ``drain_partitions = 4``: the elected runner
     dispatches to the 4 workers of both hosts through the balancer) and one listener per host in an
     MQTT v5 shared group.
   N ``test.order_report`` messages over K ordering keys are published as fast as paho goes (QoS 1):
   *received-and-committed* = first publish -> N rows in mfg_message; *processed to done* = first
   publish -> N rows ``done``.
3. CPU seconds used during each run, per component (from /proc): the listeners, the Odoo hosts
   (server, workers, runner), the PostgreSQL backends of each (told apart by ``application_name``,
   ``ODOO_PGAPPNAME``), Mosquitto, the socat forwarder; and the whole machine's busy CPU. Per message,
   they give the capacity model of the README ("Deployment at scale").
4. Prints the tables; drops the database (unless ``--keep-db``), removes every namespace.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from mqtt_ingest import (  # noqa: E402
    ODOO_BIN,
    Budget,
    Poller,
    Sql,
    drop_db,
    interrupted,
    log,
    run_bounded,
    write_conf,
)
from mqtt_support import Publisher  # noqa: E402
from netns_support import netns_unavailable, our_namespaces  # noqa: E402
from odoo_process import free_port  # noqa: E402
from scale_support import Cluster, make_plant  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------- CPU
def _stat(pid):
    """(pgid, own + reaped children's CPU seconds) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text.rsplit(")", 1)[1].split()
    # fields[0] is state (field 3); utime..cstime are fields 14..17; pgid is field 5
    return int(fields[2]), sum(int(x) for x in fields[11:15]) / TICK


def group_cpu(pgid):
    """CPU seconds of every process of process group ``pgid`` (children they reaped included)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st and st[0] == pgid:
                total += st[1]
    return total


def pid_cpu(pid):
    st = _stat(pid)
    return st[1] if st else 0.0


def machine_busy():
    """Busy CPU seconds of the whole machine so far (all cores), from /proc/stat."""
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / TICK


class CpuMeter:
    """CPU seconds per (component, host) of a cluster between ``start()`` and ``stop()``; the host is
    None for the shared parts (broker, forwarder) and for the whole machine."""

    def __init__(self, cluster, listeners, sql):
        self.cluster, self.listeners, self.sql = cluster, listeners, sql

    def _sample(self):
        cl = self.cluster
        sample = {("mosquitto", None): pid_cpu(cl.broker.proc.pid), ("machine", None): machine_busy()}
        sample[("forwarder (socat)", None)] = sum(group_cpu(p.pid) for p in cl.lab.processes)
        for role, host in cl.hosts.items():
            sample[("odoo", role)] = group_cpu(host.server.proc.pid)
            sample[("listener", role)] = sum(
                group_cpu(lp.proc.pid) for lp in self.listeners if lp in host.listeners
            )
        backends = {}
        rows = self.sql(
            "SELECT pid, application_name FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name LIKE 'so-%%'"
        )
        for pid, app in rows:
            _so, role, kind = app.split("-")[:3]
            backends[pid] = ((f"postgres ({kind})", role), pid_cpu(pid))
        return sample, backends

    def start(self):
        self.first = self._sample()
        return self

    def stop(self):
        end, backends_end = self._sample()
        start, backends_start = self.first
        used = {k: end[k] - start.get(k, 0.0) for k in end}
        for pid, (key, cpu) in backends_end.items():
            before = backends_start[pid][1] if pid in backends_start else 0.0
            used[key] = used.get(key, 0.0) + cpu - before
        return used


def processed_per_host(sql, cluster, backend_id):
    """{role: messages whose drain job ran in a worker of that host} (prefork: a worker's process
    group is its server's), read while the workers are alive."""
    roles = {h.server.proc.pid: role for role, h in cluster.hosts.items()}
    rows = sql(
        """SELECT j.worker_pid, count(m.id) FROM mfg_message m JOIN queue_job j ON j.uuid = m.job_uuid
            WHERE m.backend_id = %s GROUP BY 1""",
        (backend_id,),
    )
    out = {}
    for pid, n in rows:
        st = _stat(pid) if pid else None
        role = roles.get(st[0], "?") if st else "?"
        out[role] = out.get(role, 0) + n
    return out


# ---------------------------------------------------------------------------------------------- runs
def one_run(args, conf, db, work, n_hosts, budget):
    roles = ("a", "b")[:n_hosts]
    cluster = Cluster(
        conf,
        db,
        ODOO_BIN,
        work / f"cluster-{n_hosts}-{uuid.uuid4().hex[:4]}",
        roles=roles,
        workers=args.workers,
        channels=args.workers * n_hosts,
        partitions=args.workers * n_hosts,
        broker_inflight=args.broker_inflight,
    )
    sql = Sql(db)
    result = {"hosts": n_hosts, "n": args.messages}
    try:
        log(f"{n_hosts} host(s): starting the cluster")
        cluster.start(timeout=budget.cap(240))
        plant = make_plant(cluster, "bench")
        listeners = [cluster.hosts[r].listener(f"{r}{plant['suffix']}") for r in roles]
        for lp in listeners:
            lp.start()
        for lp in listeners:
            lp.wait_log(plant["subscribed"], timeout=budget.cap(120))
        payloads = [
            json.dumps(
                {
                    "message_id": f"{plant['suffix']}-{i}",
                    "order": f"SO-{plant['suffix']}-{i % args.keys}",
                    "product": plant["product"],
                    "quantity": 1,
                    "step": str(i),
                }
            )
            for i in range(args.messages)
        ]
        poller = Poller(
            db, plant["backend_id"], args.messages, True, budget.cap(180), budget.cap(args.done_timeout)
        )
        poller.start()
        pub = Publisher(cluster.broker.port, f"bench-{plant['suffix']}", host=cluster.broker_addr)
        meter = CpuMeter(cluster, listeners, sql).start()
        t0 = poller.t0 = time.monotonic()
        for body in payloads:
            pub.publish(plant["topic"], body)
        acked = pub.wait_acked(args.messages, timeout=budget.cap(120))
        result["publish_rate"] = args.messages / (time.monotonic() - t0) if acked else None
        poller.finished.wait(budget.cap(args.done_timeout + 30))
        result["cpu"] = meter.stop()
        result["processed"] = processed_per_host(sql, cluster, plant["backend_id"])
        # Odoo keeps its pooled connections open: what is open now is about the peak of the run
        result["sessions"] = {
            (role, kind): n
            for role, kind, n in sql(
                "SELECT split_part(application_name, '-', 2), split_part(application_name, '-', 3), count(*) "
                "FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'so-%%' "
                "GROUP BY 1, 2"
            )
        }
        pub.close()
        result["received_s"] = poller.t_received - t0 if poller.t_received else None
        result["done_s"] = poller.t_done - t0 if poller.t_done else None
        result["last"] = poller.last
        for lp in listeners:
            lp.stop()
        result["stored"] = [
            int(ln.split("stored ")[1].split()[0])
            for lp in listeners
            for ln in lp.log.read_text(errors="replace").splitlines()
            if "mfg mqtt: stopping (stored" in ln
        ]
        jobs = sql(
            """SELECT count(*), count(DISTINCT worker_pid) FROM queue_job
                WHERE uuid IN (SELECT DISTINCT job_uuid FROM mfg_message WHERE backend_id = %s)""",
            (plant["backend_id"],),
        )[0]
        result["jobs"], result["job_workers"] = jobs
        result["balancer"] = {k[0]: v for k, v in cluster.balancer.counts.items()}
        log(
            f"  received {result['received_s']} s, done {result['done_s']} s, stored per listener "
            f"{result['stored']}, drain jobs {jobs[0]} on {jobs[1]} worker(s), balancer {result['balancer']}"
        )
    finally:
        sql.close()
        cluster.close()
    return result


# ---------------------------------------------------------------------------------------------- report
def fmt(value, digits=0):
    return "—" if value is None else f"{value:,.{digits}f}"


def table(header, rows):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def setup_text(r, workers):
    if r["hosts"] == 1:
        return f"1 host: 1 listener, {workers} workers, root:{workers}"
    return f"{r['hosts']} hosts: {r['hosts']} listeners ($share), {workers}+{workers} workers, root:{workers * r['hosts']}"


def render(results, workers):
    rows = []
    for r in results:
        rows.append(
            (
                setup_text(r, workers),
                f"{r['n']:,}",
                fmt(r["received_s"], 1),
                fmt(r["n"] / r["received_s"] if r["received_s"] else None),
                fmt(r["done_s"], 1),
                fmt(r["n"] / r["done_s"] if r["done_s"] else None),
                fmt(r.get("publish_rate")),
                "+".join(str(s) for s in r["stored"]),
                f"{r['jobs']} on {r['job_workers']}",
            )
        )
    speed = table(
        (
            "setup",
            "msgs",
            "received (s)",
            "received (/s)",
            "done (s)",
            "done (/s)",
            "publish (/s)",
            "stored per listener",
            "drain jobs on workers",
        ),
        rows,
    )
    kinds = ["listener", "postgres (listener)", "mosquitto", "odoo", "postgres (odoo)", "forwarder (socat)"]
    cpu_rows = []
    for r in results:
        cpu, n = kind_totals(r["cpu"]), r["n"]
        ours = sum(cpu.get(k, 0.0) for k in kinds)
        cpu_rows.append(
            (
                setup_text(r, workers),
                *(fmt(1000 * cpu.get(k, 0.0) / n, 2) for k in kinds),
                fmt(1000 * ours / n, 2),
                f"{ours:.1f} / {cpu['machine']:.1f}",
            )
        )
    cpu_table = table(
        ("setup (CPU ms per message)", *kinds, "all of these", "their CPU s / machine busy CPU s"), cpu_rows
    )
    host_rows = []
    for r in results:
        for role in ("a", "b")[: r["hosts"]]:
            cpu = sum(v for (kind, host), v in r["cpu"].items() if host == role)
            drains = sum(v for (kind, host), v in r["cpu"].items() if host == role and "listener" not in kind)
            done = r["processed"].get(role, 0)
            sessions = r["sessions"]
            host_rows.append(
                (
                    setup_text(r, workers),
                    role,
                    f"{done:,}",
                    fmt(done / r["done_s"] if r["done_s"] else None),
                    f"{cpu:.1f}",
                    fmt(1000 * drains / done, 2) if done else "—",
                    f"{sessions.get((role, 'odoo'), 0)} + {sessions.get((role, 'listener'), 0)}",
                )
            )
    host_table = table(
        (
            "setup",
            "host",
            "msgs processed",
            "processed (/s)",
            "host CPU s (Odoo + listener + their PostgreSQL)",
            "drain CPU ms per processed msg (Odoo + its PostgreSQL)",
            "PostgreSQL sessions (Odoo + listener)",
        ),
        host_rows,
    )
    return speed, cpu_table, host_table


def kind_totals(cpu):
    out = {}
    for (kind, _host), value in cpu.items():
        out[kind] = out.get(kind, 0.0) + value
    return out


def capacity(results):
    """msg/s per core from the CPU per message (mean over the runs)."""
    ingest, processing = [], []
    for r in results:
        cpu, n = kind_totals(r["cpu"]), r["n"]
        ingest.append(
            (cpu.get("listener", 0) + cpu.get("postgres (listener)", 0) + cpu.get("mosquitto", 0)) / n
        )
        processing.append((cpu.get("odoo", 0) + cpu.get("postgres (odoo)", 0)) / n)
    mean_i, mean_p = sum(ingest) / len(ingest), sum(processing) / len(processing)
    lines = [
        f"capacity model (mean of the runs): MQTT ingest {1000 * mean_i:.2f} CPU ms/msg = {1 / mean_i:,.0f} msg/s "
        f"per core (listener + its PostgreSQL + broker); processing test.order_report to done "
        f"{1000 * mean_p:.2f} CPU ms/msg = {1 / mean_p:,.0f} msg/s per core (Odoo drains + their PostgreSQL); "
        f"both: {1 / (mean_i + mean_p):,.0f} msg/s per core"
    ]
    for hosts in (1, 2):
        runs = [r for r in results if r["hosts"] == hosts and r["done_s"]]
        if runs:
            rate = sum(r["n"] / r["done_s"] for r in runs) / len(runs)
            lines.append(
                f"processed to done with {hosts} host(s): {rate:,.0f} msg/s (mean of {len(runs)} run(s))"
            )
    one = [r["n"] / r["done_s"] for r in results if r["hosts"] == 1 and r["done_s"]]
    two = [r["n"] / r["done_s"] for r in results if r["hosts"] == 2 and r["done_s"]]
    if one and two:
        ratio = (sum(two) / len(two)) / (sum(one) / len(one))
        verdict = "met" if ratio >= 1.0 else "NOT met"
        lines.append(f"target: two hosts not slower than one on this machine: {ratio:.2f}x, {verdict}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10000, help="messages per run (default 10000)")
    parser.add_argument("--keys", type=int, default=500, help="ordering keys (orders), default 500")
    parser.add_argument("--workers", type=int, default=2, help="Odoo workers per host (default 2)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run 1 host / 2 hosts this many times (default 1)"
    )
    parser.add_argument("--broker-inflight", type=int, default=1000, help="Mosquitto max_inflight_messages")
    parser.add_argument("--done-timeout", type=float, default=240, help="cap of each wait for 'done' (s)")
    parser.add_argument("--budget", type=float, default=1200, help="whole-run time budget (default 1200 s)")
    parser.add_argument("--keep-db", action="store_true", help="keep the database and the logs")
    parser.add_argument(
        "--db", help="use this existing database (test_mfg_integration installed) instead of a new one; kept"
    )
    args = parser.parse_args()
    reason = netns_unavailable()
    if reason:
        raise SystemExit(f"bench/scale_out.py runs its hosts in Linux network namespaces: {reason}")
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupted)
    started = time.monotonic()
    budget = Budget(args.budget)
    db = args.db or f"mfg_bench_so_{os.getpid()}"
    work = Path(tempfile.mkdtemp(prefix=f"{db}_"))
    conf = work / "odoo.conf"
    failed = True
    try:
        write_conf(conf, db, free_port(), free_port())
        if not args.db:
            log(f"config {conf}; creating database {db} (odoo -i test_mfg_integration)")
            install_log = work / "install.log"
            t = time.monotonic()
            rc = run_bounded(
                [str(ODOO_BIN), "-c", str(conf), "-d", db, "-i", "test_mfg_integration", "--stop-after-init",
                 f"--logfile={install_log}"],
                budget.cap(420, reserve=300), install_log,
            )  # fmt: skip
            if rc != 0:
                raise RuntimeError(f"install failed (rc {rc}): see {install_log}")
            log(f"database ready in {time.monotonic() - t:.0f}s")
        load_before = os.getloadavg()
        results = []
        for _ in range(args.repeat):
            for n_hosts in (1, 2):
                results.append(one_run(args, conf, db, work, n_hosts, budget))
        speed, cpu, hosts = render(results, args.workers)
        facts = (
            f"{datetime.date.today().isoformat()}, {platform.node()}, nproc {os.cpu_count()}, "
            f"{args.messages:,} msgs over {args.keys} keys per run, load average {load_before[0]:.1f} before / "
            f"{os.getloadavg()[0]:.1f} after"
        )
        print(f"\nScale-out benchmark — {facts}\n")
        print(speed)
        print()
        print(cpu)
        print()
        print(hosts)
        print()
        print(capacity(results))
        print(
            "\nreceived = first publish -> all rows committed in mfg_message; done = first publish -> all rows "
            "'done'; CPU from /proc (utime+stime of the processes and of the PostgreSQL backends of each kind, "
            "told apart by application_name); machine busy = all CPU used on the machine meanwhile (other "
            "people's work included)."
        )
        print(f"whole run {time.monotonic() - started:.0f}s")
        failed = False
    finally:
        if args.keep_db or args.db:
            log(f"kept database {db} and {work}")
        else:
            drop_db(db)
            if not failed:
                shutil.rmtree(work, ignore_errors=True)
            else:
                log(f"logs kept in {work}")
        left = our_namespaces()
        if left:
            log(f"namespaces left behind: {left}")


if __name__ == "__main__":
    main()
