import logging
from datetime import datetime, timezone

import requests
from urllib3.exceptions import HTTPError as Urllib3Error

from odoo import api, models

from ...exceptions import MfgPermanentError, MfgTransientError
from ...lib import settings
from . import outbound, webhook_signing
from .session import guarded_session

_logger = logging.getLogger(__name__)

# Answers worth another attempt later; every other 4xx means the message itself is refused.
TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
ALLOWED_HOSTS_PARAM = "mfg_integration.outbound_allowed_hosts"
DEFAULT_TIMEOUT = 10
MAX_TIMEOUT = 300


class MfgTransportHttp(models.AbstractModel):
    """HTTP POST of the raw JSON payload, signed with HMAC-SHA256 when the backend has a secret.

    Headers: Content-Type, X-Mfg-Message-Id, X-Mfg-Exchange-Type, X-Mfg-Backend,
    Idempotency-Key (the message id: a receiver can drop redeliveries), and, with a secret, the
    Standard Webhooks headers webhook-id (= Idempotency-Key), webhook-timestamp, webhook-signature
    (+ the legacy X-Mfg-Timestamp / X-Mfg-Signature during a transition; see webhook_signing.py).

    Only hosts allowed by a system administrator are reached (outbound.py, session.py); redirects
    are not followed; only the status and a bounded, redacted excerpt of the answer are kept; a
    Retry-After of a 429/503 sets the next attempt. Connection blips are retried twice at once by
    urllib3; anything longer is the pipeline's retry with backoff.
    """

    _name = "mfg.transport.http"
    _inherit = "mfg.transport"
    _description = "Integration Transport: HTTP POST"

    # ------------------------------------------------------------------ where outbound HTTP may go
    def _mfg_outbound_policy(self):
        """The allowed hosts: server setting + system parameter (both set by system administrators)."""
        param = self.env["ir.config_parameter"].sudo().get_param(ALLOWED_HOSTS_PARAM, "")
        return outbound.parse_policy(settings.get_str("outbound_allowed_hosts"), param)

    def _mfg_refusal_text(self, refusal):
        _ = self.env._
        where = _(
            "A system administrator may allow it in the server setting [mfg_integration] "
            "outbound_allowed_hosts or the system parameter %(param)s.",
            param=ALLOWED_HOSTS_PARAM,
        )
        if refusal.reason == "entry":
            return _(
                "The allowed outbound hosts contain %(entry)r, which is neither a host name, *.domain, * nor "
                "an IP address or network: a system administrator corrects the server setting [mfg_integration] "
                "outbound_allowed_hosts or the system parameter %(param)s.",
                entry=refusal.value,
                param=ALLOWED_HOSTS_PARAM,
            )
        if refusal.reason == "scheme":
            return _(
                "%(url)s is not an http:// or https:// URL with a host: enter the receiver's full URL.",
                url=refusal.value,
            )
        if refusal.reason == "host":
            return "{} {}".format(
                _("Host %(host)s is not an allowed outbound host.", host=refusal.value),
                where,
            )
        return "{} {}".format(
            _(
                "%(address)s is an address outbound messages may not reach (loopback, private, link-local "
                "and other internal addresses, and addresses not listed, are refused).",
                address=refusal.value,
            ),
            _(
                "A system administrator may allow it by listing the address or its network in the server "
                "setting [mfg_integration] outbound_allowed_hosts or the system parameter %(param)s.",
                param=ALLOWED_HOSTS_PARAM,
            ),
        )

    def _mfg_url_refusal(self, url, resolve=True):
        """None when ``url`` may be reached, else why not (translated, with what to do)."""
        try:
            outbound.check_url(self._mfg_outbound_policy(), url, resolve=resolve)
        except outbound.OutboundRefused as refusal:
            return self._mfg_refusal_text(refusal)
        return None

    def _mfg_session(self, policy):
        return guarded_session(policy)

    def _mfg_request(self, method, url, timeout, **kwargs):
        """(response, first bytes of its body): the URL checked, no redirect followed, the body read
        up to outbound.READ_BYTES. OutboundRefused when the URL or the address reached is refused."""
        policy = self._mfg_outbound_policy()
        outbound.check_url(policy, url)
        with self._mfg_session(policy) as session:
            resp = session.request(method, url, timeout=timeout, allow_redirects=False, stream=True, **kwargs)
            try:
                raw = resp.raw.read(outbound.READ_BYTES, decode_content=True) or b""
            except (OSError, Urllib3Error, requests.RequestException):
                raw = b""
            finally:
                resp.close()
        return resp, raw

    def _mfg_probe(self, url, timeout):
        """HTTP status of a HEAD request to ``url`` (the backend's connection test); MfgPermanentError
        when the URL may not be reached, requests' exceptions when it cannot."""
        try:
            resp, _raw = self._mfg_request("HEAD", url, _timeout(timeout))
        except outbound.OutboundRefused as refusal:
            raise MfgPermanentError(self._mfg_refusal_text(refusal)) from refusal
        return resp.status_code

    # ------------------------------------------------------------------ interface (models/mfg_transport.py)
    @api.model
    def _mfg_default_endpoint(self, backend, exchange_type):
        return backend.http_url

    @api.model
    def _mfg_is_configured(self, backend):
        return bool(backend.http_url)

    @api.model
    def _mfg_setup_hint(self):
        return self.env._("an HTTP URL (Connection tab)")

    @api.model
    def _mfg_test_connection(self, backend):
        """A HEAD request to the backend's HTTP URL: any HTTP status counts as reachable. Same
        checks as sending: allowed hosts only, no redirect followed."""
        url = backend.http_url
        try:
            status = self._mfg_probe(url, backend.http_timeout)
        except MfgPermanentError as exc:
            return False, exc.message
        except requests.RequestException as exc:
            return False, self.env._("%(url)s is not reachable: %(error)s", url=url, error=type(exc).__name__)
        return True, self.env._("%(url)s answered HTTP %(status)s.", url=url, status=status)

    # ------------------------------------------------------------------ send
    def _mfg_send(self, message):
        backend = message.backend_id.sudo()
        url = self._mfg_endpoint(backend, message.exchange_type_id)
        if not url:
            raise MfgPermanentError(
                self.env._(
                    "Backend %(backend)s has no HTTP URL for %(type)s: set one on the backend or the flow.",
                    backend=backend.code,
                    type=message.exchange_type_id.contract,
                )
            )
        body, content_type = message._mfg_wire_body()
        message_key = f"{backend.code}-{message.id}"
        headers = {
            "Content-Type": content_type,
            "X-Mfg-Message-Id": str(message.id),
            "Idempotency-Key": message_key,
            "X-Mfg-Exchange-Type": message.exchange_type_id.contract,
            "X-Mfg-Backend": backend.code,
        }
        if message.correlation_id:
            headers["X-Correlation-Id"] = message.correlation_id
        if backend.hmac_secret:
            try:
                headers.update(webhook_signing.sign_webhook(backend.hmac_secret, message_key, body))
            except ValueError as exc:
                raise MfgPermanentError(
                    self.env._(
                        "The HMAC secret of backend %(backend)s cannot sign: %(error)s. Set a valid secret.",
                        backend=backend.code,
                        error=exc,
                    )
                ) from exc
            if backend.webhook_signature == "standard_legacy":
                headers.update(webhook_signing.sign(backend.hmac_secret, body))
        if backend.http_token:
            headers["Authorization"] = f"Bearer {backend.http_token}"
        try:
            resp, raw = self._mfg_request(
                "POST", url, _timeout(backend.http_timeout), data=body, headers=headers
            )
        except outbound.OutboundRefused as refusal:
            raise MfgPermanentError(
                self.env._(
                    "%(url)s was not contacted: %(reason)s", url=url, reason=self._mfg_refusal_text(refusal)
                )
            ) from refusal
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise MfgTransientError(
                self.env._("%(url)s is not reachable: %(error)s", url=url, error=type(exc).__name__)
            ) from exc
        except requests.RequestException as exc:
            raise MfgPermanentError(
                self.env._("HTTP request to %(url)s failed: %(error)s", url=url, error=type(exc).__name__)
            ) from exc
        secrets = [backend.http_token or "", backend.hmac_secret or ""]
        text = outbound.excerpt(raw, resp.headers.get("Content-Type", ""), secrets=secrets)
        answer = f"HTTP {resp.status_code}: {text}" if text else f"HTTP {resp.status_code}"
        if resp.status_code in TRANSIENT_STATUS:
            retry_after = outbound.parse_retry_after(
                resp.headers.get("Retry-After"), datetime.now(timezone.utc)
            )
            raise MfgTransientError(
                self.env._("%(url)s answered %(answer)s", url=url, answer=answer), retry_after=retry_after
            )
        if 300 <= resp.status_code < 400:
            location = outbound.excerpt(
                (resp.headers.get("Location") or "").encode("utf-8", "replace"),
                "text/plain",
                secrets,
                limit=200,
            )
            raise MfgPermanentError(
                self.env._(
                    "%(url)s answered HTTP %(status)s, a redirect to %(location)s: redirects are not followed. "
                    "Set the final URL as the backend's HTTP URL or the flow's endpoint.",
                    url=url,
                    status=resp.status_code,
                    location=location or "?",
                )
            )
        if resp.status_code >= 400:
            raise MfgPermanentError(
                self.env._("%(url)s refused the message: %(answer)s", url=url, answer=answer)
            )
        return answer


def _timeout(seconds):
    """Every outbound call has a timeout: the backend's, within (0, MAX_TIMEOUT], else the default."""
    return min(seconds, MAX_TIMEOUT) if seconds and seconds > 0 else DEFAULT_TIMEOUT
