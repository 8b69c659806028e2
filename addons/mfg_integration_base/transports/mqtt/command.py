"""`odoo mfg_mqtt`: the MQTT listener of the integration backends, as its own process.

    odoo --addons-path=<...> mfg_mqtt -c odoo.conf -d <db> [--listener-name NAME]

`odoo mfg_mqtt_bridge`: writes a plant broker's mosquitto.conf bridging backends to the central
broker (bridge.py), as the backend form's button does:

    odoo --addons-path=<...> mfg_mqtt_bridge -c odoo.conf -d <db> --backend CODE [--backend CODE]
        [--output FILE] [--persistence-location DIR] [--listener HOST:PORT]

(Odoo finds commands of addons only when --addons-path comes first, in addons that have a cli/
folder: this addon's cli/ imports this module.) SIGTERM / Ctrl-C: stops receiving, stores and
acknowledges what it has, disconnects.
"""

import argparse
import logging
import os
import signal
import socket
import sys

import odoo
from odoo.cli import Command
from odoo.exceptions import UserError
from odoo.tools import config

from ...lib import settings
from .runner import MqttRunner

_logger = logging.getLogger(__name__)


class MfgMqtt(Command):
    """Run the MQTT listener of the manufacturing integration backends"""

    name = "mfg_mqtt"

    def run(self, cmdargs):
        parser = argparse.ArgumentParser(prog="odoo mfg_mqtt", add_help=False)
        parser.add_argument("--listener-name", default=None)
        parser.add_argument("--batch-size", type=int, default=100)
        parser.add_argument("--batch-wait-ms", type=int, default=50)
        own, rest = parser.parse_known_args(cmdargs)
        config.parse_config(rest, setup_logging=True)
        db_name = _db_name()
        listener_name = own.listener_name or settings.get_str("mqtt_listener_name") or socket.gethostname()
        odoo.service.server.load_server_wide_modules()
        runner = MqttRunner(
            db_name, listener_name, batch_size=own.batch_size, batch_wait=own.batch_wait_ms / 1000.0
        )
        signal.signal(signal.SIGTERM, runner.stop)
        signal.signal(signal.SIGINT, runner.stop)
        _logger.info("mfg mqtt: listener %s serving database %s", listener_name, db_name)
        runner.run()


def _db_name():
    db_names = odoo.tools.config["db_name"]
    db_name = (db_names[0] if isinstance(db_names, list) else (db_names or "").split(",")[0]).strip()
    if not db_name:
        raise SystemExit("give the database with -d or db_name in the configuration file")
    return db_name


class MfgMqttBridge(Command):
    """Write a plant broker's Mosquitto bridge configuration for integration backends"""

    name = "mfg_mqtt_bridge"

    def run(self, cmdargs):
        parser = argparse.ArgumentParser(prog="odoo mfg_mqtt_bridge", add_help=False)
        parser.add_argument(
            "--backend",
            action="append",
            default=[],
            help="backend code (repeat for several); with --central-acl, default: every backend with a "
            "central broker address",
        )
        parser.add_argument(
            "--central-acl",
            action="store_true",
            help="write the central broker's acl_file for the plants' bridges instead",
        )
        parser.add_argument("--output", default="-", help="file to write (default: standard output)")
        parser.add_argument("--persistence-location", default=None)
        parser.add_argument(
            "--listener", default=None, help="host:port for the plant systems (127.0.0.1:1883)"
        )
        own, rest = parser.parse_known_args(cmdargs)
        config.parse_config(rest, setup_logging=True)
        db_name = _db_name()
        registry = odoo.modules.registry.Registry(db_name)
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            Backend = env["mfg.backend"].with_context(active_test=False)
            backends = Backend.browse()
            if own.central_acl and not own.backend:
                backends = Backend.search([("mqtt_enabled", "=", True), ("mqtt_bridge_address", "!=", False)])
            elif not own.backend:
                raise SystemExit("odoo mfg_mqtt_bridge: give --backend <code> (repeat for several)")
            for code in own.backend:
                backend = Backend.search([("code", "=", code)], limit=1)
                if not backend:
                    raise SystemExit(f"odoo mfg_mqtt_bridge: --backend {code!r}: no backend has this code")
                backends |= backend
            try:
                if own.central_acl:
                    text = backends._mfg_mqtt_central_acl()
                else:
                    text = backends._mfg_mqtt_bridge_config(own.persistence_location, own.listener)
            except UserError as exc:
                raise SystemExit(f"odoo mfg_mqtt_bridge: {exc}") from None
            if not own.central_acl:
                backends[:1]._mfg_mqtt_bridge_attachment(text)  # committed when the cursor closes
            codes = ", ".join(backends.mapped("code"))
        if own.output == "-":
            sys.stdout.write(text)
        else:
            # written whole under a temporary name, then renamed: Mosquitto never reads half a file
            tmp = f"{own.output}.tmp{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(tmp, own.output)
            _logger.info("mfg mqtt bridge: wrote %s for backend(s) %s", own.output, codes)
