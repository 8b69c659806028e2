import json

from odoo import api, fields, models
from odoo.exceptions import UserError

from odoo.addons.mfg_integration_base.lib.dates import format_rfc3339

from ..lib import evidence, genealogy

VERIFY_STATES = [("unchecked", "Not checked"), ("valid", "Valid"), ("tampered", "Does not verify")]


class MfgEvidencePack(models.Model):
    """The digital thread and genealogy of a lot frozen as a JSON document (an attachment) with
    a SHA-256 over its canonical content and the time and user that produced it; printable as a
    PDF. A pack is never changed once produced: a later check reads the stored document again."""

    _name = "mfg.evidence.pack"
    _description = "Evidence pack"
    _order = "produced_at desc, id desc"

    name = fields.Char(required=True, readonly=True)
    lot_id = fields.Many2one(
        "stock.lot", string="Lot/Serial", required=True, readonly=True, ondelete="restrict", index=True
    )
    product_id = fields.Many2one(related="lot_id.product_id")
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    produced_at = fields.Datetime(required=True, readonly=True)
    user_id = fields.Many2one("res.users", string="Produced by", required=True, readonly=True)
    sha256 = fields.Char(string="SHA-256", required=True, readonly=True, index=True)
    event_count = fields.Integer(string="Events", readonly=True)
    attachment_id = fields.Many2one("ir.attachment", string="JSON document", readonly=True)
    verify_state = fields.Selection(VERIFY_STATES, default="unchecked", readonly=True, string="Check")
    verified_at = fields.Datetime(readonly=True)
    verify_note = fields.Char(readonly=True)

    # ------------------------------------------------------------------ producing
    @api.model
    def _mfg_pack_content(self, lot, produced_at, user):
        """The content of a pack of ``lot``: the lot, its genealogy both ways and its thread."""
        lot = lot.sudo()
        trace = self.env["mfg.trace"]._mfg_build(lot)
        Trace = self.env["mfg.traceability"]
        return {
            "lot": {
                "name": lot.name,
                "product": lot.product_id.default_code or lot.product_id.display_name,
                "product_name": lot.product_id.display_name,
                "company": lot.company_id.name or None,
                "hold_state": lot.mfg_hold_state or None,
            },
            "produced_at": format_rfc3339(produced_at),
            "produced_by": {"login": user.login, "name": user.name},
            "genealogy": {
                "upstream": Trace._mfg_genealogy(lot, genealogy.UPSTREAM),
                "downstream": Trace._mfg_genealogy(lot, genealogy.DOWNSTREAM),
            },
            "thread": [event._mfg_as_dict() for event in trace.event_ids],
        }

    @api.model
    def _mfg_produce(self, lot):
        """Produce, store and return the evidence pack of ``lot`` (now, by the current user)."""
        lot.ensure_one()
        lot.check_access("read")
        produced_at = fields.Datetime.now()
        content = self._mfg_pack_content(lot, produced_at, self.env.user)
        document, sha = evidence.seal(content)
        name = f"{lot.name} {format_rfc3339(produced_at)}"
        pack = self.sudo().create(
            {
                "name": name,
                "lot_id": lot.id,
                "company_id": (lot.company_id or self.env.company).id,
                "produced_at": produced_at,
                "user_id": self.env.user.id,
                "sha256": sha,
                "event_count": len(content["thread"]),
            }
        )
        pack.attachment_id = (
            self.env["ir.attachment"]
            .sudo()
            .create(
                {
                    "name": f"evidence-pack-{lot.name}-{sha[:12]}.json",
                    "res_model": self._name,
                    "res_id": pack.id,
                    "mimetype": "application/json",
                    "raw": document,
                }
            )
        )
        return pack.with_env(self.env)

    # ------------------------------------------------------------------ checking
    def _mfg_document(self):
        self.ensure_one()
        attachment = self.sudo().attachment_id
        if not attachment:
            raise UserError(self.env._("Evidence pack %(name)s has no JSON document.", name=self.name))
        return attachment.raw

    @api.model
    def _mfg_verify_document(self, data, pack=None):
        """``(ok, text)`` for a document: its hash must be the hash of its content, and, when
        ``pack`` is given, the hash recorded when that pack was produced."""
        try:
            ok, stated, computed = evidence.verify(data)
        except evidence.EvidenceError as exc:
            return False, self.env._("Not an evidence pack: %(why)s", why=exc)
        if not ok:
            return False, self.env._(
                "The content was changed: its SHA-256 is %(computed)s, the document states %(stated)s.",
                computed=computed,
                stated=stated,
            )
        if pack and stated != pack.sha256:
            return False, self.env._(
                "The document states SHA-256 %(stated)s, but pack %(name)s was produced with %(recorded)s.",
                stated=stated,
                name=pack.name,
                recorded=pack.sha256,
            )
        return True, self.env._("SHA-256 %(sha)s verified.", sha=computed)

    def action_verify(self):
        """Check the stored document against its hash and the hash recorded at production."""
        for pack in self:
            ok, text = self._mfg_verify_document(pack._mfg_document(), pack)
            pack.sudo().write(
                {
                    "verify_state": "valid" if ok else "tampered",
                    "verified_at": fields.Datetime.now(),
                    "verify_note": text,
                }
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Evidence pack check"),
                "message": "\n".join(self.mapped("verify_note")),
                "type": "success" if all(p.verify_state == "valid" for p in self) else "danger",
                "sticky": False,
                # The form shows the check's outcome.
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    # ------------------------------------------------------------------ report / UI
    def _mfg_content(self):
        """The pack's content as stored (what the PDF shows)."""
        return json.loads(self._mfg_document())["pack"]

    @api.model
    def _mfg_tree_rows(self, tree):
        """A genealogy tree as rows for the report: (indent, node), root excluded."""
        return [(node["depth"], node) for node in genealogy.walk(tree) if node["depth"]]

    def action_download(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{self.sudo().attachment_id.id}?download=true",
            "target": "self",
        }

    def _mfg_action(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
        }
