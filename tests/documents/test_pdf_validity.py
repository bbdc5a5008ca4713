"""Issue 13, "Valid": every document kind is PDF/UA-1 and PDF/A-3u, as far as a Python PDF library can tell.

Every kind x normal/large print x A4/Letter x realistic/hostile records (tests/documents/pdf_corpus.py; the
sparse records too in bench/verapdf_all.py), rendered once for the module, read back with pikepdf: the PDF/UA and PDF/A identification in the XMP,
/MarkInfo, the structure tree, /Lang, the title shown, header cells' /Scope, no cell inside a cell,
every font embedded, no interpolated image, and all text either in the structure tree (an MCID the
tree reaches) or an /Artifact. veraPDF, the reference validator, runs over the same files in
bench/verapdf_all.py (it needs Java); docs/documents.md has its table.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pikepdf
import pytest

from practitioner.documents.kinds import KINDS
from tests.documents import pdf_corpus

DATA_SETS = ("realistic", "hostile", "volumes")  # the sparse set's documents are shorter versions of these: bench/verapdf_all.py checks them
CELLS = {"/TD", "/TH"}
TEXT_OPERATORS = {"Tj", "TJ", "'", '"'}


@pytest.fixture(scope="module")
def corpus(migrated_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[str, pikepdf.Pdf]]]:
    """{file name: (title, opened PDF)} for every kind x data set x paper x print, rendered once."""
    from practitioner import create_app
    from practitioner.admin.services import get_settings
    from practitioner.auth.models import Role
    from practitioner.extensions import db
    from tests.conftest import database_uri, make_config, make_user

    if not migrated_template.exists():  # pragma: no cover - the PostgreSQL pass has no SQLite template
        pytest.skip("renders from the SQLite template")
    database = tmp_path_factory.mktemp("validity") / "practitioner.sqlite3"
    shutil.copyfile(migrated_template, database)
    app = create_app(make_config(database_uri(database)))
    with app.app_context():
        get_settings(db.session).phone = "0117 496 0123"
        db.session.commit()
        author = make_user(Role.PRACTITIONER, email="validity@clinic.example")
        specs = pdf_corpus.specs(author, DATA_SETS)
        titles = {f"{kind}-{name}": spec.title for (kind, name), spec in specs.items()}
        opened = {}
        for name, pdf in pdf_corpus.renders(specs):
            stem = name.rsplit("-", 2)[0]
            opened[name] = (titles[stem], pikepdf.open(io.BytesIO(pdf)))
        db.session.remove()
        db.engine.dispose()
    yield opened
    for _, pdf in opened.values():
        pdf.close()


def _failures(corpus: dict[str, tuple[str, pikepdf.Pdf]], check: Any) -> list[str]:
    found = []
    for name, (title, pdf) in sorted(corpus.items()):
        for problem in check(pdf, title):
            found.append(f"{name}: {problem}")
    return found


def test_every_kind_data_set_paper_and_print_is_rendered(corpus) -> None:
    """Each kind in the catalogue, with each data set, on both papers, normal and large."""
    expected = {f"{kind.code}-{data}-{paper.lower()}-{variant}" for kind in KINDS.values() for data in DATA_SETS if data != "volumes"
                for paper in pdf_corpus.PAPERS for variant in ("normal", "large")}
    # and each volume of the export of a record in volumes
    expected |= {f"patient-export-{volume}-{paper.lower()}-{variant}" for volume in pdf_corpus.VOLUMES
                 for paper in pdf_corpus.PAPERS for variant in ("normal", "large")}
    assert {name.removesuffix(".pdf") for name in corpus} == expected


def test_xmp_identifies_pdf_ua_1_and_pdf_a_3u_and_holds_the_title(corpus) -> None:
    """pdfuaid:part 1 (PDF/UA-1, rule 5-1), pdfaid:part 3 conformance U, dc:title the document's title."""
    def check(pdf: pikepdf.Pdf, title: str) -> Iterator[str]:
        meta = pdf.open_metadata()
        if meta.get("pdfuaid:part") != "1":
            yield f"pdfuaid:part is {meta.get('pdfuaid:part')!r}"
        if (meta.get("pdfaid:part"), meta.get("pdfaid:conformance")) != ("3", "U"):
            yield f"pdfaid is {meta.get('pdfaid:part')!r} {meta.get('pdfaid:conformance')!r}"
        if meta.get("dc:title") != title or not title:
            yield f"dc:title is {meta.get('dc:title')!r}, not {title!r}"
        # PDF/A admits pdfuaid only with the XMP's description of its schema (veraPDF PDF/A-3u 6.6.2.3.1-1, -2).
        xmp = pdf.Root.Metadata.read_bytes().decode()
        described = ("<pdfaSchema:namespaceURI>http://www.aiim.org/pdfua/ns/id/</pdfaSchema:namespaceURI>", "<pdfaSchema:prefix>pdfuaid<",
                     "<pdfaProperty:name>part<", "<pdfaProperty:valueType>Integer<", "<pdfaProperty:category>internal<")
        if not all(part in xmp for part in described):
            yield "the XMP does not describe the pdfuaid schema as a PDF/A extension schema"
    assert not _failures(corpus, check)


