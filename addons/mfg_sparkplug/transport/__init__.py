"""The Sparkplug B receiver: a topic claim (mfg_integration_base/transports/mqtt/claims.py) run
by the backend's MQTT listener (``odoo mfg_mqtt``)."""

from . import sparkplug_claim
