"""The commit rule (practitioner/unit_of_work.py): only the helper commits, and a view commits once.

A new `.commit()` anywhere in practitioner/ fails here: use `commit_request()` in a view after its one
service call, or a named `commit_exception(CommitReason...)` with the reason written beside it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from practitioner import unit_of_work
from practitioner.unit_of_work import CommitReason, commit_exception

PACKAGE = Path(__file__).resolve().parent.parent / "practitioner"
HELPER = PACKAGE / "unit_of_work.py"


def _overrides_driver_commit(function: ast.AST, call: ast.Call) -> bool:
    # `def commit(self): super().commit()` in a DB-API connection subclass (the write queue) is the driver's
    # own commit being extended, not application code choosing where a transaction ends.
    receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
    return (isinstance(function, ast.FunctionDef) and function.name == "commit" and isinstance(receiver, ast.Call)
            and isinstance(receiver.func, ast.Name) and receiver.func.id == "super")


def commit_calls(root: Path) -> list[str]:
    """Every `<anything>.commit(...)` call in the package's Python files, as 'path:line', except the helper's."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.name == HELPER.name and path.parent == root:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "commit":
                function = node
                while function in parents and not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                    function = parents[function]
                if not _overrides_driver_commit(function, node):
                    found.append(f"{path.relative_to(root.parent)}:{node.lineno}")
    return found


def test_only_the_unit_of_work_module_commits():
    assert commit_calls(PACKAGE) == [], "commit through practitioner/unit_of_work.py (commit_request or a named commit_exception)"


def test_the_scan_finds_a_commit(tmp_path):
    package = tmp_path / "practitioner"
    (package / "things").mkdir(parents=True)
    (package / "things" / "services.py").write_text("def save(session):\n    session.add(1)\n    session.commit()\n")
    (package / "unit_of_work.py").write_text("def commit_request(session):\n    session.commit()\n")
    (package / "driver.py").write_text("class Connection(Base):\n    def commit(self):\n        super().commit()\n"
                                       "    def close(self):\n        super().commit()\n")
    assert commit_calls(package) == ["practitioner/driver.py:5", "practitioner/things/services.py:3"]


def test_a_view_commits_at_most_once():
    twice = []
    for views in sorted(PACKAGE.rglob("views.py")):
        for function in ast.walk(ast.parse(views.read_text(encoding="utf-8"))):
            if not isinstance(function, ast.FunctionDef):
                continue
            calls = [node for node in ast.walk(function) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                     and node.func.id == "commit_request"]
            if len(calls) > 1:
                twice.append(f"{views.relative_to(PACKAGE.parent)}:{function.name}")
    assert twice == []


def test_an_exception_must_name_its_reason(app):
    with pytest.raises(TypeError, match="CommitReason"):
        commit_exception("because")  # type: ignore[arg-type]
    commit_exception(CommitReason.CLI)  # a named reason commits


def test_the_rule_is_written_where_the_helper_is():
    doc = unit_of_work.__doc__ or ""
    assert "commits ONCE with `commit_request()`" in doc and "never commit" in doc
    for reason in CommitReason:
        assert reason.name in doc, f"{reason.name} is not explained in practitioner/unit_of_work.py's docstring"
