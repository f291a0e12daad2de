"""What the XML readers share: recognising a document by its root element, and refusing
the XML attacks before a parser sees the document.

Rules (OWASP XML cheat sheet): no entity declarations at all (an internal entity is how a
billion-laughs or quadratic blow-up expands; an external one, SYSTEM or PUBLIC, is how XXE
reads files or URLs). No ECG export needs one, so a document declaring one is refused with
its own code, whatever the parser would do. A ``<!DOCTYPE RestingECG SYSTEM "restecg.dtd">``
line (GE MUSE writes it) names a DTD that is never fetched, and is allowed. The parser that
then reads the document is defusedxml's (through the decoder), a second guard.
"""

from __future__ import annotations

import re

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
