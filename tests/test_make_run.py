"""`make run`'s gunicorn flags (the Makefile), read with gunicorn's own option parser."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from gunicorn.config import Config

ROOT = Path(__file__).resolve().parent.parent


def make_run_options():
    """gunicorn's settings as `make run` passes them."""
    text = (ROOT / "Makefile").read_text()
    match = re.search(r"exec \$\(BIN\)/gunicorn((?:[^\n]*\\\n)*[^\n]*?)\s+wsgi:app", text)
    assert match, "no gunicorn command in the Makefile's run target"
    flags = match.group(1).replace("\\\n", " ").replace("$(WORKERS)", "3").replace("$(PORT)", "5000")
    return Config().parser().parse_args(shlex.split(flags))


def test_each_request_comes_on_a_connection_any_free_worker_may_take():
    # A kept-alive connection stays with the worker that accepted it: with every client on one
    # worker, the server used one core of two while requests waited (bench/bench_write_path.py).
    options = make_run_options()
    assert options.keepalive == 0


def test_make_run_still_serves_with_threaded_workers():
    options = make_run_options()
    assert options.threads == 4 and options.workers == 3
