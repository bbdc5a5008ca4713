"""Rebuild the bundled document fonts from the @fontsource npm packages (a maintainer's tool, not run by the app).

    mkdir /tmp/fonts && cd /tmp/fonts
    npm pack @fontsource/noto-sans@5.3.0 @fontsource/noto-sans-arabic@5.3.0 ...   (the packages in FAMILIES)
    for f in *.tgz; do mkdir "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
    python reports/fonts/build.py /tmp/fonts
    python reports/fonts/build.py --coverage      (only coverage.json, from the fonts as they are)

The packages split each face into unicode-range slices. WeasyPrint names an embedded font by
family and weight only, so two files of one face collide in the PDF: each face is merged back
into one file here (fontTools.merge). The CJK faces are then cut down to the characters of the
national standard character sets (see `cjk_characters`), each region's file holding only what
the files before it lack, so no character is stored twice. Writes one woff2 per face, the
package's LICENSE and a README with the sources and checksums into reports/fonts/<folder>/.
Then writes reports/fonts/coverage.json: what each family of fonts.css can print and each file's
SHA-256, so the app never reads the fonts' cmaps at run time (practitioner/documents/pdf/glyphs.py).
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from fontTools import subset
from fontTools.merge import Merger
from fontTools.ttLib import TTFont
from fontTools.ttLib.woff2 import WOFF2FlavorData

HERE = Path(__file__).resolve().parent
# Slices that only repeat what an earlier family in print.css's font-family list already draws.
NOT_SCRIPT = {"latin", "latin-ext", "cyrillic", "cyrillic-ext", "greek", "greek-ext", "vietnamese", "math", "symbols",
              "devanagari"}


@dataclass(frozen=True)
class Family:
    """One bundled family: where it comes from, which slices, faces and characters it keeps."""

    folder: str  # under reports/fonts/, and the package name after @fontsource/
    version: str
    name: str  # the CSS font-family
    why: str  # the README's first line
    slices: tuple[str, ...] = ()  # named slices to keep; empty: every slice but NOT_SCRIPT
    weights: tuple[int, ...] = (400, 700)
    styles: tuple[str, ...] = ("normal",)
    region: str = ""  # a CJK region: cut to its character set (see cjk_characters)


FAMILIES = (
    Family("noto-sans", "5.3.0", "Noto Sans", "Latin with every diacritic (Vietnamese in one font), Greek, Cyrillic",
           slices=("latin", "latin-ext", "greek", "greek-ext", "cyrillic", "cyrillic-ext", "vietnamese"),
           styles=("normal", "italic")),
    Family("noto-sans-arabic", "5.3.0", "Noto Sans Arabic", "Arabic script (Arabic, Persian, Urdu, ...)"),
    Family("noto-sans-hebrew", "5.3.0", "Noto Sans Hebrew", "Hebrew"),
    Family("noto-sans-devanagari", "5.3.0", "Noto Sans Devanagari", "Devanagari (Hindi, Marathi, Nepali, ...)",
           slices=("devanagari",)),
    Family("noto-sans-bengali", "5.3.0", "Noto Sans Bengali", "Bengali script (Bengali, Assamese)"),
    Family("noto-sans-gurmukhi", "5.3.0", "Noto Sans Gurmukhi", "Gurmukhi (Punjabi)"),
    Family("noto-sans-gujarati", "5.3.0", "Noto Sans Gujarati", "Gujarati"),
    Family("noto-sans-tamil", "5.3.0", "Noto Sans Tamil", "Tamil"),
    Family("noto-sans-telugu", "5.3.0", "Noto Sans Telugu", "Telugu"),
    Family("noto-sans-kannada", "5.3.0", "Noto Sans Kannada", "Kannada"),
    Family("noto-sans-malayalam", "5.3.0", "Noto Sans Malayalam", "Malayalam"),
    Family("noto-sans-thai", "5.3.0", "Noto Sans Thai", "Thai"),
    Family("noto-sans-sc", "5.3.1", "Noto Sans SC", "Chinese: the GB 2312 character set (simplified)", region="sc"),
    Family("noto-sans-tc", "5.3.0", "Noto Sans TC", "Chinese: the Big5 characters GB 2312 lacks (traditional)",
           region="tc"),
    Family("noto-sans-jp", "5.3.0", "Noto Sans JP", "Japanese: kana and the JIS X 0208 kanji the Chinese files lack",
           region="jp"),
    Family("noto-sans-kr", "5.3.0", "Noto Sans KR", "Korean: every Hangul syllable and jamo, KS X 1001 hanja the others lack",
           region="kr"),
    Family("noto-emoji", "5.3.2", "Noto Emoji", "Emoji, monochrome", weights=(400,)),
)


def _double_byte(codec: str, lead: range, trail: list[int]) -> set[int]:
    found = set()
    for first in lead:
        for second in trail:
            try:
                text = bytes([first, second]).decode(codec)
            except UnicodeDecodeError:
                continue
            if len(text) == 1:
                found.add(ord(text))
    return found


def cjk_characters() -> dict[str, set[int]]:
    """The characters each CJK region's file is asked for, from Python's codecs of the national standards.

    sc: GB 2312; tc: Big5; jp: JIS X 0208 and every kana; kr: every modern Hangul syllable and jamo
    and KS X 1001. Below U+2000 (Latin, Greek, Cyrillic) is left to Noto Sans. Each region keeps
    only what the regions before it do not hold (see `build`).
    """
    high = list(range(0xA1, 0xFF))
    punctuation = set(range(0x3000, 0x3040)) | set(range(0xFF00, 0xFF65))
    kana = set(range(0x3040, 0x3100)) | set(range(0x31F0, 0x3200)) | set(range(0xFF65, 0xFFA0))
    hangul = set(range(0xAC00, 0xD7A4)) | set(range(0x1100, 0x1200)) | set(range(0x3130, 0x3190))
    sets = {
        "sc": _double_byte("gb2312", range(0xA1, 0xFF), high) | punctuation,
        "tc": _double_byte("big5", range(0xA1, 0xFA), list(range(0x40, 0x7F)) + high),
        "jp": _double_byte("euc_jp", range(0xA1, 0xFF), high) | kana,
        "kr": _double_byte("euc_kr", range(0xA1, 0xFF), high) | hangul,
    }
    return {region: {c for c in chars if c >= 0x2000} for region, chars in sets.items()}


def _slice_files(package: Path, family: Family, weight: int, style: str) -> list[Path]:
    files = sorted((package / "files").glob(f"{family.folder}-*-{weight}-{style}.woff2"))
    pattern = re.compile(rf"{re.escape(family.folder)}-(.+)-{weight}-{style}\.woff2")
    chosen = []
    for path in files:
        slice_name = pattern.fullmatch(path.name).group(1)  # type: ignore[union-attr]
        if slice_name.isdigit() or (slice_name in family.slices if family.slices else slice_name not in NOT_SCRIPT):
            chosen.append(path)
    if not chosen:
        raise SystemExit(f"no slices for {family.folder} {weight} {style} in {package}")
    return chosen


def merged(files: list[Path]) -> TTFont:
    """One font from a face's slices."""
    font = Merger().merge([str(path) for path in files])
    buffer = io.BytesIO()
    font.flavor = None
    font.save(buffer)
    return TTFont(io.BytesIO(buffer.getvalue()))


