"""Receive: what the engine checks on ids given by a transport before storing. No ORM."""

MAX_SENDER_KEY_LENGTH = 255  # the OpenAPI document's maxLength of Idempotency-Key / X-Correlation-Id


def sender_key_problem(value, what):
    """Why an id given by the transport (header, MQTT user property) cannot be kept, or None."""
    if value is None or value is False:
        return None
    text = str(value)
    if len(text) > MAX_SENDER_KEY_LENGTH:
        return (
            f"The {what} is {len(text):,} characters long; at most {MAX_SENDER_KEY_LENGTH} are allowed. "
            "Send a shorter id."
        )
    if "\x00" in text:
        return f"The {what} {text[:40]!r} holds a NUL character, which no text column can keep; remove it."
    return None


def as_key(value):
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).replace("\x00", "").strip()
    return text[:256] or None
