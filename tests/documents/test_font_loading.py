"""A document loads only the bundled families its text is set in (render speed: each new render
process decodes every @font-face it is given, and all of fonts.css is 8.66 MB of woff2)."""

from __future__ import annotations

from jinja2 import DictLoader, Environment

from practitioner.documents.pdf import glyphs
from practitioner.documents.pdf import html as report_html
from practitioner.documents.pdf.worker import warm_up, weasyprint_pdf

HEAD = ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>t</title>'
        '<link rel="stylesheet" href="fonts/fonts.css"><link rel="stylesheet" href="print.css"></head>')
LATIN = HEAD + "<body><h1>Aftercare</h1><p>Zoë Lambert – keep the skin clean · 24 hours</p></body></html>"


def test_a_latin_only_document_loads_atkinson_and_noto_sans_only():
    assert glyphs.families_for(LATIN) == ["Atkinson Hyperlegible", "Noto Sans"]
    page = glyphs.with_needed_fonts(LATIN)
    assert "fonts/fonts.css" not in page
    assert 'url("fonts/atkinson-hyperlegible/' in page and 'url("fonts/noto-sans/' in page
    for other in ("noto-sans-sc", "noto-sans-tc", "noto-sans-jp", "noto-sans-kr", "noto-sans-arabic", "noto-emoji"):
        assert other not in page
    result = weasyprint_pdf(page, title="t", language="en", logo_png=None)
    assert not result.refused
    assert _font_folders(result.served) <= {"atkinson-hyperlegible", "noto-sans"}


def _font_folders(served: list[str]) -> set[str]:
    return {url.split("/fonts/")[1].split("/")[0] for url in served if "/fonts/" in url}


def test_the_render_process_warm_up_loads_the_two_families_every_document_uses():
    result = warm_up()
    assert not result.refused and not result.messages
    assert "fonts/fonts.css" not in " ".join(result.served)
    assert _font_folders(result.served) <= {"atkinson-hyperlegible", "noto-sans"}


def test_a_document_in_other_scripts_loads_their_families_and_no_more():
    page = HEAD + "<body><p>Name: محمد, 王芳, Nguyễn Văn An, Ελένη</p></body></html>"
    families = glyphs.families_for(page)
    assert families[:2] == ["Atkinson Hyperlegible", "Noto Sans"]
    assert "Noto Sans Arabic" in families and "Noto Sans SC" in families
    assert not {"Noto Sans Thai", "Noto Sans Hebrew", "Noto Sans KR", "Noto Emoji"} & set(families)
    # each character's family is the first in print.css's list holding it, as with every font loaded
    held = glyphs.family_coverage()
    for char in "محمد王芳":
        assert next(family for family in held if ord(char) in held[family]) in families


def test_render_html_gives_the_document_only_its_fonts(monkeypatch):
    environment = Environment(loader=DictLoader({"t.html": HEAD + "<body><p>{{ name }}</p></body></html>"}),
                              autoescape=True)
    monkeypatch.setattr(report_html, "report_environment", lambda: environment)
    page = report_html.render_html("t.html", {"name": "Zoë"}, title="t")
    assert "fonts/fonts.css" not in page and "noto-sans-sc" not in page and "atkinson-hyperlegible" in page
    page = report_html.render_html("t.html", {"name": "김민준"}, title="t")
    assert "noto-sans-kr/" in page


# -- what the fonts can print, precomputed ---------------------------------------------------------


def test_the_precomputed_coverage_matches_the_font_files_and_their_cmaps():
    import hashlib
    import json

    stored = json.loads(glyphs.COVERAGE_FILE.read_text(encoding="utf-8"))
    declared = glyphs.declared_fonts()
    assert [(face["family"], face["file"]) for face in stored["faces"]] == [
        (family, path.relative_to(glyphs.FONTS_DIR).as_posix()) for family, path in declared]
    for face, (_family, path) in zip(stored["faces"], declared, strict=True):
        assert face["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), (
            f"{face['file']} changed: run reports/fonts/build.py --coverage")
        assert face["bytes"] == path.stat().st_size
    assert stored == glyphs.coverage_document()
    read = glyphs.coverage_from_fonts()
    assert glyphs._precomputed() == read and list(glyphs._precomputed()) == list(read)


def test_the_coverage_is_read_from_the_precomputed_file_without_opening_a_font(monkeypatch):
    glyphs.family_coverage.cache_clear()
    monkeypatch.setattr(glyphs, "_cmap", lambda path: (_ for _ in ()).throw(AssertionError(f"read {path}")))
    try:
        held = glyphs.family_coverage()
        assert ord("王") in held["Noto Sans SC"] and ord("A") in held["Atkinson Hyperlegible"]
    finally:
        glyphs.family_coverage.cache_clear()


def test_a_coverage_file_that_does_not_describe_the_fonts_is_not_trusted(monkeypatch, tmp_path, caplog):
    stale = tmp_path / "coverage.json"
    stale.write_text(glyphs.COVERAGE_FILE.read_text(encoding="utf-8").replace('"bytes": ', '"bytes": 1', 1), encoding="utf-8")
    monkeypatch.setattr(glyphs, "COVERAGE_FILE", stale)
    monkeypatch.setattr(glyphs, "coverage_from_fonts", lambda: {"Atkinson Hyperlegible": frozenset({65})})
    glyphs.family_coverage.cache_clear()
    try:
        assert glyphs._precomputed() is None
        assert glyphs.family_coverage() == {"Atkinson Hyperlegible": frozenset({65})}
        assert "does not match the bundled fonts" in caplog.text
    finally:
        glyphs.family_coverage.cache_clear()
