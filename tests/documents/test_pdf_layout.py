"""The layout of every document kind, normal and large print, A4 and Letter: the pages a patient holds.

Each combination is rendered once per module, through documents.services in this process, so that
WeasyPrint's layout (how full each page is, how many lines a footer or a table cell takes) can be read
beside the PDF itself (font sizes from its text layer, which page a line is on, the text pdftotext
extracts with and without -layout). The records are test_documents' RF story: the longest aftercare
(RF warning signs), the longest consent, overrides and flags.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from practitioner import create_app
from practitioner.admin.services import get_settings
from practitioner.auth.models import Role
from practitioner.consents.content import load_consent_content
from practitioner.documents import services
from practitioner.documents.kinds import KINDS, DocumentKind, DocumentSpec
from practitioner.documents.pdf import pool
from practitioner.extensions import db
from tests.conftest import make_config, make_user
from tests.documents.conftest import CLINIC_PHONE
from tests.documents.test_documents import rf_story
from tests.documents.test_rendering import font_sizes, squeeze

VARIANTS = [(paper, large) for paper in ("A4", "Letter") for large in (False, True)]
VARIANT_IDS = [f"{paper}-{'large' if large else 'normal'}" for paper, large in VARIANTS]
KIND_CODES = [kind.value for kind in KINDS]
PT_PER_PX = 0.75


# -- what is read from WeasyPrint's layout -----------------------------------------------------------


@dataclass
class PageLayout:
    """One page as laid out: how far down its content reaches, and its running header and footer."""

    fill: float  # from the top of the page area to the lowest content, as a share of the area's height
    margin_lines: dict[str, int]  # margin box (e.g. "@bottom-left") -> lines of text in it


@dataclass
class Rendered:
    """One document in one variant: the PDF bytes and what its layout said."""

    pdf: bytes
    pages: list[PageLayout]
    table_widths: list[int] = field(default_factory=list)  # cells per table row, every row
    cramped: list[str] = field(default_factory=list)  # cells of three or more lines under 10 em wide
    image_pages: list[int] = field(default_factory=list)  # the page (from 0) of every image
    side_by_side: list[str] = field(default_factory=list)  # lines of text beside other lines, outside tables and figures
    kickers: list[str] = field(default_factory=list)  # the text of the .kicker line(s), as printed

    def texts(self) -> list[str]:
        """Every page's text as pypdf extracts it."""
        return [page.extract_text() for page in PdfReader(io.BytesIO(self.pdf)).pages]


def _walk(box: Any) -> Iterator[Any]:
    """A box and its descendants, leaving out absolutely and fixed positioned ones (the draft stamp)."""
    style = getattr(box, "style", None)
    if style is not None and style["position"] in ("absolute", "fixed"):
        return
    yield box
    for child in getattr(box, "children", ()):
        yield from _walk(child)


def _text(box: Any) -> str:
    from weasyprint.formatting_structure import boxes

    return "".join(b.text for b in _walk(box) if isinstance(b, boxes.TextBox))


def _lines(box: Any) -> list[Any]:
    """The line boxes holding text under a box."""
    from weasyprint.formatting_structure import boxes

    return [b for b in _walk(box) if isinstance(b, boxes.LineBox) and _text(b).strip()]


def _flow_lines(box: Any, inside: bool = False) -> Iterator[tuple[Any, bool]]:
    """Line boxes with text under a box, each with whether it sits in a table or a figure (where side by side is meant)."""
    from weasyprint.formatting_structure import boxes

    style = getattr(box, "style", None)
    if style is not None and style["position"] in ("absolute", "fixed"):
        return
    inside = inside or isinstance(box, (boxes.TableBox, boxes.TableCellBox)) or getattr(box, "element_tag", None) == "figure"
    if isinstance(box, boxes.LineBox):
        if len(_text(box).strip()) > 2:  # a list marker beside its item is one line
            yield box, inside
        return
    for child in getattr(box, "children", ()):
        yield from _flow_lines(child, inside)


