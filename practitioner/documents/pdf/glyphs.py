"""Runs in the web process: which characters the bundled fonts can print, and what scripts a text is in.

Two jobs, both from the same Unicode data and the same bundled fonts (reports/fonts/fonts.css):

- `refusal(context, title)`: before a document is rendered, every value that goes into it is read
  against the characters the bundled fonts hold (`coverage()`, read once per process from
  reports/fonts/coverage.json, which reports/fonts/build.py writes from the fonts' cmaps; reading
  the cmaps themselves cost the first document of each web process about 0.4 s or more). A character no font holds would print as a blank or a box, so
  the document is refused (DocumentType.make raises UnprintableText, a NotReady, with this
  message) naming the field and the character.
- `mark_scripts(html, language)`: every run of text in another script than the document's gets
  `<span lang=".." dir="rtl|ltr">` (Arabic and Hebrew right to left), so the PDF's structure says
  which language a screen reader should read it in; and a Latin run holding letters the first
  font (Atkinson Hyperlegible) lacks, such as Vietnamese, is set wholly in Noto Sans, so a word is
  never drawn in two fonts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata
from collections.abc import Iterator, Mapping
from functools import cache
from html import unescape
from pathlib import Path
from typing import Any

from practitioner.paths import FONTS_DIR, REPORTS_DIR

FONTS_CSS = FONTS_DIR / "fonts.css"
# What each bundled family can print, precomputed from the fonts (write_coverage_file, run by
# reports/fonts/build.py); tests/documents/test_scripts.py checks it against the files' hashes.
COVERAGE_FILE = FONTS_DIR / "coverage.json"
log = logging.getLogger(__name__)
PRIMARY_FAMILY = "Atkinson Hyperlegible"
_FONT_FACE = re.compile(r"@font-face\s*{([^}]*)}")
_FAMILY = re.compile(r"font-family:\s*\"([^\"]+)\"")
_SRC = re.compile(r"url\(\"([^\"]+)\"\)")


# -- what the bundled fonts hold -----------------------------------------------------------------


def declared_fonts() -> list[tuple[str, Path]]:
    """(family, file) of every @font-face in reports/fonts/fonts.css, in order."""
    faces = []
    for block in _FONT_FACE.findall(FONTS_CSS.read_text(encoding="utf-8")):
        family, src = _FAMILY.search(block), _SRC.search(block)
        if family and src:
            faces.append((family.group(1), (FONTS_DIR / src.group(1)).resolve()))
    return faces


def _cmap(path: Path) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap())


def coverage_from_fonts() -> dict[str, frozenset[int]]:
    """The characters each bundled family holds (any of its faces), read from the font files' cmaps (slow: fontTools)."""
    found: dict[str, set[int]] = {}
    for family, path in declared_fonts():
        found.setdefault(family, set()).update(_cmap(path))
    return {family: frozenset(chars) for family, chars in found.items()}


def _ranges(chars: frozenset[int]) -> str:
    """Code points as compact hex ranges: '20-7e a0 a2-ff'."""
    parts: list[str] = []
    ordered = sorted(chars)
    index = 0
    while index < len(ordered):
        end = index
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            end += 1
        first, last = ordered[index], ordered[end]
        parts.append(f"{first:x}" if first == last else f"{first:x}-{last:x}")
        index = end + 1
    return " ".join(parts)


def _from_ranges(text: str) -> frozenset[int]:
    chars: set[int] = set()
    for part in text.split():
        first, _, last = part.partition("-")
        chars.update(range(int(first, 16), int(last or first, 16) + 1))
    return frozenset(chars)


