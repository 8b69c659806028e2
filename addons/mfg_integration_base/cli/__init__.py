# Odoo looks for the commands of an addon only when the addon has a cli/ folder (odoo/cli/command.py
# imports such addons, then looks the command up). Each command lives with its transport.
from ..transports.mqtt import command  # odoo mfg_mqtt, mfg_mqtt_bridge, mfg_mqtt_acl
