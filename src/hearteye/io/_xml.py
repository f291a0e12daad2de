"""What the XML readers share: recognising a document by its root element, refusing the
XML attacks before a parser sees the document, and the one hardened parse.

Rules (OWASP XML cheat sheet): no entity declarations at all (an internal entity is how a
billion-laughs or quadratic blow-up expands; an external one, SYSTEM or PUBLIC, is how XXE
reads files or URLs). No ECG export needs one, so a document declaring one is refused with
its own code, whatever the parser would do. A ``<!DOCTYPE RestingECG SYSTEM "restecg.dtd">``
line (GE MUSE writes it) names a DTD that is never fetched, and is allowed.

`parse_document` is the second guard and the only parse: expat (the standard library's) with
defusedxml's handlers, so any entity declaration or external reference it meets, wherever
`check_xml`'s look at the prolog missed it, stops the parse; its elements go straight into the
C ``TreeBuilder``. That is defusedxml's protection at the C parser's speed: defusedxml's own
``fromstring`` drives the pure-Python ``XMLParser`` and cost 0.70 ms for a 143 kB MUSE
export, 1.6 ms for a 228 kB Philips and 2.8 ms for the 505 kB aECG, against 0.44, 0.94 and
1.6 ms here (best of 20, same run). Expat (2.4 and later) also bounds entity amplification
itself.

Why not lxml (libxml2, hardened: no entities resolved, no network, no DTD, comments and PIs
dropped): its parse alone is about twice as fast (aECG 1.05-1.14 against 2.0-2.4 ms, Philips
0.27-1.09 against 0.55-1.97, MUSE 0.29-0.48 against 0.53-0.94; best of 30, interleaved, two
runs, lxml 6.1.3), but it is namespace-aware: tags come as ``{uri}name``, ``xmlns`` attributes
vanish and ``xsi:type`` is renamed, so the readers' names (and Philips' metadata keys) need a
walk over every element, and that walk in Python gives the gain back (aECG 2.1-2.2 ms, Philips
0.75-2.3). Its ``find`` also costs 1.9 us against 0.19 for this tree's, and the aECG reader
makes ~1,800 lookups: a whole aECG read took 7.5 against 5.8 ms (10.1 against 8.5 in a slower
run), the same signal. Driving the C ``TreeBuilder`` from lxml's parser (a target) was slower
still.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from xml.parsers import expat

from hearteye.errors import InvalidRecordError

# The prolog (declaration, comments, doctype) sits before the root element; GE, Philips and
# HL7 files keep it under 1 kB. A longer one is refused rather than searched further.
_PROLOG_BYTES = 65_536
_SKIP = re.compile(
    r"\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?:[^\[>]*\[.*?\])?[^>]*>", re.DOTALL | re.IGNORECASE
)
_ROOT = re.compile(r"<([A-Za-z_][\w.:-]*)")
_DOCTYPE = re.compile(r"<!DOCTYPE\s+([A-Za-z_][\w.:-]*)", re.IGNORECASE)
_ENTITY = re.compile(r"<!ENTITY\b([^>]*)", re.IGNORECASE)
_EXTERNAL = re.compile(r"\b(SYSTEM|PUBLIC)\b", re.IGNORECASE)


def decode_head(data: bytes) -> str:
    """The first bytes of an XML document as text (UTF-16 by its BOM or its zero bytes)."""
    head = data[:_PROLOG_BYTES]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="ignore")
    if head.startswith(b"<\x00"):
        return head.decode("utf-16-le", errors="ignore")
    if head.startswith(b"\x00<"):
        return head.decode("utf-16-be", errors="ignore")
    return head.decode("utf-8", errors="ignore").lstrip("\ufeff")


def split_prolog(text: str) -> tuple[str, str | None]:
    """(prolog, root element's local name) of a document's start; root None if not found."""
    pos = 0
    while True:
        m = _SKIP.match(text, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
    root = _ROOT.match(text, pos)
    if root is None:  # a prolog longer than we look at: the doctype names the root
        root = _DOCTYPE.search(text)
    return text[:pos], (root.group(1).rsplit(":", 1)[-1] if root else None)


def root_element(head: bytes) -> str | None:
    """The root element's local name (``RestingECG``), or None when ``head`` is not XML."""
    if not head.lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n").startswith((b"<", b"\x00<")):
        return None
    _, root = split_prolog(decode_head(head))
    return root


def _entity_kind(declarations: str) -> tuple[str, str]:
    """The worst of the declared entities: external, nested, or plain."""
    if _EXTERNAL.search(declarations):
        return "an external entity (a way to read files or URLs: XXE)", "xml_external_entity"
    if "&" in declarations:
        return (
            "entities built from other entities (a billion-laughs expansion)",
            "xml_nested_entities",
        )
    return "an entity (a way to blow a small file up by repetition)", "xml_entity_declaration"


def check_xml(data: bytes, source: str, label: str) -> None:
    """Refuse entity declarations and an unreadable prolog before any XML parser runs."""
    text = decode_head(data)
    prolog, root = split_prolog(text)
    entities = _ENTITY.findall(text[: max(len(prolog), 1) + 1] if prolog else text)
    if entities:
        kind, code = _entity_kind(" ".join(entities))
        raise InvalidRecordError(
            f"{source}: the {label} document declares {kind}; ECG exports declare none. "
            "Export the file again from the cart",
            code=code,
        )
    if root is None:
        raise InvalidRecordError(
            f"{source}: no root element in the first {_PROLOG_BYTES >> 10} kB of the {label} "
            "document; it is damaged or not XML",
            code="xml_no_root",
        )


# --------------------------------------------------------------------------------- parse


class _Refused(Exception):
    """An entity declaration or external reference met while parsing."""


def _refuse(*_args) -> None:
    raise _Refused


_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"'][^>]*\?>")
_DECLARATION_TEXT = re.compile(r"^\s*<\?xml[^>]*\?>")


