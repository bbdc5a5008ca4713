"""The clinical basis travels with the code: comments and the README point into docs/, and docs/ links resolve."""

from __future__ import annotations

import re
from pathlib import Path

from practitioner.clinical.screening import FLAG_TITLES, POLICY_SETTINGS, Policy
from practitioner.clinical.vocabulary import FITZPATRICK_ROMAN

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# A pointer to a file that is not in the repository: the specification folder beside the checkout
# the product was written from. Its names are assembled here so that this file, which looks for
# them, does not itself read as such a pointer.
_SPEC = "/".join(("shared", "domain"))
_REFERENCE = "clinical" + "-reference"
OUTSIDE = re.compile(re.escape(_SPEC) + r"|\.\./shared|" + re.escape("/".join(("", "work", "shared"))) + "|" + re.escape(_REFERENCE) + r"\.md"
                     # a domain file named bare (not docs/<name>): screening.md, documents.md, session-record.md ...
                     r"|(?<![\w/\[-])(screening|screening-examples|documents|session-record|intake|photography)\.md")


def pointers_outside(paths: list[Path], root: Path = ROOT) -> list[str]:
    """'path:line: text' for every line that points at a file outside the repository."""
    found = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if OUTSIDE.search(line):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    return found


def _files() -> list[Path]:
    files = [ROOT / "README.md"]
    for folder, patterns in (("practitioner", ("*.py",)), ("reports", ("*.html", "*.css", "*.toml", "*.md", "*.txt")),
                             ("templates", ("*.html",)), ("migrations", ("*.py",)), ("tests", ("*.py",))):
        for pattern in patterns:
            files.extend(sorted((ROOT / folder).rglob(pattern)))
    return [path for path in files if path != Path(__file__).resolve()]


def test_nothing_points_outside_the_repository():
    assert pointers_outside(_files()) == [], "point to docs/ (docs/screening.md, docs/aftercare.md, docs/architecture.md)"


def test_the_check_finds_an_outside_pointer(tmp_path):
    module = tmp_path / "module.py"
    module.write_text(f'"""The rules of ``{_SPEC}/screening.md``."""\n# see {_REFERENCE}.md 3.1\nok = 1\n'
                      '# every field of session-record.md\n# every field of docs/session-record.md\n')
    assert [hit.split(":")[1] for hit in pointers_outside([module], tmp_path)] == ["1", "2", "4"]


def test_the_docs_exist_and_their_links_resolve():
    for name in ("screening.md", "screening-form.md", "aftercare.md", "architecture.md", "session-record.md"):
        assert (DOCS / name).is_file(), name
    broken = []
    for page in [*sorted(DOCS.glob("*.md")), ROOT / "README.md"]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_every_screening_flag_is_in_docs_with_its_decision():
    text = (DOCS / "screening.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^### (Decline|Refer|Defer|Proceed with caution)[^\n]*\n(.*?)(?=^### |^## )", text,
                               flags=re.MULTILINE | re.DOTALL))
    documented = {flag: heading for heading, body in sections.items()
                  for flag in re.findall(r"^\| `([a-z_]+)` \|", body, flags=re.MULTILINE)}
    assert set(documented) == set(FLAG_TITLES), sorted(set(documented) ^ set(FLAG_TITLES))
    assert documented["bleeding_disorder"] == "Decline" and documented["smoker"] == "Proceed with caution"


def test_every_policy_setting_is_in_docs_with_its_default():
    text = (DOCS / "screening.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| ([^|]+) \| ([^|]+) \| [^|]+ \| `([a-z_]+)` \|$", text, flags=re.MULTILINE)
    defaults = {flag: default for _, default, flag in rows}
    policy = Policy().as_dict()
    uses = {"min_age": "under_age", "isotretinoin_washout_days": "isotretinoin_recent", "neurotoxin_interval_days": "neurotoxin_recent",
            "filler_interval_days": "filler_recent", "retinoid_window_days": "topical_retinoid_recent",
            "resurfacing_interval_days": "recent_resurfacing", "sunburn_window_days": "sunburn_recent",
            "prp_nsaid_window_days": "nsaid_or_supplement_recent", "pih_risk_min_fitzpatrick": "fitzpatrick_high_pih_risk"}
    assert set(uses) == set(POLICY_SETTINGS)
    for setting, flag in uses.items():
        value = policy[setting]
        shown = f"{value} years" if setting == "min_age" else f"type {FITZPATRICK_ROMAN[value]}" if setting.endswith("fitzpatrick") else f"{value} days"
        assert defaults[flag] == shown, (setting, defaults[flag], shown)