def cut(font: TTFont, characters: set[int]) -> TTFont:
    """The font with only these characters (and every layout feature, so shaping is kept)."""
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=characters)
    subsetter.subset(font)
    return font


def save_woff2(font: TTFont, path: Path) -> None:
    """Save as woff2 without the glyf/loca transform.

    WeasyPrint decodes woff2 with fontTools, whose rebuilding of a transformed glyf table is pure
    Python: about 30 s for one CJK face, paid by every new render process. Untransformed, the file
    is about 17 % larger and decodes in about 0.2 s (Brotli only).
    """
    font.flavor = "woff2"
    font.flavorData = WOFF2FlavorData(transformedTables=())
    font.save(path)


_cmaps: dict[tuple[str, int, str], set[int]] = {}


def build(source: Path) -> None:
    """Write every family's woff2 files, LICENSE and README under reports/fonts/."""
    wanted = cjk_characters()
    for family in FAMILIES:
        package = source / f"fontsource-{family.folder}-{family.version}" / "package"
        out = HERE / family.folder
        out.mkdir(exist_ok=True)
        names = []
        for weight in family.weights:
            taken: set[int] = set()
            for style in family.styles:
                font = merged(_slice_files(package, family, weight, style))
                if family.region:
                    taken = set()
                    for earlier in FAMILIES:  # what the regions before this one hold
                        if earlier.region == family.region:
                            break
                        if earlier.region:
                            earlier_package = source / f"fontsource-{earlier.folder}-{earlier.version}" / "package"
                            key = (earlier.folder, weight, style)
                            if key not in _cmaps:
                                _cmaps[key] = set(merged(_slice_files(earlier_package, earlier, weight, style)).getBestCmap())
                            taken |= _cmaps[key] & wanted[earlier.region]
                    font = cut(font, (wanted[family.region] - taken) & set(font.getBestCmap()))
                name = f"{family.folder}-{weight}-{style}.woff2"
                save_woff2(font, out / name)
                names.append(name)
        shutil.copyfile(package / "LICENSE", out / "LICENSE")
        _readme(out, family, names)


