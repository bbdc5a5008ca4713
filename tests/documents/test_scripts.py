"""Every script from bundled fonts only: names in each script reach the text layer, no host font is
embedded, other scripts carry their language, and a character no font has stops the document."""

from __future__ import annotations

import io
import re
import subprocess
import unicodedata
from datetime import date
from pathlib import Path

import pikepdf
import pytest
from sqlalchemy import func, select

from practitioner.documents import kinds
from practitioner.documents.models import DocumentKind, IssuedDocument
from practitioner.documents.pdf import glyphs
from practitioner.documents.pdf.pool import pdf_from_html, render_pdf
from practitioner.documents.pdf.worker import FONTS_CONFIG
from practitioner.extensions import db
from tests.conftest import make_patient, post_form

FONTS_DIR = glyphs.FONTS_DIR

# One sample per script the documents promise, as names and addresses are typed.
SAMPLES = {
    "Latin": "Łukasz Dvořák-Şahin Ørsted Zoë",
    "Vietnamese": "Nguyễn Thị Minh Khai",
    "Greek": "Ολυμπία Παπαδοπούλου",
    "Cyrillic": "Анна Ковальчук",
    "Arabic": "محمد الأحمد",
    "Hebrew": "דוד כהן",
    "Devanagari": "प्रिया कपूर",
    # A reph (the र् drawn over मा) and conjuncts: their glyphs are reordered by shaping and copy out
    # as typed only through each run's /ActualText (practitioner/documents/pdf/text_layer.py).
    "Devanagari (reph, conjuncts)": "शर्मा क्षमा श्री",
    "Bengali (reph)": "প্রিয়াঙ্কা শর্মা",
    "Bengali": "অমিত দাস",
    "Gurmukhi": "ਹਰਪ੍ਰੀਤ ਸਿੰਘ",
    "Gujarati": "ધ્રુવ પટેલ",
    "Tamil": "கார்த்திக் சுப்பிரமணியம்",
    "Telugu": "శ్రీనివాస్ రెడ్డి",
    "Kannada": "ಅನಿಲ್ ಕುಮಾರ್",
    "Malayalam": "അനു മാത്യു",
    "Thai": "สมชาย ใจดี",
    "Chinese (simplified)": "王芳",
    "Chinese (traditional)": "陳國輝",
    "Japanese": "山田さくら",
    "Korean": "김민준",
    "Emoji": "🌸😀",
}


def _families_in(pdf: bytes) -> set[str]:
    """The fonts embedded in a PDF, from each /FontName without the subset tag, letters and digits only."""
    names = set()
    with pikepdf.open(io.BytesIO(pdf)) as document:
        for page in document.pages:
            for font in page.Resources.get("/Font", {}).values():
                descendants = font.get("/DescendantFonts")
                descriptor = (descendants[0] if descendants else font).get("/FontDescriptor")
                names.add(re.sub(r"[^A-Za-z0-9]", "", str(descriptor.FontName).lstrip("/").split("+", 1)[-1]))
    return names


def _bundled_names() -> set[str]:
    """The names WeasyPrint gives the bundled faces in a PDF: the family of fonts.css with its style, squeezed."""
    families = {re.sub(r"[^A-Za-z0-9]", "", family) for family, _path in glyphs.declared_fonts()}
    return {family + style for family in families for style in ("", "Bold", "Italic", "BoldItalic")}


def _text_layer(pdf: bytes) -> str:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True).stdout
    return unicodedata.normalize("NFKC", out.decode())


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


# -- the fonts bundled ----------------------------------------------------------------------------


def test_every_declared_font_is_bundled_with_its_licence_and_named_in_print_css():
    print_css = (FONTS_DIR.parent / "print.css").read_text(encoding="utf-8")
    declared = glyphs.declared_fonts()
    assert len({family for family, _ in declared}) >= 17
    for family, path in declared:
        assert path.is_file() and path.is_relative_to(FONTS_DIR), path
        licence = (path.parent / "LICENSE").read_text(encoding="utf-8")
        assert "SIL Open Font License" in licence or "OFL" in licence, path.parent
        assert f'"{family}"' in print_css, f"{family} is not in print.css's font-family list"


def test_the_coverage_holds_every_script_and_not_an_unbundled_one():
    for script, sample in SAMPLES.items():
        assert glyphs.unprintable(sample) == [], script
    assert glyphs.unprintable("𓀀 ꦲ") == ["𓀀", "ꦲ"]  # Egyptian hieroglyph, Javanese: no bundled font


def test_the_render_process_reads_a_fontconfig_that_knows_no_host_font():
    config = re.sub(r"<!--.*?-->", "", FONTS_CONFIG.read_text(encoding="utf-8"), flags=re.S)
    assert "<include" not in config and "/usr/" not in config and "/etc/" not in config
    assert re.findall(r"<dir[^>]*>([^<]+)</dir>", config) == ["fallback"]
    # HarfBuzz reads the files fontconfig finds itself: TrueType only (a woff2 there crashed WeasyPrint).
    assert [path.suffix for path in (FONTS_DIR / "fallback").glob("*.*tf")] == [".ttf"]
    assert not list((FONTS_DIR / "fallback").glob("*.woff*"))
    assert re.search(r'<dir prefix="relative">', config)


