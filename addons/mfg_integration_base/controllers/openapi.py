"""Published contracts: the OpenAPI 3.1 document of the REST API and its page for humans."""

from odoo import http
from odoo.http import request

from ..lib import openapi, settings
from .ingest import API_GROUPS, MfgIngestController

DOC_GROUPS = API_GROUPS + ("mfg_integration_base.group_mfg_user",)


def docs_public():
    """[mfg_integration] api_docs_public (default on): the contracts are readable without a key."""
    return settings.get_bool("api_docs_public", True)


class MfgApiDocsController(http.Controller):
    _authenticate = MfgIngestController._authenticate

    def _document(self):
        if not docs_public():
            _user, error = self._authenticate(DOC_GROUPS)
            if error:
                return None, error
        base_url = request.httprequest.host_url
        return request.env["mfg.exchange.type"].sudo()._mfg_openapi_document(server_url=base_url), None

    @http.route(
        "/mfg/api/v1/openapi.json",
        type="http",
        auth="none",
        methods=["GET"],
        csrf=False,
        save_session=False,
        readonly=True,
    )
    def openapi_json(self, **_kw):
        doc, error = self._document()
        if error:
            return error
        return request.make_json_response(doc, headers={"Cache-Control": "no-cache"})

    @http.route(
        "/mfg/api/v1/docs",
        type="http",
        auth="none",
        methods=["GET"],
        csrf=False,
        save_session=False,
        readonly=True,
    )
    def docs(self, **_kw):
        doc, error = self._document()
        if error:
            return error
        return request.make_response(
            openapi.render_html(doc),
            headers={
                "Content-Type": "text/html; charset=utf-8",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
            },
        )
