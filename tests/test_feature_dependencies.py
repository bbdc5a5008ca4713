"""Features depend one way: patients <- intake <- consultations <- plans <- consents <- treatments <- photos <- documents.

A plan is made from a consultation; a consent is signed against a consultation and covers the sessions;
a session is given under a plan and a consent; documents are printed from all of them. A lower feature
never imports a higher one (it may only be plugged into, from above); auth, admin and clinical sit aside.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "practitioner"
ORDER = ("patients", "intake", "consultations", "plans", "consents", "treatments", "photos", "documents")


def imported_features(source: str) -> set[str]:
    """The feature packages a module's source imports, at any depth (a function-level import counts too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from practitioner import plans` names the feature in the imported names, not the module.
            modules = [f"{node.module}.{alias.name}" for alias in node.names] if node.module == "practitioner" else [node.module]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if len(parts) >= 2 and parts[0] == "practitioner" and parts[1] in ORDER:
                found.add(parts[1])
    return found


def upward_imports(feature: str, root: Path = PACKAGE) -> list[str]:
    """Each 'file imports higher-feature' found in one feature package."""
    higher = set(ORDER[ORDER.index(feature) + 1:])
    problems = []
    for path in sorted((root / feature).rglob("*.py")):
        for other in sorted(imported_features(path.read_text(encoding="utf-8")) & higher):
            problems.append(f"{path.relative_to(root.parent)} imports practitioner.{other}")
    return problems


@pytest.mark.parametrize("feature", ORDER)
def test_no_feature_imports_a_higher_one(feature):
    assert (PACKAGE / feature / "__init__.py").is_file(), f"practitioner/{feature}/ is not a package"
    assert upward_imports(feature) == []


@pytest.mark.parametrize("feature", ORDER)
def test_each_feature_s_models_import_alone(feature):
    """Imported first in a fresh interpreter, each feature's models load: no import cycle hides behind import order."""
    run = subprocess.run([sys.executable, "-c", f"import practitioner.{feature}.models"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-2000:]


def test_the_scan_sees_every_way_of_importing(tmp_path):
    """The scan above would pass on an empty tree: prove it catches each form of an upward import."""
    for source in ("from practitioner.plans.models import TreatmentPlan",
                   "import practitioner.consents.services",
                   "from practitioner import treatments",
                   "def f():\n    from practitioner.documents import services\n"):
        (tmp_path / "consultations").mkdir(exist_ok=True)
        (tmp_path / "consultations" / "views.py").write_text(source, encoding="utf-8")
        assert upward_imports("consultations", tmp_path), source
    (tmp_path / "consultations" / "views.py").write_text("from practitioner.patients.models import Patient\n", encoding="utf-8")
    assert upward_imports("consultations", tmp_path) == []
