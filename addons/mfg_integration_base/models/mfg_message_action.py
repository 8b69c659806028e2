"""What people do with messages: Retry, Replay, Discard, Release a stuck claim (the buttons of
the message screens and the discard wizard). The engine itself is in pipeline/."""

from odoo import fields, models
from odoo.exceptions import AccessError, UserError

from ..pipeline import outcome


# One file for the manual actions, like mfg_backend_api.py for the backend's REST API:
# mfg_message.py stays about the message itself (fields, computes, the engine's hooks).
class MfgMessage(models.Model):
    _inherit = "mfg.message"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------------ manual actions
    def _mfg_check_manager(self, action):
        if not self.env.user.has_group("mfg_integration_base.group_mfg_manager"):
            raise AccessError(self.env._("Only Integration Managers may %(action)s messages.", action=action))

    def action_retry(self):
        """Try again now (after a fix): failed, dead, retrying messages; attempts start over."""
        retryable = self.filtered(lambda m: m.state in ("failed", "dead", "retrying"))
        if not retryable:
            raise UserError(
                self.env._(
                    "Only failed, dead or retrying messages can be retried; use Replay for the others."
                )
            )
        user = self.env.user.name
        for msg in retryable:
            previous = dict(self._fields["state"].selection)[msg.state]
            previous_attempts = msg.attempts
            msg.sudo().write({"state": "queued", "next_attempt_at": False, "attempts": 0})
            msg.message_post(
                body=self.env._(
                    "Retry requested by %(user)s (was %(state)s after %(n)s attempt(s)).",
                    user=user,
                    state=previous,
                    n=previous_attempts,
                )
            )
        retryable._mfg_wake_drains()
        return True

    def action_replay(self):
        """Process the same payload again as a new message (done, rejected or discarded ones).

        A failed, retrying or dead message still holds its place in its key's order: Retry it
        (or Discard it first); a replay would come after the messages it holds back.
        """
        self._mfg_check_manager(self.env._("replay"))
        open_msgs = self.filtered(lambda m: m.state not in ("done", "rejected", "discarded"))
        if open_msgs:
            raise UserError(
                self.env._(
                    "Message %(name)s is %(state)s: use Retry to process it again in its place, or Discard "
                    "it first. Replay is for done, rejected and discarded messages.",
                    name=open_msgs[0].display_name,
                    state=dict(self._fields["state"].selection)[open_msgs[0].state],
                )
            )
        new = self.browse()
        for msg in self:
            copy = msg.sudo().copy(
                {
                    "state": "queued",
                    "external_id": False,
                    "replay_of_id": msg.id,
                    "received_at": fields.Datetime.now(),
                    # Inbound: where it came from (a replay); outbound: where it goes (the same
                    # transport as the original — replay_of_id says it is a replay).
                    "transport": "replay" if msg.direction == "inbound" else msg.transport,
                    # A new message: none of the original's outcome is carried over.
                    **outcome.FRESH_OUTCOME,
                }
            )
            new |= copy
            msg.message_post(
                body=self.env._(
                    "Replayed by %(user)s as %(new)s.", user=self.env.user.name, new=copy.display_name
                )
            )
            copy.message_post(
                body=self.env._(
                    "Replay of %(old)s requested by %(user)s.", old=msg.display_name, user=self.env.user.name
                )
            )
            msg.backend_id._mfg_enqueue_drain(msg.direction, msg.exchange_type_id.channel, sync_class="all")
        if len(new) == 1:
            return {
                "type": "ir.actions.act_window",
                "res_model": "mfg.message",
                "res_id": new.id,
                "view_mode": "form",
            }
        return True

    def action_discard(self, reason):
        """Give up on messages, with a reason (kept and written to the chatter)."""
        self._mfg_check_manager(self.env._("discard"))
        if not (reason or "").strip():
            raise UserError(self.env._("Say why the message is discarded."))
        done = self.filtered(lambda m: m.state == "done")
        if done:
            raise UserError(
                self.env._("Message %(name)s is done: it cannot be discarded.", name=done[0].display_name)
            )
        for msg in self:
            msg.sudo().write({"state": "discarded", "discard_reason": reason, "next_attempt_at": False})
            msg.message_post(
                body=self.env._("Discarded by %(user)s: %(reason)s", user=self.env.user.name, reason=reason)
            )
        # A discarded message no longer holds its ordering key: the key's later messages go now.
        self._mfg_wake_drains()
        return True

    def _mfg_wake_drains(self):
        """Start drains (after the commit) for the backends, directions and channels of these
        messages: a manual action freed or queued work that must not wait for a cron."""
        for (backend, direction), msgs in self.grouped(lambda m: (m.backend_id, m.direction)).items():
            for channel in set(msgs.exchange_type_id.mapped("channel")):
                backend._mfg_enqueue_drain(direction, channel, sync_class="all")

    def action_release_claim(self):
        """Give a stuck 'processing' message back to the queue (its drain is gone).

        The drains take such messages again by themselves at once; this makes it explicit and
        immediate. A message whose drain is alive is refused: releasing it could apply it twice.
        """
        self._mfg_check_manager(self.env._("release"))
        processing = self.filtered(lambda m: m.state == "processing")
        if not processing:
            raise UserError(self.env._("Only messages in Processing can be released."))
        self.env.flush_all()
        orphaned = self._orphaned_ids(processing.ids)
        live = processing.filtered(lambda m: m.id not in orphaned)
        if live:
            raise UserError(
                self.env._(
                    "Message %(name)s is being processed right now by a running drain (job %(job)s, since "
                    "%(since)s UTC): releasing it could apply it twice. If that job hangs, stop its worker; the "
                    "message is then released at once.",
                    name=live[0].display_name,
                    job=live[0].job_uuid or "?",
                    since=live[0].claimed_at,
                )
            )
        for msg in processing:
            msg.sudo().write({"state": "queued", "claim_token": False, "claimed_at": False})
            msg.message_post(
                body=self.env._(
                    "Released by %(user)s: its drain (job %(job)s) was gone.",
                    user=self.env.user.name,
                    job=msg.job_uuid or "?",
                )
            )
        processing._mfg_wake_drains()
        return True

    def action_open_discard_wizard(self):
        self._mfg_check_manager(self.env._("discard"))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Discard messages"),
            "res_model": "mfg.message.discard.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"active_model": "mfg.message", "active_ids": self.ids},
        }

    def action_view_records(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Related records"),
            "res_model": "mfg.message.record",
            "view_mode": "list",
            "domain": [("message_id", "=", self.id)],
        }
