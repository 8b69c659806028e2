from . import exceptions
from . import components
from . import pipeline
from . import models
from . import controllers
from . import wizards
from . import services
from . import cli


def post_load():
    """Server start (server-wide module): optional in-server MQTT listener (dev setup)."""
    from .cli.mfg_mqtt import start_in_server

    start_in_server()
