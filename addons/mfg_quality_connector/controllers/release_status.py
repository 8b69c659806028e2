"""Sync API for shipping systems: the quality release status of a lot."""

from odoo import http
from odoo.http import request

from odoo.addons.mfg_integration_base.controllers.ingest import API_GROUPS, MfgIngestController, _json

STATUS_GROUPS = API_GROUPS + ("mfg_integration_base.group_mfg_user",)


def api_lot(backend, lot_name, product=None):
    """The lot a query API asks about, as ``(lot, None)``, or ``(None, error response)``: 404 for an
    unknown product code or lot, 409 for a lot name several products share (``?product=`` then).
    ``backend`` is sudo-ed: lots are read for it, in its company."""
    Lot = backend.env["stock.lot"].sudo()
    if product:
        product_rec = backend._mfg_resolve("product", product, required=False)
        if not product_rec:
            return None, _json(
                404,
                {
                    "error": "not_found",
                    "detail": f"Unknown product code {product!r} for backend {backend.code!r}.",
                },
            )
        # The one lot resolver: a 'lot' code mapping of that product, else the lot of that name.
        lots = backend._mfg_resolve("lot", lot_name, required=False, product=product_rec) or Lot
    else:
        lots = Lot.search([("name", "=", lot_name), ("company_id", "in", [False, backend.company_id.id])])
    if not lots:
        detail = f"No lot {lot_name!r}" + (f" of product {product!r}" if product else "")
        return None, _json(404, {"error": "not_found", "detail": f"{detail} in {backend.company_id.name!r}."})
    if len(lots) > 1:
        return None, _json(
            409,
            {
                "error": "ambiguous",
                "detail": f"Lot {lot_name!r} exists for several products: add ?product=<code>.",
            },
        )
    return lots, None


class MfgQualityController(http.Controller):
    # The ingest API's bearer-key check, reused as is. Not a subclass of MfgIngestController:
    # that would re-route its endpoints through this class (and clash with other connectors
    # doing the same).
    _authenticate = MfgIngestController._authenticate

    @http.route(
        "/mfg/api/v1/<string:backend_code>/lots/<path:lot_name>/release-status",
        type="http",
        auth="none",
        methods=["GET"],
        csrf=False,
        save_session=False,
        readonly=True,
    )
    def lot_release_status(self, backend_code, lot_name, product=None, **_kw):
        """GET the hold state of a lot: 200 JSON, 404 unknown backend/product/lot, 409 ambiguous."""
        _user, error = self._authenticate(STATUS_GROUPS)
        if error:
            return error
        env = request.env
        backend = env["mfg.backend"].search([("code", "=", backend_code)], limit=1)
        if not backend:
            return _json(404, {"error": "not_found", "detail": f"No backend with code {backend_code!r}."})
        # The caller is authorised for the backend (company rules above); lots are read for it.
        backend = backend.sudo()
        lots, error = api_lot(backend, lot_name, product)
        if error:
            return error
        body = lots._mfg_status_payload(backend)
        body.pop("message_id", None)
        body["held"] = body["status"] == "held"
        return _json(200, body)
