"""The agent's configuration: one TOML file, checked as a whole (every error named by its key).

``load(path)`` returns a ``Config``; ``ConfigError.errors`` lists ``"key: what is wrong"`` lines.
See edge/README.md for the reference of every key.
"""

import math
import re
from dataclasses import dataclass
from pathlib import Path

import tomllib

_LEVEL = re.compile(r"^[^/#+\s\x00]+$")
_AGENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_MQTT_PAYLOAD = 256 * 2**20 - 1024  # MQTT's 256 MiB, less room for the topic


class ConfigError(ValueError):
    def __init__(self, path, errors):
        self.errors = errors
        super().__init__(f"{path}: " + "; ".join(errors))


@dataclass
class Broker:
    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = ""
    username: str = ""
    password: str = ""
    tls: bool = False
    cafile: str = ""
    certfile: str = ""
    keyfile: str = ""
    keepalive: int = 30
    session_expiry: int = 7 * 24 * 3600


@dataclass
class Rest:
    enabled: bool = True
    bind: str = "127.0.0.1"
    port: int = 8780
    token: str = ""
    max_body_bytes: int = 1024 * 1024
    max_depth: int = 32


@dataclass
class DropFolder:
    path: str = ""
    complete: str = "stable"  # "stable": size and mtime equal over two scans; "marker": <name>.done
    scan_seconds: float = 2.0
    max_file_bytes: int = 64 * 2**20


@dataclass
class Config:
    agent_id: str
    topic_root: str
    spool_path: str
    broker: Broker
    rest: Rest
    dropfolder: DropFolder | None = None
    bridge_state_topic: str = ""
    central_address: tuple | None = None  # (host, port) probed by TCP: is the centre reachable?
    link_probe_seconds: float = 5.0
    max_spool_messages: int = 100_000
    max_spool_bytes: int = 1024 * 2**20
    publish_window: int = 100
    heartbeat_seconds: float = 30.0
    cache_max_age_seconds: float = 24 * 3600.0
    source: str = ""

    @property
    def status_topic(self):
        return f"{self.topic_root}/edge/{self.agent_id}/status"

    @property
    def odoo_topic(self):
        return f"{self.topic_root}/odoo/#"


class _Checker:
    def __init__(self, data):
        self.data = data
        self.errors = []

    def get(self, table, key, kind, default, check=None, what=""):
        section = self.data if table is None else self.data.get(table, {})
        name = key if table is None else f"{table}.{key}"
        if key not in section:
            return default
        value = section[key]
        ok = isinstance(value, kind) and not (kind in (int, float, (int, float)) and isinstance(value, bool))
        if ok and isinstance(value, float) and not math.isfinite(value):
            ok = False
        if ok and check is not None and not check(value):
            ok = False
        if not ok:
            self.errors.append(f"{name}: {value!r} is not {what or kind.__name__}")
            return default
        return value


def _port(v):
    return 0 < v < 65536


def _positive(v):
    return v > 0


