"""The consent form's tail in large print: the last declaration, the photo choices and the signature stay on one
page, and the page before them is never left under a third full, with the realistic consent, a hostile one (the
longest typed name and witness name, right-to-left and combining text, a text whose fingerprint does not match) and
one whose last declaration is unusually long.

Why it holds (reports/print.css, the consent's tail): the tail is kept together, so when it does not fit under
what is already on a page it starts the next page; the page it leaves was then more than (1 - tail) full. A tail of
at most two thirds of a page therefore never leaves a page under a third full. Large print keeps the tail short
enough for that: the signature's facts may follow the signature onto the next page (the witness line and the
fingerprint never move the signature), and the declaration list may break inside a declaration longer than a
few lines, so a long last declaration does not drag the photo choices and the signature over a whole page.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from practitioner.documents import services
from practitioner.documents.kinds import DocumentKind, DocumentSpec
from practitioner.extensions import db
from tests.documents.pdf_corpus import BIDI, COMBINING, _fill
from tests.documents.test_pdf_layout import Rendered, _lines, _text, _walk, laid_out_rf_story, page_of, read_layout

PAPERS = ("A4", "Letter")
LONG_DECLARATION = ("I know I will be asked to confirm my consent again at each session, and that the practitioner will "
                    "check with me before each one whether anything in my health, my medicines, my skin or my plans has "
                    "changed since the last session, including any new medicine, supplement, skin product, sun exposure, "
                    "tanning, holiday, illness, cold sore, pregnancy or breastfeeding, or any treatment I have had "
                    "elsewhere, so that the treatment can be changed, delayed or stopped if it is no longer safe for me.")


def _declarations(consent: dict[str, Any]) -> dict[str, Any]:
    return next(section for section in consent["sections"] if section["role"] == "declarations")


def realistic(spec: DocumentSpec) -> DocumentSpec:
    """The RF story's consent, as signed."""
    return spec


def hostile(spec: DocumentSpec) -> DocumentSpec:
    """The longest names in the signature's facts, in two scripts and with combining marks, and a fingerprint mismatch."""
    context = copy.deepcopy(spec.context)
    consent = context["consent"]
    consent["typed_name"] = _fill(f"{COMBINING} {BIDI} ", 120)
    consent["witnessed_by"] = _fill(f"Dr {COMBINING} {BIDI} ", 120)
    consent["content_sha256_matches"] = False
    context["patient"]["name"] = consent["typed_name"]
    return replace(spec, context=context)


def long_last_declaration(spec: DocumentSpec) -> DocumentSpec:
    """A last declaration of about 500 characters (a clinic's own wording can run that long)."""
    context = copy.deepcopy(spec.context)
    _declarations(context["consent"])["items"][-1] = LONG_DECLARATION
    return replace(spec, context=context)


def hostile_long(spec: DocumentSpec) -> DocumentSpec:
    """Both at once."""
    return long_last_declaration(hostile(spec))


VARIANTS = {"realistic": realistic, "hostile": hostile, "long-last-declaration": long_last_declaration,
            "hostile-long-last-declaration": hostile_long}


class Layouts:
    """Each (variant, paper) of the large-print consent form rendered once in this process, with its layout."""

    def __init__(self, spec: DocumentSpec, documents: list[Any]) -> None:
        self.spec, self._documents, self._done = spec, documents, {}

    def get(self, variant: str, paper: str) -> tuple[Rendered, DocumentSpec]:
        """The large-print consent form of this variant on this paper, and the spec it was made from."""
        if (variant, paper) not in self._done:
            spec = replace(VARIANTS[variant](self.spec), paper=paper)
            self._documents.clear()
            pdf = services.render(spec, large_print=True)
            document = self._documents.pop()
            self._done[(variant, paper)] = (read_layout(document, pdf), spec, tail_share(document))
        rendered, spec, _share = self._done[(variant, paper)]
        return rendered, spec

    def tail(self, variant: str, paper: str) -> float:
        """How much of a page the kept-together tail takes (tail_share)."""
        self.get(variant, paper)
        return self._done[(variant, paper)][2]


def tail_share(document: Any) -> float:
    """The share of a page's height the kept-together tail takes: from the last lines of the last declaration (the
    whole declaration when it is too short to split: orphans and widows 3) to the signature's first fact, "Typed name".
    """
    from weasyprint.formatting_structure import boxes

    for page in document.pages:
        page_box = page._page_box
        root = page_box.children[0]
        rows = [b for b in _walk(root) if isinstance(b, boxes.TableRowBox) and _text(b).strip().startswith("Typed name")]
        if not rows:
            continue
        section = [b for b in _walk(root) if getattr(b, "element_tag", None) == "section" and b.element is not None
                   and "consent-declarations" in (b.element.get("class") or "").split()][-1]
        last = [b for b in _walk(section) if getattr(b, "element_tag", None) == "li"][-1]
        lines = _lines(last)  # on this page: all of it, or the end of a long one that started on the page before
        top = lines[-3].position_y if len(lines) >= 6 else last.position_y
        bottom = rows[0].position_y + rows[0].height
        return (bottom - top) / page_box.height
    raise AssertionError("no signature facts in the document")


@pytest.fixture(scope="module")
def layouts(migrated_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Layouts]:
    """The RF story's consent form spec; renders happen in this process so that the layout can be read."""
    with laid_out_rf_story(migrated_template, tmp_path_factory.mktemp("consent-tail")) as (story, _author, documents):
        spec = services.build(db.session, DocumentKind("consent-form"), story.consent.public_id, date.today())
        db.session.commit()
        yield Layouts(spec, documents)


@pytest.mark.parametrize("paper", PAPERS)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_no_large_print_consent_page_is_under_a_third_full_but_the_last(layouts, variant, paper):
    rendered, _spec = layouts.get(variant, paper)
    thin = [f"page {number} is {page.fill:.0%} full" for number, page in enumerate(rendered.pages[:-1], 1) if page.fill < 1 / 3]
    assert not thin, thin


@pytest.mark.parametrize("paper", PAPERS)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_kept_together_tail_is_at_most_two_thirds_of_a_page(layouts, variant, paper):
    """What makes the rule hold wherever the tail falls: a tail that does not fit starts a new page, and the page it
    leaves is then more than (1 - tail) full."""
    share = layouts.tail(variant, paper)
    print(f"{variant} {paper}: the tail is {share:.0%} of a page")
    assert share <= 2 / 3


@pytest.mark.parametrize("paper", PAPERS)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_signature_is_on_the_page_where_the_last_declaration_ends(layouts, variant, paper):
    rendered, spec = layouts.get(variant, paper)
    texts = rendered.texts()
    last = _declarations(spec.context["consent"])["items"][-1]
    ends_on = page_of(texts, last[-60:])  # its last words: a long one may start on the page before
    assert page_of(texts, "Typed name") == ends_on
    assert rendered.image_pages == [ends_on], "the drawn signature"
    # and the photo choices between them are on that page too
    assert page_of(texts, "For marketing:") == ends_on
