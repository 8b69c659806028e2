"""HMAC-SHA256 signatures of outbound HTTP messages (webhooks). Pure Python, no ORM.

Standard Webhooks (https://www.standardwebhooks.com/), what every outbound message with a secret gets:
    webhook-id: <message id, the same on every redelivery>
    webhook-timestamp: <unix seconds>
    webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<raw body>">
The id is signed, so a captured request replayed under a new id fails verification, and a receiver
drops a replay under the same id as a redelivery. Any Standard Webhooks library verifies it (Python:
``standardwebhooks.Webhook(secret).verify(body, headers)``).

Secret: as the specification says, a secret ``whsec_<base64>`` (24 to 64 random bytes, see
``new_secret``) signs with its decoded bytes. A secret without that prefix (shared secrets set before
Standard Webhooks) signs with its UTF-8 bytes: a receiver passes them as bytes,
``Webhook(secret.encode())``.

Legacy scheme, sent as well while a backend's receivers move over (transition setting):
    X-Mfg-Timestamp: <unix seconds>
    X-Mfg-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" with the secret's UTF-8 bytes>
It does not cover the message id: a captured request can be replayed under a new id within the window.
"""

import base64
import binascii
import hashlib
import hmac
import secrets as _secrets
import time

SIGNATURE_HEADER = "X-Mfg-Signature"
TIMESTAMP_HEADER = "X-Mfg-Timestamp"
WEBHOOK_ID = "webhook-id"
WEBHOOK_TIMESTAMP = "webhook-timestamp"
WEBHOOK_SIGNATURE = "webhook-signature"
SECRET_PREFIX = "whsec_"
SECRET_BYTES = (24, 64)


def _to_bytes(value):
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def new_secret(size=32):
    """A new Standard Webhooks secret: ``whsec_`` + base64 of ``size`` random bytes."""
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(size)).decode("ascii")


def signing_key(secret):
    """The HMAC key of a secret (see the module's docstring); ValueError for a malformed whsec_ secret."""
    if isinstance(secret, bytes):
        return secret
    secret = str(secret or "")
    if secret.startswith(SECRET_PREFIX):
        try:
            key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("the part after whsec_ is not base64") from exc
        if not SECRET_BYTES[0] <= len(key) <= SECRET_BYTES[1]:
            raise ValueError(f"it holds {len(key)} bytes, not {SECRET_BYTES[0]} to {SECRET_BYTES[1]}")
        return key
    return secret.encode("utf-8")


def sign_webhook(secret, msg_id, body, timestamp=None):
    """The Standard Webhooks headers that sign ``body`` (bytes) sent as message ``msg_id``."""
    timestamp = str(int(timestamp if timestamp is not None else time.time()))
    signed = _to_bytes(msg_id) + b"." + _to_bytes(timestamp) + b"." + _to_bytes(body)
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return {
        WEBHOOK_ID: str(msg_id),
        WEBHOOK_TIMESTAMP: timestamp,
        WEBHOOK_SIGNATURE: "v1," + base64.b64encode(digest).decode("ascii"),
    }


def verify_webhook(secret, body, headers, tolerance=300, now=None):
    """True when ``headers`` (any case) carry a valid, recent Standard Webhooks signature of ``body``."""
    headers = {str(k).lower(): v for k, v in (headers or {}).items()}
    msg_id, timestamp = headers.get(WEBHOOK_ID), headers.get(WEBHOOK_TIMESTAMP)
    if not msg_id or not timestamp:
        return False
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    now = time.time() if now is None else now
    if tolerance and abs(now - ts) > tolerance:
        return False
    expected = sign_webhook(secret, msg_id, body, ts)[WEBHOOK_SIGNATURE]
    return any(
        hmac.compare_digest(expected, candidate)
        for candidate in str(headers.get(WEBHOOK_SIGNATURE) or "").split()
    )


def sign(secret, body, timestamp=None):
    """Legacy: the X-Mfg-Timestamp / X-Mfg-Signature headers that sign ``body`` (bytes) with ``secret``."""
    timestamp = str(int(timestamp if timestamp is not None else time.time()))
    digest = hmac.new(_to_bytes(secret), _to_bytes(timestamp) + b"." + _to_bytes(body), hashlib.sha256)
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: "sha256=" + digest.hexdigest()}


def verify(secret, body, timestamp, signature, tolerance=300, now=None):
    """Legacy: True when ``signature`` is the HMAC of ``body`` at ``timestamp`` and is recent enough."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    now = time.time() if now is None else now
    if tolerance and abs(now - ts) > tolerance:
        return False
    expected = sign(secret, body, ts)[SIGNATURE_HEADER]
    return hmac.compare_digest(expected, str(signature or ""))
