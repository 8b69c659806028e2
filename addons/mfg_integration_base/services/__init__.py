from . import mqtt_listener
