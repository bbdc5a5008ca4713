"""ruff over the whole tree: no undefined names, unused imports or variables, or syntax errors.

The rules are [tool.ruff] in pyproject.toml (pyflakes' F rules and E9). ruff comes with the test
extras (`pip install -e '.[test]'`, which `make test` runs).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    assert importlib.util.find_spec("ruff") is not None, \
        "ruff is not installed: install the test extras (pip install -e '.[test]', or make test)"
    run = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, f"ruff found problems (fix them, or `ruff check --fix`):\n{run.stdout}{run.stderr}"
    assert "All checks passed" in run.stdout, run.stdout + run.stderr


def test_ruff_reads_the_package_and_the_tests():
    """A configuration that excluded the code would pass the check above without reading anything."""
    run = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--show-files", "."],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    files = {Path(line).resolve() for line in run.stdout.splitlines() if line.endswith(".py")}
    assert ROOT / "practitioner" / "database.py" in files, run.stdout[-2000:]
    assert Path(__file__).resolve() in files
    assert len(files) > 100, f"ruff reads only {len(files)} files"
