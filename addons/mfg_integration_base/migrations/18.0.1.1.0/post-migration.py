"""18.0.1.1.0: outbound webhooks are signed the Standard Webhooks way (webhook-id, webhook-timestamp,
webhook-signature). Backends that already signed with a secret keep sending the legacy
X-Mfg-Timestamp / X-Mfg-Signature too, so their receivers go on working until they move over;
a manager then sets *Webhook signature* to Standard Webhooks. New backends send the standard only."""


def migrate(cr, version):
    cr.execute(
        """UPDATE mfg_backend SET webhook_signature = 'standard_legacy'
            WHERE hmac_secret IS NOT NULL AND hmac_secret != ''"""
    )