def _readme(out: Path, family: Family, names: list[str]) -> None:
    sums = "\n".join(f"{hashlib.sha256((out / n).read_bytes()).hexdigest()}  {n}" for n in sorted(names))
    size = sum((out / n).stat().st_size for n in names)
    slices = ", ".join(family.slices) if family.slices else "every slice but Latin, Greek, Cyrillic, math and symbols"
    region = (f"\nCut to: the characters of {family.why.split(': ', 1)[1]} (reports/fonts/build.py, cjk_characters)."
              if family.region else "")
    (out / "README.txt").write_text(
        f"{family.name}, bundled for patient documents (PDF): {family.why}\n"
        f"{'=' * 78}\n\n"
        f"Source:   npm package @fontsource/{family.folder}, version {family.version}\n"
        f"          (npm pack @fontsource/{family.folder}@{family.version})\n"
        f"Designer: The Noto Project Authors (Google)\n"
        f"Licence:  SIL Open Font License 1.1 -- the package's LICENSE file is copied unchanged beside\n"
        f"          this README as LICENSE.\n\n"
        f"Made by reports/fonts/build.py: for each face, the package's woff2 slices ({slices})\n"
        f"merged into one file with fontTools, because WeasyPrint names embedded fonts by family and\n"
        f"weight only and two files of one face would collide in the PDF; saved as woff2 without the\n"
        f"glyf transform, so it decodes in a fraction of a second (build.py, save_woff2).{region}\n"
        f"Size: {size / 1e6:.2f} MB.\n\nSHA-256:\n\n{sums}\n",
        encoding="utf-8",
    )


def reencode() -> None:
    """Save every built woff2 again without the glyf transform and rewrite the READMEs (no packages needed)."""
    for family in FAMILIES:
        out = HERE / family.folder
        names = sorted(path.name for path in out.glob("*.woff2"))
        for name in names:
            save_woff2(TTFont(out / name), out / name)
        _readme(out, family, names)


def write_coverage() -> Path:
    """Write reports/fonts/coverage.json from every face fonts.css declares (the app's glyphs module does the reading)."""
    sys.path.insert(0, str(HERE.parents[1]))  # the repository, for practitioner.documents.pdf.glyphs
    from practitioner.documents.pdf.glyphs import write_coverage_file

    return write_coverage_file()


if __name__ == "__main__":
    if sys.argv[1:] == ["--reencode"]:
        reencode()
    elif sys.argv[1:] != ["--coverage"]:
        build(Path(sys.argv[1]))
    print(f"wrote {write_coverage()}")
