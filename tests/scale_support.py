"""Several Odoo hosts on one PostgreSQL, each in its own network namespace (``netns_support``).

``Cluster`` starts, on a ``NetLab``:

- in the hub namespace, a private Mosquitto on ``<hub address>:1883``;
- in the root namespace, socat forwarding ``<root address>:5432`` to PostgreSQL on 127.0.0.1:5432,
  and the queue_job load balancer on ``<root address>:8069`` (``RoundRobinProxy`` over every host's
  ``:8069``);
- in each host's namespace, an Odoo server (``ip netns exec <ns> odoo -c <host conf>``) with the
  queue_job runner inside (``server_wide_modules`` of the base configuration), and, on demand,
  ``odoo mfg_mqtt`` listener processes.

Why a load balancer: queue_job elects ONE runner per database (the first that takes its
PostgreSQL advisory lock; the others retry every 5 s), and that runner starts every job with an
HTTP request to ``[queue_job] host:port``. Pointed at its own host, all drains would run there;
pointed at a balancer over every host (what queue_job's documentation calls ``host =
load-balancer``), the drains of every host's listener run on all hosts, and a standby runner takes
over when the master's host dies.

Every PostgreSQL session says whose it is: ``ODOO_PGAPPNAME`` is ``so-<role>-odoo-<pid>`` for a
host's server (its runner, HTTP threads, crons) and ``so-<role>-listener-<pid>`` for its listeners,
so that ``pg_stat_activity`` and ``pg_locks`` show which host holds what.
"""

import configparser
import os
import re
import signal
import subprocess
import time
import uuid
import xmlrpc.client
from pathlib import Path

import psycopg2
import sql_support
from mqtt_support import Broker, ListenerProcess
from netns_support import NetLab, RoundRobinProxy, TcpForwarder, pid_alive
from odoo_process import OdooServer

ODOO_PORT = 8069  # every host's own port space: the same port on each
MQTT_PORT = 1883
PG_PORT = 5432
QUEUE_JOB_MASTER_LOCK = 2293787760715711918  # queue_job.jobrunner.runner.PG_ADVISORY_LOCK_ID
CLAIM_LOCK_CLASS = 0x6D6667  # mfg_integration_base.pipeline.claim.CLAIM_LOCK_CLASS


def app_name(role, kind):
    return f"so-{role}-{kind}-{{pid}}"


def write_host_conf(
    base_conf,
    path,
    db,
    db_host,
    db_port,
    job_host,
    job_port,
    channels,
    partitions,
    workers,
    cron_threads=1,
    db_maxconn=None,
):
    """The base configuration for a host: its database through the forwarder, the queue_job
    runner's requests through the load balancer, ``channels`` concurrent jobs in the whole
    cluster (the elected runner dispatches them all) and as many drain partitions."""
    cp = configparser.RawConfigParser()
    cp.read(base_conf)
    opts = cp["options"]
    opts["db_host"] = db_host
    opts["db_port"] = str(db_port)
    opts["db_name"] = db
    opts["dbfilter"] = f"^{db}$"
    opts["http_port"] = str(ODOO_PORT)
    opts["http_interface"] = "0.0.0.0"  # of the host's namespace: its loopback and LAN address
    opts["workers"] = str(workers)
    opts["max_cron_threads"] = str(cron_threads)
    if db_maxconn:
        opts["db_maxconn"] = str(db_maxconn)  # per process
    opts["gevent_port"] = str(ODOO_PORT + 3)
    opts.pop("logfile", None)
    if not cp.has_section("queue_job"):
        cp.add_section("queue_job")
    cp["queue_job"]["channels"] = f"root:{channels}"
    cp["queue_job"]["host"] = job_host
    cp["queue_job"]["port"] = str(job_port)
    if not cp.has_section("mfg_integration"):
        cp.add_section("mfg_integration")
    cp["mfg_integration"]["drain_partitions"] = str(partitions)
    with open(path, "w") as out:
        out.write("; written by tests/scale_support.py for one host of a scale-out run\n")
        cp.write(out)
    return path


def conf_value(conf, section, key, default=None):
    cp = configparser.RawConfigParser()
    cp.read(conf)
    return cp.get(section, key, fallback=default)