def test_tagged_with_language_and_the_title_shown(corpus) -> None:
    """/MarkInfo /Marked true, a /StructTreeRoot, /Lang set, /ViewerPreferences /DisplayDocTitle true."""
    def check(pdf: pikepdf.Pdf, title: str) -> Iterator[str]:
        root = pdf.Root
        if "/MarkInfo" not in root or not bool(root.MarkInfo.get("/Marked", False)):
            yield "not /Marked"
        if "/StructTreeRoot" not in root:
            yield "no structure tree"
        if not str(root.get("/Lang", "")):
            yield "no /Lang"
        if "/ViewerPreferences" not in root or not bool(root.ViewerPreferences.get("/DisplayDocTitle", False)):
            yield "the title is not shown (DisplayDocTitle)"
    assert not _failures(corpus, check)


def _elements(pdf: pikepdf.Pdf) -> Iterator[tuple[pikepdf.Dictionary, tuple[str, ...]]]:
    """Every structure element reachable from the root, with its ancestors' /S (nearest last)."""
    pending: list[tuple[Any, tuple[str, ...]]] = [(pdf.Root.StructTreeRoot, ())]
    seen: set[tuple[int, int]] = set()
    while pending:
        node, ancestors = pending.pop()
        kids = node.get("/K")
        if kids is None:
            continue
        kids = kids if isinstance(kids, pikepdf.Array) else [kids]
        for kid in kids:
            if isinstance(kid, pikepdf.Dictionary) and kid.get("/Type", pikepdf.Name.StructElem) == pikepdf.Name.StructElem and "/S" in kid:
                if kid.objgen in seen:
                    continue
                seen.add(kid.objgen)
                yield kid, ancestors
                pending.append((kid, (*ancestors, str(kid.S))))


def test_every_header_cell_has_a_scope(corpus) -> None:
    """Each /TH carries /A << /O /Table /Scope /Row|/Column|/Both >>."""
    def check(pdf: pikepdf.Pdf, title: str) -> Iterator[str]:
        for element, _ in _elements(pdf):
            if str(element.S) != "/TH":
                continue
            attributes = element.get("/A")
            attributes = list(attributes) if isinstance(attributes, pikepdf.Array) else [attributes]
            scopes = [str(a.get("/Scope")) for a in attributes if isinstance(a, pikepdf.Dictionary) and "/Scope" in a]
            if not scopes or scopes[0] not in ("/Row", "/Column", "/Both"):
                yield f"a TH without a scope ({scopes})"
                return
    assert not _failures(corpus, check)


