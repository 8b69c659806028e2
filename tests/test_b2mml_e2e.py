"""B2MML over MQTT end to end: real Mosquitto, a real `odoo mfg_mqtt` listener and the real Odoo server
with its queue_job runner. A document published as the MQTT payload is stored as received, read by a
drain into its facts, and the facts are applied; a hostile document is rejected and nothing else is lost."""

import uuid
from pathlib import Path

import pytest
from mqtt_support import Broker, ListenerProcess, Publisher, wait_until

DATA = Path(__file__).parent.parent / "addons" / "mfg_b2mml" / "tests" / "data"


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


@pytest.fixture
def listener(odoo_settings):
    lp = ListenerProcess(odoo_settings, f"b2mml{uuid.uuid4().hex[:6]}", odoo_settings["log_dir"], ())
    yield lp
    lp.kill()


def make_plant(odoo_env, broker):
    suffix = uuid.uuid4().hex[:8]
    with odoo_env() as env:
        from odoo import fields

        backend = env["mfg.backend"].create(
            {
                "name": f"B2MML plant {suffix}",
                "code": f"b2-{suffix}",
                "plant_code": f"B{suffix}",
                "system_kind": "mes",
                "mqtt_enabled": True,
                "mqtt_port": broker.port,
                "b2mml_mapping": '{"item_policy": "create"}',
                "flow_ids": [
                    fields.Command.create(
                        {
                            "exchange_type_id": env.ref("mfg_b2mml.exchange_type_b2mml_document").id,
                            "wire_format": "b2mml",
                        }
                    ),
                    fields.Command.create(
                        {"exchange_type_id": env.ref("mfg_b2mml.exchange_type_material_definition").id}
                    ),
                ],
            }
        )
        return {
            "backend_id": backend.id,
            "suffix": suffix,
            "topic": f"mfg/B{suffix}/mes/b2mml.document",
            "subscribed": f"subscribed to {backend.mqtt_inbound_topic}",
        }


def definition(suffix, n):
    raw = (DATA / "v0600_sync_material_definition.xml").read_bytes()
    return raw.replace(b"MD-0600-1", f"MD-{suffix}-{n}".encode()).replace(
        b"NEW-9", f"NEW-{suffix}-{n}".encode()
    )


def test_b2mml_documents_over_mqtt(odoo_server, odoo_env, broker, listener, sql):
    plant = make_plant(odoo_env, broker)
    try:
        listener.start(wait_for=plant["subscribed"])
        pub = Publisher(broker.port, f"mes-{plant['suffix']}")
        pub.publish(plant["topic"], definition(plant["suffix"], 1))
        pub.publish(plant["topic"], (DATA / "billion_laughs.xml.hostile").read_bytes())
        pub.publish(plant["topic"], (DATA / "xxe_file.xml.hostile").read_bytes())
        pub.publish(plant["topic"], definition(plant["suffix"], 2))
        assert pub.wait_acked(4)
        pub.close()

        def states():
            return sql(
                """SELECT coalesce(wire_format, 'json'), state, count(*) FROM mfg_message
                    WHERE backend_id = %s GROUP BY 1, 2 ORDER BY 1, 2""",
                (plant["backend_id"],),
            )

        expected = [("b2mml", "done", 2), ("b2mml", "rejected", 2), ("json", "done", 4)]
        assert wait_until(lambda: states() == expected, timeout=120), states()
        created = sql(
            "SELECT default_code FROM product_product WHERE default_code LIKE %s ORDER BY 1",
            (f"NEW-{plant['suffix']}-%",),
        )
        assert created == [(f"NEW-{plant['suffix']}-1",), (f"NEW-{plant['suffix']}-2",)]
        rejected = sql(
            """SELECT error_message, payload FROM mfg_message
                WHERE backend_id = %s AND state = 'rejected' ORDER BY id""",
            (plant["backend_id"],),
        )
        for error, payload in rejected:
            assert "DOCTYPE" in error
            assert "root:" not in error
            assert payload.startswith('<?xml version="1.0"?>\n<!DOCTYPE'), "kept as received"
        facts = sql(
            """SELECT c.external_id, c.document_position, p.transport FROM mfg_message c
                 JOIN mfg_message p ON p.id = c.parent_id
                WHERE c.backend_id = %s ORDER BY c.id""",
            (plant["backend_id"],),
        )
        suffix = plant["suffix"]
        assert facts == [
            (f"MD-{suffix}-1#1", 1, "mqtt"),
            (f"MD-{suffix}-1#2", 2, "mqtt"),
            (f"MD-{suffix}-2#1", 1, "mqtt"),
            (f"MD-{suffix}-2#2", 2, "mqtt"),
        ]
    finally:
        with odoo_env() as env:
            env["mfg.backend"].browse(plant["backend_id"]).write({"mqtt_enabled": False})
