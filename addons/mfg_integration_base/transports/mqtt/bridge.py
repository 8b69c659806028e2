"""The plant broker's Mosquitto bridge to the central broker, as configuration text. Pure Python, no ORM.

A plant runs its own Mosquitto; plant systems publish to it locally, and a bridge connection
forwards to the central broker (where Odoo's ``odoo mfg_mqtt`` listener is) whenever the WAN link
is up. Per backend, the bridge carries:

- ``out``: the backend's inbound topics (``<root>/+``, ``<root>`` = ``<prefix>/<plant>/<system>``),
  and the edge agent's: its status (``<root>/edge/#``, retained, with its will) and the whole
  files it forwards (``<root>/files/#``), plant → centre;
- ``in``: its outbound topics (``<root>/odoo/#``, e.g. work-order releases and the retained
  reference data), centre → plant.

Retained messages keep their retain flag across the bridge both ways: Mosquitto subscribes its
local side with retain-as-published, and with ``try_private true`` the central Mosquitto knows
the client is a bridge and forwards the flag too (``tests/test_plant_bridge_e2e.py`` checks
both directions with fresh subscribers).

Durability comes from the brokers, not from us: QoS 1 both ways; ``cleansession false`` so the
central broker keeps the bridge's session (its subscription and the releases queued for it) while
the link is down; ``local_cleansession false`` and persistence so the plant broker keeps what the
bridge has not forwarded across a restart; ``max_queued_messages`` / ``max_queued_bytes`` sized
for the outage the site must survive (arithmetic written into the file).

MQTT 3.1.1 by default for the bridge: Mosquitto's bridge (2.0.x) sends no Session Expiry Interval
in an MQTT 5 CONNECT, so with ``bridge_protocol_version mqttv50`` the central broker ends the
bridge's session at every disconnection and drops the releases published during a cut
(eclipse-mosquitto issues 2793 and 2980). With 3.1.1, ``cleansession false`` is a session kept
until the central broker's ``persistent_client_expiration``. What 3.1.1 does not carry is MQTT 5
properties: the message id travels in the payload (``message_id``, every contract has it).
``mqttv50`` is written only when asked for, with that warning in the file.

``bridge_config(plant, bridges)`` returns the text of a whole plant ``mosquitto.conf`` (global
settings once, then one ``connection`` per backend); ``central_acl(bridges, odoo_users)`` the
central broker's ``acl_file`` (each plant's certificate confined to its own topics);
``ValueError`` names the field and value that cannot be used.
"""

import math
import re

SECONDS_PER_HOUR = 3600
HEADROOM = 1.25  # queues a quarter larger than the arithmetic: bursts, resends after a cut
PER_MESSAGE_OVERHEAD = 200  # bytes Mosquitto counts per queued message beyond the payload: topic, ids
PROTOCOLS = ("mqttv311", "mqttv50")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$|^\[[0-9A-Fa-f:]+\]$")
_TOPIC_LEVEL = re.compile(r"^[^/#+\s\x00]+$")
_PATH = re.compile(r"^/[^\s\x00]*$")


def _fail(field, value, what):
    raise ValueError(f"{field} {value!r} cannot be used in the bridge configuration: {what}")


def _check_name(field, value):
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        _fail(field, value, "use letters, digits, '.', '_' or '-' (at most 64, no spaces)")
    return value


def _check_level(field, value):
    if not isinstance(value, str) or not _TOPIC_LEVEL.fullmatch(value):
        _fail(field, value, "a topic level must be non-empty, without '/', '+', '#' or spaces")
    return value


def _check_path(field, value):
    if not isinstance(value, str) or not _PATH.fullmatch(value):
        _fail(field, value, "give an absolute path on the plant host, without spaces")
    return value


def _positive(field, value, integer=False):
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        _fail(field, value, "it must be a number above 0")
    if integer and int(value) != value:
        _fail(field, value, "it must be a whole number")
    return value


def parse_address(value):
    """``(host, port)`` of ``host:port`` (port 8883 when not given: TLS)."""
    if not isinstance(value, str) or not value.strip():
        _fail(
            "Central broker address",
            value,
            "give host:port as the plant reaches it, e.g. mqtt.example.com:8883",
        )
    text = value.strip()
    host, port = text, "8883"
    if text.startswith("["):  # [IPv6]:port
        host, _sep, rest = text.partition("]")
        host += "]"
        port = rest[1:] if rest.startswith(":") else port
    elif ":" in text:
        host, port = text.rsplit(":", 1)
    if not _HOST.fullmatch(host):
        _fail("Central broker address", value, "the host is not a host name or an IP address")
    if not port.isdigit() or not 0 < int(port) < 65536:
        _fail("Central broker address", value, "the port must be a number from 1 to 65535")
    return host, int(port)


