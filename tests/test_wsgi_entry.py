"""The WSGI entry point (wsgi.py) that gunicorn serves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_served_app_hands_the_gil_over_within_a_millisecond(tmp_path):
    # A thread back from SQLite waits at most this long for the GIL (Python's default is 5 ms).
    env = dict(os.environ, PRACTITIONER_SECRET_KEY="k" * 48, PRACTITIONER_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
               PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-c", "import sys, wsgi; print(sys.getswitchinterval())"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert float(run.stdout.strip().splitlines()[-1]) <= 0.001
