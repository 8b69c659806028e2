"""The requests session of outbound HTTP: every connection checked where it actually landed.
Pure Python, no ORM; the policy comes from outbound.py (allowed hosts)."""

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.retry import Retry

from . import outbound


class _GuardedConnection:
    """Checks the address a connection actually reached, before anything is sent on it: a host
    name that resolves elsewhere than when the URL was checked (DNS rebinding) is caught here."""

    mfg_policy = None

    def _new_conn(self):
        sock = super()._new_conn()
        try:
            peer = sock.getpeername()[0]
        except OSError:
            peer = None
        if peer is None or not outbound.address_allowed(self.mfg_policy, peer):
            sock.close()
            raise outbound.OutboundRefused("address", f"{self.host} → {peer}")
        return sock


class GuardedAdapter(HTTPAdapter):
    def __init__(self, policy, **kwargs):
        self.mfg_policy = policy
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        res = super().init_poolmanager(*args, **kwargs)
        attrs = {"mfg_policy": self.mfg_policy}
        http_cls = type("MfgHTTPConnection", (_GuardedConnection, HTTPConnection), attrs)
        https_cls = type("MfgHTTPSConnection", (_GuardedConnection, HTTPSConnection), attrs)
        # Direct connections only: a proxy configured by the server's operator (environment) is
        # reached through urllib3's own ProxyManager.
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("MfgHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_cls}),
            "https": type("MfgHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_cls}),
        }
        return res


def guarded_session(policy):
    """A requests session whose connections go only where ``policy`` allows."""
    session = requests.Session()
    # Connection blips only. A Retry-After is the pipeline's business (next_attempt_at), never a
    # sleep inside the drain: urllib3 would otherwise retry 413/429/503 answers that carry one.
    retry = Retry(
        total=2,
        connect=2,
        read=0,
        status=0,
        backoff_factor=0.2,
        allowed_methods=None,
        respect_retry_after_header=False,
    )
    session.mount("http://", GuardedAdapter(policy, max_retries=retry))
    session.mount("https://", GuardedAdapter(policy, max_retries=retry))
    return session
