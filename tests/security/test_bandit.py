"""bandit over the package: nothing of medium or high severity that nobody reviewed.

A finding is either fixed, or, when it is a false positive, marked where it is with
`# nosec BXXX  # why` (the second `#` ends bandit's list of test ids, so the reason is not read as
one). The configuration is [tool.bandit] in pyproject.toml, which skips no check. bandit comes with
the test extras (`pip install -e '.[test]'`, which `make test` runs).
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "practitioner"
COMMAND = [sys.executable, "-m", "bandit", "-r", "practitioner", "-ll", "-q", "-f", "json", "-c", "pyproject.toml"]
# A reviewed suppression names the checks it silences and says why, after a second '#'.
REVIEWED_NOSEC = re.compile(r"#\s*nosec\s+B\d{3}(?:\s*,\s*B\d{3})*\s+#\s*\S")


def test_bandit_finds_nothing_unreviewed_at_medium_severity_and_above():
    assert importlib.util.find_spec("bandit") is not None, \
        "bandit is not installed: install the test extras (pip install -e '.[test]', or make test)"
    run = subprocess.run(COMMAND, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert run.stdout.strip(), f"bandit printed no report (exit {run.returncode}): {run.stderr[-2000:]}"
    report = json.loads(run.stdout)
    assert not report["errors"], f"bandit could not scan some files: {report['errors']}"
    assert report["metrics"]["_totals"]["loc"] > 1000, "bandit scanned almost nothing: is the configuration excluding the package?"
    findings = [f"{r['filename']}:{r['line_number']} {r['test_id']} ({r['issue_severity']}/{r['issue_confidence']}): {r['issue_text']}"
                for r in report["results"]]
    assert not findings, ("bandit findings to fix, or to mark as reviewed with `# nosec BXXX  # why` if they are false positives:\n"
                          + "\n".join(findings))
    assert run.returncode == 0, run.stderr[-2000:]


def test_every_nosec_names_its_check_and_says_why():
    """A bare `# nosec` would silence every check on its line, unreviewed: each must name its check and give a reason."""
    bare = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if re.search(r"#\s*nosec\b", line) and not REVIEWED_NOSEC.search(line):
                bare.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not bare, "write these as `# nosec BXXX  # why`:\n" + "\n".join(bare)
