"""MQTT topic routing: a batch of the listener stored as messages of (backend, exchange type).

No ORM model: ``mfg.transport.mqtt._mfg_receive_batch`` calls ``receive_batch`` with its
environment; every message ends in ``mfg.message._mfg_receive`` (transport ``mqtt``), the
pipeline's receive step. The caller commits, then acknowledges.
"""

from .client import type_code_from_topic


def mqtt_groups(batch):
    """``(bare, groups)`` of an MQTT batch: the items to keep only as raw bytes (``bare``: the
    listener could not store them as received), and the others by ``(backend id, type code)``,
    in the order the groups first appear in the batch; no empty group."""
    groups = {}
    bare = []
    for item in batch:
        items = groups.setdefault((item.backend_id, type_code_from_topic(item.topic)), [])
        if getattr(item, "bare", False):
            bare.append(item)
        else:
            items.append(item)
    return bare, {key: items for key, items in groups.items() if items}


def unroutable(env):
    """The exchange type of what cannot be routed (looked up only when needed)."""
    return env.ref("mfg_integration_base.exchange_type_unroutable").sudo()


def receive_batch(env, batch):
    """Store one batch of the MQTT listener; returns how many messages were stored.

    ``batch``: objects with ``backend_id``, ``topic``, ``payload`` (bytes), ``user_props``
    (MQTT v5 user properties), ``raw_fallback`` and, for the listener's last isolation step,
    ``bare`` and ``store_error``. The topic's last level names the exchange type; a message
    whose exchange type is unknown or not enabled on the backend (no flow) is still stored, as
    ``rejected`` under the ``mfg.unroutable`` exchange type, with its raw bytes.
    """
    messages = env["mfg.message"]
    bare, groups = mqtt_groups(batch)
    Backend = env["mfg.backend"].sudo().with_context(active_test=False)
    Type = env["mfg.exchange.type"].sudo()
    stored = 0
    for it in bare:
        # The listener could not store it as received: keep its bytes, say why, route nothing.
        messages._mfg_receive(
            Backend.browse(it.backend_id),
            unroutable(env),
            [
                {
                    "payload": it.payload,
                    "raw_fallback": True,
                    "headers": {"topic": it.topic[:1000]},
                    "reject_reason": env._(
                        "This message could not be stored as received (%(error)s); it is kept with its "
                        "raw bytes (base64) only, without its MQTT properties.",
                        error=it.store_error or "?",
                    ),
                }
            ],
            transport="mqtt",
            check_flow=False,
        )
        stored += 1
    for (backend_id, type_code), items in groups.items():
        backend = Backend.browse(backend_id)
        etype = Type._find(type_code)
        rows = [
            {
                "payload": it.payload,
                "external_id": it.user_props.get("message_id"),
                "correlation_id": it.user_props.get("correlation_id"),
                "headers": {"topic": it.topic, **it.user_props},
                "raw_fallback": it.raw_fallback,
            }
            for it in items
        ]
        if etype and etype.direction == "inbound" and backend._mfg_flow(etype):
            messages._mfg_receive(backend, etype, rows, transport="mqtt")
        else:
            reason = env._(
                "Topic %(topic)s names no inbound exchange type enabled on backend %(backend)s "
                "(last topic level %(code)r).",
                topic=items[0].topic,
                backend=backend.code,
                code=type_code,
            )
            for row in rows:
                row["external_id"] = None  # never let garbage take a real message's id
            messages._mfg_receive(
                backend, unroutable(env), rows, transport="mqtt", check_flow=False, reject_reason=reason
            )
        stored += len(items)
    return stored
