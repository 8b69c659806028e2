"""Pseudonyms of people's names leaving Odoo: a keyed HMAC-SHA256, stable for one database
(the key is ``mfg_analytics.pseudonym_key``, made once per database), so one person keeps one
pseudonym across runs and tables, and nobody without the key can recompute it from a name."""

import hashlib
import hmac


class Pseudonymiser:
    def __init__(self, key):
        if not key:
            raise ValueError("a pseudonym key is required")
        self._key = key.encode() if isinstance(key, str) else key

    def __call__(self, name):
        if name is None or name == "":
            return name
        digest = hmac.new(self._key, str(name).encode("utf-8"), hashlib.sha256).hexdigest()
        return f"p-{digest[:16]}"
