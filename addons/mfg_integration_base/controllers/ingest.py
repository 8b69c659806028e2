"""REST ingest: plant systems POST canonical messages; monitoring tools GET health.

Routes hand over to the models at once; this file only translates HTTP to the pipeline.
"""

import logging
import re

from odoo import fields, http
from odoo.http import request

from ..exceptions import MfgValidationError
from ..lib import contract, settings
from ..lib.side_transaction import SideTransactionBusy
from ..models.mfg_api_key import KEY_SCOPE
from ..pipeline.receive import MAX_SENDER_KEY_LENGTH

_logger = logging.getLogger(__name__)

DEFAULT_MAX_PAYLOAD = 1024 * 1024  # bytes; [mfg_integration] max_payload_bytes
API_GROUPS = (
    "mfg_integration_base.group_mfg_service",
    "mfg_integration_base.group_mfg_manager",
)
BEARER_RE = re.compile(r"^bearer\s+(\S+)\s*$", re.IGNORECASE)
# Headers whose value is kept on the message: at most MAX_SENDER_KEY_LENGTH characters (the
# OpenAPI document's maxLength), no NUL (no text column can hold it).
ID_HEADERS = ("Idempotency-Key", "X-Message-Id", "X-Correlation-Id")
MAX_PATH_CODE_LENGTH = 255
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
VERSION_RE = re.compile(r"\.v(\d+)$")
MAX_VERSION = 2**31 - 1  # an exchange type's version is a PostgreSQL integer


def _json(status, body, headers=None):
    return request.make_json_response(body, headers=headers, status=status)


def _bad_request(error, detail, **extra):
    return _json(400, {"error": error, "detail": detail, **extra})


def throttled(backend):
    """The 429 answer of every API that throttles (ingest, query APIs): when ``backend`` is above
    its rate limit, or when no connection is free to count the request; None when the request
    may go on (one token of the backend's bucket taken)."""
    backend = backend.sudo()
    try:
        allowed, retry_after = backend._mfg_throttle()
    except SideTransactionBusy:
        _logger.warning("mfg api: no connection free to throttle backend %s: answered 429", backend.code)
        return _json(
            429,
            {
                "error": "too_many_requests",
                "detail": "The server is busy with other requests right now: retry after 1 s.",
                "retry_after": 1,
            },
            {"Retry-After": "1"},
        )
    if allowed:
        return None
    return _json(
        429,
        {
            "error": "too_many_requests",
            "detail": f"Backend {backend.code!r} is above its rate limit of {backend.api_rate_limit:g} "
            f"requests/s (burst {backend.api_burst}): retry after {retry_after} s.",
            "retry_after": retry_after,
        },
        {"Retry-After": str(retry_after)},
    )


def _check_path(**codes):
    """A 400 response for a path segment that cannot be a code (``backend=..., exchange_type=...``:
    control characters such as NUL, or longer than any code), else None. Checked before anything
    is looked up: PostgreSQL refuses NUL in a query (an internal error before)."""
    for name, value in codes.items():
        name = name.replace("_", " ")
        if value and (len(value) > MAX_PATH_CODE_LENGTH or CONTROL_RE.search(value)):
            shown = value[:40] + ("..." if len(value) > 40 else "")
            return _bad_request(
                "invalid_path",
                f"The {name} code {shown!r} in the URL is not a code: at most {MAX_PATH_CODE_LENGTH} "
                "characters, no control characters (such as NUL). Use the code shown on the backend "
                "or in the OpenAPI document.",
                parameter=name,
            )
    return None


def _check_id_headers(headers):
    """A 400 response naming the first id header whose value cannot be kept, else None."""
    for name in ID_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        if len(value) > MAX_SENDER_KEY_LENGTH:
            return _bad_request(
                "invalid_header",
                f"Header {name} is {len(value):,} characters long; at most {MAX_SENDER_KEY_LENGTH} are "
                "allowed. Send a shorter id.",
                header=name,
            )
        if "\x00" in value:
            return _bad_request(
                "invalid_header",
                f"Header {name} ({value[:40]!r}) holds a NUL character, which no id may contain; remove it.",
                header=name,
            )
    return None