# ---------------------------------------------------------------------------------------------- database
def _pg_args(conf):
    return [
        "-h",
        conf_value(conf, "options", "db_host", "127.0.0.1"),
        "-p",
        conf_value(conf, "options", "db_port", "5432"),
        "-U",
        conf_value(conf, "options", "db_user", "odoo"),
    ]


def dsn(conf, db):
    """libpq connection string of ``db`` on the server of configuration ``conf`` (root namespace)."""
    return (
        f"host={conf_value(conf, 'options', 'db_host', '127.0.0.1')} "
        f"port={conf_value(conf, 'options', 'db_port', '5432')} "
        f"user={conf_value(conf, 'options', 'db_user', 'odoo')} dbname={db}"
    )


def admin_sql(conf, query, params=None):
    conn = psycopg2.connect(dsn(conf, "postgres"))
    try:
        conn.autocommit = True
        with conn.cursor() as cr:
            cr.execute(query, params)
            return cr.fetchall() if cr.description else None
    finally:
        conn.close()


def copy_database(conf, src, dst, timeout=300):
    """``dst``: a copy of ``src`` (pg_dump | pg_restore, while ``src`` stays in use) and of its
    filestore. Copies of the suite's database keep the scale-out hosts away from the rest of the
    suite (its server's queue_job runner would otherwise be the elected one for the database)."""
    admin_sql(conf, f'CREATE DATABASE "{dst}"')
    dump = subprocess.Popen(
        ["pg_dump", *_pg_args(conf), "-Fc", "-Z0", src], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    restore = subprocess.run(
        ["pg_restore", *_pg_args(conf), "--no-owner", "-d", dst],
        stdin=dump.stdout,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    dump.stdout.close()
    dump_err = dump.stderr.read().decode(errors="replace")
    dump.wait(timeout=60)
    if dump.returncode != 0 or restore.returncode != 0:
        raise RuntimeError(
            f"copying database {src} to {dst} failed: pg_dump {dump.returncode} {dump_err[-500:]}; "
            f"pg_restore {restore.returncode} {restore.stderr.decode(errors='replace')[-500:]}"
        )
    data_dir = conf_value(conf, "options", "data_dir")
    if data_dir and (Path(data_dir) / "filestore" / src).is_dir():
        subprocess.run(
            ["cp", "-a", str(Path(data_dir) / "filestore" / src), str(Path(data_dir) / "filestore" / dst)],
            check=True,
            timeout=timeout,
        )


COPY_SUFFIX = re.compile(r"_so(\d+)$")


def copy_name(src, pid=None):
    """The name of this process's copy of ``src`` (the pid tells whose it is)."""
    return f"{src[:40]}_so{os.getpid() if pid is None else pid}"


def sweep_stale_copies(conf):
    """Drop the copies made by scale-out runs whose process is gone (killed outright)."""
    dropped = []
    for (name,) in admin_sql(conf, "SELECT datname FROM pg_database WHERE datname ~ '^mfg.*_so[0-9]+$'"):
        match = COPY_SUFFIX.search(name)
        if match and not pid_alive(int(match.group(1))):
            drop_database(conf, name)
            dropped.append(name)
    return dropped


def drop_database(conf, name, attempts=3):
    """Drop ``name`` and its filestore; PostgreSQL briefly away (restarted by another test) is
    waited for a little; a copy that still could not be dropped goes with the next run's sweep."""
    for attempt in range(attempts):
        try:
            admin_sql(conf, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            break
        except psycopg2.OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(2 + 3 * attempt)
    data_dir = conf_value(conf, "options", "data_dir")
    if data_dir:
        subprocess.run(["rm", "-rf", str(Path(data_dir) / "filestore" / name)], check=False)


class Sql(sql_support.Sql):
    """The shared ``sql_support.Sql`` on database ``db`` of configuration ``conf`` (from the root namespace)."""

    def __init__(self, conf, db):
        super().__init__(dsn(conf, db))


# ---------------------------------------------------------------------------------------------- who holds what
def runner_master(sql):
    """application_name of the session holding queue_job's runner lock (the elected runner)."""
    rows = sql(
        """SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
              AND l.classid::bigint = %s AND l.objid::bigint = %s
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())""",
        (QUEUE_JOB_MASTER_LOCK >> 32, QUEUE_JOB_MASTER_LOCK & 0xFFFFFFFF),
    )
    return rows[0][0] if rows else None


def sessions_by_host(sql):
    """{role: number of PostgreSQL sessions} of the cluster's processes in this database."""
    rows = sql(
        """SELECT split_part(application_name, '-', 2), count(*) FROM pg_stat_activity
            WHERE datname = current_database() AND application_name LIKE 'so-%%' GROUP BY 1"""
    )
    return dict(rows)


def _claims_sql(select, group=""):
    return f"""SELECT {select}
              FROM mfg_message m
              JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.classid = {CLAIM_LOCK_CLASS}
                             AND l.objsubid = 2 AND l.objid::bigint = m.claim_lock
                             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE m.backend_id = %s AND m.state = 'processing' {group}"""


def claims_by_host(sql, backend_id):
    """{role: messages of the backend in 'processing' under a claim lock that role's session holds}."""
    return dict(
        sql(_claims_sql("split_part(a.application_name, '-', 2), count(m.id)", "GROUP BY 1"), (backend_id,))
    )


def claimed_ids(sql, backend_id, role, within=None):
    """Ids of the backend's messages in 'processing' under a claim lock held by ``role``'s session
    (``within``: claimed at most that many seconds ago)."""
    fresh = "AND m.claimed_at > (now() AT TIME ZONE 'UTC') - make_interval(secs => %s)" if within else ""
    rows = sql(
        _claims_sql("m.id", f"AND a.application_name LIKE %s {fresh}"),
        (backend_id, f"so-{role}-%", *([within] if within else [])),
    )
    return [r[0] for r in rows]


# ---------------------------------------------------------------------------------------------- the cluster
class Host:
    def __init__(self, cluster, role, conf):
        self.cluster = cluster
        self.role = role
        self.conf = str(conf)
        self.addr = cluster.lab.addr[role]
        self.server = OdooServer(
            cluster.odoo_bin,
            self.conf,
            cluster.db,
            cluster.log_dir,
            extra_args=[],
            host=self.addr,
            port=ODOO_PORT,
            prefix=cluster.lab.prefix(role),
            env={"ODOO_PGAPPNAME": app_name(role, "odoo")},
            die_with_parent=True,
            name=f"host-{role}",
        )
        self.listeners = []

    @property
    def settings(self):
        return {"conf": self.conf, "db": self.cluster.db, "odoo_bin": self.cluster.odoo_bin}

    def listener(self, name, extra=()):
        """An ``odoo mfg_mqtt --listener-name <name>`` process of this host (not started)."""
        lp = ListenerProcess(
            self.settings,
            name,
            self.cluster.log_dir,
            extra=extra,
            prefix=self.cluster.lab.prefix(self.role),
            env={"ODOO_PGAPPNAME": app_name(self.role, "listener")},
        )
        self.listeners.append(lp)
        return lp

    def kill(self):
        """kill -9 of the host: its server (process group) and its listeners."""
        self.server.stop(sig=signal.SIGKILL)
        for lp in self.listeners:
            lp.kill()

    @property
    def alive(self):
        return self.server.proc is not None and self.server.proc.poll() is None


class Cluster:
    """``roles`` Odoo hosts on database ``db`` (which must exist), each in its namespace."""

    def __init__(
        self,
        base_conf,
        db,
        odoo_bin,
        work_dir,
        roles=("a", "b"),
        workers=0,
        channels=4,
        partitions=4,
        broker_inflight=1000,
        cron_threads=1,
        db_maxconn=None,
    ):
        self.base_conf = str(base_conf)
        self.db = db
        self.odoo_bin = str(odoo_bin)
        self.work_dir = Path(work_dir)
        self.log_dir = self.work_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.roles = list(roles)
        self.workers = workers
        self.channels = channels
        self.partitions = partitions
        self.broker_inflight = broker_inflight
        self.cron_threads = cron_threads
        self.db_maxconn = db_maxconn
        self.lab = NetLab(self.roles)
        self.broker = None
        self.balancer = None
        self.hosts = {}

    @property
    def broker_addr(self):
        return self.lab.addr[self.lab.hub]

    def start(self, timeout=240):
        try:
            self.lab.start()
            lab = self.lab
            TcpForwarder(
                lab, (lab.root_addr, PG_PORT), ("127.0.0.1", 5432), self.log_dir / "socat-postgresql.log"
            ).start()
            self.balancer = RoundRobinProxy(
                (lab.root_addr, ODOO_PORT), [(lab.addr[r], ODOO_PORT) for r in self.roles]
            ).start()
            self.broker = Broker(
                self.work_dir / "broker",
                max_queued_messages=0,
                max_inflight_messages=self.broker_inflight,
                host=self.broker_addr,
                port=MQTT_PORT,
                prefix=lab.prefix(lab.hub),
            ).start()
            for role in self.roles:
                conf = write_host_conf(
                    self.base_conf,
                    self.work_dir / f"odoo-{role}.conf",
                    self.db,
                    lab.root_addr,
                    PG_PORT,
                    lab.root_addr,
                    ODOO_PORT,
                    self.channels,
                    self.partitions,
                    self.workers,
                    self.cron_threads,
                    self.db_maxconn,
                )
                self.hosts[role] = Host(self, role, conf)
            # launched from this (the main) thread: they die with it (PR_SET_PDEATHSIG follows
            # the thread that forked)
            for host in self.hosts.values():
                host.server.launch()
            for host in self.hosts.values():
                host.server.wait_ready(timeout)
            self.wait_runner(timeout=60)
        except BaseException:
            self.close()
            raise
        return self

    def wait_runner(self, timeout=60):
        """Until one host's queue_job runner is the elected one for the database."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any("queue job runner ready for db" in h.server.log_text() for h in self.hosts.values()):
                return True
            time.sleep(0.5)
        raise RuntimeError(
            "no queue_job runner got ready: " + " | ".join(h.server.log_tail(10) for h in self.hosts.values())
        )

    def close(self):
        errors = []
        for host in self.hosts.values():
            for lp in host.listeners:
                try:
                    lp.kill()
                except Exception as exc:
                    errors.append(repr(exc))
            try:
                host.server.stop(sig=signal.SIGKILL)
            except Exception as exc:
                errors.append(repr(exc))
        if self.broker is not None:
            self.broker.stop(sig=signal.SIGKILL)
        if self.balancer is not None:
            self.balancer.close()
        self.lab.close()  # raises if a namespace is left behind
        if errors:
            raise RuntimeError(f"stopping the cluster: {errors}")

    def host_of_pid(self):
        """{server pid: role} (in the threaded server every job runs in the server's process)."""
        return {h.server.proc.pid: role for role, h in self.hosts.items() if h.server.proc}


class Rpc:
    """XML-RPC calls as admin to host ``host`` of the cluster."""

    def __init__(self, host, db):
        base = host.server.base_url
        self.db = db
        self.uid = xmlrpc.client.ServerProxy(f"{base}/xmlrpc/2/common").authenticate(db, "admin", "admin", {})
        assert self.uid, "admin/admin cannot log in to the copy of the test database"
        self.proxy = xmlrpc.client.ServerProxy(f"{base}/xmlrpc/2/object", allow_none=True)

    def __call__(self, model, method, *args, **kwargs):
        return self.proxy.execute_kw(self.db, self.uid, "admin", model, method, list(args), kwargs)


def make_plant(cluster, label="plant"):
    """A backend on the lab's broker, in a shared group, with the test.order_report flow (for the
    scale-out test and bench/scale_out.py)."""
    rpc = Rpc(cluster.hosts["a"], cluster.db)
    suffix = uuid.uuid4().hex[:8]
    type_id = rpc("mfg.exchange.type", "search", [("code", "=", "test.order_report")])[0]
    product = f"SO-{suffix}"
    rpc("product.product", "create", {"name": f"Scale-out part {suffix}", "default_code": product})
    backend_id = rpc(
        "mfg.backend",
        "create",
        {
            "name": f"Scale-out {label} {suffix}",
            "code": f"so-{suffix}",
            "plant_code": f"S{suffix}",
            "system_kind": "mes",
            "mqtt_enabled": True,
            "mqtt_host": cluster.broker_addr,
            "mqtt_port": cluster.broker.port,
            "mqtt_shared_group": f"g{suffix}",
            "flow_ids": [(0, 0, {"exchange_type_id": type_id})],
        },
    )
    inbound = rpc("mfg.backend", "read", [backend_id], ["mqtt_inbound_topic"])[0]["mqtt_inbound_topic"]
    return {
        "backend_id": backend_id,
        "suffix": suffix,
        "product": product,
        "topic": f"mfg/S{suffix}/mes/test.order_report",
        "subscribed": f"subscribed to {inbound}",
    }
