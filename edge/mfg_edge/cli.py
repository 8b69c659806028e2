"""``mfg-edge run|status|check --config FILE`` (also ``python -m mfg_edge``).

- ``run``: the agent, until SIGTERM / SIGINT (then it says offline and stops).
- ``status``: the spool (depth, oldest) and the cache (entries, age) read from the SQLite file;
  works while the agent runs (WAL readers do not block it).
- ``check``: the configuration; each error named by its key; exit 2 when there is one.
"""

import argparse
import json
import logging
import os
import signal
import sqlite3
import sys
import threading
import time

from . import __version__
from .config import ConfigError, load


def _status(config):
    if not os.path.exists(config.spool_path):
        return {"spool_path": config.spool_path, "error": "no spool yet (the agent has not run)"}
    conn = sqlite3.connect(f"file:{config.spool_path}?mode=ro", uri=True, timeout=10)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        depth, size, oldest = (
            conn.execute(
                "SELECT count(*), coalesce(sum(length(payload)), 0), min(received_at) FROM spool"
            ).fetchone()
            if "spool" in tables
            else (0, 0, None)
        )
        entries, newest = (
            conn.execute("SELECT count(*), max(received_at) FROM cache").fetchone()
            if "cache" in tables
            else (0, None)
        )
    finally:
        conn.close()
    now = time.time()
    from .agent import iso

    return {
        "agent": config.agent_id,
        "spool_path": config.spool_path,
        "spool": {"depth": depth, "bytes": size, "oldest_at": iso(oldest),
                  "oldest_age_seconds": None if oldest is None else round(now - oldest, 1)},
        "cache": {"entries": entries, "newest_at": iso(newest),
                  "age_seconds": None if newest is None else round(now - newest, 1)},
    }  # fmt: skip


def _run(config):
    from .agent import Agent

    done = threading.Event()

    def stop(_signum, _frame):
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    agent = Agent(config).start()
    logging.getLogger("mfg_edge").info(
        "mfg-edge %s: agent %s, spool %s (%s messages waiting), topic root %s",
        __version__, config.agent_id, config.spool_path, agent.spool.depth, config.topic_root,
    )  # fmt: skip
    done.wait()
    agent.stop()
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="mfg-edge", description="Plant edge agent of the manufacturing hub")
    parser.add_argument("--version", action="version", version=f"mfg-edge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("run", "run the agent"), ("status", "spool and cache of the agent"),
                       ("check", "check the configuration")):  # fmt: skip
        p = sub.add_parser(name, help=text)
        p.add_argument("--config", "-c", required=True, help="the agent's TOML file")
        if name == "run":
            p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    try:
        config = load(args.config)
    except ConfigError as e:
        for error in e.errors:
            print(f"{args.config}: {error}", file=sys.stderr)
        return 2
    if args.command == "check":
        print(f"{args.config}: OK (agent {config.agent_id}, topic root {config.topic_root})")
        return 0
    if args.command == "status":
        print(json.dumps(_status(config), indent=2))
        return 0
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return _run(config)


if __name__ == "__main__":
    sys.exit(main())