# -- rendered documents ---------------------------------------------------------------------------


def _all_scripts_patient(practitioner):
    return make_patient(
        actor=practitioner, given_name=SAMPLES["Chinese (simplified)"], family_name=SAMPLES["Vietnamese"],
        preferred_name=SAMPLES["Japanese"],
        address="\n".join(SAMPLES[s] for s in ("Latin", "Greek", "Cyrillic", "Arabic", "Hebrew", "Devanagari", "Bengali",
                                                "Devanagari (reph, conjuncts)", "Bengali (reph)")),
        postcode=SAMPLES["Korean"], emergency_contact_name=SAMPLES["Gurmukhi"], emergency_contact_relationship=SAMPLES["Thai"],
        gp_name=SAMPLES["Gujarati"], gp_practice=f"{SAMPLES['Tamil']} {SAMPLES['Telugu']}",
        no_known_allergies=False, allergies=f"{SAMPLES['Kannada']} {SAMPLES['Emoji']}",
        current_medicines=f"{SAMPLES['Malayalam']} {SAMPLES['Chinese (traditional)']}",
    )


@pytest.fixture
def export_pdf(app, practitioner) -> bytes:
    patient = _all_scripts_patient(practitioner)
    spec = kinds.get(DocumentKind("patient-export")).make(db.session, patient.public_id, date(2026, 12, 6))
    db.session.rollback()
    return render_pdf(spec.template, spec.context, title=spec.title, paper=spec.paper, logo_png=spec.logo_png)


def test_a_patient_in_every_script_prints_in_the_text_layer_from_bundled_fonts_only(export_pdf):
    text = _squeezed(_text_layer(export_pdf))
    missing = [script for script, sample in SAMPLES.items() if _squeezed(sample) not in text]
    assert missing == [], f"not in the text layer: {missing}"
    embedded = _families_in(export_pdf)
    assert embedded <= _bundled_names(), f"fonts not bundled: {embedded - _bundled_names()}"
    assert not {name for name in embedded if "DejaVu" in name or "Liberation" in name}
    assert {"NotoSansSC", "NotoSansArabic", "NotoSansDevanagari", "NotoSansKR", "NotoEmoji"} <= embedded


def test_text_in_another_script_carries_its_language_in_the_structure(export_pdf):
    languages = set()
    with pikepdf.open(io.BytesIO(export_pdf)) as document:
        assert str(document.Root.Lang) == "en"
        for item in document.objects:
            if isinstance(item, pikepdf.Dictionary) and item.get("/Type") == "/StructElem" and "/Lang" in item:
                languages.add(str(item.Lang))
    assert {"ar", "he", "hi", "bn", "pa", "gu", "ta", "te", "kn", "ml", "th", "zh", "ja", "ko", "el", "ru"} <= languages


# Shaping reorders these: a reph, conjuncts (क्ष, श्री), Bengali's reph and ya-phala, Tamil's pulli and
# split vowel, Malayalam's chillu. Each must copy out of the PDF exactly as typed.
INDIC_TEXT = ["शर्मा", "क्षमा", "श्री", "राहुल शर्मा", "প্রিয়াঙ্কা শর্মা", "কার্তিক", "கார்த்திக்", "கொழும்பு", "ധർമ്മ"]


def _paragraphs_pdf(texts: list[str]) -> bytes:
    body = "".join(f"<p>{text}</p>" for text in texts)
    html = ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>t</title>'
            '<link rel="stylesheet" href="fonts/fonts.css"><link rel="stylesheet" href="print.css"></head>'
            f"<body>{body}</body></html>")
    return pdf_from_html(glyphs.with_needed_fonts(glyphs.mark_scripts(html, "en")), title="t", language="en")


def test_indic_text_with_a_reph_and_conjuncts_copies_out_exactly_as_typed():
    pdf = _paragraphs_pdf(INDIC_TEXT)
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True).stdout
    lines = [line for line in out.decode().splitlines() if line.strip()]
    assert lines[: len(INDIC_TEXT)] == INDIC_TEXT


def test_the_actual_text_is_nested_in_the_runs_tagged_content():
    pdf = _paragraphs_pdf(["शर्मा", "Plain Latin"])
    found = []
    with pikepdf.open(io.BytesIO(pdf)) as document:
        open_sequences: list[pikepdf.Dictionary | None] = []
        for operands, operator in pikepdf.parse_content_stream(document.pages[0]):
            if str(operator) == "BDC":
                properties = operands[1] if isinstance(operands[1], pikepdf.Dictionary) else None
                if properties is not None and "/ActualText" in properties:
                    outer = open_sequences[-1] if open_sequences else None
                    found.append((str(properties.ActualText), outer is not None and "/MCID" in outer))
                open_sequences.append(properties)
            elif str(operator) == "BMC":
                open_sequences.append(None)
            elif str(operator) == "EMC":
                open_sequences.pop()
    # Only the Indic run has one (Latin copies out without it), inside the run's own /MCID sequence.
    assert found == [("शर्मा", True)]


