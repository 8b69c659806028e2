"""The ``[mfg_integration]`` section of Odoo's configuration file, read here and only here.

Every setting the addons read is documented in ``odoo.conf.example``. Values are read at each
call (tests and ``odoo shell`` may change ``config.misc``), with one parser per type so that
``True`` / ``yes`` / ``1`` mean the same everywhere.
"""

from odoo.tools import config

SECTION = "mfg_integration"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def section():
    """The section as a dict (empty when the configuration file has none)."""
    return config.misc.get(SECTION, {})


def get_str(key, default=""):
    value = section().get(key)
    return default if value is None else str(value)


def get_bool(key, default=False):
    """``True``/``yes``/``on``/``1`` or ``False``/``no``/``off``/``0`` (any case); else ``default``."""
    value = str(section().get(key, "")).strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return default


def get_int(key, default, minimum=None):
    """An integer setting; ``default`` when it is missing or not a number; at least ``minimum``."""
    try:
        value = int(str(section().get(key, default)).strip())
    except (TypeError, ValueError):
        value = default
    if minimum is not None:
        value = max(minimum, value)
    return value
