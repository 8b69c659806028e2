"""The machine state of a work center as the Sparkplug primary host last saw it (read-only): from
the state rules of the metric map and the state the listener keeps on the device records."""

from datetime import UTC, datetime

from odoo import fields, models


class MrpWorkcenter(models.Model):
    _inherit = "mrp.workcenter"

    sparkplug_state = fields.Char(
        string="Machine state (Sparkplug)",
        compute="_compute_sparkplug_state",
        help="Last machine state reported over Sparkplug B for this work center: its code is the device "
        "id, or the work center code of a machine state rule of the metric map.",
    )

    def _compute_sparkplug_state(self):
        Rule = self.env["mfg.sparkplug.rule"].sudo()
        Node = self.env["mfg.sparkplug.node"].sudo()
        rules = Rule.search([("kind", "=", "state")])
        for wc in self:
            wc.sparkplug_state = wc.code and self._mfg_sparkplug_state_of(wc.code, rules, Node) or False

    def _mfg_sparkplug_state_of(self, code, rules, Node):
        best = None
        for rule in rules:
            domain = [("backend_id", "=", rule.backend_id.id), ("device", "!=", False)]
            if rule.workcenter_code:
                if rule.workcenter_code != code:
                    continue
                if rule.device:
                    domain.append(("device", "=", rule.device))
            else:
                domain.append(("device", "=", rule.device or code))
                if rule.device and rule.device != code:
                    continue
            if rule.edge_node:
                domain.append(("edge_node", "=", rule.edge_node))
            for node in Node.search(domain):
                state = (node._mfg_sparkplug_rule_state().get("state") or {}).get(
                    f"{node.edge_node}/{node.device}/{rule.metric}"
                )
                if state and (best is None or state["since"] > best[0]["since"]):
                    best = (state, node, rule)
        if best is None:
            return False
        state, node, rule = best
        since = datetime.fromtimestamp(state["since"] / 1000.0, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        what = (
            self.env._("Down (%(reason)s)", reason=state["reason"])
            if state.get("reason")
            else self.env._("Running")
        )
        if not node.online:
            what = self.env._("Offline, last %(state)s", state=what.lower())
        return self.env._(
            "%(what)s since %(since)s · %(node)s/%(device)s %(metric)s = %(value)s",
            what=what,
            since=since,
            node=node.edge_node,
            device=node.device,
            metric=rule.metric,
            value=state["value"],
        )
