"""Errors of the pipeline, classified the way the drain job treats them.

- ``MfgTransientError``: the next attempt may succeed (remote endpoint down, lock,
  serialization failure). The message goes to ``retrying`` with exponential backoff (or
  after the error's ``retry_after`` when the remote side said when), then ``dead`` after the exchange type's max attempts.
- ``MfgPermanentError``: retrying the same message cannot help (schema, unknown code,
  business rule). The message goes to ``failed`` at once (``rejected`` for schema errors);
  a user fixes the cause (adds a mapping, fixes master data) and presses Retry.

Handlers raise these (or Odoo's ``UserError`` / ``ValidationError``, treated as permanent
business errors). Any other exception is an ``internal`` error: permanent, with the
traceback kept on the message for the developers.
"""


class MfgError(Exception):
    """Base class. ``error_class`` is stored on the message."""

    error_class = "internal"

    def __init__(self, message, path=None):
        super().__init__(message)
        self.message = message
        self.path = path


class MfgTransientError(MfgError):
    """``retry_after`` (seconds): when the other side said to come back (HTTP Retry-After), used
    instead of the exchange type's backoff for the next attempt (like queue_job's
    ``RetryableJobError(seconds=...)``)."""

    error_class = "transient"

    def __init__(self, message, path=None, retry_after=None):
        super().__init__(message, path=path)
        self.retry_after = retry_after


class MfgPermanentError(MfgError):
    error_class = "business"


class MfgValidationError(MfgPermanentError):
    """The payload breaks its contract (JSON Schema) or is not JSON at all."""

    error_class = "validation"

    def __init__(self, message, path=None, errors=None):
        super().__init__(message, path=path)
        self.errors = errors or []


class MfgMappingError(MfgPermanentError):
    """An external code has no code mapping for the backend: fix the mapping, then retry.
    Raised by the one resolver, ``mfg.code.mapping._mfg_resolve`` (the incident screen offers
    to add the mapping from ``kind`` and ``code``); ``path``: the JSON pointer of the code."""

    error_class = "mapping"

    def __init__(self, message, kind=None, code=None, path=None):
        super().__init__(message, path=path)
        self.kind = kind
        self.code = code
