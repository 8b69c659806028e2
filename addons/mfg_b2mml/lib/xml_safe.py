"""Untrusted XML parsed strictly and bounded (no ORM): lxml with a hardened parser.

Why lxml and not defusedxml: lxml is already a dependency of Odoo (nothing to install), it is
what we navigate the tree with anyway (defusedxml.lxml is deprecated, and defusedxml's own
parsers are the stdlib ones, slower and without ``getpath``); its parser does everything
defusedxml guards against when told to: no entity is replaced (``resolve_entities=False``),
no DTD is loaded (``load_dtd=False``), nothing is fetched (``no_network=True``), libxml2's
limits stay on (``huge_tree=False``: depth 256, text nodes 10 MB). On top of that we refuse any
DOCTYPE at all (a B2MML document has none: the billion-laughs and external-entity attacks
need one), before and after parsing, and bound the size before parsing.
"""

from lxml import etree

from odoo.addons.mfg_integration_base.exceptions import MfgValidationError

BOM = b"\xef\xbb\xbf"
DOCTYPE_SCAN_BYTES = 4096  # a DOCTYPE comes before the root element: look in the head


def _parser():
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def parse(raw, max_bytes):
    """The root element of the XML document ``raw`` (bytes), or ``MfgValidationError`` saying
    why not: too big, a DOCTYPE (entities), not well formed."""
    if len(raw) > max_bytes:
        raise MfgValidationError(
            f"The document is {len(raw):,} bytes long; this backend accepts B2MML documents of at most "
            f"{max_bytes:,} bytes (B2MML mapping, max_document_bytes). Split it into smaller documents.",
            path="/",
        )
    head = raw[:DOCTYPE_SCAN_BYTES]
    if head.startswith(BOM):
        head = head[len(BOM) :]
    if b"<!DOCTYPE" in head.upper() or b"<!ENTITY" in head.upper():
        raise MfgValidationError(
            "The document declares a DOCTYPE (or entities): refused, B2MML needs none and entities "
            "could expand without bound or read files and URLs. Send the document without a DOCTYPE.",
            path="/",
        )
    if not raw.strip():
        raise MfgValidationError("The document is empty: a B2MML XML document was expected.", path="/")
    try:
        root = etree.fromstring(raw, parser=_parser())
    except etree.XMLSyntaxError as exc:
        line = getattr(exc, "lineno", None)
        raise MfgValidationError(
            f"The document is not well-formed XML (line {line}): {exc.msg if hasattr(exc, 'msg') else exc}",
            path="/",
        ) from exc
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise MfgValidationError("The document declares a DOCTYPE: refused.", path="/")
    for node in root.iter(etree.Entity):
        raise MfgValidationError(
            f"The document uses the entity &{node.name};: refused (no entities are expanded).", path="/"
        )
    return root
