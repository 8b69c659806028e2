"""MQTT, both ways: a listener process receives, a publisher sends (QoS 1 both ways).

client.py          paho-mqtt helpers: topics, clients, TLS files, probe (no ORM)
claims.py          topic claims: an addon takes topic filters of a backend's connection (no ORM)
listener.py        the listener: batches stored then acknowledged, poison isolated (no ORM)
runner.py          the listener of one database: backends followed, batches stored, status written
command.py         the ``odoo mfg_mqtt`` and ``odoo mfg_mqtt_bridge`` commands (found by Odoo through this addon's cli/)
publisher.py       connected publishing clients shared by the drains of a process (no ORM)
bridge.py          the plant broker's Mosquitto bridge to the central broker, as text (no ORM)
routing.py         topic → (backend, exchange type): a listener batch stored as messages (no ORM)
edge_status.py     the edge agents' status topic claim: strict parsing, handed to mfg.edge.agent (no ORM)
mfg_backend_mqtt.py      the backend's MQTT fields (broker, session, topics, listener status)
mfg_backend_mqtt_bridge.py  the plant side: bridge inputs, configuration generated (managers)
mfg_backend_mqtt_tls.py  the backend's TLS material (uploaded PEM, legacy paths under file_roots)
mfg_transport_mqtt.py    mfg.transport.mqtt: receive a batch, send, endpoint, connection test
mfg_backend_edge.py      the backend's edge agents: status claim in its settings, alert thresholds
"""

from . import client
from . import claims
from . import listener
from . import publisher
from . import routing
from . import edge_status
from . import mfg_backend_mqtt
from . import mfg_backend_mqtt_tls
from . import bridge
from . import mfg_backend_mqtt_bridge
from . import mfg_transport_mqtt
from . import mfg_backend_edge
from . import runner
from . import command
