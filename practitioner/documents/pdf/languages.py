"""Runs in the render process: the `lang` of an element becomes /Lang on its PDF structure element.

practitioner.documents.pdf.glyphs.mark_scripts wraps text in another script than the document's
in `<span lang="ar" dir="rtl">`; WeasyPrint 66 writes the document's language (the catalog's
/Lang) but not an element's, so a screen reader would read 王芳 or محمد in the document's
English voice. `tag_languages` wraps WeasyPrint's private `weasyprint.pdf.tags._build_box_tree`
(the generator that makes one structure element per box, and calls itself through the module
name for the children) so that each structure element made for an element with a `lang`
attribute carries /Lang. If WeasyPrint changes that function, `tag_languages` fails loudly at
the first render instead of quietly dropping the languages (tests/documents/test_scripts.py
reads /Lang back from a PDF).
"""

from __future__ import annotations

import inspect
from typing import Any

_EXPECTED = ["box", "parent", "pdf", "page_number", "nums", "links", "tags"]


def tag_languages() -> None:
    """Install the /Lang wrapper once per process (idempotent)."""
    import pydyf
    from weasyprint.pdf import tags

    original = tags._build_box_tree
    if getattr(original, "writes_lang", False):
        return
    if not inspect.isgeneratorfunction(original) or list(inspect.signature(original).parameters) != _EXPECTED:
        raise RuntimeError(
            "weasyprint.pdf.tags._build_box_tree is not the function practitioner.documents.pdf.languages "
            "was written for (WeasyPrint 66): check that element languages still reach the PDF, then update it."
        )

    def build_box_tree(box: Any, *args: Any) -> Any:
        element = getattr(box, "element", None)
        lang = None
        if element is not None and getattr(box, "element_tag", None) not in ("html", "body"):
            lang = element.get("lang")
        for structure in original(box, *args):
            if lang and "Lang" not in structure:
                structure["Lang"] = pydyf.String(lang)
            yield structure

    build_box_tree.writes_lang = True  # type: ignore[attr-defined]
    tags._build_box_tree = build_box_tree
