"""The configuration: every error named by its key; the CLI's ``check`` and ``status``."""

import json
import subprocess
import sys

import pytest
from edge_support import EDGE, write_config
from mfg_edge.config import ConfigError, load, parse


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "mfg_edge", *args], capture_output=True, text=True,
                          cwd=EDGE, timeout=60, check=False)  # fmt: skip


def test_a_minimal_config_has_the_documented_defaults():
    config = parse({"agent_id": "pc1", "topic_root": "mfg/P1/MES", "spool_path": "/tmp/x.sqlite"})
    assert config.status_topic == "mfg/P1/MES/edge/pc1/status"
    assert config.odoo_topic == "mfg/P1/MES/odoo/#"
    assert config.bridge_state_topic == "mfg/P1/MES/bridge/state"
    assert (config.broker.host, config.broker.port, config.rest.bind) == ("127.0.0.1", 1883, "127.0.0.1")
    assert config.heartbeat_seconds == 30 and config.dropfolder is None


def test_every_bad_key_is_named_with_its_value():
    with pytest.raises(ConfigError) as caught:
        parse({
            "agent_id": "pc 1", "topic_root": "mfg/+/MES", "spool_path": "/tmp/x", "max_spool_messages": 0,
            "heartbeat": 3, "broker": {"port": 70000, "tls": "yes"}, "rest": {"max_depth": 0},
            "dropfolder": {"path": "relative/drop", "complete": "soon"}, "link": {"central": "nohost"},
            "opcua": {"endpoint": "opc.tcp://plc:4840"},
        })  # fmt: skip
    errors = "\n".join(caught.value.errors)
    for expected in ("agent_id: 'pc 1'", "topic_root: 'mfg/+/MES'", "max_spool_messages: 0", "heartbeat: unknown key",
                     "broker.port: 70000", "broker.tls: 'yes'", "rest.max_depth: 0",
                     "dropfolder.path: 'relative/drop'", "dropfolder.complete: 'soon'", "link.central: 'nohost'",
                     "opcua: the OPC UA source is not built"):  # fmt: skip
        assert expected in errors, errors


def test_required_keys_are_named():
    with pytest.raises(ConfigError) as caught:
        parse({})
    assert [e.split(":")[0] for e in caught.value.errors] == ["agent_id", "topic_root", "spool_path"]


def test_cli_check_and_status(tmp_path):
    good = write_config(tmp_path / "good.toml", 1883, tmp_path)
    result = run_cli("check", "--config", str(good))
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('agent_id = "a"\ntopic_root = "mfg/P/M"\nspool_path = "/tmp/s"\n[broker]\nport = "x"\n')
    result = run_cli("check", "--config", str(bad))
    assert result.returncode == 2 and "broker.port: 'x' is not a port" in result.stderr, result.stderr
    result = run_cli("check", "--config", str(tmp_path / "missing.toml"))
    assert result.returncode == 2 and "not found" in result.stderr
    # status before any run, then with two spooled messages
    assert "no spool yet" in run_cli("status", "--config", str(good)).stdout
    from mfg_edge.spool import Spool

    spool = Spool(str(tmp_path / "edge.sqlite"))
    spool.put("mfg/T1/mes/x", b"{}", message_id="1")
    spool.put("mfg/T1/mes/x", b"{}", message_id="2")
    spool.close()
    status = json.loads(run_cli("status", "--config", str(good)).stdout)
    assert status["spool"]["depth"] == 2 and status["spool"]["oldest_at"] and status["cache"]["entries"] == 0
    assert load(good).agent_id == "t1"
