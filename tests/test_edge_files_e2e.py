"""Whole files forwarded by the plant's edge agent (mfg_legacy_flatfile, lib/edge_files.py): a
file published on <root>/files/<percent-encoded name> to a real Mosquitto, written into the inbox
by a real `odoo mfg_mqtt` listener, read by the scan once; the same file forwarded again changes
nothing."""

import uuid

import pytest
from mqtt_support import Broker, ListenerProcess, wait_until


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


@pytest.fixture
def legacy_backend(odoo_env, broker, sql):
    """A backend with MQTT on the test's broker and drop folders under the server's file_roots;
    the scan cron off (the test scans)."""
    import shutil
    import tempfile
    from pathlib import Path

    suffix = uuid.uuid4().hex[:6]
    with odoo_env() as env:
        from odoo import Command

        from odoo.addons.mfg_integration_base.lib.safe_files import configured_roots

        root = Path(tempfile.mkdtemp(prefix="mfg-e2e-edge-", dir=configured_roots()[0]))
        for folder in ("inbox", "processed", "error"):
            (root / folder).mkdir()
        etype = env.ref("mfg_legacy_flatfile.exchange_type_stock_snapshot")
        fmt = env["mfg.flatfile.format"].create(
            {
                "name": f"Edge stock list {suffix}",
                "code": f"edge-stk-{suffix}",
                "filename_pattern": "STK_*.csv",
                "header_rows": 1,
                "exchange_type_id": etype.id,
                "column_ids": [
                    Command.create(
                        {"sequence": i, "field_name": name, "column_index": i + 1, "field_type": ftype}
                    )
                    for i, (name, ftype) in enumerate(
                        [("location", "char"), ("product", "char"), ("lot", "char"), ("quantity", "float")]
                    )
                ],
            }
        )
        backend = env["mfg.backend"].create(
            {
                "name": f"Edge legacy {suffix}",
                "code": f"edgeff-{suffix}",
                "plant_code": f"F{suffix}",
                "system_kind": "other",
                "mqtt_enabled": True,
                "mqtt_port": broker.port,
                "flatfile_inbox_path": str(root / "inbox"),
                "flatfile_processed_path": str(root / "processed"),
                "flatfile_error_path": str(root / "error"),
                "flatfile_ready_rule": "immediate",
                "flatfile_format_ids": [Command.set(fmt.ids)],
                "flow_ids": [Command.create({"exchange_type_id": etype.id})],
            }
        )
        cron = env.ref("mfg_legacy_flatfile.ir_cron_mfg_flatfile_scan")
        info = {
            "id": backend.id,
            "root": f"mfg/F{suffix}/other",
            "inbound": backend.mqtt_inbound_topic,
            "folder": root,
            "cron": cron.id,
        }
    sql("UPDATE ir_cron SET active = false WHERE id = %s", (info["cron"],))
    try:
        yield info
    finally:
        sql("UPDATE ir_cron SET active = true WHERE id = %s", (info["cron"],))
        with odoo_env() as env:
            env["mfg.backend"].browse(info["id"]).mqtt_enabled = False
        shutil.rmtree(root, ignore_errors=True)


def test_a_forwarded_file_is_written_then_read_once(odoo_settings, odoo_env, broker, legacy_backend, sql):
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    lines = 2000
    body = "location,product,lot,quantity\n" + "".join(f"L01,EDGE-{i % 13},,{i}\n" for i in range(lines))
    inbox = legacy_backend["folder"] / "inbox"
    listener = ListenerProcess(odoo_settings, f"eff{uuid.uuid4().hex[:6]}", odoo_settings["log_dir"])
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv311)
    try:
        listener.start(wait_for=f"subscribed to {legacy_backend['inbound']}")
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        topic = f"{legacy_backend['root']}/files/STK_edge%2001.csv"  # "STK_edge 01.csv"
        assert client.publish(topic, body.encode(), qos=1).wait_for_publish(30) is None
        assert wait_until(lambda: (inbox / "STK_edge 01.csv").exists(), timeout=60), listener.tail()
        assert (inbox / "STK_edge 01.csv").read_text() == body
        with odoo_env() as env:
            env["mfg.backend"].browse(legacy_backend["id"])._mfg_flatfile_scan()
        # the agent forwards the same file again (e.g. it was not sure it got across): nothing new
        client.publish(topic, body.encode(), qos=1).wait_for_publish(30)
        listener.wait_log("already read by this backend")
    finally:
        client.disconnect()
        client.loop_stop()
        listener.kill()
    assert not list(inbox.iterdir())
    assert [p.name for p in (legacy_backend["folder"] / "processed").iterdir()] == ["STK_edge 01.csv"]
    stored = sql(
        "SELECT count(*), count(DISTINCT external_id) FROM mfg_message WHERE backend_id = %s",
        (legacy_backend["id"],),
    )[0]
    assert stored == (lines, lines), stored
    assert (
        sql("SELECT count(*) FROM mfg_flatfile_batch WHERE backend_id = %s", (legacy_backend["id"],))[0][0]
        == 1
    )
