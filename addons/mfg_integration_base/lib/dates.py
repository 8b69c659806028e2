"""RFC 3339 date-times of the payloads ↔ Odoo's naive UTC datetimes: parsed and formatted here
only (no ORM state).

- ``parse_rfc3339("2026-03-01T08:15:00.250+01:00", "start")`` → ``datetime(2026, 3, 1, 7, 15, 0, 250000)``:
  the offset is applied and dropped (Odoo stores naive UTC), fractions are kept to the
  microsecond (digits beyond the sixth are cut). Refuses anything that is not RFC 3339
  (a date without time, a time without offset, ISO 8601's other forms) with an error naming
  the field and the value.
- ``format_rfc3339(datetime)`` → ``"2026-03-01T07:15:00Z"``: UTC, whole seconds, ``Z``.
"""

import re
from datetime import UTC, datetime, timedelta, timezone

from ..exceptions import MfgValidationError

_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?"
    r"(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<hours>\d{2}):(?P<minutes>\d{2}))",
    re.ASCII,
)
MAX_LENGTH = 64  # the longest text quoted back in an error


class Rfc3339Error(MfgValidationError, ValueError):
    """A value that is not an RFC 3339 date-time. A contract error of the payload (the message
    is rejected, with the field as error path); also a ``ValueError`` for callers outside the
    pipeline."""

    def __init__(self, message, path=None, value=None):
        super().__init__(message, path=path)
        self.value = value


def _refuse(value, field, why):
    shown = (
        repr(value)
        if not isinstance(value, str) or len(value) <= MAX_LENGTH
        else repr(value[:MAX_LENGTH]) + "…"
    )
    where = f"Field '{field}': " if field else ""
    path = None
    if field:
        path = field if field.startswith("/") else "/" + field
    return Rfc3339Error(
        f"{where}{shown} is not an RFC 3339 date-time ({why}); expected e.g. 2026-03-01T08:15:00Z "
        "or 2026-03-01T09:15:00+01:00.",
        path=path,
        value=value,
    )


def parse_rfc3339(value, field=None):
    """The naive UTC datetime of an RFC 3339 text (or of a datetime: an aware one is converted,
    a naive one is taken as UTC). ``field`` (a name or a JSON pointer) names the value in the
    error. Raises ``Rfc3339Error``."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if not isinstance(value, str):
        raise _refuse(value, field, "not a text")
    match = _RFC3339.fullmatch(value.strip())
    if not match:
        raise _refuse(value, field, "the form is YYYY-MM-DDTHH:MM:SS, optional fraction, then Z or ±HH:MM")
    fraction = (match["fraction"] or "")[:6].ljust(6, "0")
    try:
        moment = datetime.fromisoformat(f"{match['date']}T{match['time']}.{fraction}")
        if match["utc"]:
            offset = timedelta(0)
        else:
            hours, minutes = int(match["hours"]), int(match["minutes"])
            if hours > 23 or minutes > 59:
                raise ValueError("offset out of range")
            offset = timedelta(hours=hours, minutes=minutes) * (-1 if match["sign"] == "-" else 1)
        return moment.replace(tzinfo=timezone(offset)).astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError) as exc:
        raise _refuse(value, field, f"no such moment: {exc}") from None


def format_rfc3339(value):
    """RFC 3339 text (UTC, whole seconds, ``Z``) of an Odoo naive UTC datetime or an aware one;
    None for an empty value (False, None)."""
    if not value:
        return None
    if value.tzinfo:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
