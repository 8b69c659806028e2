"""B2MML documents checked against the XML Schemas of MESA International (no ORM).

The V0700 schemas ship in ``schemas/b2mml/V0700/`` with their licence ("The Business To
Manufacturing Markup Language (B2MML) is used courtesy of MESA International."). A document is
validated against the schema file of its noun (``SyncOperationsSchedule`` → the
OperationsSchedule schema), compiled once per process.
"""

import functools
from pathlib import Path

from lxml import etree

from . import b2mml_out

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas" / "b2mml"
# namespace → folder of its schemas
VERSIONS = {b2mml_out.V0700: "V0700"}
# noun → schema file (V0700 names)
NOUN_FILES = {
    "OperationsSchedule": "B2MML-OperationsSchedule.xsd",
    "OperationsPerformance": "B2MML-OperationsPerformance.xsd",
    "OperationsDefinition": "B2MML-OperationsDefinition.xsd",
    "MaterialDefinition": "B2MML-Material.xsd",
    "MaterialInformation": "B2MML-Material.xsd",
    "MaterialLot": "B2MML-Material.xsd",
}
VERB_PREFIXES = ("Sync", "Process", "Show", "Get", "Acknowledge", "Change", "Cancel", "Respond")


class SchemaMissing(LookupError):
    """No shipped schema for this namespace or noun."""


def noun_of(tag):
    name = etree.QName(tag).localname
    for verb in VERB_PREFIXES:
        if name.startswith(verb) and name[len(verb) :] in NOUN_FILES:
            return name[len(verb) :]
    return name


@functools.lru_cache(maxsize=16)
def schema(version, filename):
    """The compiled XMLSchema of ``filename`` in the schema folder of ``version``."""
    path = SCHEMA_DIR / version / filename
    # The schema files are ours (shipped, trusted); includes resolve within their folder.
    return etree.XMLSchema(etree.parse(str(path)))


def schema_of(root):
    """The compiled schema for the document ``root`` (an element): the shipped schema of its
    namespace's version and its noun. Raises SchemaMissing naming what is missing."""
    qname = etree.QName(root)
    version = VERSIONS.get(qname.namespace)
    if version is None:
        raise SchemaMissing(
            f"no B2MML schema ships for namespace {qname.namespace!r} (shipped: "
            f"{', '.join(f'{v} {ns}' for ns, v in VERSIONS.items())})"
        )
    filename = NOUN_FILES.get(noun_of(root.tag))
    if filename is None:
        raise SchemaMissing(f"no B2MML schema known for document <{qname.localname}>")
    return schema(version, filename)


def invalid_elements(root):
    """The XSD errors of the parsed document ``root``: ``[(line, element or None, message)]``
    (the element the error is about, found from the validator's path), [] when valid. Raises
    SchemaMissing."""
    xsd = schema_of(root)
    if xsd.validate(root):
        return []
    found = []
    tree = root.getroottree()
    for entry in xsd.error_log:
        element = None
        if entry.path:
            try:
                hits = tree.xpath(entry.path)
            except etree.XPathError:
                hits = []
            element = hits[0] if hits and isinstance(hits[0], etree._Element) else None
        found.append((entry.line, element, entry.message))
    return found


def errors(document):
    """The XSD errors of ``document`` (bytes) as texts ``line N: message``; [] when valid.
    Raises SchemaMissing when no shipped schema covers its namespace or noun."""
    root = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
    xsd = schema_of(root)
    if xsd.validate(root):
        return []
    return [f"line {e.line}: {e.message}" for e in xsd.error_log]
