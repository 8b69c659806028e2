"""Outbound HTTP: webhooks POSTed to the plant system.

outbound.py        where outbound HTTP may go (allowed hosts) and what of an answer is kept
session.py         the requests session whose connections are checked where they landed
webhook_signing.py         HMAC-SHA256 signatures (Standard Webhooks)
mfg_backend_http.py     the backend's HTTP fields (URL, timeout, token, secret, signature scheme)
mfg_transport_http.py   mfg.transport.http: send, endpoint, connection test
"""

from . import outbound
from . import session
from . import webhook_signing
from . import mfg_backend_http
from . import mfg_transport_http