def _side_by_side(root: Any, page_number: int) -> list[str]:
    """Lines of running text that share a height with another line beside them: columns, which the text layer
    reads across (one line of each in turn), unless they are table cells or figure captions."""
    lines = [line for line, inside in _flow_lines(root) if not inside]
    found = []
    for index, a in enumerate(lines):
        for b in lines[index + 1:]:
            overlap = min(a.position_y + a.height, b.position_y + b.height) - max(a.position_y, b.position_y)
            apart = a.position_x + a.width <= b.position_x or b.position_x + b.width <= a.position_x
            if apart and overlap > 0.5 * min(a.height, b.height):
                found.append(f"page {page_number}: {_text(a).strip()[:40]!r} beside {_text(b).strip()[:40]!r}")
    return found


def read_layout(document: Any, pdf: bytes) -> Rendered:
    """Page fill, margin-box lines and table cells from a rendered WeasyPrint document."""
    from weasyprint.formatting_structure import boxes

    rendered = Rendered(pdf=pdf, pages=[])
    for page in document.pages:
        page_box = page._page_box  # WeasyPrint's layout of the page (no public accessor)
        top, height = page_box.content_box_y(), page_box.height
        root, *margin_boxes = page_box.children
        leaves = [b for b in _walk(root) if isinstance(b, (boxes.TextBox, boxes.ReplacedBox))]
        bottom = max((b.position_y + b.margin_height() for b in leaves), default=top)
        rendered.pages.append(PageLayout(
            fill=(bottom - top) / height,
            margin_lines={box.at_keyword: len(_lines(box)) for box in margin_boxes if _text(box).strip()},
        ))
        rendered.image_pages += [len(rendered.pages) - 1 for b in leaves if isinstance(b, boxes.ReplacedBox)]
        rendered.side_by_side += _side_by_side(root, len(rendered.pages))
        rendered.kickers += [_text(b) for b in _walk(root)
                             if b.element is not None and "kicker" in (b.element.get("class") or "").split() and isinstance(b, boxes.BlockBox)]
        for row in (b for b in _walk(root) if isinstance(b, boxes.TableRowBox)):
            cells = [c for c in row.children if isinstance(c, boxes.TableCellBox)]
            rendered.table_widths.append(len(cells))
            for cell in cells:
                lines, ems = _lines(cell), cell.width / cell.style["font_size"]
                if len(lines) >= 3 and ems < 10:
                    rendered.cramped.append(f"{len(lines)} lines {ems:.1f} em wide: {' '.join(_text(cell).split())[:80]}")
    return rendered


# -- one render of each combination per module -------------------------------------------------------


class Renders:
    """Renders each (kind, paper, large print) once, on first use, and keeps the result."""

    def __init__(self, specs: dict[str, DocumentSpec], story: Any, documents: list[Any]) -> None:
        self.specs, self.story, self._documents = specs, story, documents
        self._done: dict[tuple[str, str, bool], Rendered] = {}

    def get(self, kind: str, paper: str, large: bool) -> Rendered:
        """The document of this kind on this paper, large print or not."""
        key = (kind, paper, large)
        if key not in self._done:
            self._documents.clear()
            pdf = services.render(replace(self.specs[kind], paper=paper), large_print=large)
            assert len(self._documents) == 1, "one WeasyPrint layout per render"
            self._done[key] = read_layout(self._documents.pop(), pdf)
        return self._done[key]


def _progress_sheet_source(author: Any) -> Any:
    """A plan with photographs for the progress sheet (its factories come with the photos feature)."""
    from tests.conftest import make_patient
    from tests.photos.factories import course_with_photos

    patient = make_patient(author, given_name="Mei", family_name="Chen")
    return course_with_photos(patient, author, sessions=3, planned=6, size=(900, 1200))["plan"].public_id