def _check_body(flow, body, content_type):
    """A 400/415 response when the body cannot be what the flow's wire format expects, else
    None. JSON contract: a JSON object. Another wire format (B2MML XML…): one of its media
    types; the document itself is checked when stored (422 with the reason, kept rejected)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if flow.wire_format and flow.wire_format != "json":
        wire = flow.env["mfg.wire.format"]._mfg_wire(flow.wire_format)
        accepted = wire._mfg_content_types()
        if media and media not in accepted:
            return _json(
                415,
                {
                    "error": "unsupported_media_type",
                    "detail": f"Flow {flow.exchange_type_id.contract!r} of backend {flow.backend_id.code!r} "
                    f"takes {flow.wire_format} documents ({', '.join(accepted)}), not {media!r}.",
                },
            )
        return None
    try:
        contract.parse_json(body)
    except MfgValidationError as exc:
        detail = exc.message
        if media.endswith("/xml") or media.endswith("+xml"):
            detail = (
                f"Flow {flow.exchange_type_id.contract!r} of backend {flow.backend_id.code!r} takes JSON "
                f"contracts, not {media}: to send XML (e.g. B2MML), a manager sets the flow's wire format. "
                f"{detail}"
            )
        return _json(400, {"error": "invalid_json", "detail": detail})
    return None


def _max_payload():
    return settings.get_int("max_payload_bytes", DEFAULT_MAX_PAYLOAD, minimum=0)


class MfgIngestController(http.Controller):
    def _authenticate(self, groups=API_GROUPS, backend_code=None):
        """The API user behind the bearer key, or an error response (nothing is stored then).

        401: no key, or a wrong, expired or rotated-out key. 403: the user is in none of ``groups``;
        or the route names a backend (``backend_code``, else the route's own ``backend_code``
        argument) that the key may not use: another backend's service user, or an address outside
        the backend's IP allow-list. The key's use is recorded (last used, at most once a minute)."""
        code = backend_code or (getattr(request, "params", None) or {}).get("backend_code")
        error = _check_path(backend=code)
        if error:
            return None, error
        header = request.httprequest.headers.get("Authorization", "")
        match = BEARER_RE.match(header)
        challenge = {"WWW-Authenticate": 'Bearer realm="mfg"'}
        if not match:
            return None, _json(
                401,
                {"error": "unauthorized", "detail": "Send an Odoo API key: 'Authorization: Bearer <key>'."},
                challenge,
            )
        key = match.group(1)
        uid = request.env["res.users.apikeys"]._check_credentials(scope=KEY_SCOPE, key=key)
        if not uid:
            return None, _json(
                401, {"error": "unauthorized", "detail": "Invalid or expired API key."}, challenge
            )
        request.update_env(user=uid)
        user = request.env.user
        if not any(user.has_group(g) for g in groups):
            return None, _json(
                403,
                {
                    "error": "forbidden",
                    "detail": f"User {user.login!r} is not an Integration Service user.",
                },
            )
        remote_addr = request.httprequest.remote_addr
        request.env["mfg.api.key"].sudo()._mfg_key_used(uid, key, remote_addr)
        if code:
            backend = request.env["mfg.backend"].sudo().search([("code", "=", code)], limit=1)
            if backend and not backend._mfg_api_allows_user(user):
                return None, _json(
                    403,
                    {
                        "error": "forbidden_backend",
                        "detail": f"The API key of {user.login!r} is not valid for backend {backend.code!r}: "
                        "each backend has its own service user and key.",
                    },
                )
            if backend and not backend._mfg_ip_allowed(remote_addr):
                return None, _json(
                    403,
                    {
                        "error": "forbidden_address",
                        "detail": f"Address {remote_addr} is not in the IP allow-list of backend "
                        f"{backend.code!r}.",
                    },
                )
        return user, None

    @http.route(
        "/mfg/api/v1/<string:backend_code>/<string:type_code>",
        type="http",
        auth="none",
        methods=["POST"],
        csrf=False,
        save_session=False,
        readonly=False,
    )
    def ingest(self, backend_code, type_code, **_kw):
        error = _check_path(backend=backend_code, exchange_type=type_code) or _check_id_headers(
            request.httprequest.headers
        )
        if error:
            return error
        _user, error = self._authenticate()
        if error:
            return error
        env = request.env
        backend = env["mfg.backend"].search([("code", "=", backend_code)], limit=1)
        if not backend:
            return _json(404, {"error": "not_found", "detail": f"No backend with code {backend_code!r}."})
        error = throttled(backend)
        if error:
            return error
        version = VERSION_RE.search(type_code)
        too_high = version and int(version.group(1)) > MAX_VERSION
        etype = env["mfg.exchange.type"].browse() if too_high else env["mfg.exchange.type"]._find(type_code)
        if not etype:
            return _json(404, {"error": "not_found", "detail": f"No exchange type {type_code!r}."})
        if etype.direction != "inbound" or not backend._mfg_flow(etype):
            return _json(
                403,
                {
                    "error": "flow_not_enabled",
                    "detail": f"Backend {backend.code!r} is not enabled to send {etype.contract!r}.",
                },
            )
        limit = _max_payload()
        length = request.httprequest.content_length
        if length is not None and length > limit:
            return _json(413, {"error": "payload_too_large", "detail": f"The limit is {limit} bytes."})
        body = request.httprequest.get_data()  # cached: Odoo may retry the request on a serialization failure
        if len(body) > limit:
            return _json(413, {"error": "payload_too_large", "detail": f"The limit is {limit} bytes."})
        headers = request.httprequest.headers
        refusal = _check_body(backend.sudo()._mfg_flow(etype), body, headers.get("Content-Type"))
        if refusal:
            return refusal
        external_id = headers.get("Idempotency-Key") or headers.get("X-Message-Id")
        item = {
            "payload": body,
            "external_id": external_id,
            "correlation_id": headers.get("X-Correlation-Id"),
            "headers": {
                k: v
                for k, v in headers.items()
                if k.lower()
                in ("content-type", "user-agent", "x-correlation-id", "idempotency-key", "x-message-id")
            },
        }
        result = env["mfg.transport.rest"]._mfg_receive(backend.sudo(), etype, [item], validate=True)[0]
        body_out = {"id": result["id"], "state": result["state"], "duplicate": result["duplicate"]}
        if result["duplicate"]:
            return _json(200, body_out)
        if result["state"] == "rejected":
            body_out["errors"] = result["errors"] or [{"path": "/", "message": result["error"]}]
            return _json(422, body_out)
        return _json(202, body_out)

    @http.route(
        "/mfg/api/v1/health", type="http", auth="none", methods=["GET"], csrf=False, save_session=False
    )
    def health(self, **_kw):
        """Counts per state and oldest pending age, per backend and exchange type (JSON)."""
        _user, error = self._authenticate(API_GROUPS + ("mfg_integration_base.group_mfg_user",))
        if error:
            return error
        env = request.env
        domain = []
        own = env.user.sudo().mfg_service_backend_ids
        if own and not env.user.has_group("mfg_integration_base.group_mfg_user"):
            domain = [("backend_id", "in", own.ids)]  # a service user sees its own backend(s) only
        groups = env["mfg.message"]._read_group(
            domain,
            ["backend_id", "exchange_type_id", "state"],
            ["__count"],
        )
        pending = env["mfg.message"]._read_group(
            domain + [("state", "in", ["received", "queued", "processing", "retrying"])],
            ["backend_id", "exchange_type_id"],
            ["received_at:min"],
        )
        now = fields.Datetime.now()
        out = {}
        for backend, etype, state, count in groups:
            key = (backend.code, etype.contract)
            entry = out.setdefault(
                key, {"backend": backend.code, "exchange_type": etype.contract, "counts": {}}
            )
            entry["counts"][state] = count
        for backend, etype, oldest in pending:
            entry = out.setdefault(
                (backend.code, etype.contract),
                {"backend": backend.code, "exchange_type": etype.contract, "counts": {}},
            )
            entry["oldest_pending_seconds"] = int((now - oldest).total_seconds()) if oldest else 0
            entry["sla_seconds"] = etype.sla_minutes * 60
        flows = sorted(out.values(), key=lambda e: (e["backend"], e["exchange_type"]))
        for entry in flows:
            entry.setdefault("oldest_pending_seconds", 0)
        status = "ok"
        if any(e["counts"].get("dead") or e["counts"].get("failed") for e in flows):
            status = "errors"
        elif any(e.get("sla_seconds") and e["oldest_pending_seconds"] > e["sla_seconds"] for e in flows):
            status = "late"
        return _json(200, {"status": status, "time": fields.Datetime.to_string(now), "flows": flows})
