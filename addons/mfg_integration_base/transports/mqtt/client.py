"""paho-mqtt 2.x helpers shared by the listener and the publisher. Pure Python, no ORM.

Settings are plain dicts built from an ``mfg.backend`` record (see
``mfg.backend._mfg_mqtt_settings`` in mfg_backend_mqtt.py) so that the listener process can rebuild clients
without holding a database cursor. TLS material travels in them as ``Pem`` contents
(``ca_pem``, ``cert_pem``, ``key_pem``), never as server paths: equal when their SHA-256
are equal (the listener compares settings to see what changed), shown only by that hash.
paho reads them from private temporary files (``tls_files``) that live only while the
client's SSL context is built.
"""

import contextlib
import hashlib
import logging
import os
import ssl
import tempfile
import threading
from urllib.parse import quote

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

_logger = logging.getLogger(__name__)

QOS = 1


def topic_root(settings):
    """A backend's topic root, ``<prefix>/<plant>/<system>``: its facts one level below, Odoo's
    messages under ``odoo/``, the edge agents' statuses under ``edge/``, whole files under ``files/``."""
    return f"{settings['topic_prefix']}/{settings['plant']}/{settings['system']}"


def inbound_filter(settings):
    """Topic filter of a backend's inbound messages: <prefix>/<plant>/<system>/+ (maybe shared)."""
    topic = f"{topic_root(settings)}/+"
    if settings.get("shared_group") and settings.get("protocol") == "v5":
        topic = f"$share/{settings['shared_group']}/{topic}"
    return topic


def outbound_topic(settings, contract):
    """Default topic of an outbound message: <prefix>/<plant>/<system>/odoo/<contract>."""
    return f"{settings['topic_prefix']}/{settings['plant']}/{settings['system']}/odoo/{contract}"


def retained_topic(topic, ordering_key):
    """Topic of a reference-data message (a flow published retained): the flow's topic and one
    more level, the message's ordering key percent-encoded (``/``, ``+``, ``#`` and every other
    reserved character escaped), so the broker keeps the latest message of each record."""
    return f"{topic}/{quote(ordering_key, safe='')}"


def type_code_from_topic(topic):
    """The exchange type code a plant published on: the topic's last level."""
    return topic.rsplit("/", 1)[-1]


class Pem:
    """PEM text (a CA bundle, a certificate or a private key): compared and shown by its
    SHA-256 only, so that settings stay comparable and printing them never shows a key."""

    __slots__ = ("sha256", "text")

    def __init__(self, text):
        if isinstance(text, bytes):
            text = text.decode("ascii")
        self.text = text
        self.sha256 = hashlib.sha256(text.encode("ascii")).hexdigest()

    def __eq__(self, other):
        return isinstance(other, Pem) and other.sha256 == self.sha256

    def __hash__(self):
        return hash(self.sha256)

    def __repr__(self):
        return f"<PEM sha256:{self.sha256[:16]}>"

    __str__ = __repr__


def no_passphrase(*_args):
    """Passphrase callback of the SSL context: an encrypted key fails to load instead of
    OpenSSL prompting on the server's terminal."""
    return b""


