import json

from odoo import api, models

RELEASE_TYPE = "erp.work_order_release"


class MfgBackendAlert(models.Model):
    _inherit = "mfg.backend.alert"

    @api.model
    def _mfg_alerts_for(self, backend, now):
        return super()._mfg_alerts_for(backend, now) + self._mfg_alerts_late_confirmations(backend, now)

    @api.model
    def _mfg_alerts_late_confirmations(self, backend, now):
        """Released to this MES, past their planned end, and still no completion reported:
        the plant is late or its confirmation is stuck (the seeds' 'reported late')."""
        self.env.cr.execute(
            """
            SELECT p.id FROM mrp_production p
             WHERE p.state NOT IN ('done', 'cancel') AND p.date_finished < %(now)s
               AND EXISTS (SELECT 1 FROM mfg_message m JOIN mfg_exchange_type t ON t.id = m.exchange_type_id
                            WHERE m.backend_id = %(b)s AND m.direction = 'outbound' AND m.state = 'done'
                              AND t.code = %(release)s AND m.ordering_key = p.name)
            """,
            {"now": now, "b": backend.id, "release": RELEASE_TYPE},
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        if not ids:
            return []
        oldest = min(self.env["mrp.production"].browse(ids).mapped("date_finished"))
        hours = int((now - oldest).total_seconds() // 3600)
        return [
            {
                "kind": "late_confirmation",
                "level": "danger" if hours >= 8 else "warning",
                "count": len(ids),
                "name": self.env._(
                    "%(n)s manufacturing orders released to %(mes)s without a completion past their planned end "
                    "(the oldest %(h)s h late)",
                    n=len(ids),
                    mes=backend.name,
                    h=hours,
                ),
                "res_model": "mrp.production",
                "domain": json.dumps([["id", "in", ids]]),
            }
        ]