def _expat_tree(data: bytes, encoding: str | None) -> ET.Element:
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(encoding)
    parser.buffer_text = True  # one text event per run of text, not one per line
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    parser.Parse(data, True)
    return builder.close()


def _as_parsed(data: bytes) -> tuple[bytes, str | None]:
    """The bytes expat is given and the encoding it is told (None: as declared). A UTF-16
    document (Philips 1.04 writes one) goes as UTF-8, the encoding told overriding the one
    declared: the same text, read in 92 % of the time, transcoding included (0.93 against 1.01
    ms for a 234 kB Philips export). Bytes that are not valid UTF-16 go to expat as they are,
    and a parse that fails takes the lossless route below with the original bytes."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16").encode("utf-8"), "utf-8"
        except UnicodeError:
            pass
    return data, None


def parse_document(data: bytes, source: str, label: str) -> ET.Element:
    """The document's element tree (names as written, ``prefix:name`` included).

    Bytes that do not match the declared encoding (an export declared UTF-8 but written in
    Latin-1) are decoded without loss (the declared encoding, else UTF-8, else Latin-1) and
    parsed again, as ecgdatakit does, so such files read as they did."""
    try:
        try:
            return _expat_tree(*_as_parsed(data))
        except expat.ExpatError as first:
            body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
            match = _DECLARATION.match(body)
            text = _lossless(body, match.group(1).decode("ascii") if match else None)
            text = _DECLARATION_TEXT.sub("", text, count=1)
            try:
                return _expat_tree(text.encode("utf-8"), "utf-8")
            except expat.ExpatError:
                raise first from None
    except _Refused:
        raise InvalidRecordError(
            f"{source}: the {label} document declares an entity; ECG exports declare none. "
            "Export the file again from the cart",
            code="xml_entity_declaration",
        ) from None
    except (expat.ExpatError, ValueError) as err:  # ValueError: an unknown declared encoding
        raise InvalidRecordError(
            f"{source}: the {label} file is damaged or not as its standard says (malformed "
            f"XML: {str(err)[:120]}); export it again from the cart or its system",
            code="malformed_xml",
        ) from None


def _lossless(raw: bytes, encoding: str | None) -> str:
    for enc in (encoding, "utf-8"):
        if enc:
            try:
                return raw.decode(enc)
            except (UnicodeDecodeError, LookupError):
                continue
    return raw.decode("latin-1")


def local_names(root: ET.Element) -> ET.Element:
    """``root`` with every ``prefix:name`` element renamed ``name`` (what a namespace-aware
    parse that drops namespaces gives, as ecgdatakit's readers of MUSE and aECG navigate)."""
    for el in root.iter():
        tag = el.tag
        if ":" in tag:
            el.tag = tag.rsplit(":", 1)[1]
    return root


def direct_text(el: ET.Element | None) -> str:
    """The element's own text (before, between and after its children), stripped."""
    if el is None:
        return ""
    if len(el) == 0:
        return (el.text or "").strip()
    return ((el.text or "") + "".join(c.tail or "" for c in el)).strip()


def all_text(el: ET.Element | None) -> str:
    """All text inside the element, children's included, with runs of white space as one
    space."""
    return "" if el is None else " ".join("".join(el.itertext()).split())