def _face_record(family: str, path: Path) -> dict[str, Any]:
    return {"family": family, "file": path.relative_to(FONTS_DIR).as_posix(), "bytes": path.stat().st_size,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def coverage_document() -> dict[str, Any]:
    """What reports/fonts/coverage.json holds: each face (file, size, SHA-256) and each family's characters as ranges."""
    return {
        "about": "What each bundled font family can print (Unicode code points, hex ranges), read from the fonts' "
                 "cmaps by reports/fonts/build.py --coverage. Rebuild it whenever a font file changes.",
        "faces": [_face_record(family, path) for family, path in declared_fonts()],
        "families": {family: _ranges(chars) for family, chars in coverage_from_fonts().items()},
    }


def write_coverage_file() -> Path:
    """Write reports/fonts/coverage.json from the bundled fonts (a maintainer's step, with the fonts)."""
    COVERAGE_FILE.write_text(json.dumps(coverage_document(), indent=1, ensure_ascii=True) + "\n", encoding="utf-8")
    return COVERAGE_FILE


def _precomputed() -> dict[str, frozenset[int]] | None:
    """The families' characters from coverage.json, or None when it does not describe the fonts fonts.css declares."""
    try:
        stored = json.loads(COVERAGE_FILE.read_text(encoding="utf-8"))
        faces = [(face["family"], face["file"], face["bytes"]) for face in stored["faces"]]
        declared = [(family, path.relative_to(FONTS_DIR).as_posix(), path.stat().st_size) for family, path in declared_fonts()]
        if faces != declared:
            return None
        return {family: _from_ranges(ranges) for family, ranges in stored["families"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return None


@cache
def family_coverage() -> dict[str, frozenset[int]]:
    """The characters each bundled family holds (any of its faces), in fonts.css's order, read once per process.

    From reports/fonts/coverage.json when it lists exactly the faces fonts.css declares, at their
    sizes (a stat per file, no hashing: the test suite checks the hashes); else, with a warning,
    from the fonts themselves.
    """
    stored = _precomputed()
    if stored is not None:
        return stored
    log.warning("%s does not match the bundled fonts: reading their cmaps (run reports/fonts/build.py --coverage)",
                COVERAGE_FILE)
    return coverage_from_fonts()


@cache
def coverage() -> frozenset[int]:
    """Every character some bundled font holds."""
    return frozenset().union(*family_coverage().values())


def _needs_no_glyph(char: str) -> bool:
    # Controls are dropped before printing, format characters (joiners, bidi marks) and variation
    # selectors are invisible by design, and a space of any width is drawn by the shaper
    # (HarfBuzz) from the font's own space when the font has no glyph for it.
    category = unicodedata.category(char)
    return category in ("Cc", "Cf", "Zs", "Zl", "Zp") or 0xFE00 <= ord(char) <= 0xFE0F or 0xE0100 <= ord(char) <= 0xE01EF


def unprintable(text: str) -> list[str]:
    """The distinct characters of text that no bundled font holds, in order of appearance."""
    held = coverage()
    found: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        if ord(char) not in held and not _needs_no_glyph(char) and char not in found:
            found.append(char)
    return found


# -- naming the field -----------------------------------------------------------------------------

# The last keys of a value's place in a document's context, and how a person calls that field.
_FIELD_NAMES: dict[tuple[str, ...], str] = {
    ("patient", "name"): "The patient's name",
    ("patient", "given_name"): "The patient's given name",
    ("patient", "family_name"): "The patient's family name",
    ("patient", "preferred_name"): "The patient's preferred name",
    ("contact", "address_lines"): "The patient's address",
    ("contact", "postcode"): "The patient's postcode",
    ("contact", "email"): "The patient's email address",
    ("contact", "phone"): "The patient's phone number",
    ("emergency_contact", "name"): "The emergency contact's name",
    ("emergency_contact", "relationship"): "The emergency contact's relationship",
    ("gp", "name"): "The GP's name",
    ("gp", "practice"): "The GP's practice",
    ("allergies", "text"): "The patient's allergies",
    ("current_medicines",): "The patient's current medicines",
    ("clinic", "name"): "The clinic's name",
    ("clinic", "address_lines"): "The clinic's address",
    ("clinic", "out_of_hours"): "The clinic's out-of-hours advice",
    ("consent", "typed_name"): "The name typed on the consent",
    ("intake", "details", "phone"): "The phone number written on the health questionnaire",
    ("intake", "details", "email"): "The email address written on the health questionnaire",
    ("intake", "details", "address"): "The address written on the health questionnaire",
    ("intake", "details", "gp_name"): "The GP's name written on the health questionnaire",
    ("intake", "details", "gp_practice"): "The GP's practice written on the health questionnaire",
    ("intake", "details", "allergies_other"): "The other allergies written on the health questionnaire",
    ("intake", "details", "medicines"): "The medicines written on the health questionnaire",
    ("intake", "hopes", "words"): "What the patient wrote they hope for, on the health questionnaire",
    ("title",): "The document's title",
}


def field_name(path: tuple[str | int, ...]) -> str:
    """How a person calls the field at this place in a document's context: ('patient', 'name') -> "The patient's name"."""
    keys = tuple(key for key in path if isinstance(key, str))
    for length in range(len(keys), 0, -1):
        if keys[-length:] in _FIELD_NAMES:
            return _FIELD_NAMES[keys[-length:]]
    words = [key.replace("_", " ") for key in keys[-2:]]
    return "The " + " ".join(words) if words else "A value"


def _is_named(path: tuple[str | int, ...]) -> bool:
    keys = tuple(key for key in path if isinstance(key, str))
    return any(keys[-length:] in _FIELD_NAMES for length in range(len(keys), 0, -1)) and keys != ("title",)


def _strings(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def describe(char: str) -> str:
    """A character as a person can find it: '𓀀 (U+13000)'."""
    return f"{char} (U+{ord(char):04X})"


def refusal(context: Mapping[str, Any], title: str = "") -> str | None:
    """Why a document with these values cannot be printed, or None when every character has a glyph.

    The message names the first field holding a character no bundled font has, the characters
    (up to five) and what to do.
    """
    failing = [(path, missing) for path, text in [*_strings(context, ()), (("title",), title)] if (missing := unprintable(text))]
    # A field a person typed names the problem better than a sentence that repeats it (a title, a summary).
    failing.sort(key=lambda found: not _is_named(found[0]))
    for path, missing in failing[:1]:
        if missing:
            listed = ", ".join(describe(char) for char in missing[:5])
            return (
                f"Not made: {field_name(path)} contains {listed}, which the documents cannot print "
                f"(no bundled font has {'this character' if len(missing) == 1 else 'these characters'}), "
                "and a blank would print in its place. Correct the record (for a name, the spelling the "
                "patient uses on official papers), or ask an administrator about adding a font."
            )
    return None


# -- marking other scripts ---------------------------------------------------------------------

# A script's most used language (BCP 47), written on its runs: a screen reader picks its voice
# from it. The script itself is certain; the language is the likeliest reading.
_SCRIPT_LANGUAGE = {
    "ARABIC": "ar", "HEBREW": "he", "DEVANAGARI": "hi", "BENGALI": "bn", "GURMUKHI": "pa", "GUJARATI": "gu",
    "TAMIL": "ta", "TELUGU": "te", "KANNADA": "kn", "MALAYALAM": "ml", "THAI": "th", "GREEK": "el", "CYRILLIC": "ru",
    "HANGUL": "ko", "HIRAGANA": "ja", "KATAKANA": "ja", "CJK": "zh",
}
_RIGHT_TO_LEFT = frozenset({"ar", "he"})
_NAME_PREFIXES = tuple(_SCRIPT_LANGUAGE)


@cache
def script_of(char: str) -> str | None:
    """The script of a letter, mark or syllable from its Unicode name ('ARABIC', 'CJK', ...); None for the rest.

    None also for Latin, digits, punctuation and spaces: they go with the text around them.
    """
    if not unicodedata.category(char).startswith(("L", "M")):
        return None
    name = unicodedata.name(char, "")
    if name.startswith(_NAME_PREFIXES):
        return name.split(" ", 1)[0]
    if name.startswith(("HALFWIDTH KATAKANA", "KATAKANA-HIRAGANA")):
        return "KATAKANA"
    if name.startswith("IDEOGRAPHIC"):
        return "CJK"
    return None


_EAST_ASIAN = frozenset({"CJK", "HIRAGANA", "KATAKANA", "HANGUL"})


def _one_language(scripts: set[str]) -> bool:
    # Han mixes with kana in Japanese and with Hangul in Korean: one run, one language. Kana
    # with Hangul are two languages side by side.
    if len(scripts) == 1:
        return True
    return scripts <= _EAST_ASIAN and not (scripts & {"HIRAGANA", "KATAKANA"} and "HANGUL" in scripts)


def _language_of_run(scripts: set[str]) -> str:
    # Kana make a run Japanese even when most of it is kanji; Hangul make it Korean.
    if scripts & {"HIRAGANA", "KATAKANA"}:
        return "ja"
    if "HANGUL" in scripts:
        return "ko"
    return _SCRIPT_LANGUAGE[sorted(scripts)[0]]


_TAG_OR_TEXT = re.compile(r"(<[^>]*>)")
_BODY_START = re.compile(r"<body[^>]*>")
_WORD_BREAK = re.compile(r"(\s+)")


def _lacks_primary(text: str) -> bool:
    primary = family_coverage().get(PRIMARY_FAMILY, frozenset())
    return any(unicodedata.category(c).startswith("L") and ord(c) not in primary and script_of(c) is None
               for c in unicodedata.normalize("NFC", unescape(text)))


def _runs(text: str) -> list[tuple[frozenset[str], str]]:
    """Text cut into runs: (scripts, text) for a run of another script, (empty, text) for the rest.

    Spaces and punctuation between two letters of one language stay in its run; a Latin letter,
    or a letter of another language, ends it.
    """
    runs: list[tuple[frozenset[str], str]] = []
    scripts: set[str] = set()
    current, pending = "", ""  # pending: neutral characters after a run, in it if the same language follows
    for char in text:
        script = script_of(char)
        if script is not None and scripts and _one_language(scripts | {script}):
            current, pending = current + pending + char, ""
            scripts.add(script)
            continue
        if script is None and scripts and not unicodedata.category(char).startswith("L"):
            pending += char
            continue
        # A new run starts here: close the one of another script, if any.
        if scripts:
            runs.append((frozenset(scripts), current))
            current, scripts = pending, set()
            pending = ""
        if script is None:
            current += char
        else:
            if current:
                runs.append((frozenset(), current))
            current, scripts = char, {script}
    if scripts:
        runs.append((frozenset(scripts), current))
        current = pending
    if current:
        runs.append((frozenset(), current))
    return runs


def _mark_text(text: str, language: str) -> str:
    """One text node (escaped HTML text, no tags): its runs of other scripts wrapped in spans."""
    if text.isascii():
        return text
    document_language = language.split("-")[0]
    marked = []
    for scripts, run in _runs(text):
        lang = _language_of_run(set(scripts)) if scripts else document_language
        if lang != document_language:
            direction = "rtl" if lang in _RIGHT_TO_LEFT else "ltr"
            marked.append(f'<span lang="{lang}" dir="{direction}">{run}</span>')
        elif _lacks_primary(run):
            core = run.strip()
            start = run.index(core)
            marked.append(f'{run[:start]}<span class="latin-one-font">{core}</span>{run[start + len(core):]}')
        else:
            marked.append(run)
    return "".join(marked)


def mark_scripts(html: str, language: str = "en") -> str:
    """The document's HTML with every body text run in another script wrapped in a span with lang and dir.

    Works on the rendered, autoescaped HTML: outside tags there is only text (a `<` or `>` typed
    by anyone is escaped), so splitting at tags never cuts an attribute. The head (title, style)
    is left as it is.
    """
    body = _BODY_START.search(html)
    if body is None:
        return html
    head, rest = html[: body.end()], html[body.end():]
    parts = _TAG_OR_TEXT.split(rest)
    for index in range(0, len(parts), 2):  # even places are text, odd places are tags
        if parts[index]:
            parts[index] = _mark_text(parts[index], language)
    return head + "".join(parts)


# -- the fonts a document loads -------------------------------------------------------------------

# Every document loads these families; the others only when its text holds a letter that neither
# of these holds. WeasyPrint decodes each @font-face file once per render process (the shared
# FontConfiguration), 8.66 MB of woff2 for all of them: loading the CJK slices for a Latin-only
# aftercare cost about 0.65 s of CPU in every new render process.
ALWAYS_LOADED = (PRIMARY_FAMILY, "Noto Sans")
FONTS_LINK = '<link rel="stylesheet" href="fonts/fonts.css">'
PRINT_CSS = REPORTS_DIR / "print.css"
_DATA_URL = re.compile(r"data:[^\"')\s]*")


@cache
def _face_rules() -> tuple[tuple[str, str], ...]:
    """(family, @font-face rule) of fonts.css, in order, each url() made relative to reports/."""
    rules = []
    for block in _FONT_FACE.finditer(FONTS_CSS.read_text(encoding="utf-8")):
        family = _FAMILY.search(block.group(1))
        if family:
            rules.append((family.group(1), _SRC.sub(lambda url: f'url("fonts/{url.group(1)}")', block.group(0))))
    return tuple(rules)


def font_faces_css(families: Iterator[str] | tuple[str, ...] | list[str]) -> str:
    """The @font-face rules of fonts.css for these families only, in fonts.css's order."""
    wanted = set(families)
    return "\n".join(rule for family, rule in _face_rules() if family in wanted)


@cache
def _always_held() -> frozenset[int]:
    held = family_coverage()
    return frozenset().union(*(held.get(family, frozenset()) for family in ALWAYS_LOADED))


@cache
def _print_css_characters() -> frozenset[str]:
    # Generated content (running headers, separators) is set from print.css's own strings.
    return frozenset(PRINT_CSS.read_text(encoding="utf-8"))


def families_for(html: str) -> list[str]:
    """The bundled families a document's HTML is set in, in print.css's order.

    Atkinson Hyperlegible and Noto Sans always; then, for each character neither holds, the first
    family in the font-family list that holds it: the one the text would be set in with every
    family loaded, so the document prints the same with fewer fonts loaded. Tags and attributes
    are read as text too (a few families more at worst, never one fewer); data: URLs are not.
    """
    held, always = family_coverage(), _always_held()
    text = unescape(_DATA_URL.sub("", html))
    characters = set(text) | set(unicodedata.normalize("NFC", text)) | _print_css_characters()
    needed = set(ALWAYS_LOADED)
    for char in characters:
        code = ord(char)
        if code in always:
            continue
        for family, chars in held.items():
            if code in chars:
                needed.add(family)
                break
    return [family for family in held if family in needed]


def with_needed_fonts(html: str) -> str:
    """The HTML with its link to fonts/fonts.css replaced by the @font-face rules of `families_for` only."""
    if FONTS_LINK not in html:
        return html
    style = f"<style>\n{font_faces_css(families_for(html))}\n</style>"
    return html.replace(FONTS_LINK, style, 1)
