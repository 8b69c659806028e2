"""Where outbound HTTP may go (SSRF guard) and what of an answer is kept. Pure Python, no ORM.

Allowed hosts are a comma-separated list set by a system administrator (server configuration
``[mfg_integration] outbound_allowed_hosts`` and/or the system parameter
``mfg_integration.outbound_allowed_hosts``; both lists add up). Entries:

- ``*``: any host name whose addresses are all public (internet) addresses;
- ``mes.example.com``: that host name; ``*.example.com``: its subdomains;
- ``10.1.2.3``, ``10.1.0.0/16``, ``::1``: those addresses. Loopback, private, link-local,
  carrier-grade NAT, multicast and reserved addresses are reached only when listed this way,
  whatever name points at them (a listed name that resolves to 10.1.2.3 needs 10.1.2.3 listed too).

Nothing listed = no outbound HTTP at all (the safe default). The address is checked on the
resolved name before sending and again on the socket actually connected (a name that changes
its address between the two checks is caught); redirects are not followed.
"""

import ipaddress
import re
import socket
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

EXCERPT_CHARS = 500  # what is kept of an answer on the message
READ_BYTES = 8192  # what is read of an answer at most
RETRY_AFTER_MAX = 3600  # s: a receiver's Retry-After is honoured up to one hour


class OutboundRefused(Exception):
    """The URL may not be reached. ``reason``: scheme | host | address | entry; ``value``: what was refused."""

    def __init__(self, reason, value, url=""):
        super().__init__(f"{reason}: {value}")
        self.reason = reason
        self.value = value
        self.url = url


@dataclass(frozen=True)
class Policy:
    any_public: bool = False
    names: frozenset = frozenset()
    suffixes: tuple = ()
    networks: tuple = ()

    def __bool__(self):
        return bool(self.any_public or self.names or self.suffixes or self.networks)


def parse_policy(*texts):
    """A Policy from allow-list texts; OutboundRefused('entry', entry) for an entry that is not one."""
    any_public, names, suffixes, networks = False, set(), [], []
    for text in texts:
        for part in re.split(r"[,;\s]+", text or ""):
            entry = part.strip().lower().rstrip(".")
            if not entry:
                continue
            if entry == "*":
                any_public = True
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            label = entry[2:] if entry.startswith("*.") else entry
            if not re.fullmatch(r"[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*", label):
                raise OutboundRefused("entry", part)
            if entry.startswith("*."):
                suffixes.append("." + label)
            else:
                names.add(label)
    return Policy(any_public, frozenset(names), tuple(suffixes), tuple(networks))


def _ip(address):
    ip = ipaddress.ip_address(str(address).split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip


def address_allowed(policy, address):
    """True when ``address`` is listed, or is a public address (``*`` or a listed name led to it)."""
    ip = _ip(address)
    if any(ip.version == net.version and ip in net for net in policy.networks):
        return True
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def split_url(url):
    """(scheme, host, port) of an http(s) URL; OutboundRefused('scheme', ...) for anything else."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError as exc:
        raise OutboundRefused("scheme", url, url) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused("scheme", url, url)
    return parts.scheme, parts.hostname.lower().rstrip("."), port or (443 if parts.scheme == "https" else 80)


def check_url(policy, url, resolve=True):
    """Refuse (OutboundRefused) a URL the policy does not allow.

    The host must be allowed by name (or be a listed address); with ``resolve``, every address the
    name resolves to must be allowed too. A name that does not resolve now passes (sending will fail
    and be retried; the connected address is checked again then). Returns the (host, port)."""
    _scheme, host, port = split_url(url)
    try:
        literal = _ip(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        if not address_allowed(policy, literal) or not (
            policy.any_public
            or any(literal in net for net in policy.networks if literal.version == net.version)
        ):
            raise OutboundRefused("address", str(literal), url)
        return host, port
    if not (policy.any_public or host in policy.names or host.endswith(policy.suffixes)):
        raise OutboundRefused("host", host, url)
    if resolve:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return host, port
        for info in infos:
            address = info[4][0]
            if not address_allowed(policy, address):
                raise OutboundRefused("address", f"{host} → {address}", url)
    return host, port


# ---------------------------------------------------------------------------- answers
_TEXT_TYPES = re.compile(
    r"^(text/|application/([\w.+-]*\+)?(json|xml|x-www-form-urlencoded|problem\+json))", re.I
)
_REDACTIONS = (
    # "password": "…", token=…, api_key: …
    (
        re.compile(
            r"(?i)(\"?[\w-]*(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|authorization|"
            r"cookie|session(?:[_-]?id)?|signature|credential)s?\"?\s*[:=]\s*)(\"(?:[^\"\\]|\\.)*\"|[^\s,;&}\]]+)"
        ),
        r'\1"***"',
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]+"), r"\1 ***"),
    # long opaque strings: keys, tokens, session ids, signed URLs' signatures
    (re.compile(r"[A-Za-z0-9+/_=-]{40,}"), "***"),
    (re.compile(r"[\x00-\x08\x0b-\x1f\x7f]+"), " "),
)


def excerpt(raw, content_type="", secrets=(), limit=EXCERPT_CHARS):
    """A bounded, redacted excerpt of an answer's body (bytes) that users may read."""
    if not raw:
        return ""
    ctype = (content_type or "").split(";", 1)[0].strip()
    if ctype and not _TEXT_TYPES.match(ctype):
        return f"({len(raw)} bytes of {ctype[:80]})"
    text = raw[: limit * 4].decode("utf-8", errors="replace")
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "…"


def parse_retry_after(value, now, maximum=RETRY_AFTER_MAX):
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), bounded to
    [0, maximum]; None when absent or unreadable. ``now``: aware datetime of the same clock."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        seconds = int(value[:12])
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = int((when - now).total_seconds() + 0.999)
    return max(0, min(seconds, maximum))