def test_no_table_cell_inside_another(corpus) -> None:
    """No /TD or /TH has a /TD or /TH among its ancestors (veraPDF 7.2-8, 7.2-9), and every cell sits in a /TR."""
    def check(pdf: pikepdf.Pdf, title: str) -> Iterator[str]:
        for element, ancestors in _elements(pdf):
            if str(element.S) in CELLS:
                if CELLS & set(ancestors):
                    yield f"{element.S} inside {' > '.join(ancestors[-3:])}"
                    return
                if not ancestors or ancestors[-1] != "/TR":
                    yield f"{element.S} in {ancestors[-1] if ancestors else 'nothing'}, not a TR"
                    return
    assert not _failures(corpus, check)


def _fonts(resources: Any, seen: set[tuple[int, int]]) -> Iterator[tuple[str, pikepdf.Dictionary]]:
    if not isinstance(resources, pikepdf.Dictionary):
        return
    for name, font in resources.get("/Font", {}).items():
        yield name, font
    for xobject in resources.get("/XObject", {}).values():
        if xobject.objgen not in seen and xobject.get("/Subtype") == pikepdf.Name.Form:
            seen.add(xobject.objgen)
            yield from _fonts(xobject.get("/Resources"), seen)


def test_every_font_is_embedded(corpus) -> None:
    """Every font on every page (and in its form XObjects) has its program in the file."""
    def check(pdf: pikepdf.Pdf, title: str) -> Iterator[str]:
        seen: set[tuple[int, int]] = set()
        for page in pdf.pages:
            for name, font in _fonts(page.obj.get("/Resources"), seen):
                described = font.DescendantFonts[0] if font.get("/Subtype") == pikepdf.Name.Type0 else font
                if font.get("/Subtype") == pikepdf.Name.Type3:
                    continue  # drawn by the file's own glyph procedures
                descriptor = described.get("/FontDescriptor")
                if descriptor is None or not any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                    yield f"font {name} ({described.get('/BaseFont')}) is not embedded"
    assert not _failures(corpus, check)


def test_every_image_has_alternative_text(corpus) -> None:
    """Each /Figure (the logo, the signature, a photograph) has a non-empty /Alt (PDF/UA 7.3-1)."""
    def check(pdf: pikepdf.Pdf, title: str) -> Iterator[str]:
        for element, _ in _elements(pdf):
            if str(element.S) == "/Figure" and not str(element.get("/Alt", "")).strip():
                yield "a figure without alternative text"
                return
    assert not _failures(corpus, check)


def test_no_image_asks_to_be_interpolated(corpus) -> None:
    """No image or soft mask has /Interpolate true (PDF/A 6.2.8-3: the consent signature and its mask had it)."""
    def check(pdf: pikepdf.Pdf, title: str) -> Iterator[str]:
        for item in pdf.objects:
            if isinstance(item, pikepdf.Stream) and item.get("/Subtype") == pikepdf.Name.Image and bool(item.get("/Interpolate", False)):
                yield f"image {item.objgen} has /Interpolate true"
    assert not _failures(corpus, check)


def _in_tree(pdf: pikepdf.Pdf) -> set[tuple[int, int]]:
    return {element.objgen for element, _ in _elements(pdf)}


def _marked_text(stream_owner: Any) -> Iterator[tuple[str, Any]]:
    """(what encloses it, MCID or None) for each text-showing operator: 'artifact', 'mcid' or 'nothing'."""
    stack: list[tuple[str, Any]] = []
    for operands, operator in pikepdf.parse_content_stream(stream_owner):
        op = str(operator)
        if op == "BMC":
            stack.append(("artifact" if str(operands[0]) == "/Artifact" else "other", None))
        elif op == "BDC":
            properties = operands[1]
            if str(operands[0]) == "/Artifact":
                stack.append(("artifact", None))
            elif isinstance(properties, pikepdf.Dictionary) and "/MCID" in properties:
                stack.append(("mcid", int(properties.MCID)))
            else:
                stack.append(("other", None))
        elif op == "EMC" and stack:
            stack.pop()
        elif op in TEXT_OPERATORS:
            enclosing = next((entry for entry in reversed(stack) if entry[0] in ("artifact", "mcid")), ("nothing", None))
            yield enclosing


