"""mfg_edge: the plant edge agent (no Odoo inside).

Plant systems that do not speak MQTT hand their facts to this agent (a local REST endpoint, a
drop folder; OPC UA subscriptions are not built yet); the agent keeps them in a durable SQLite spool and
publishes them, in order, QoS 1, to the plant broker, which bridges them to the central broker and
Odoo. It also caches the reference data Odoo publishes as retained messages (lot holds, work-order
releases) and answers the plant's questions from it while the link to the centre is down.
"""

__version__ = "0.1.0"
