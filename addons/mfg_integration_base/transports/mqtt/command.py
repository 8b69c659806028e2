"""`odoo mfg_mqtt`: the MQTT listener of the integration backends, as its own process.

    odoo --addons-path=<...> mfg_mqtt -c odoo.conf -d <db> [--listener-name NAME]

`odoo mfg_mqtt_bridge`: writes a plant broker's mosquitto.conf bridging backends to the central
broker (bridge.py), as the backend form's button does:

    odoo --addons-path=<...> mfg_mqtt_bridge -c odoo.conf -d <db> --backend CODE [--backend CODE]
        [--output FILE] [--persistence-location DIR] [--listener HOST:PORT]

`odoo mfg_mqtt_acl`: writes the central broker's acl_file (broker_acl.py) for every MQTT backend,
as the backend list's button does:

    odoo --addons-path=<...> mfg_mqtt_acl -c odoo.conf -d <db> [--output FILE]
        [--acl-path PATH] [--odoo-identity NAME]

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


def _write(output, text):
    """Standard output, or ``output`` written whole under a temporary name, then renamed:
    Mosquitto never reads half a file."""
    if output == "-":
        sys.stdout.write(text)
        return
    tmp = f"{output}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, output)


class MfgMqttAcl(Command):
    """Write the central broker's Mosquitto ACL: each plant identity on its own topics"""

    name = "mfg_mqtt_acl"

    def run(self, cmdargs):
        parser = argparse.ArgumentParser(prog="odoo mfg_mqtt_acl", add_help=False)
        parser.add_argument("--output", default="-", help="file to write (default: standard output)")
        parser.add_argument(
            "--acl-path", default=None, help="where the central broker reads it (/etc/mosquitto/acl)"
        )
        parser.add_argument(
            "--odoo-identity",
            action="append",
            default=[],
            help="Odoo's user name on the central broker (repeat for several; added to "
            "[mfg_integration] mqtt_broker_odoo_identity and the backends' Broker user)",
        )
        own, rest = parser.parse_known_args(cmdargs)
        config.parse_config(rest, setup_logging=True)
        db_name = _db_name()
        registry = odoo.modules.registry.Registry(db_name)
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            Backend = env["mfg.backend"]
            try:
                text = Backend._mfg_mqtt_broker_acl(own.acl_path, own.odoo_identity)
            except UserError as exc:
                raise SystemExit(f"odoo mfg_mqtt_acl: {exc}") from None
            Backend._mfg_mqtt_broker_acl_attachment(text)  # committed when the cursor closes
        _write(own.output, text)
        if own.output != "-":
            _logger.info("mfg mqtt acl: wrote %s", own.output)


class MfgMqttBridge(Command):
    """Write a plant broker's Mosquitto bridge configuration for integration backends"""

    name = "mfg_mqtt_bridge"

    def run(self, cmdargs):
        parser = argparse.ArgumentParser(prog="odoo mfg_mqtt_bridge", add_help=False)
        parser.add_argument(
            "--backend", action="append", required=True, help="backend code (repeat for several)"
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
            for code in own.backend:
                backend = Backend.search([("code", "=", code)], limit=1)
                if not backend:
                    raise SystemExit(f"odoo mfg_mqtt_bridge: --backend {code!r}: no backend has this code")
                backends |= backend
            try:
                text = backends._mfg_mqtt_bridge_config(own.persistence_location, own.listener)
            except UserError as exc:
                raise SystemExit(f"odoo mfg_mqtt_bridge: {exc}") from None
            backends[:1]._mfg_mqtt_bridge_attachment(text)  # committed when the cursor closes
        if own.output == "-":
            sys.stdout.write(text)
        else:
            # written whole under a temporary name, then renamed: Mosquitto never reads half a file
            tmp = f"{own.output}.tmp{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(tmp, own.output)
            _logger.info("mfg mqtt bridge: wrote %s for backend(s) %s", own.output, ", ".join(own.backend))
