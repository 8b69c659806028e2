"""HMAC-SHA256 signatures of outbound HTTP messages (webhooks). Pure Python, no ORM.

The sender adds two headers:
    X-Mfg-Timestamp: <unix seconds>
    X-Mfg-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" with the shared secret>
A receiver recomputes the HMAC over the same bytes, compares in constant time, and refuses
timestamps older than a few minutes (replay protection).
"""

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Mfg-Signature"
TIMESTAMP_HEADER = "X-Mfg-Timestamp"


def _to_bytes(value):
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def sign(secret, body, timestamp=None):
    """Return the headers that sign ``body`` (bytes) with ``secret``."""
    timestamp = str(int(timestamp if timestamp is not None else time.time()))
    digest = hmac.new(_to_bytes(secret), _to_bytes(timestamp) + b"." + _to_bytes(body), hashlib.sha256)
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: "sha256=" + digest.hexdigest()}


def verify(secret, body, timestamp, signature, tolerance=300, now=None):
    """True when ``signature`` is the HMAC of ``body`` at ``timestamp`` and is recent enough."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    now = time.time() if now is None else now
    if tolerance and abs(now - ts) > tolerance:
        return False
    expected = sign(secret, body, ts)[SIGNATURE_HEADER]
    return hmac.compare_digest(expected, str(signature or ""))
