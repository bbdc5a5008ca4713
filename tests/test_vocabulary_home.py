"""Labels belong to the vocabulary: documents and views never take words from a forms module.

An AST scan of the package (no import of the app needed): a label table (a module-level dict of
codes to the words shown for them, named *_LABELS or *_TITLES) is defined once, in
practitioner/clinical/, or on its enum as a `.label`; no two tables anywhere give words to the same
set of codes; nothing under practitioner/documents/ imports a forms module, and a views module
imports from a forms module only its Form classes and the functions that make or fill them.
"""

from __future__ import annotations

import ast
import re
import importlib
import inspect
from collections import defaultdict
from pathlib import Path

from wtforms import Form as WTForm

PACKAGE = Path(__file__).resolve().parents[1] / "practitioner"
CLINICAL = PACKAGE / "clinical"


def _modules(root: Path = PACKAGE) -> dict[str, ast.Module]:
    return {str(p.relative_to(root.parent)): ast.parse(p.read_text(encoding="utf-8"), filename=str(p))
            for p in sorted(root.rglob("*.py"))}


def _is_forms_module(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last == "forms" or last.endswith("_forms")


def _is_views_module(path: str) -> bool:
    name = Path(path).name
    return name == "views.py" or name.endswith("_views.py") or "/views/" in path


def _label_table_name(target: ast.expr) -> str | None:
    if isinstance(target, ast.Name) and (target.id.endswith("_LABELS") or target.id.endswith("_TITLES") or target.id == "LABELS"):
        return target.id
    return None


def label_table_definitions(root: Path = PACKAGE) -> dict[str, list[str]]:
    """Every module-level label table (name -> the files that assign it), aggregates of other tables excluded."""
    found: dict[str, list[str]] = defaultdict(list)
    for path, tree in _modules(root).items():
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            value = getattr(node, "value", None)
            for target in targets:
                name = _label_table_name(target)
                # A dict of other tables (the templates' `labels`) names tables, it does not define words.
                if name and value is not None and not (isinstance(value, ast.Dict) and all(
                        isinstance(v, ast.Name | ast.Attribute) for v in value.values)):
                    found[name].append(path)
    return found


def _word_tables(root: Path = PACKAGE) -> list[tuple[str, dict]]:
    """Every dict literal of three or more constant codes to constant words, anywhere (a table in a property too)."""
    tables = []
    for path, tree in _modules(root).items():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Dict) and len(node.keys) >= 3
                    and all(isinstance(k, ast.Constant) and isinstance(k.value, str | int) for k in node.keys)
                    and all(isinstance(v, ast.Constant) and isinstance(v.value, str) for v in node.values)):
                tables.append((f"{path}:{node.lineno}", {k.value: v.value for k, v in zip(node.keys, node.values)}))
    return tables


def copied_tables(root: Path = PACKAGE) -> list[tuple[str, str]]:
    """Pairs of tables over the same codes that give a code the same word: one vocabulary written twice.

    Tables over the same codes with other words are other facts about them (a policy setting's source
    range beside its label, a type's Roman numeral beside its description) and are not copies.
    """
    tables = _word_tables(root)
    return [(here, there) for i, (here, mine) in enumerate(tables) for there, theirs in tables[i + 1:]
            if mine.keys() == theirs.keys() and any(mine[k] == theirs[k] for k in mine)]


def _imports_from_forms(tree: ast.Module) -> list[tuple[str, str | None, int]]:
    """(module, name or None for a whole-module import, line) for each import of a forms module."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and _is_forms_module(node.module):
            found.extend((node.module, alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.extend((f"{node.module}.{alias.name}", None, node.lineno) for alias in node.names
                         if _is_forms_module(alias.name))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, None, node.lineno) for alias in node.names if _is_forms_module(alias.name))
    return found


def test_each_label_table_is_defined_once_in_the_clinical_vocabulary():
    definitions = label_table_definitions()
    assert len(definitions) >= 20, sorted(definitions)  # the scan finds the tables it is meant to police
    twice = {name: paths for name, paths in definitions.items() if len(paths) > 1}
    assert not twice, f"label tables defined more than once: {twice}"
    elsewhere = {name: paths for name, paths in definitions.items()
                 if any(not (PACKAGE.parent / p).is_relative_to(CLINICAL) for p in paths)}
    assert not elsewhere, f"label tables outside practitioner/clinical/ (move them there, or onto their enum as .label): {elsewhere}"


def test_no_two_tables_give_words_to_the_same_codes():
    copies = copied_tables()
    assert not copies, f"the same codes are labelled in more than one place (keep one table): {copies}"


def test_documents_never_import_a_forms_module():
    offending = [(path, module, line) for path, tree in _modules(PACKAGE / "documents").items()
                 if not _is_views_module(path) for module, _name, line in _imports_from_forms(tree)]
    assert not offending, f"documents take their words from the vocabulary, not from forms: {offending}"


def test_views_import_only_forms_and_form_makers_from_forms_modules():
    offending = []
    for path, tree in _modules().items():
        if not (_is_views_module(path) or path.startswith("practitioner/documents/")):
            continue
        for module, name, line in _imports_from_forms(tree):
            thing = getattr(importlib.import_module(module), name) if name else None
            if thing is None or not (inspect.isclass(thing) and issubclass(thing, WTForm)
                                     or inspect.isfunction(thing)):
                offending.append(f"{path}:{line} imports {name or module} from {module}")
    assert not offending, "views take labels from practitioner/clinical/ or the enums, not from forms:\n" + "\n".join(offending)


def test_the_scan_catches_a_label_table_in_a_forms_module(tmp_path):
    """The checks above would see the old arrangement (a table in a form, imported by a document)."""
    package = tmp_path / "practitioner"
    (package / "clinical").mkdir(parents=True)
    (package / "documents").mkdir()
    (package / "clinical" / "vocabulary.py").write_text('SCAR_LABELS = {"a": "A", "b": "B", "c": "C"}\n')
    (package / "consultations").mkdir()
    (package / "consultations" / "forms.py").write_text('SCAR_LABELS = {"a": "A", "b": "B", "c": "C"}\n')
    (package / "documents" / "builders.py").write_text("from practitioner.consultations.forms import SCAR_LABELS\n")
    assert label_table_definitions(package)["SCAR_LABELS"] == ["practitioner/clinical/vocabulary.py",
                                                               "practitioner/consultations/forms.py"]
    assert copied_tables(package) == [("practitioner/clinical/vocabulary.py:1", "practitioner/consultations/forms.py:1")]
    tree = _modules(package)["practitioner/documents/builders.py"]
    assert _imports_from_forms(tree) == [("practitioner.consultations.forms", "SCAR_LABELS", 1)]


def test_no_template_makes_up_words_for_a_code():
    """A page or report takes a code's words from `labels` or the enum's .label, never from the code's own spelling."""
    root = PACKAGE.parent
    made_up = re.compile(r"""\|\s*replace\(\s*['"]_['"]\s*,\s*['"] ['"]\s*\)|\.value\s*\|\s*(capitalize|title)""")
    found = [f"{path.relative_to(root)}:{n}" for folder in ("templates", "reports/templates") for path in sorted((root / folder).rglob("*.html"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if made_up.search(line)]
    assert not found, f"codes turned into words in the template (use labels.<table>[code] or .label): {found}"
