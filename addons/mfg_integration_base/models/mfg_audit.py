"""Audit of configuration lines edited inside a backend (flows, code mappings): every change is
written to the backend's chatter (who and when come with the message), one note per backend and
operation, so that a bulk import makes one note, not thousands."""

from markupsafe import Markup, escape

from odoo import api, models

MAX_LISTED = 20


def post_backend_notes(records, action_label, describe):
    """One chatter note per backend: ``action_label`` and up to MAX_LISTED described lines."""
    if records.env.context.get("mfg_no_audit"):
        return
    by_backend = {}
    for rec in records:
        by_backend.setdefault(rec.backend_id, []).append(describe(rec))
    for backend, lines in by_backend.items():
        if not backend:
            continue
        shown = lines[:MAX_LISTED]
        body = Markup("%s<ul>%s</ul>") % (
            action_label,
            Markup("").join(Markup("<li>%s</li>") % escape(line) for line in shown),
        )
        if len(lines) > len(shown):
            body += Markup("<p>%s</p>") % records.env._("… and %(n)s more.", n=len(lines) - len(shown))
        backend.sudo().message_post(
            body=body, subtype_xmlid="mail.mt_note", author_id=records.env.user.partner_id.id
        )


def describe_changes(rec, vals, field_names):
    parts = []
    for fname in field_names:
        if fname in vals:
            field = rec._fields[fname]
            value = rec[fname]
            if field.type in ("many2one", "reference"):
                value = value.display_name if value else ""
            elif field.type == "selection":
                value = dict(field._description_selection(rec.env)).get(value, value)
            parts.append(f"{field.string}: {value if value not in (False, None) else '—'}")
    return ", ".join(parts)


class MfgCodeMapping(models.Model):
    _inherit = "mfg.code.mapping"

    _AUDITED = ("kind", "external_code", "target", "value", "active")

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        post_backend_notes(records, self.env._("Code mapping(s) added:"), lambda r: r.display_name)
        return records

    def write(self, vals):
        audited = [f for f in self._AUDITED if f in vals]
        before = {rec.id: rec.display_name for rec in self} if audited else {}
        res = super().write(vals)
        if audited:
            post_backend_notes(
                self,
                self.env._("Code mapping(s) changed:"),
                lambda r: f"{before.get(r.id)} ⇒ {r.display_name}"
                + ("" if r.active else f" ({self.env._('archived')})"),
            )
        return res

    def unlink(self):
        post_backend_notes(self, self.env._("Code mapping(s) removed:"), lambda r: r.display_name)
        return super().unlink()
