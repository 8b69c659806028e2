from . import exceptions
from . import lib
from . import pipeline
from . import models
from . import transports
from . import controllers
from . import wizards
from . import cli


def post_load():
    """Server start (server-wide module): optional in-server MQTT listener (dev setup)."""
    from .transports.mqtt.runner import start_in_server

    start_in_server()
