"""Generated tables in the model card (``src/hearteye/models/MODEL_CARD.md``): each lives
between two HTML comment markers, ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``, and is
replaced whole by the command that measured it, so the card never holds a figure that no
command produced."""

from __future__ import annotations

from pathlib import Path


def replace_section(card: str | Path, name: str, content: str) -> None:
    """Replace the text between the ``name`` markers of ``card`` (appended when absent)."""
    card = Path(card)
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = card.read_text() if card.is_file() else "# HeartEye model card\n"
    block = f"{start}\n{content.rstrip()}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    card.write_text(text)