def queue_sizing(bridges):
    """``(max_queued_messages, max_queued_bytes, lines)``: queue bounds large enough for each
    backend's outage (hours × messages/s), summed over the backends (the bounds are per client
    and global in Mosquitto; each bridge is one client), with the arithmetic as comment lines."""
    lines = []
    total_messages = total_bytes = 0
    for bridge in bridges:
        code = bridge["code"]
        hours = _positive(f"Outage to survive (hours) of backend {code}", bridge["outage_hours"])
        rate = _positive(f"Expected messages per second of backend {code}", bridge["rate"])
        size = _positive(
            f"Average message size (bytes) of backend {code}", bridge["message_bytes"], integer=True
        )
        messages = hours * SECONDS_PER_HOUR * rate
        queued = math.ceil(messages * HEADROOM)
        queued_bytes = queued * (int(size) + PER_MESSAGE_OVERHEAD)
        lines += [
            f"# {code}: {hours:g} h x {SECONDS_PER_HOUR} s/h x {rate:g} msg/s = {math.ceil(messages):,} messages;",
            f"#   x {HEADROOM:g} headroom = {queued:,} messages;",
            f"#   x ({int(size):,} B average payload + {PER_MESSAGE_OVERHEAD} B per message) = {queued_bytes:,} bytes"
            f" ({queued_bytes / 2**20:,.1f} MiB of memory and disk at the plant broker)",
        ]
        total_messages += queued
        total_bytes += queued_bytes
    if len(bridges) > 1:
        lines.append(f"# all backends: {total_messages:,} messages, {total_bytes:,} bytes")
    return total_messages, total_bytes, lines


def topics(bridge):
    """``(out_patterns, in_pattern)`` of one backend: what goes to the centre (facts, edge agent
    status, whole files), what comes back (Odoo's messages)."""
    prefix = "/".join(
        [
            _check_level(f"Topic prefix of backend {bridge['code']}", bridge["topic_prefix"]),
            _check_level(f"Plant code of backend {bridge['code']}", bridge["plant"]),
            _check_level(f"System of backend {bridge['code']}", bridge["system"]),
        ]
    )
    # '+' (one level) never matches the outbound odoo/<contract> (two levels), and edge/#, files/#
    # are disjoint from odoo/#: nothing comes back the way it went.
    return [f"{prefix}/+", f"{prefix}/edge/#", f"{prefix}/files/#"], f"{prefix}/odoo/#"


def _connection(bridge):
    code = _check_name("Backend code", bridge["code"])
    host, port = parse_address(bridge["address"])
    protocol = bridge.get("protocol") or "mqttv311"
    if protocol not in PROTOCOLS:
        _fail(f"Bridge protocol of backend {code}", protocol, f"choose one of {', '.join(PROTOCOLS)}")
    keepalive = _positive(
        f"Bridge keepalive (s) of backend {code}", bridge.get("keepalive", 30), integer=True
    )
    if keepalive < 5:
        _fail(f"Bridge keepalive (s) of backend {code}", keepalive, "Mosquitto allows 5 seconds at least")
    restart_cap = _positive(
        f"Longest reconnection wait (s) of backend {code}", bridge.get("restart_cap", 60), integer=True
    )
    client_id = _check_name(f"Bridge client id of backend {code}", bridge.get("client_id") or f"plant-{code}")
    out_patterns, in_pattern = topics(bridge)
    cert_dir = _check_path(f"Certificate folder of backend {code}", bridge["cert_dir"]).rstrip("/")
    lines = [
        "",
        f"# ---- backend {code}: {', '.join(out_patterns)} to the centre, {in_pattern} from it",
        f"connection odoo-{code}",
        f"address {host}:{port}",
        f"remote_clientid {client_id}",
        f"local_clientid local.{client_id}",
    ]
    if protocol == "mqttv50":
        lines += [
            "# WARNING: Mosquitto's bridge sends no Session Expiry Interval with MQTT 5: the central broker",
            "# ends the bridge's session at each disconnection and drops what was queued for the plant",
            "# during a cut. Use mqttv311 unless the plant broker sets a session expiry.",
        ]
    lines += [
        f"bridge_protocol_version {protocol}",
        "# the central broker keeps the bridge's subscription and the releases queued for it during a cut",
        "cleansession false",
        "# the plant broker keeps what the bridge has not yet forwarded, across its own restarts",
        "local_cleansession false",
        "start_type automatic",
        f"keepalive_interval {int(keepalive)}",
        f"# reconnect after a cut: first try after {min(5, int(restart_cap))} s, backing off (with jitter) up to"
        f" {int(restart_cap)} s",
        f"restart_timeout {min(5, int(restart_cap))} {int(restart_cap)}",
        "try_private true",
        "# facts of the plant systems; the edge agent's status (retained, and its will) and whole files",
        *(f"topic {pattern} out 1" for pattern in out_patterns),
        "# Odoo's messages for the plant (releases; reference data, retained: the flag is kept)",
        f"topic {in_pattern} in 1",
        "# 1 / 0 (retained) on both brokers: the link is up / down",
        "notifications true",
        f"notification_topic {bridge['topic_prefix']}/{bridge['plant']}/{bridge['system']}/bridge/state",
        "# TLS with this plant's own client certificate; the central broker's name is verified",
        f"bridge_cafile {cert_dir}/ca.crt",
        f"bridge_certfile {cert_dir}/{code}.crt",
        f"bridge_keyfile {cert_dir}/{code}.key",
        "bridge_tls_version tlsv1.2",
        "bridge_insecure false",
        "# the central broker, for this bridge: a TLS listener with require_certificate true (this",
        f"# plant's certificate), persistent_client_expiration longer than {bridge['outage_hours']:g} h, and",
        "# max_queued_messages large enough for the releases published during such an outage",
    ]
    return lines


