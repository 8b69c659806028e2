"""The central broker's access control per plant, as a Mosquitto ``acl_file``. Pure Python, no ORM.

The plant bridges (bridge.py) reach the central broker on a TLS listener that requires a client
certificate and takes its CN as the user name (``use_identity_as_username true``). Without an
ACL any plant certificate may publish facts as another plant or read its work-order releases.
With the file written here, each plant identity may only

- write its own backends' topics: the facts ``<root>/+`` (``<root>`` = ``<prefix>/<plant>/<system>``),
  the edge agent's status ``<root>/edge/#`` and whole files ``<root>/files/#``, the bridge's
  notification ``<root>/bridge/state`` and Mosquitto's default ``$SYS/broker/connection/<client
  id>/state`` (the bridge's will: a denied will refuses the connection);
- read its own ``<root>/odoo/#`` (releases, reference data);

and Odoo's identities (its listener and publishers) read and write ``<prefix>/#`` of every prefix
plus the topics the backends' claims need (Sparkplug: ``spBv1.0/<group>/#``, its STATE topic).
Anything else is denied: Mosquitto's default once an ``acl_file`` is set.

``broker_acl(backends, odoo_identities, odoo_topics, acl_path, generated)`` returns the file's
text, starting with the central listener's settings as comments; ``ValueError`` names the field
and value that cannot be used. Every value written is checked to be one token without spaces or
line breaks, so that no value can add a line to the file.
"""

import re

from .bridge import _check_level, _check_name, _check_path

_IDENTITY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")
_FILTER_LEVEL = re.compile(r"^[^/#+\s\x00]+$")
SYS_STATE = "$SYS/broker/connection/{client_id}/state"


def _fail(field, value, what):
    raise ValueError(f"{field} {value!r} cannot be used in the central broker's ACL: {what}")


def _check_identity(field, value):
    if not isinstance(value, str) or not _IDENTITY.fullmatch(value):
        _fail(
            field,
            value,
            "use letters, digits, '.', '_', '@' or '-' (at most 128, no spaces): the certificate's CN or "
            "the broker user",
        )
    return value


def _check_filter(field, value):
    """A topic filter: levels without wildcards, or ``+``, or a last ``#``."""
    levels = value.split("/") if isinstance(value, str) and value else [""]
    for index, level in enumerate(levels):
        if level == "+" or (level == "#" and index == len(levels) - 1):
            continue
        if not _FILTER_LEVEL.fullmatch(level):
            _fail(field, value, "a topic filter is levels without spaces, '+' or a last '#'")
    return value


def plant_root(backend):
    """``<prefix>/<plant>/<system>`` of one backend, each level checked like the bridge's."""
    code = backend["code"]
    return "/".join(
        [
            _check_level(f"Topic prefix of backend {code}", backend["topic_prefix"]),
            _check_level(f"Plant code of backend {code}", backend["plant"]),
            _check_level(f"System of backend {code}", backend["system"]),
        ]
    )


def plant_rules(backend):
    """``[(access, filter)]`` of one backend's plant identity."""
    code = _check_name("Backend code", backend["code"])
    root = plant_root(backend)
    client_id = _check_name(
        f"Bridge client id of backend {code}", backend.get("client_id") or f"plant-{code}"
    )
    return [
        ("write", f"{root}/+"),
        ("write", f"{root}/edge/#"),
        ("write", f"{root}/files/#"),
        ("write", f"{root}/bridge/state"),
        ("write", SYS_STATE.format(client_id=client_id)),
        ("read", f"{root}/odoo/#"),
    ]


def listener_snippet(acl_path, port=8883):
    """The central broker's settings that make the file apply, as comment lines."""
    return [
        "# The central broker's mosquitto.conf (Mosquitto 2.0), for this file to apply:",
        "#",
        f"#   acl_file {acl_path}",
        "#   # the plants' bridges: TLS, a client certificate required, its CN is the user name",
        f"#   listener {port}",
        "#   cafile /etc/mosquitto/certs/ca.crt",
        "#   certfile /etc/mosquitto/certs/central.crt",
        "#   keyfile /etc/mosquitto/certs/central.key",
        "#   require_certificate true",
        "#   use_identity_as_username true",
        "#   # Odoo's listener and publishers: a user of password_file (or a certificate) named below",
        "#   listener 1883 127.0.0.1",
        "#   password_file /etc/mosquitto/passwd",
        "#",
        "# acl_file is global (unless per_listener_settings true): a client whose user name is not",
        "# below may do nothing. Reload Mosquitto (SIGHUP) after replacing this file.",
    ]


def broker_acl(backends, odoo_identities, odoo_topics=(), acl_path="/etc/mosquitto/acl", generated=None):
    """The ``acl_file`` text. ``backends``: one dict per MQTT backend (``code``, ``identity``
    (its plant's user name on the central broker), ``topic_prefix``, ``plant``, ``system``,
    ``client_id`` (its bridge's)); ``odoo_identities``: Odoo's user names; ``odoo_topics``:
    topic filters Odoo needs beyond ``<prefix>/#`` (claims)."""
    if not backends:
        raise ValueError("no MQTT backend: the central broker's ACL needs at least one backend with MQTT")
    acl_path = _check_path("ACL file", acl_path)
    odoo = []
    for identity in odoo_identities:
        _check_identity("Odoo's identity on the central broker", identity)
        if identity not in odoo:
            odoo.append(identity)
    if not odoo:
        raise ValueError(
            "Odoo's identity on the central broker '' cannot be used in the central broker's ACL: "
            "set [mfg_integration] mqtt_broker_odoo_identity or a Broker user on the backends"
        )
    plants = {}  # identity -> (codes, rules), in the order of the backends
    prefixes = []
    for backend in backends:
        code = backend["code"]
        identity = _check_identity(f"Plant identity of backend {code}", backend["identity"])
        if identity in odoo:
            _fail(
                f"Plant identity of backend {code}",
                identity,
                "it is also Odoo's identity: a plant must not read and write every plant's topics",
            )
        rules = plant_rules(backend)
        codes, kept = plants.setdefault(identity, ([], []))
        codes.append(code)
        kept += [rule for rule in rules if rule not in kept]
        if backend["topic_prefix"] not in prefixes:
            prefixes.append(backend["topic_prefix"])
    extra = []
    for topic in odoo_topics:
        _check_filter("Topic of Odoo's identity", topic)
        if topic not in extra:
            extra.append(topic)
    lines = [
        "# Central broker's access control per plant (Mosquitto acl_file).",
        f"# {generated or 'Generated by mfg_integration_base'}: regenerate rather than edit.",
        "# Each plant writes only its own facts, edge and file topics and reads only its own odoo/#;",
        "# Odoo reads and writes everything of its prefixes. Everything else is denied.",
        *listener_snippet(acl_path),
    ]
    for identity in odoo:
        lines += ["", "# ---- Odoo's listener and publishers", f"user {identity}"]
        lines += [f"topic readwrite {prefix}/#" for prefix in prefixes]
        lines += [f"topic readwrite {topic}" for topic in extra]
    for identity, (codes, rules) in plants.items():
        lines += ["", f"# ---- plant identity of backend(s) {', '.join(codes)}", f"user {identity}"]
        lines += [f"topic {access} {topic}" for access, topic in rules]
    lines.append("")
    return "\n".join(lines)
