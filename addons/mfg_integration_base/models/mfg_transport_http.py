import logging

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from odoo import models

from ..components import signing
from ..exceptions import MfgPermanentError, MfgTransientError

_logger = logging.getLogger(__name__)

# Answers worth another attempt later; every other 4xx means the message itself is refused.
TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


class MfgTransportHttp(models.AbstractModel):
    """HTTP POST of the raw JSON payload, signed with HMAC-SHA256 when the backend has a secret.

    Headers: Content-Type, X-Mfg-Message-Id, X-Mfg-Exchange-Type, X-Mfg-Backend,
    Idempotency-Key (the message id: a receiver can drop redeliveries), and, with a secret,
    X-Mfg-Timestamp + X-Mfg-Signature (see components/signing.py). Connection blips are
    retried twice at once by urllib3; anything longer is the pipeline's retry with backoff.
    """

    _name = "mfg.transport.http"
    _inherit = "mfg.transport"
    _description = "Integration Transport: HTTP POST"

    def _mfg_session(self):
        session = requests.Session()
        retry = Retry(total=2, connect=2, read=0, status=0, backoff_factor=0.2, allowed_methods=None)
        session.mount("http://", HTTPAdapter(max_retries=retry))
        session.mount("https://", HTTPAdapter(max_retries=retry))
        return session

    def _mfg_send(self, message):
        backend = message.backend_id.sudo()
        flow = backend._mfg_flow(message.exchange_type_id)
        url = (flow.endpoint if flow and flow.endpoint else "") or backend.http_url
        if not url:
            raise MfgPermanentError(
                self.env._(
                    "Backend %(backend)s has no HTTP URL for %(type)s: set one on the backend or the flow.",
                    backend=backend.code,
                    type=message.exchange_type_id.contract,
                )
            )
        body = (message.payload or "").encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "X-Mfg-Message-Id": str(message.id),
            "Idempotency-Key": f"{backend.code}-{message.id}",
            "X-Mfg-Exchange-Type": message.exchange_type_id.contract,
            "X-Mfg-Backend": backend.code,
        }
        if message.correlation_id:
            headers["X-Correlation-Id"] = message.correlation_id
        if backend.hmac_secret:
            headers.update(signing.sign(backend.hmac_secret, body))
        if backend.http_token:
            headers["Authorization"] = f"Bearer {backend.http_token}"
        timeout = backend.http_timeout or 10
        try:
            with self._mfg_session() as session:
                resp = session.post(url, data=body, headers=headers, timeout=timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise MfgTransientError(
                self.env._("%(url)s is not reachable: %(error)s", url=url, error=type(exc).__name__)
            ) from exc
        except requests.RequestException as exc:
            raise MfgPermanentError(
                self.env._("HTTP request to %(url)s failed: %(error)s", url=url, error=exc)
            ) from exc
        answer = f"HTTP {resp.status_code}: {resp.text[:2000]}"
        if resp.status_code in TRANSIENT_STATUS:
            raise MfgTransientError(self.env._("%(url)s answered %(answer)s", url=url, answer=answer))
        if resp.status_code >= 400:
            raise MfgPermanentError(
                self.env._("%(url)s refused the message: %(answer)s", url=url, answer=answer)
            )
        return answer