@contextmanager
def laid_out_rf_story(migrated_template: Path, folder: Path) -> Iterator[tuple[Any, Any, list[Any]]]:
    """The RF story on its own database in `folder`: (story, its author, the laid-out documents rendered meanwhile).

    Renders happen in this process (the layout is only readable here): WeasyPrint's HTML.render is wrapped so each
    laid-out document is kept for read_layout.
    """
    import weasyprint
    from argon2 import PasswordHasher

    from practitioner.auth import services as auth_services

    database = folder / "practitioner.sqlite3"
    shutil.copyfile(migrated_template, database)
    application = create_app(make_config(database))
    documents: list[Any] = []
    real_render = weasyprint.HTML.render

    def keep_layout(self: Any, *args: Any, **kwargs: Any) -> Any:
        """WeasyPrint's HTML.render, keeping the laid-out document for read_layout."""
        document = real_render(self, *args, **kwargs)
        documents.append(document)
        return document

    with pytest.MonkeyPatch.context() as patch, application.app_context():
        patch.setenv(pool.IN_PROCESS_VARIABLE, "1")
        patch.setattr(weasyprint.HTML, "render", keep_layout)
        patch.setattr(auth_services, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        author = make_user(Role.PRACTITIONER)
        settings = get_settings(db.session)
        settings.phone, settings.address = CLINIC_PHONE, "12 Quay Street\nBristol BS1 4DJ"
        db.session.commit()
        try:
            yield rf_story(author), author, documents
        finally:
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="module")
def renders(migrated_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Renders]:
    """The RF story on its own database, every kind's spec built; renders happen in this process."""
    with laid_out_rf_story(migrated_template, tmp_path_factory.mktemp("layout")) as (story, author, documents):
        sources = {
            "treatment-guide": story.plan.public_id, "aftercare": story.signed.public_id,
            "consent-form": story.consent.public_id, "consultation-summary": story.consultation.public_id,
            "session-record": story.signed.public_id, "patient-export": story.patient.public_id,
        }
        if "progress-sheet" in KIND_CODES:
            sources["progress-sheet"] = _progress_sheet_source(author)
        if "intake-record" in KIND_CODES:
            from tests.documents.pdf_corpus import signed_intake

            sources["intake-record"] = signed_intake("realistic", story.patient, author).public_id
        missing = set(KIND_CODES) - set(sources)
        assert not missing, f"add a record for {missing} to this module's sources, so its layout is checked"
        specs = {kind: services.build(db.session, DocumentKind(kind), source, date.today()) for kind, source in sources.items()}
        db.session.commit()
        yield Renders(specs, story, documents)


def pdftotext(pdf: bytes, *, layout: bool) -> str:
    """Poppler's text of the PDF, in reading order or (-layout) as laid out on the page."""
    tool = shutil.which("pdftotext") or ("/usr/bin/pdftotext" if Path("/usr/bin/pdftotext").exists() else None)
    if tool is None:
        if os.environ.get("CI"):
            pytest.fail("pdftotext is missing: install poppler-utils")
        pytest.skip("pdftotext (poppler-utils) is not installed")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "document.pdf"
        source.write_bytes(pdf)
        arguments = [tool, *(["-layout"] if layout else []), "-enc", "UTF-8", str(source), "-"]
        return subprocess.run(arguments, check=True, capture_output=True, timeout=60).stdout.decode("utf-8")


def page_of(texts: list[str], needle: str) -> int:
    """The index of the only page whose text holds `needle` (whitespace ignored)."""
    found = [index for index, text in enumerate(texts) if squeeze(needle) in squeeze(text)]
    assert len(found) == 1, f"{needle!r} is on pages {[i + 1 for i in found]}"
    return found[0]


# -- pages -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("paper", "large"), VARIANTS, ids=VARIANT_IDS)
@pytest.mark.parametrize("kind", KIND_CODES)
def test_no_page_is_under_a_third_full_except_the_last(renders, kind, paper, large):
    """A page the next block would not fit on is not left near-empty (large print had pages 16% full)."""
    pages = renders.get(kind, paper, large).pages
    thin = [f"page {number} is {page.fill:.0%} full" for number, page in enumerate(pages[:-1], 1) if page.fill < 1 / 3]
    assert not thin, thin


