"""One name per folder: practitioner/paths.py names each of the repository's folders, and nothing else does."""

from __future__ import annotations

import ast
from pathlib import Path

from practitioner import paths

PACKAGE = Path(__file__).resolve().parents[1] / "practitioner"
FOLDERS = {"templates", "reports", "content", "fonts", "migrations"}


def _assigned_names(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        return [node.target.id]
    return []


def folder_definitions(root: Path = PACKAGE) -> list[str]:
    """Every place outside paths.py that works a folder out for itself: where it is, and what it does."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "paths.py" and path.parent == root:
            continue
        where = path.relative_to(root.parent)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in tree.body:
            for name in _assigned_names(node):
                if name == "ROOT" or name.endswith(("_DIR", "_ROOT", "_FOLDER")):
                    found.append(f"{where}:{node.lineno} defines {name}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == "__file__":
                found.append(f"{where}:{node.lineno} finds a folder from __file__")
            elif (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant)
                  and node.right.value in FOLDERS):
                found.append(f"{where}:{node.lineno} joins {node.right.value!r} itself")
    return found


def test_each_folder_is_named_once_in_practitioner_paths():
    found = folder_definitions()
    assert not found, "take the folder from practitioner/paths.py instead:\n" + "\n".join(found)


def test_the_named_folders_exist_and_the_app_uses_them(app):
    for name in ("ROOT", "PAGE_TEMPLATES_DIR", "REPORTS_DIR", "REPORT_TEMPLATES_DIR", "CONTENT_DIR", "FONTS_DIR", "MIGRATIONS_DIR"):
        assert getattr(paths, name).is_dir(), name
    assert Path(app.template_folder) == paths.PAGE_TEMPLATES_DIR
    assert Path(app.extensions["migrate"].directory) == paths.MIGRATIONS_DIR


def test_the_scan_sees_a_folder_worked_out_elsewhere(tmp_path):
    package = tmp_path / "practitioner"
    package.mkdir()
    (package / "paths.py").write_text('ROOT = Path(__file__).parent\n')
    (package / "context.py").write_text('REPORTS_DIR = Path(__file__).resolve().parent.parent / "reports"\n'
                                        'CONTENT = REPORTS_DIR / "content"\n')
    assert sorted(folder_definitions(package)) == [
        "practitioner/context.py:1 defines REPORTS_DIR",
        "practitioner/context.py:1 finds a folder from __file__",
        "practitioner/context.py:1 joins 'reports' itself",
        "practitioner/context.py:2 joins 'content' itself",
    ]