def parse(data, source=""):
    """A ``Config`` from the TOML's dict; ``ConfigError`` naming every key that cannot be used."""
    c = _Checker(data)
    known = {
        "agent_id", "topic_root", "spool_path", "bridge_state_topic", "max_spool_messages",
        "max_spool_bytes", "publish_window", "heartbeat_seconds", "cache_max_age_seconds",
        "broker", "rest", "dropfolder", "opcua", "link",
    }  # fmt: skip
    for key in sorted(set(data) - known):
        c.errors.append(f"{key}: unknown key (known: {', '.join(sorted(known))})")
    agent_id = c.get(None, "agent_id", str, "", _AGENT.fullmatch, "an id of letters, digits, '.', '_', '-'")
    if "agent_id" not in data:
        c.errors.append('agent_id: required (e.g. agent_id = "line1-pc")')
    root = c.get(None, "topic_root", str, "", lambda v: all(_LEVEL.fullmatch(p) for p in v.split("/")),
                 "a topic <prefix>/<plant>/<system> without '+', '#', spaces or empty levels")  # fmt: skip
    if "topic_root" not in data:
        c.errors.append('topic_root: required: the backend\'s <prefix>/<plant>/<system>, e.g. "mfg/P1/MES"')
    spool = c.get(None, "spool_path", str, "", lambda v: bool(v.strip()), "a file path")
    if "spool_path" not in data:
        c.errors.append("spool_path: required (the SQLite file of the spool and the cache)")
    numbers = (int, float)
    cfg = Config(
        agent_id=agent_id,
        topic_root=root,
        spool_path=spool,
        broker=Broker(),
        rest=Rest(),
        bridge_state_topic=c.get(None, "bridge_state_topic", str, f"{root}/bridge/state"),
        max_spool_messages=c.get(
            None, "max_spool_messages", int, 100_000, _positive, "a whole number above 0"
        ),
        max_spool_bytes=c.get(
            None, "max_spool_bytes", int, 1024 * 2**20, _positive, "a whole number above 0"
        ),
        publish_window=c.get(
            None, "publish_window", int, 100, lambda v: 0 < v <= 1000, "a number from 1 to 1000"
        ),
        heartbeat_seconds=float(
            c.get(None, "heartbeat_seconds", numbers, 30.0, _positive, "a number above 0")
        ),
        cache_max_age_seconds=float(
            c.get(None, "cache_max_age_seconds", numbers, 24 * 3600.0, _positive, "a number above 0")
        ),
        source=str(source),
    )
    b = cfg.broker
    b.host = c.get("broker", "host", str, b.host, lambda v: bool(v.strip()), "a host name or address")
    b.port = c.get("broker", "port", int, b.port, _port, "a port (1..65535)")
    b.client_id = c.get("broker", "client_id", str, f"mfg-edge-{agent_id}")
    b.username = c.get("broker", "username", str, "")
    b.password = c.get("broker", "password", str, "")
    b.tls = c.get("broker", "tls", bool, False, what="true or false")
    for key in ("cafile", "certfile", "keyfile"):
        value = c.get("broker", key, str, "")
        if value and not Path(value).is_file():
            c.errors.append(f"broker.{key}: {value!r} is not a readable file")
        setattr(b, key, value)
    if bool(b.certfile) != bool(b.keyfile):
        c.errors.append("broker.certfile / broker.keyfile: give both (client certificate) or neither")
    b.keepalive = c.get(
        "broker", "keepalive", int, 30, lambda v: 5 <= v <= 3600, "a number of seconds (5..3600)"
    )
    b.session_expiry = c.get(
        "broker", "session_expiry", int, b.session_expiry, lambda v: v >= 0, "seconds >= 0"
    )
    r = cfg.rest
    r.enabled = c.get("rest", "enabled", bool, True, what="true or false")
    r.bind = c.get("rest", "bind", str, r.bind, lambda v: bool(v.strip()), "an address")
    r.port = c.get("rest", "port", int, r.port, lambda v: 0 <= v < 65536, "a port (0..65535, 0: any)")
    r.token = c.get("rest", "token", str, "")
    r.max_body_bytes = c.get("rest", "max_body_bytes", int, r.max_body_bytes, _positive, "a number above 0")
    r.max_depth = c.get(
        "rest", "max_depth", int, r.max_depth, lambda v: 1 <= v <= 200, "a number from 1 to 200"
    )
    if "link" in data:
        cfg.central_address, cfg.link_probe_seconds = _link(c)
    if "dropfolder" in data:
        cfg.dropfolder = _dropfolder(c)
    if "opcua" in data:
        c.errors.append("opcua: the OPC UA source is not built in this version (see edge/README.md)")
    if c.errors:
        raise ConfigError(source or "configuration", c.errors)
    return cfg


def _address(value):
    host, _sep, port = value.rpartition(":")
    return bool(host.strip("[]")) and port.isdigit() and 0 < int(port) < 65536


def _link(c):
    central = c.get(
        "link", "central", str, "", _address, 'host:port of the central broker, e.g. "mqtt.example.com:8883"'
    )
    seconds = float(c.get("link", "probe_seconds", (int, float), 5.0, _positive, "a number above 0"))
    if not central:
        return None, seconds
    host, _sep, port = central.rpartition(":")
    return (host.strip("[]"), int(port)), seconds


def _dropfolder(c):
    numbers = (int, float)
    d = DropFolder()
    d.path = c.get("dropfolder", "path", str, "", lambda v: Path(v).is_absolute(), "an absolute folder path")
    if not d.path:
        c.errors.append("dropfolder.path: required when [dropfolder] is given (an absolute folder)")
    d.complete = c.get("dropfolder", "complete", str, d.complete, lambda v: v in ("stable", "marker"),
                       '"stable" or "marker"')  # fmt: skip
    d.scan_seconds = float(c.get("dropfolder", "scan_seconds", numbers, 2.0, _positive, "a number above 0"))
    d.max_file_bytes = c.get("dropfolder", "max_file_bytes", int, d.max_file_bytes,
                             lambda v: 0 < v <= MAX_MQTT_PAYLOAD, f"a number from 1 to {MAX_MQTT_PAYLOAD}")  # fmt: skip
    return d


def load(path):
    """The ``Config`` of the TOML file ``path``."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(path, [f"config: file {str(path)!r} not found"]) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, [f"config: not valid TOML: {e}"]) from None
    return parse(data, source=path)
