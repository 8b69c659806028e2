from . import mfg_mqtt