def test_all_text_is_in_the_structure_tree_or_an_artifact(corpus) -> None:
    """Every piece of text is inside /Artifact marked content or has an MCID whose element the tree reaches.

    The running header and footer (page margin boxes) were marked with MCIDs of structure elements
    left out of the tree: neither content nor artifact.
    """
    def check(pdf: pikepdf.Pdf, title: str) -> Iterator[str]:
        reached = _in_tree(pdf)
        parent_tree = pdf.Root.StructTreeRoot.ParentTree.Nums
        parents = {int(parent_tree[i]): parent_tree[i + 1] for i in range(0, len(parent_tree), 2)}
        artifacts = 0
        for number, page in enumerate(pdf.pages, start=1):
            mcids = parents.get(int(page.obj.get("/StructParents", -1)))
            for what, mcid in _marked_text(page.obj):
                if what == "nothing":
                    yield f"page {number}: text outside any marked content"
                    return
                if what == "artifact":
                    artifacts += 1
                    continue
                element = mcids[mcid] if mcids is not None and mcid < len(mcids) else None
                if not isinstance(element, pikepdf.Dictionary) or element.objgen not in reached:
                    yield f"page {number}: text with MCID {mcid} whose element is not in the structure tree"
                    return
        if artifacts == 0:
            yield "no running header or footer marked as an artifact"
    assert not _failures(corpus, check)


HEADINGS = {"/H1", "/H2", "/H3", "/H4", "/H5", "/H6"}
INLINE = {"/Span", "/NonStruct", "/Lbl", "/LBody"}


def _page_blocks(page: Any, mcids: Any) -> list[pikepdf.Dictionary]:
    """The structure blocks (a paragraph, a heading, a cell, a list item...) whose text the page shows, in the
    content's order (the document's order), each once in a row; running headers and footers (artifacts) left out."""
    found: list[pikepdf.Dictionary] = []
    for what, mcid in _marked_text(page):
        if what != "mcid" or mcids is None or mcid >= len(mcids):
            continue
        element = mcids[mcid]
        while isinstance(element, pikepdf.Dictionary) and str(element.get("/S")) in INLINE:
            element = element.get("/P")
        if isinstance(element, pikepdf.Dictionary) and (not found or found[-1].objgen != element.objgen):
            found.append(element)
    return found


def _heading(element: Any) -> bool:
    while isinstance(element, pikepdf.Dictionary) and "/S" in element:
        if str(element.S) in HEADINGS:
            return True
        element = element.get("/P")
    return False


def test_no_export_page_ends_with_a_heading_or_a_heading_and_only_its_lead_in(corpus) -> None:
    """In the patient record export no page but the last ends with a heading, nor with a heading and one block (a
    consultation's practitioner line, the photographs' introduction, a list's first item) when the part goes on to the
    next page (which then starts with no heading of its own). Both were seen: a consultation's heading and its
    practitioner line at a page foot, and at large print "Photographs" and its introduction with the photographs on the
    next page."""
    def check(pdf: pikepdf.Pdf, title: str) -> Iterator[str]:
        nums = pdf.Root.StructTreeRoot.ParentTree.Nums
        parents = {int(nums[i]): nums[i + 1] for i in range(0, len(nums), 2)}
        pages = [_page_blocks(page.obj, parents.get(int(page.obj.get("/StructParents", -1)))) for page in pdf.pages]
        for number, (blocks, following) in enumerate(zip(pages, pages[1:]), start=1):
            if blocks and _heading(blocks[-1]):
                yield f"page {number} ends with a heading"
            elif len(blocks) >= 2 and _heading(blocks[-2]) and following and not _heading(following[0]):
                yield f"page {number} ends with a heading and one {blocks[-1].S}, its part going on on page {number + 1}"
    exports = {name: entry for name, entry in corpus.items() if name.startswith("patient-export-")}
    assert exports
    assert not _failures(exports, check)