@pytest.mark.parametrize(("paper", "large"), VARIANTS, ids=VARIANT_IDS)
@pytest.mark.parametrize("kind", KIND_CODES)
def test_every_text_is_at_least_16pt_in_large_print_and_11pt_in_normal_print(renders, kind, paper, large):
    """Read from the PDF's text layer: table headers, running header and footer included."""
    sizes = font_sizes(renders.get(kind, paper, large).pdf)
    smallest = 16 if large else 11
    assert sizes and min(sizes) >= smallest, {size: count for size, count in sorted(sizes.items()) if size < smallest}


@pytest.mark.parametrize(("paper", "large"), VARIANTS, ids=VARIANT_IDS)
@pytest.mark.parametrize("kind", KIND_CODES)
def test_running_header_and_footer_keep_to_one_line(renders, kind, paper, large):
    """The footer's year no longer wraps onto a second line at 16 pt."""
    pages = renders.get(kind, paper, large).pages
    assert any("@bottom-left" in page.margin_lines for page in pages)
    wrapped = {(number, box): lines for number, page in enumerate(pages, 1) for box, lines in page.margin_lines.items() if lines != 1}
    assert not wrapped, wrapped


@pytest.mark.parametrize(("paper", "large"), VARIANTS, ids=VARIANT_IDS)
@pytest.mark.parametrize("kind", KIND_CODES)
def test_tables_are_stacked_in_large_print_and_never_cramped(renders, kind, paper, large):
    """Large print: a row is at most a label and its value (wider tables are written as blocks);
    no cell is three or more lines of a word or two."""
    rendered = renders.get(kind, paper, large)
    if large:
        assert max(rendered.table_widths, default=0) <= 2
    assert not rendered.cramped, rendered.cramped


@pytest.mark.parametrize(("paper", "large"), VARIANTS, ids=VARIANT_IDS)
@pytest.mark.parametrize("kind", KIND_CODES)
def test_no_running_text_in_columns(renders, kind, paper, large):
    """Outside tables and figures, no line of text sits beside another: two-column lists and a letterhead with its
    contacts beside the name were read across, a line of each in turn (pdftotext -layout)."""
    side_by_side = renders.get(kind, paper, large).side_by_side
    assert not side_by_side, side_by_side[:5]


@pytest.mark.parametrize(("paper", "large"), VARIANTS, ids=VARIANT_IDS)
@pytest.mark.parametrize("layout", [False, True], ids=["reading-order", "layout"])
@pytest.mark.parametrize("kind", KIND_CODES)
def test_the_kicker_extracts_whole(renders, kind, paper, large, layout):
    """The capitals above the title come out of the text layer as words ("AF TERCARE" had letter-spacing)."""
    rendered = renders.get(kind, paper, large)
    assert rendered.kickers
    text = " ".join(pdftotext(rendered.pdf, layout=layout).split())
    for kicker in rendered.kickers:
        assert " ".join(kicker.split()) in text


# -- what stays together -------------------------------------------------------------------------------


@pytest.mark.parametrize(("paper", "large"), VARIANTS, ids=VARIANT_IDS)
def test_consent_signature_is_on_the_page_of_the_last_declaration(renders, paper, large):
    """The signature (image and facts) shares the page of the declarations it confirms (it sat alone on the last page)."""
    rendered = renders.get("consent-form", paper, large)
    texts = rendered.texts()
    content = load_consent_content("rf_microneedling")
    last_declaration = page_of(texts, content.declarations[-1])
    assert page_of(texts, "Typed name") == last_declaration
    assert rendered.image_pages == [last_declaration], "the drawn signature"


@pytest.mark.parametrize(("paper", "large"), VARIANTS, ids=VARIANT_IDS)
def test_intake_signature_is_on_the_page_of_the_declaration_it_confirms(renders, paper, large):
    """The health questionnaire's declaration, the drawn signature and its facts share one page (the SHA-256 follows)."""
    from practitioner.intake.questions import DECLARATION

    rendered = renders.get("intake-record", paper, large)
    texts = rendered.texts()
    declaration = page_of(texts, DECLARATION)
    assert page_of(texts, "Date signed") == page_of(texts, "Signed by") == declaration
    assert rendered.image_pages == [declaration], "the drawn signature"


