"""Query API for plant and quality systems: the genealogy of a lot."""

from odoo import http
from odoo.http import request

from odoo.addons.mfg_integration_base.controllers.ingest import (
    MfgIngestController,
    _check_path,
    _json,
    throttled,
)
from odoo.addons.mfg_quality_connector.controllers.release_status import STATUS_GROUPS, api_lot

from ..lib import genealogy


class MfgTraceabilityController(http.Controller):
    # The ingest API's bearer-key check, reused as is (as the release-status API does).
    _authenticate = MfgIngestController._authenticate

    @http.route(
        "/mfg/api/v1/lots/<path:lot_name>/genealogy",
        type="http",
        auth="none",
        methods=["GET"],
        csrf=False,
        save_session=False,
        readonly=False,
    )
    def lot_genealogy_of_key(self, lot_name, **params):
        """The same answer, for the backend of the key's service user (a key serves one backend):
        ``GET /mfg/api/v1/lots/<lot>/genealogy``. A key that serves no backend or several (a manager's)
        must name it: 400 with the path to use."""
        error = _check_path(lot=lot_name)
        if error:
            return error
        user, error = self._authenticate(STATUS_GROUPS)
        if error:
            return error
        backends = user.sudo().mfg_service_backend_ids
        if len(backends) != 1:
            return _json(
                400,
                {
                    "error": "backend_required",
                    "detail": f"The API key of {user.login!r} serves {len(backends)} backends: ask "
                    "/mfg/api/v1/<backend>/lots/<lot>/genealogy.",
                },
            )
        return self.lot_genealogy(backends.code, lot_name, **params)

    @http.route(
        "/mfg/api/v1/<string:backend_code>/lots/<path:lot_name>/genealogy",
        type="http",
        auth="none",
        methods=["GET"],
        csrf=False,
        save_session=False,
        # Not a read-only route: the throttle writes its token bucket in a side transaction,
        # which Odoo does not open from a read-only (replica) request.
        readonly=False,
    )
    def lot_genealogy(self, backend_code, lot_name, product=None, direction=None, max_depth=None, **_kw):
        """GET the genealogy of a lot: 200 JSON ``{"lot", "product", "upstream", "downstream"}``
        (``?direction=upstream|downstream`` for one tree, ``?max_depth=N``); 400 bad parameter,
        401/403 as every API, 404 unknown backend/product/lot, 409 ambiguous lot, 429 throttled."""
        error = _check_path(lot=lot_name)
        if error:
            return error
        _user, error = self._authenticate(STATUS_GROUPS, backend_code=backend_code)
        if error:
            return error
        env = request.env
        backend = env["mfg.backend"].search([("code", "=", backend_code)], limit=1)
        if not backend:
            return _json(404, {"error": "not_found", "detail": f"No backend with code {backend_code!r}."})
        backend = backend.sudo()
        error = throttled(backend)
        if error:
            return error
        directions = genealogy.DIRECTIONS
        if direction:
            if direction not in genealogy.DIRECTIONS:
                return _json(
                    400,
                    {
                        "error": "invalid_parameter",
                        "parameter": "direction",
                        "detail": f"direction must be upstream or downstream, not {direction!r}.",
                    },
                )
            directions = (direction,)
        try:
            depth = genealogy.check_depth(int(max_depth) if max_depth not in (None, "") else None)
        except ValueError:
            return _json(
                400,
                {
                    "error": "invalid_parameter",
                    "parameter": "max_depth",
                    "detail": f"max_depth must be a whole number from 1 to {genealogy.MAX_DEPTH}, not {max_depth!r}.",
                },
            )
        lots, error = api_lot(backend, lot_name, product)
        if error:
            return error
        lot = lots.sudo()
        Trace = env["mfg.traceability"].sudo()
        body = {
            "lot": lot.name,
            "product": backend._mfg_code_for(
                "product", lot.product_id, lot.product_id.default_code or lot.product_id.display_name
            ),
            "max_depth": depth,
        }
        for name in directions:
            body[name] = Trace._mfg_genealogy(lot, name, depth)
        return _json(200, body)
