import logging

from odoo import api, fields, models

from ..lib.side_transaction import side_transaction

_logger = logging.getLogger(__name__)

KEY_SCOPE = "mfg_api"  # res.users.apikeys scope of service keys: good for this API, not for XML-RPC
LAST_USED_EVERY = 60  # seconds: at most one write per key and minute


class MfgApiKey(models.Model):
    """One API key of a backend's service user: which key it is (its public prefix), when it expires,
    when it was last used. The secret itself lives in Odoo's res.users.apikeys, hashed."""

    _name = "mfg.api.key"
    _description = "Integration API Key (service identity)"
    _order = "backend_id, id desc"
    _rec_name = "key_prefix"

    backend_id = fields.Many2one("mfg.backend", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    user_id = fields.Many2one("res.users", string="Service user", required=True, ondelete="cascade")
    apikey_id = fields.Integer(
        string="Odoo API key id", readonly=True, index=True, help="Row of res.users.apikeys (no foreign key)."
    )
    key_prefix = fields.Char(
        readonly=True, help="First characters of the key (not secret: Odoo's own index of the key)."
    )
    expires_at = fields.Datetime(readonly=True, help="After this time the key is refused (401).")
    rotated_at = fields.Datetime(readonly=True)
    rotated_by_id = fields.Many2one("res.users", readonly=True)
    last_used_at = fields.Datetime(readonly=True, help="Last authenticated request (precision: one minute).")
    last_used_ip = fields.Char(string="Last used from", readonly=True)
    revoked_at = fields.Datetime(
        readonly=True, help="When the key was revoked: its secret was deleted then, refused from that moment."
    )
    revoked_by_id = fields.Many2one("res.users", readonly=True)
    state = fields.Selection(
        [
            ("active", "Active"),
            ("grace", "Rotated (grace period)"),
            ("expired", "Expired"),
            ("revoked", "Revoked"),
        ],
        compute="_compute_state",
    )

    @api.depends("expires_at", "rotated_at", "revoked_at", "apikey_id")
    def _compute_state(self):
        now = fields.Datetime.now()
        alive = self._alive_apikey_ids()
        for rec in self:
            if rec.revoked_at:
                rec.state = "revoked"
            elif rec.apikey_id not in alive or (rec.expires_at and rec.expires_at < now):
                rec.state = "expired"
            elif rec.rotated_at:
                rec.state = "grace"
            else:
                rec.state = "active"

    def _alive_apikey_ids(self):
        ids = tuple(i for i in self.mapped("apikey_id") if i)
        if not ids:
            return set()
        self.env.cr.execute(
            """SELECT id FROM res_users_apikeys
                WHERE id IN %s AND (expiration_date IS NULL OR expiration_date >= now() AT TIME ZONE 'UTC')""",
            (ids,),
        )
        return {row[0] for row in self.env.cr.fetchall()}

    # ------------------------------------------------------------------ lifecycle
    @api.model
    def _mfg_generate(self, backend, user, expires_at=None):
        """A new Odoo API key of ``user`` for ``backend``: returns (record, clear key). Shown once."""
        apikeys = self.env["res.users.apikeys"].with_user(user).sudo()
        clear = apikeys._generate(KEY_SCOPE, f"mfg backend {backend.code}", expires_at)
        self.env.cr.execute(
            "SELECT id, index FROM res_users_apikeys WHERE user_id = %s AND index = %s ORDER BY id DESC LIMIT 1",
            (user.id, clear[:8]),
        )
        apikey_id, index = self.env.cr.fetchone()
        record = self.sudo().create(
            {
                "backend_id": backend.id,
                "user_id": user.id,
                "apikey_id": apikey_id,
                "key_prefix": index,
                "expires_at": expires_at,
            }
        )
        return record, clear

    def _mfg_expire_at(self, when):
        """The key stops working at ``when`` (Odoo itself refuses it then: res.users.apikeys expiry)."""
        for rec in self.sudo():
            if rec.apikey_id:
                self.env.cr.execute(
                    """UPDATE res_users_apikeys SET expiration_date = %s
                        WHERE id = %s AND (expiration_date IS NULL OR expiration_date > %s)""",
                    (when, rec.apikey_id, when),
                )
            if not rec.expires_at or rec.expires_at > when:
                rec.expires_at = when
            rec.rotated_at = fields.Datetime.now()
            rec.rotated_by_id = self.env.user

    def _mfg_revoke(self):
        """Stop the keys now: their Odoo API key rows (the hashed secrets) are deleted, so the very
        next request is refused (401). Not an expiry time compared with the clock: the time of the
        revoking transaction and the request's ``now()`` never decide (an expiry of "now minus a
        second" let a request of a long transaction through)."""
        apikeys = self.env["res.users.apikeys"].sudo().browse([i for i in self.mapped("apikey_id") if i])
        apikeys.exists()._remove()
        now = fields.Datetime.now()
        for rec in self.sudo():
            rec.write({"revoked_at": now, "revoked_by_id": self.env.uid})
            if not rec.expires_at or rec.expires_at > now:
                rec.expires_at = now

    def action_revoke(self):
        """Stop a key now."""
        for rec in self.filtered(lambda k: not k.revoked_at):
            rec._mfg_revoke()
            rec.backend_id.message_post(
                body=self.env._("API key %(key)s… revoked.", key=rec.key_prefix),
                subtype_xmlid="mail.mt_note",
            )
        return True

    # ------------------------------------------------------------------ request time
    @api.model
    def _mfg_key_used(self, uid, clear_key, remote_addr):
        """Record the use of the key ``clear_key`` (already authenticated as ``uid``): at most one
        write per key and minute, in its own short transaction (read-only routes, rolled-back
        requests), skipping a row another request is updating. Returns the key record (or empty)."""
        self.env.cr.execute(
            """SELECT k.id, k.last_used_at FROM mfg_api_key k JOIN res_users_apikeys a ON a.id = k.apikey_id
                WHERE a.user_id = %s AND a.index = %s""",
            (uid, clear_key[:8]),
        )
        rows = self.env.cr.fetchall()
        if len(rows) != 1:
            return self.browse()
        key_id, last = rows[0]
        if last and (fields.Datetime.now() - last).total_seconds() < LAST_USED_EVERY:
            return self.browse(key_id)
        try:
            with side_transaction(self.env.registry) as cr:
                cr.execute(
                    """UPDATE mfg_api_key SET last_used_at = now() AT TIME ZONE 'UTC', last_used_ip = %s
                        WHERE id IN (SELECT id FROM mfg_api_key WHERE id = %s FOR UPDATE SKIP LOCKED)""",
                    (remote_addr, key_id),
                )
        except Exception:  # never fail a request for its bookkeeping
            _logger.warning("mfg api: could not record the use of key %s", key_id, exc_info=True)
        return self.browse(key_id)
