"""18.0.1.2.0: a service user linked to no backend is refused by default
([mfg_integration] service_user_requires_backend now defaults to True: before, such a user could
post for every backend of its company). So that a plant that posted with such a user keeps
working, each one is linked to the single backend it posted to; the others are named in the log."""

import logging

from odoo import SUPERUSER_ID, api

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    env = api.Environment(cr, SUPERUSER_ID, {})
    env["mfg.backend"]._mfg_link_unlinked_service_users()
    from odoo.addons.mfg_integration_base.models.mfg_backend_api import service_backend_required

    if not service_backend_required():
        _logger.warning(
            "mfg: [mfg_integration] service_user_requires_backend = False in the server configuration: "
            "service users linked to no backend may post for any backend of their company. Remove the "
            "line (the default is now True) once every service user serves its backend."
        )