@pytest.mark.parametrize(("paper", "large"), VARIANTS, ids=VARIANT_IDS)
def test_aftercare_emergency_help_is_on_the_page_of_when_to_call_us(renders, paper, large):
    """Both headings on one page, with the RF warning signs too (Get emergency help was alone on the last page)."""
    blocks = renders.specs["aftercare"].context["blocks"]
    warning = next(block["title"] for block in blocks if block["kind"] == "warning_signs")
    emergency = next(block["title"] for block in blocks if block["kind"] == "emergency")
    assert warning == "When to call us" and emergency == "Get emergency help"
    texts = renders.get("aftercare", paper, large).texts()
    assert page_of(texts, emergency) == page_of(texts, warning)


@pytest.mark.parametrize(("paper", "large"), VARIANTS, ids=VARIANT_IDS)
@pytest.mark.parametrize("kind", KIND_CODES)
def test_the_content_version_is_printed_once(renders, kind, paper, large):
    """One version line: the consent form's is its signed text's version, in the signature's facts."""
    text = " ".join(renders.get(kind, paper, large).texts())
    if kind == "consent-form":
        version = load_consent_content("rf_microneedling").version
        assert "Wording:" not in text and text.count(version) == 1 and squeeze(f"Text version {version}") in squeeze(text)
    else:
        assert text.count("Wording:") == 1


# -- the text layer reads in order ---------------------------------------------------------------------


def _aftercare_items(spec: DocumentSpec) -> list[str]:
    """Every list line of the aftercare, in the order the leaflet prints them."""
    blocks = spec.context["blocks"]
    items: list[str] = []
    for kinds in (("summary", "products", "adverse_event"), ("downtime", "modality")):
        items += [item for block in blocks if block["kind"] in kinds for item in block["items"] or ()]
    for block in blocks:
        if block["kind"] == "timeline":
            items += [*block["expect"], *block["do"], *block["avoid"]]
    # Get emergency help leads When to call us (the most urgent first; the short block keeps both on one page).
    items += [item for kind in ("emergency", "warning_signs") for block in blocks if block["kind"] == kind for item in block["items"] or ()]
    return items


@pytest.mark.parametrize(("paper", "large"), VARIANTS, ids=VARIANT_IDS)
@pytest.mark.parametrize("layout", [False, True], ids=["reading-order", "layout"])
def test_aftercare_text_extracts_whole_and_in_order(renders, paper, large, layout):
    """No "AF TERCARE" (letter-spacing), no list read across two columns, the clinic's name before its address."""
    text = pdftotext(renders.get("aftercare", paper, large).pdf, layout=layout)
    assert "AFTERCARE INSTRUCTIONS" in text and "AF TERCARE" not in text
    flat = squeeze(text)
    clinic = renders.specs["aftercare"].context["clinic"]
    assert 0 <= flat.index(squeeze(clinic["name"])) < flat.index(squeeze(clinic["address_lines"][0]))
    position = 0
    for item in _aftercare_items(renders.specs["aftercare"]):
        found = flat.find(squeeze(item), position)
        assert found >= 0, f"{item!r} is not whole, or out of order"
        position = found


@pytest.mark.parametrize(("paper", "large"), VARIANTS, ids=VARIANT_IDS)
@pytest.mark.parametrize("layout", [False, True], ids=["reading-order", "layout"])
def test_consent_lists_extract_whole_and_in_order(renders, paper, large, layout):
    """Effects, risks, alternatives and declarations: each item whole, in order (no two-column list)."""
    flat = squeeze(pdftotext(renders.get("consent-form", paper, large).pdf, layout=layout))
    content = load_consent_content("rf_microneedling")
    position = 0
    for item in (*content.expected_effects, *content.risks, *content.alternatives, *content.declarations):
        found = flat.find(squeeze(item), position)
        assert found >= 0, f"{item!r} is not whole, or out of order"
        position = found
