"""18.0.1.1.0: outbound webhooks are signed the Standard Webhooks way (webhook-id, webhook-timestamp,
webhook-signature). Backends that already signed with a secret keep sending the legacy
X-Mfg-Timestamp / X-Mfg-Signature too, so their receivers go on working until they move over;
a manager then sets *Webhook signature* to Standard Webhooks. New backends send the standard only.

The drain-due cron (a noupdate record) runs every minute instead of every 5 minutes, unless an
administrator changed its interval: it now also resumes the claims of drains that died."""


def migrate(cr, version):
    cr.execute(
        """UPDATE mfg_backend SET webhook_signature = 'standard_legacy'
            WHERE hmac_secret IS NOT NULL AND hmac_secret != ''"""
    )
    cr.execute(
        """UPDATE ir_cron SET interval_number = 1
            WHERE id = (SELECT res_id FROM ir_model_data
                         WHERE module = 'mfg_integration_base' AND name = 'ir_cron_mfg_drain_due')
              AND interval_type = 'minutes' AND interval_number = 5"""
    )
