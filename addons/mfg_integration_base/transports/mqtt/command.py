"""`odoo mfg_mqtt`: the MQTT listener of the integration backends, as its own process.

    odoo --addons-path=<...> mfg_mqtt -c odoo.conf -d <db> [--listener-name NAME]

(Odoo finds commands of addons only when --addons-path comes first, in addons that have a cli/
folder: this addon's cli/ imports this module.) SIGTERM / Ctrl-C: stops receiving, stores and
acknowledges what it has, disconnects.
"""

import argparse
import logging
import signal
import socket

import odoo
from odoo.cli import Command
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
        db_names = odoo.tools.config["db_name"]
        db_name = (db_names[0] if isinstance(db_names, list) else (db_names or "").split(",")[0]).strip()
        if not db_name:
            raise SystemExit("odoo mfg_mqtt: give the database with -d or db_name in the configuration file")
        listener_name = own.listener_name or settings.get_str("mqtt_listener_name") or socket.gethostname()
        odoo.service.server.load_server_wide_modules()
        runner = MqttRunner(
            db_name, listener_name, batch_size=own.batch_size, batch_wait=own.batch_wait_ms / 1000.0
        )
        signal.signal(signal.SIGTERM, runner.stop)
        signal.signal(signal.SIGINT, runner.stop)
        _logger.info("mfg mqtt: listener %s serving database %s", listener_name, db_name)
        runner.run()
