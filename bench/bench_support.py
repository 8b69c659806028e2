"""Helpers shared by the benches that run code inside Odoo: the venv's ``odoo`` and a one-shot ``odoo shell``.

Imported by ``mqtt_ingest.py`` (which re-exports ``HUB`` and ``ODOO_BIN`` to the other benches) and
``mes_facts.py`` (their in-process ceilings).
"""

import json
import os
import signal
import subprocess
from pathlib import Path

HUB = Path(
    os.environ.get("MFG_HUB_HOME")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mfg-hub"
)
ODOO_BIN = HUB / "venv" / "bin" / "odoo"


def odoo_shell(conf, db, script, params, logs, name, timeout):
    """Run ``script`` in ``odoo shell`` (stdin) on ``db``; returns the JSON it wrote.

    The script reads ``params`` (JSON) from the file named by ``$BENCH_PARAMS`` and writes its result
    as JSON to the file named by ``$BENCH_OUT``; its files and log are in ``logs/name``."""
    work = logs / name
    work.mkdir(exist_ok=True)
    (work / "params.json").write_text(json.dumps(params))
    (work / "script.py").write_text(script)
    result = work / "out.json"
    env = dict(os.environ, BENCH_PARAMS=str(work / "params.json"), BENCH_OUT=str(result))
    cmd = [str(ODOO_BIN), "shell", "-c", str(conf), "-d", db, "--no-http", f"--logfile={work / 'odoo.log'}"]
    with open(work / "script.py") as stdin, open(work / "stdout.txt", "wb") as out:
        proc = subprocess.Popen(
            cmd, stdin=stdin, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            rc = proc.wait(timeout=timeout)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
    if rc != 0 or not result.exists():
        tail = "\n".join((work / "stdout.txt").read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"odoo shell {name} failed (rc {rc}); logs in {work}:\n{tail}")
    return json.loads(result.read_text())
