"""Sync API for the MES: what Odoo knows of a work order, a material code, a routing.

Routes only translate HTTP; the answers are built by the models.
"""

from odoo import http
from odoo.http import request

from odoo.addons.mfg_integration_base.controllers.ingest import API_GROUPS, MfgIngestController, _json

READ_GROUPS = API_GROUPS + ("mfg_integration_base.group_mfg_user",)
ROUTE = {
    "type": "http",
    "auth": "none",
    "methods": ["GET"],
    "csrf": False,
    "save_session": False,
    "readonly": True,
}


def _not_found(detail, **extra):
    return _json(404, {"error": "not_found", "detail": detail, **extra})


class MfgMesController(http.Controller):
    # The ingest API's bearer-key check, reused as is (see mfg_quality_connector's
    # release_status.py: not a subclass, so that the ingest routes are not routed twice).
    _authenticate = MfgIngestController._authenticate

    def _backend(self, backend_code):
        """(backend as sudo, None) for an authorised caller, or (None, error response)."""
        _user, error = self._authenticate(READ_GROUPS)
        if error:
            return None, error
        # Searched as the API user: company rules decide which backends it may read.
        backend = request.env["mfg.backend"].search([("code", "=", backend_code)], limit=1)
        if not backend:
            return None, _not_found(f"No backend with code {backend_code!r}.")
        return backend.sudo(), None

    @http.route("/mfg/api/v1/<string:backend_code>/work-orders/<path:reference>", **ROUTE)
    def work_order(self, backend_code, reference, **_kw):
        """GET a manufacturing order by the reference the MES knows: state, quantities, operations."""
        backend, error = self._backend(backend_code)
        if error:
            return error
        Production = request.env["mrp.production"].sudo()
        family = Production._mfg_mes_family(backend, reference)
        if not family:
            return _not_found(
                f"No manufacturing order {reference!r} in company {backend.company_id.name!r}.",
                work_order=reference,
            )
        return _json(200, family._mfg_mes_status_payload(backend, reference))

    @http.route("/mfg/api/v1/<string:backend_code>/materials/<path:code>", **ROUTE)
    def material(self, backend_code, code, **_kw):
        """GET whether a plant material code resolves to a product for this backend."""
        backend, error = self._backend(backend_code)
        if error:
            return error
        product = backend._mfg_resolve("product", code, required=False)
        if not product:
            return _not_found(
                f"Unknown product code {code!r} for backend {backend.code!r}: add a code mapping of kind "
                "'product' or set the product's internal reference.",
                code=code,
            )
        return _json(200, product._mfg_mes_material_payload(backend, code))

    @http.route("/mfg/api/v1/<string:backend_code>/products/<path:code>/routing", **ROUTE)
    def routing(self, backend_code, code, **_kw):
        """GET the routing (operations of the product's bill of materials)."""
        backend, error = self._backend(backend_code)
        if error:
            return error
        product = backend._mfg_resolve("product", code, required=False)
        if not product:
            return _not_found(f"Unknown product code {code!r} for backend {backend.code!r}.", code=code)
        bom = (
            request.env["mrp.bom"]
            .sudo()
            ._bom_find(
                product,
                picking_type=backend.warehouse_id.manu_type_id or None,
                company_id=backend.company_id.id,
                bom_type="normal",
            )[product]
        )
        if not bom:
            return _not_found(
                f"Product {code!r} has no bill of materials in company {backend.company_id.name!r}.",
                code=code,
            )
        return _json(200, bom._mfg_mes_routing_payload(backend, code))
