"""Runs in the render process: Indic text copies out of the PDF as typed (an /ActualText on each run).

WeasyPrint 66 writes a font's ToUnicode map glyph by glyph, the text of a glyph being the first
cluster it was drawn for. Indic shaping reorders and merges glyphs: in शर्मा the reph (the र् drawn
over मा) comes after the syllable it is written in, and the cluster's text lands on one glyph while
the others map to nothing. The page prints right, but a copy, a search or a screen reader got
"श र्मा", and a later word sharing a glyph with it lost letters ("क्षमा" came out as "क्ष").

`actual_text` wraps WeasyPrint's private `weasyprint.draw.draw_text` (the function that draws one
text box, whose text is known there): a text box holding a letter of an Indic script is drawn
inside a `/Span << /ActualText (its text) >> BDC ... EMC` marked-content sequence, nested in the
box's own tagged `/Span << /MCID n >>` sequence, so text extraction and assistive technology read
the logical text instead of the glyphs' (ISO 32000-1 14.9.4; PDF/UA-1 7.2 allows it on any
marked content). If WeasyPrint changes that function, `actual_text` fails loudly at the first
render instead of quietly dropping the text (tests/documents/test_scripts.py extracts शर्मा).
"""

from __future__ import annotations

import inspect
from typing import Any

_EXPECTED = ["stream", "textbox", "offset_x", "text_overflow", "block_ellipsis"]

# The Unicode blocks of the Indic scripts whose shaping reorders glyphs (Devanagari to Sinhala,
# then the Vedic extensions and Devanagari Extended). Thai, Arabic, Hebrew and the rest keep one
# glyph per letter in logical order and copy out as typed without help.
_INDIC = ((0x0900, 0x0DFF), (0x1CD0, 0x1CFF), (0xA8E0, 0xA8FF))


def needs_actual_text(text: str) -> bool:
    """True when the text holds a letter or sign of an Indic script (its glyphs may not copy out in order)."""
    return any(start <= ord(char) <= end for char in text for start, end in _INDIC)


def actual_text() -> None:
    """Install the /ActualText wrapper around WeasyPrint's text drawing once per process (idempotent)."""
    import pydyf
    from weasyprint import draw

    original = draw.draw_text
    if getattr(original, "writes_actual_text", False):
        return
    if not inspect.isfunction(original) or list(inspect.signature(original).parameters) != _EXPECTED:
        raise RuntimeError(
            "weasyprint.draw.draw_text is not the function practitioner.documents.pdf.text_layer was written "
            "for (WeasyPrint 66): check that Indic text still copies out of the PDF as typed, then update it."
        )

    def draw_text(stream: Any, textbox: Any, *args: Any, **kwargs: Any) -> Any:
        text = getattr(textbox, "text", "") or ""
        if not needs_actual_text(text) or textbox.style["visibility"] != "visible":
            return original(stream, textbox, *args, **kwargs)
        stream.begin_marked_content("Span", pydyf.Dictionary({"ActualText": pydyf.String(text)}))
        try:
            return original(stream, textbox, *args, **kwargs)
        finally:
            stream.end_marked_content()

    draw_text.writes_actual_text = True  # type: ignore[attr-defined]
    draw.draw_text = draw_text
