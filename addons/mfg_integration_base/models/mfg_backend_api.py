"""The REST API side of a backend: its service identity (technical user + API keys), throttling
(a token bucket shared by every Odoo worker and host, kept in PostgreSQL) and IP allow-list."""

import ipaddress
import logging
import math
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..lib import settings
from ..lib.side_transaction import side_transaction

_logger = logging.getLogger(__name__)

# Secrets of the backend: their changes are written to the chatter, never their values.
SECRET_FIELDS = ("http_token", "hmac_secret", "mqtt_password", "mqtt_key_file", "mqtt_key_pem")


def parse_allowlist(text):
    """``"10.0.0.0/8, 192.168.1.7"`` → list of ip_network; ValueError naming a bad entry."""
    nets = []
    for part in (text or "").replace(";", ",").replace("\n", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise ValueError(f"{part!r} is not an IP address or CIDR network ({exc})") from exc
    return nets


def service_backend_required():
    """[mfg_integration] service_user_requires_backend: refuse service users linked to no backend.

    On unless the server configuration turns it off explicitly (False / 0 / no / off): a service
    user that serves no backend would otherwise post to every backend of its company."""
    return settings.get_bool("service_user_requires_backend", True)


class MfgBackend(models.Model):
    _inherit = "mfg.backend"

    service_user_id = fields.Many2one(
        "res.users",
        string="Service user",
        copy=False,
        tracking=True,
        ondelete="set null",
        domain=lambda self: [("groups_id", "in", self.env.ref("mfg_integration_base.group_mfg_service").ids)],
        help="The technical user this plant system authenticates as (its API key). It may post only to this "
        "backend, and only the exchange types enabled inbound on it.",
    )
    api_key_ids = fields.One2many("mfg.api.key", "backend_id", string="API keys", readonly=True)
    api_rate_limit = fields.Float(
        string="Rate limit (requests/s)",
        default=50.0,
        tracking=True,
        help="Sustained REST requests per second accepted from this backend, all Odoo workers and hosts "
        "together. 0 = unlimited. Above it: HTTP 429 with Retry-After, nothing stored.",
    )
    api_burst = fields.Integer(
        string="Burst",
        default=100,
        tracking=True,
        help="Requests accepted at once above the rate (size of the token bucket). 0 = unlimited.",
    )
    api_ip_allowlist = fields.Char(
        string="IP allow-list",
        tracking=True,
        help="Comma-separated IP addresses or CIDR networks allowed to call the REST API for this backend, "
        "e.g. 10.1.0.0/16, 192.168.5.7. Empty = any address. Behind a reverse proxy, run Odoo with "
        "proxy_mode so that the client's address is seen.",
    )

    def init(self):
        res = super().init()
        # One row per backend; updated atomically by _mfg_throttle, outside the request's transaction.
        self.env.cr.execute(
            """
            CREATE TABLE IF NOT EXISTS mfg_api_bucket (
                backend_id integer PRIMARY KEY REFERENCES mfg_backend(id) ON DELETE CASCADE,
                tokens double precision NOT NULL,
                granted boolean NOT NULL DEFAULT true,
                updated_at timestamp NOT NULL DEFAULT clock_timestamp()
            )
            """
        )
        return res

    @api.constrains("api_ip_allowlist")
    def _check_api_ip_allowlist(self):
        for rec in self:
            try:
                parse_allowlist(rec.api_ip_allowlist)
            except ValueError as exc:
                raise ValidationError(
                    self.env._("IP allow-list of backend %(b)s: %(error)s.", b=rec.code, error=exc)
                ) from exc

    @api.constrains("api_rate_limit", "api_burst")
    def _check_api_throttle(self):
        for rec in self:
            if rec.api_rate_limit < 0 or rec.api_burst < 0:
                raise ValidationError(
                    self.env._(
                        "Rate limit and burst of backend %(b)s must be 0 (unlimited) or more.", b=rec.code
                    )
                )

    # ------------------------------------------------------------------ audit of secrets
    def write(self, vals):
        changed = [f for f in SECRET_FIELDS if f in vals]
        if changed:
            before = {rec.id: {f: rec.sudo()[f] for f in changed} for rec in self}
        res = super().write(vals)
        if changed:
            for rec in self:
                labels = [
                    rec._fields[f].string
                    for f in changed
                    if (rec.sudo()[f] or False) != (before[rec.id][f] or False)
                ]
                if labels:
                    # The value is never written: only that it changed, and by whom (the author).
                    rec.message_post(
                        body=self.env._("Secret changed: %(fields)s.", fields=", ".join(labels)),
                        subtype_xmlid="mail.mt_note",
                    )
        return res

    def read(self, fields=None, load="_classic_read"):
        secrets = [f for f in SECRET_FIELDS if fields is None or f in fields]
        stored = [i for i in self.ids if isinstance(i, int)]  # not the unsaved records of an onchange
        if (
            stored
            and secrets
            and not self.env.su
            and self.env.user.has_group("mfg_integration_base.group_mfg_manager")
        ):
            # Who loaded secrets (the form shows them masked, but they reach the browser): server log, no value.
            _logger.info(
                "mfg audit: user %s (#%s) read secret field(s) %s of backend(s) %s",
                self.env.user.login,
                self.env.uid,
                ",".join(secrets),
                ",".join(str(i) for i in stored),
            )
        return super().read(fields=fields, load=load)

    # ------------------------------------------------------------------ service identity
    def _mfg_service_user_vals(self):
        self.ensure_one()
        group = self.env.ref("mfg_integration_base.group_mfg_service")
        return {
            "name": self.env._("%(backend)s (service)", backend=self.name),
            "login": f"mfg-service-{self.code}",
            "company_id": self.company_id.id,
            "company_ids": [fields.Command.set(self.company_id.ids)],
            "groups_id": [fields.Command.set(group.ids)],
        }

    def action_create_service_user(self):
        """Create the backend's service user (if needed) and a first API key, shown once."""
        self.ensure_one()
        if not self.env.user.has_group("mfg_integration_base.group_mfg_manager"):
            raise UserError(self.env._("Only integration managers create service users."))
        if self.api_key_ids.filtered(lambda k: k.state in ("active", "grace")):
            raise UserError(
                self.env._(
                    "Backend %(b)s already has a valid API key: use Rotate key to replace it.", b=self.code
                )
            )
        user = self.service_user_id
        if not user:
            vals = self._mfg_service_user_vals()
            Users = self.env["res.users"].sudo().with_context(no_reset_password=True)
            user = Users.with_context(active_test=False).search([("login", "=", vals["login"])], limit=1)
            service = self.env.ref("mfg_integration_base.group_mfg_service")
            if user and (user.mfg_service_backend_ids or user.groups_id - service):
                # Never take over a person's account, nor another backend's identity.
                raise UserError(
                    self.env._(
                        "Login %(login)s is already used by another user: rename that user first.",
                        login=vals["login"],
                    )
                )
            if user:
                user.write({"groups_id": vals["groups_id"], "active": True})
            else:
                user = Users.create(vals)
            self.service_user_id = user
        record, clear = self.env["mfg.api.key"]._mfg_generate(self, user)
        self.message_post(
            body=self.env._(
                "Service user %(login)s: API key %(key)s… created.", login=user.login, key=record.key_prefix
            ),
            subtype_xmlid="mail.mt_note",
        )
        return self._mfg_show_key_action(record, clear)

    def action_rotate_api_key(self):
        self.ensure_one()
        if not self.service_user_id:
            raise UserError(self.env._("Backend %(b)s has no service user yet.", b=self.code))
        return {
            "type": "ir.actions.act_window",
            "res_model": "mfg.api.key.rotate.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_backend_id": self.id},
        }

    def _mfg_rotate_api_key(self, grace_hours):
        """A new key for the service user; the current keys keep working ``grace_hours`` more."""
        self.ensure_one()
        if not self.env.user.has_group("mfg_integration_base.group_mfg_manager"):
            raise UserError(self.env._("Only integration managers rotate API keys."))
        if grace_hours < 0:
            raise UserError(self.env._("The grace period cannot be negative."))
        old = self.api_key_ids.filtered(lambda k: k.state == "active")
        until = fields.Datetime.now() + timedelta(hours=grace_hours)
        if grace_hours:
            old._mfg_expire_at(until)
        else:
            old._mfg_revoke()  # no grace: refused from the next request on, whatever the clock says
        record, clear = self.env["mfg.api.key"]._mfg_generate(self, self.service_user_id)
        self.message_post(
            body=self.env._(
                "API key rotated: new key %(new)s…; the previous key(s) %(old)s stop working at %(until)s UTC.",
                new=record.key_prefix,
                old=", ".join(f"{k}…" for k in old.mapped("key_prefix")) or "-",
                until=fields.Datetime.to_string(until),
            ),
            subtype_xmlid="mail.mt_note",
        )
        return record, clear

    def _mfg_show_key_action(self, record, clear):
        # The clear key travels in the action only (never stored): the dialog is its one showing.
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("API key of %(b)s", b=self.code),
            "res_model": "mfg.api.key.show",
            "views": [(False, "form")],
            "target": "new",
            "context": {
                "default_key": clear,
                "default_backend_id": self.id,
                "default_key_prefix": record.key_prefix,
                "default_service_login": record.user_id.login,
            },
        }

    def _mfg_api_allows_user(self, user):
        """Least privilege: a service user posts for its own backend(s) only. Managers may post for any
        backend they can read. A service user linked to no backend is refused, unless the server
        sets ``service_user_requires_backend = False`` (keys made by hand before service identities)."""
        self.ensure_one()
        if user.has_group("mfg_integration_base.group_mfg_manager"):
            return True
        own = user.sudo().mfg_service_backend_ids
        if own:
            return self in own
        return not service_backend_required()

    @api.model
    def _mfg_link_unlinked_service_users(self):
        """Service users that serve no backend, each linked to the single backend it has posted to
        over REST (if that backend has no service user yet), so that it keeps working now that
        ``service_user_requires_backend`` is on by default. The others are named in the server
        log with what to do. Returns (linked {user: backend}, users left unlinked)."""
        service = self.env.ref("mfg_integration_base.group_mfg_service")
        manager = self.env.ref("mfg_integration_base.group_mfg_manager")
        users = (
            self.env["res.users"]
            .sudo()
            .search([("groups_id", "in", service.ids), ("mfg_service_backend_ids", "=", False)])
        )
        linked, left = {}, self.env["res.users"]
        for user in users.filtered(lambda u: manager not in u.groups_id):
            self.env.cr.execute(
                """SELECT DISTINCT backend_id FROM mfg_message
                    WHERE create_uid = %s AND direction = 'inbound' AND transport = 'rest'""",
                (user.id,),
            )
            backends = self.sudo().browse([row[0] for row in self.env.cr.fetchall()]).exists()
            if len(backends) == 1 and not backends.service_user_id:
                backends.service_user_id = user
                backends.message_post(
                    body=self.env._(
                        "Service user %(login)s, which served no backend, is now this backend's service "
                        "user (the only backend it posted to): service users linked to no backend are "
                        "refused from now on.",
                        login=user.login,
                    ),
                    subtype_xmlid="mail.mt_note",
                )
                linked[user] = backends
            else:
                left |= user
        for user, backend in linked.items():
            _logger.info("mfg: service user %s linked to backend %s", user.login, backend.code)
        if left:
            _logger.warning(
                "mfg: service user(s) %s serve no backend and are now refused by the REST API (403): "
                "set each as the service user of its backend (backend form, API access tab), or set "
                "[mfg_integration] service_user_requires_backend = False meanwhile.",
                ", ".join(left.mapped("login")),
            )
        return linked, left

    # ------------------------------------------------------------------ threat protection
    def _mfg_ip_allowed(self, remote_addr):
        self.ensure_one()
        nets = parse_allowlist(self.api_ip_allowlist)
        if not nets:
            return True
        try:
            addr = ipaddress.ip_address(remote_addr or "")
        except ValueError:
            return False
        if addr.version == 6 and addr.ipv4_mapped:
            addr = addr.ipv4_mapped
        return any(addr in net for net in nets if net.version == addr.version)

    def _mfg_throttle(self, cost=1.0):
        """Take ``cost`` tokens from this backend's bucket: (True, 0) or (False, seconds to wait).

        The bucket is one row in mfg_api_bucket, refilled at api_rate_limit tokens/s up to api_burst,
        updated by one atomic statement in its own short READ COMMITTED transaction (concurrent
        requests queue on the row for a moment, never a serialization failure): every worker and
        host shares it, and a request that fails later does not give its token back. Raises
        SideTransactionBusy when the server has no connection to spare for it."""
        self.ensure_one()
        rate, burst = self.api_rate_limit, self.api_burst
        if rate <= 0 or burst <= 0:
            return True, 0
        with side_transaction(self.env.registry) as cr:
            cr.execute(
                """
                INSERT INTO mfg_api_bucket AS b (backend_id, tokens, granted, updated_at)
                VALUES (%(id)s, %(burst)s - %(cost)s, true, clock_timestamp())
                ON CONFLICT (backend_id) DO UPDATE SET
                    granted = LEAST(%(burst)s, b.tokens + %(rate)s
                                    * EXTRACT(EPOCH FROM clock_timestamp() - b.updated_at)) >= %(cost)s,
                    tokens = LEAST(%(burst)s, b.tokens + %(rate)s
                                   * EXTRACT(EPOCH FROM clock_timestamp() - b.updated_at))
                             - CASE WHEN LEAST(%(burst)s, b.tokens + %(rate)s
                                    * EXTRACT(EPOCH FROM clock_timestamp() - b.updated_at)) >= %(cost)s
                                    THEN %(cost)s ELSE 0 END,
                    updated_at = clock_timestamp()
                RETURNING granted, tokens
                """,
                {"id": self.id, "rate": float(rate), "burst": float(burst), "cost": float(cost)},
            )
            granted, tokens = cr.fetchone()
        if granted:
            return True, 0
        return False, max(1, math.ceil((cost - tokens) / rate))