_TLS_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@contextlib.contextmanager
def tls_files(settings):
    """{"ca_certs", "certfile", "keyfile"} paths (None when not set) of the settings' PEM
    contents, written to files created exclusively with mode 0600 in a new private folder
    (0700); folder and files are removed on exit."""
    pems = {
        "ca_certs": settings.get("ca_pem"),
        "certfile": settings.get("cert_pem"),
        "keyfile": settings.get("key_pem"),
    }
    if not any(pems.values()):
        yield dict.fromkeys(pems)
        return
    with tempfile.TemporaryDirectory(prefix="mfg-mqtt-tls-") as folder:
        paths = {}
        for name, pem in pems.items():
            if not pem:
                paths[name] = None
                continue
            path = os.path.join(folder, f"{name}.pem")
            fd = os.open(path, _TLS_FILE_FLAGS, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(pem.text)
            paths[name] = path
        yield paths


def make_client(settings, client_id, manual_ack=False):
    """A configured (not yet connected) paho client: MQTT v5 (or 3.1.1), persistent session."""
    v5 = settings.get("protocol", "v5") == "v5"
    kwargs = {
        "callback_api_version": CallbackAPIVersion.VERSION2,
        "client_id": client_id,
        "protocol": MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
        "manual_ack": manual_ack,
    }
    if not v5:
        # 3.1.1: a persistent session is "clean session = false" (with a fixed client id).
        kwargs["clean_session"] = not settings.get("persistent", True)
    client = mqtt.Client(**kwargs)
    if settings.get("username"):
        client.username_pw_set(settings["username"], settings.get("password") or None)
    if settings.get("tls"):
        # paho builds the SSL context (reads the files) here; the files go right after.
        with tls_files(settings) as paths:
            client.tls_set(**paths, cert_reqs=ssl.CERT_REQUIRED, keyfile_password=no_passphrase)
    client.reconnect_delay_set(min_delay=1, max_delay=int(settings.get("max_reconnect_delay", 30)))
    # Many small messages: do not let paho's own outgoing queue grow without bound.
    client.max_queued_messages_set(int(settings.get("max_queued", 10000)))
    return client


def connect_kwargs(settings, persistent=True):
    """Arguments of client.connect()/connect_async() for these settings."""
    kwargs = {
        "host": settings["host"],
        "port": int(settings.get("port") or 1883),
        "keepalive": int(settings.get("keepalive", 30)),
    }
    if settings.get("protocol", "v5") == "v5":
        props = Properties(PacketTypes.CONNECT)
        if persistent:
            # Keep the session (subscriptions + queued QoS 1 messages) while we are away.
            props.SessionExpiryInterval = int(settings.get("session_expiry", 7 * 24 * 3600))
        # At most this many unacknowledged QoS 1 messages in flight towards us: backpressure
        # while the database is slow or down.
        props.ReceiveMaximum = int(settings.get("receive_maximum", 1000))
        kwargs["clean_start"] = not persistent
        kwargs["properties"] = props
    return kwargs


def probe(settings, client_id, timeout=5.0):
    """Connect a throwaway client to the broker of ``settings`` and wait for its CONNACK.

    Clean session, nothing subscribed or published; the client is disconnected before
    returning. Returns ``(ok, text)``: the broker's answer, or why there was none.
    """
    settings = dict(settings, persistent=False)
    answer = {}
    answered = threading.Event()

    def on_connect(_client, _userdata, _flags, reason_code, _properties):
        answer["code"] = reason_code
        answered.set()

    def on_disconnect(_client, _userdata, _flags, reason_code, _properties):
        answer.setdefault("lost", reason_code)
        answered.set()

    client = None
    try:
        client = make_client(settings, client_id)
        client.connect_timeout = timeout
        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.connect(**connect_kwargs(settings, persistent=False))
        client.loop_start()
        if not answered.wait(timeout):
            return False, f"no answer (CONNACK) within {timeout:g} s"
        code = answer.get("code")
        if code is None:
            return False, f"connection closed before the broker answered: {answer.get('lost')}"
        if code.is_failure:
            return False, f"connection refused by the broker: {code}"
        return True, "connection accepted"
    except Exception as exc:  # socket, TLS and configuration errors alike: report, do not raise
        return False, f"{type(exc).__name__}: {exc}"
    finally:
        if client is not None:
            try:
                client.disconnect()
            finally:
                client.loop_stop()


def publish_properties(settings, message_id=None, correlation_id=None, contract=None, content_type=None):
    if settings.get("protocol", "v5") != "v5":
        return None
    props = Properties(PacketTypes.PUBLISH)
    props.ContentType = content_type or "application/json"
    props.PayloadFormatIndicator = 1
    user = []
    if message_id:
        user.append(("message_id", str(message_id)))
    if contract:
        user.append(("exchange_type", contract))
    if user:
        props.UserProperty = user
    if correlation_id:
        props.CorrelationData = str(correlation_id).encode()
    return props


def user_properties(msg):
    """MQTT v5 user properties of a received message as a dict (empty for 3.1.1)."""
    props = getattr(msg, "properties", None)
    pairs = getattr(props, "UserProperty", None) or []
    return dict(pairs)
