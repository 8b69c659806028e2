"""transports/http outbound.py and webhook_signing.py: allowed hosts, answer excerpts, Retry-After,
Standard Webhooks signatures. Pure functions: no database, no network (names are IP literals
or 'localhost')."""

import base64
from datetime import datetime, timezone

from odoo.tests import BaseCase, tagged

from ..transports.http import outbound, webhook_signing

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


@tagged("post_install", "-at_install")
class TestOutboundPolicy(BaseCase):
    def _refused(self, allowed, url):
        with self.assertRaises(outbound.OutboundRefused) as caught:
            outbound.check_url(outbound.parse_policy(allowed), url)
        return caught.exception

    def test_nothing_listed_allows_nothing(self):
        self.assertFalse(outbound.parse_policy("", None))
        self.assertEqual(self._refused("", "https://mes.example.com/api").reason, "host")
        self.assertEqual(self._refused("", "http://127.0.0.1:8069/").reason, "address")

    def test_internal_addresses_need_listing_as_addresses(self):
        for url in (
            "http://127.0.0.1/",
            "http://10.1.2.3/",
            "http://192.168.0.10/",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
        ):
            self.assertEqual(self._refused("*", url).reason, "address", url)
        self.assertEqual(self._refused("*, localhost", "http://localhost:8069/").reason, "address")
        policy = outbound.parse_policy("mes.plant.local, 10.1.0.0/16; ::1 localhost 127.0.0.1")
        self.assertEqual(outbound.check_url(policy, "http://10.1.2.3:8080/x"), ("10.1.2.3", 8080))
        self.assertEqual(outbound.check_url(policy, "https://[::1]/x"), ("::1", 443))
        self.assertEqual(outbound.check_url(policy, "http://localhost/x"), ("localhost", 80))
        self.assertEqual(self._refused("10.1.0.0/16", "http://10.2.0.1/").reason, "address")

    def test_host_names_and_wildcards(self):
        policy = outbound.parse_policy("mes.example.com, *.qms.example.com")
        for url in ("https://MES.example.com./x", "https://a.qms.example.com/x"):
            outbound.check_url(policy, url, resolve=False)
        for url in (
            "https://qms.example.com/",
            "https://mes.example.com.evil.io/",
            "https://evilmes.example.com/",
        ):
            self.assertEqual(self._refused("mes.example.com, *.qms.example.com", url).reason, "host", url)
        outbound.check_url(outbound.parse_policy("*"), "https://93.184.216.34/")

    def test_only_http_urls_and_valid_entries(self):
        for url in (
            "ftp://mes.example.com/",
            "file:///etc/passwd",
            "gopher://x",
            "http:///path",
            "http://x:99999/",
        ):
            self.assertEqual(self._refused("*", url).reason, "scheme", url)
        with self.assertRaises(outbound.OutboundRefused) as caught:
            outbound.parse_policy("mes.example.com, http://x/y")
        self.assertEqual((caught.exception.reason, caught.exception.value), ("entry", "http://x/y"))

    def test_retry_after(self):
        self.assertEqual(outbound.parse_retry_after("120", NOW), 120)
        self.assertEqual(outbound.parse_retry_after(" 0 ", NOW), 0)
        self.assertEqual(outbound.parse_retry_after("Sun, 01 Mar 2026 12:02:30 GMT", NOW), 150)
        self.assertEqual(outbound.parse_retry_after("Sun, 01 Mar 2026 11:00:00 GMT", NOW), 0, "in the past")
        self.assertEqual(outbound.parse_retry_after("99999999999999999999", NOW), outbound.RETRY_AFTER_MAX)
        self.assertEqual(
            outbound.parse_retry_after("Mon, 01 Mar 2027 12:00:00 GMT", NOW), outbound.RETRY_AFTER_MAX
        )
        for value in (None, "", "soon", "-5", "1.5", "Sun, 01 Mar 2026 12:02:30"):
            self.assertIsNone(outbound.parse_retry_after(value, NOW), value)

    def test_excerpt_is_bounded_and_redacted(self):
        body = (
            b'{"error": "bad lot", "password": "hunter2", "refresh_token": "r-1", "auth": "Bearer abc.def", '
            b'"apiKey": "k-9", "echo": "plant-secret", "blob": "' + b"Q" * 64 + b'"}'
        )
        text = outbound.excerpt(body, "application/json; charset=utf-8", secrets=["plant-secret"])
        self.assertIn('"error": "bad lot"', text)
        for secret in ("hunter2", "r-1", "abc.def", "k-9", "plant-secret", "Q" * 64):
            self.assertNotIn(secret, text)
        self.assertEqual(len(outbound.excerpt(b"a b " * 10_000, "text/plain")), outbound.EXCERPT_CHARS + 1)
        self.assertEqual(outbound.excerpt(b"\x89PNG\r\n", "image/png"), "(6 bytes of image/png)")
        self.assertEqual(outbound.excerpt(b"line\x00\x1b[31m", "text/plain"), "line [31m")
        self.assertEqual(outbound.excerpt(b"", "text/plain"), "")


@tagged("post_install", "-at_install")
class TestWebhookSigning(BaseCase):
    def test_standard_webhooks_reference_vector(self):
        # The example of the Standard Webhooks specification / reference libraries.
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        body = b'{"test": 2432232314}'
        headers = webhook_signing.sign_webhook(
            secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", body, timestamp=1614265330
        )
        self.assertEqual(headers["webhook-signature"], "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        self.assertTrue(webhook_signing.verify_webhook(secret, body, headers, now=1614265330))
        self.assertFalse(
            webhook_signing.verify_webhook(secret, body, headers, now=1614265330 + 301), "too old"
        )
        replay = dict(headers, **{"webhook-id": "msg_other"})
        self.assertFalse(
            webhook_signing.verify_webhook(secret, body, replay, now=1614265330), "new id, same signature"
        )

    def test_secrets(self):
        secret = webhook_signing.new_secret()
        self.assertTrue(secret.startswith("whsec_"))
        self.assertEqual(len(webhook_signing.signing_key(secret)), 32)
        self.assertEqual(webhook_signing.signing_key("plant-shared-secret"), b"plant-shared-secret")
        short = "whsec_" + base64.b64encode(b"x" * 8).decode()
        for bad in ("whsec_not base64!", short):
            with self.assertRaises(ValueError):
                webhook_signing.signing_key(bad)