def test_the_actual_text_wrapper_fails_loudly_if_weasyprint_changes_its_text_drawing(monkeypatch):
    from weasyprint import draw

    from practitioner.documents.pdf import text_layer

    monkeypatch.setattr(draw, "draw_text", lambda stream, textbox, offset_x: None)
    with pytest.raises(RuntimeError, match="draw_text is not the function"):
        text_layer.actual_text()
    assert text_layer.needs_actual_text("Anna शर्मा") and not text_layer.needs_actual_text("محمد 王芳 สมชาย")


def test_a_character_only_a_host_font_has_is_never_drawn_from_the_host():
    # U+203D INTERROBANG is in DejaVu Sans (installed on this machine) and in no bundled font:
    # with the host's fontconfig WeasyPrint would embed DejaVu for it.
    assert glyphs.unprintable("‽") == ["‽"]
    html = ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>t</title>'
            '<link rel="stylesheet" href="fonts/fonts.css"><link rel="stylesheet" href="print.css"></head>'
            f'<body><p>Really‽ {SAMPLES["Arabic"]} {SAMPLES["Chinese (simplified)"]}</p></body></html>')
    embedded = _families_in(pdf_from_html(html, title="t", language="en"))
    assert embedded <= _bundled_names(), f"fonts not bundled: {embedded - _bundled_names()}"


# -- marking scripts in the HTML ------------------------------------------------------------------


def test_mark_scripts_wraps_other_scripts_with_language_and_direction():
    page = ('<html lang="en"><head><title>محمد</title></head><body>'
            '<p title="王芳">Name: محمد الأحمد, 王芳 and 山田さくら, 김민준</p><td>Nguyễn Văn An</td><td>Zoë</td></body></html>')
    marked = glyphs.mark_scripts(page, "en")
    assert '<title>محمد</title>' in marked and 'title="王芳"' in marked  # head and attributes untouched
    assert 'Name: <span lang="ar" dir="rtl">محمد الأحمد</span>, <span lang="zh" dir="ltr">王芳</span>' in marked
    assert '<span lang="ja" dir="ltr">山田さくら</span>, <span lang="ko" dir="ltr">김민준</span>' in marked
    assert '<td><span class="latin-one-font">Nguyễn Văn An</span></td><td>Zoë</td>' in marked
    assert glyphs.mark_scripts("<body><td>王芳 Nguyễn Thị</td></body>") == (
        '<body><td><span lang="zh" dir="ltr">王芳</span> <span class="latin-one-font">Nguyễn Thị</span></td></body>')
    assert glyphs.mark_scripts(page.replace('lang="en"', 'lang="ar"'), "ar").count('lang="ar"') == 1


def test_the_refusal_names_the_field_and_the_character():
    context = {"patient": {"name": "Anna 𓀀 Smith", "contact": {"address_lines": ["1 Road ꦲ"]}},
               "document": {"summary": "Export for Anna 𓀀 Smith"}}
    message = glyphs.refusal(context, title="Record of Anna 𓀀 Smith")
    assert message.startswith("Not made: The patient's name contains 𓀀 (U+13000), which the documents cannot print")
    assert glyphs.refusal({"patient": {"contact": {"address_lines": ["x", "1 Road ꦲ"]}}}).startswith(
        "Not made: The patient's address contains ꦲ (U+A9B2)")
    assert glyphs.refusal({"patient": {"name": "王芳 🌸", "note": "\u200d\ufe0f\n\u202f\u2003"}}) is None


# -- the refusal on the page ----------------------------------------------------------------------


def test_an_unprintable_name_refuses_the_document_on_the_page_and_archives_nothing(as_practitioner, practitioner):
    patient = make_patient(actor=practitioner, given_name="Anna", family_name="𓀀 Smith")
    page = f"/patients/{patient.public_id}"
    before = db.session.scalar(select(func.count()).select_from(IssuedDocument))
    response = post_form(as_practitioner, f"/documents/patient-export/{patient.public_id}/issue", {}, page=page,
                         headers={"Referer": "http://localhost" + page})
    assert response.status_code == 303
    shown = as_practitioner.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(r"The patient(&#39;|')s (family )?name contains 𓀀 \(U\+13000\), which the documents cannot print", shown)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(IssuedDocument)) == before
    preview = as_practitioner.get(f"/documents/patient-export/{patient.public_id}.pdf", headers={"Referer": "http://localhost" + page})
    assert preview.status_code == 303 and preview.mimetype != "application/pdf"


def test_the_fonts_cost_what_the_docs_say():
    size = sum(path.stat().st_size for path in FONTS_DIR.rglob("*.woff2"))
    documented = (Path(__file__).resolve().parents[2] / "docs/documents.md").read_text(encoding="utf-8")
    found = re.search(r"bundled fonts take ([0-9.]+) MB", documented)
    assert found, "docs/documents.md says what the bundled fonts cost"
    assert abs(float(found.group(1)) - size / 1e6) < 0.1