def bridge_config(plant, bridges):
    """The plant's ``mosquitto.conf``: ``plant`` (dict: ``persistence_location``,
    ``autosave_interval``, ``listener`` (``host:port`` for the plant systems), ``generated``
    (a line saying from where and when)); ``bridges``: one dict per backend (``code``,
    ``address``, ``topic_prefix``, ``plant``, ``system``, ``protocol``, ``keepalive``,
    ``client_id``, ``restart_cap``, ``cert_dir``, ``outage_hours``, ``rate``, ``message_bytes``)."""
    if not bridges:
        raise ValueError("no backend to bridge: select at least one backend with MQTT")
    codes = [b["code"] for b in bridges]
    if len(set(codes)) != len(codes):
        raise ValueError(
            f"Backend codes {codes!r} cannot be used in one bridge configuration: a code appears twice"
        )
    connections = [line for bridge in bridges for line in _connection(bridge)]  # checks first
    queued, queued_bytes, arithmetic = queue_sizing(bridges)
    persistence = _check_path(
        "Persistence folder", plant.get("persistence_location") or "/var/lib/mosquitto/"
    )
    autosave = _positive("Autosave interval (s)", plant.get("autosave_interval", 10), integer=True)
    host, port = parse_address(plant.get("listener") or "127.0.0.1:1883")
    lines = [
        "# Plant broker with its bridge to the central broker (Mosquitto 2.0).",
        f"# {plant.get('generated') or 'Generated by mfg_integration_base'}: regenerate rather than edit.",
        "",
        "# ---- plant systems publish here (QoS 1, their message id in the payload)",
        f"listener {port} {host.strip('[]')}",
        "allow_anonymous true"
        if host in ("127.0.0.1", "localhost", "[::1]")
        else "# add authentication here",
        "",
        "# ---- durable queues: what the bridge cannot forward waits here, on disk",
        "persistence true",
        f"persistence_location {persistence.rstrip('/')}/",
        f"# written every {int(autosave)} s: a power cut of the plant broker loses at most that much",
        f"autosave_interval {int(autosave)}",
        "# queue bounds per client (the bridge is one client): the outage to survive",
        *arithmetic,
        f"max_queued_messages {queued}",
        f"max_queued_bytes {queued_bytes}",
        "max_inflight_messages 100",
        *connections,
        "",
    ]
    return "\n".join(lines)


def central_acl(bridges, odoo_users=(), generated=None):
    """The central broker's ``acl_file`` for the plants' bridges: each plant's certificate
    (its CN is the user name with ``use_identity_as_username true``; ``plant-<code>`` unless the
    bridge dict says ``client_id``) may publish only its own backend's facts, edge agent status
    and files (and the bridge's state notifications) and read only Odoo's messages for it; Odoo's
    own users (``odoo_users``: the backends' broker user names) read and write everything.
    Anonymous clients get nothing. ``ValueError`` names the field and value that cannot be used."""
    if not bridges:
        raise ValueError("no backend for the central broker's ACL: select at least one backend with MQTT")
    lines = [
        "# Central broker ACL (Mosquitto 2.0 acl_file) for the plants' bridges.",
        f"# {generated or 'Generated by mfg_integration_base'}: regenerate rather than edit.",
        "# Use with: acl_file <this file>; on the plants' TLS listener: require_certificate true and",
        "# use_identity_as_username true (a plant's user name is its certificate's CN).",
        "# Clients without a user name (anonymous) get no topic at all.",
    ]
    users = sorted({_check_name("Broker user of Odoo", user) for user in odoo_users if user})
    if users:
        lines += ["", "# ---- Odoo (listener, publisher): every topic"]
        for user in users:
            lines += [f"user {user}", "topic readwrite #"]
    else:
        lines += [
            "",
            "# ---- Odoo connects without a user name: give its listener and publisher a broker user",
            "# (backend, MQTT tab, Broker user) and generate this file again, or they get no topic.",
        ]
    seen = set()
    for bridge in bridges:
        code = _check_name("Backend code", bridge["code"])
        identity = _check_name(
            f"Bridge client id of backend {code}", bridge.get("client_id") or f"plant-{code}"
        )
        if identity in seen:
            raise ValueError(f"Bridge client id of backend {code} {identity!r} appears twice in the ACL")
        seen.add(identity)
        out_patterns, in_pattern = topics(bridge)
        root = in_pattern.rsplit("/odoo/#", 1)[0]
        lines += [
            "",
            f"# ---- plant backend {code}: certificate CN {identity}",
            f"user {identity}",
            *(f"topic write {pattern}" for pattern in out_patterns),
            f"topic write {root}/bridge/state",
            f"topic read {in_pattern}",
        ]
    return "\n".join(lines) + "\n"
