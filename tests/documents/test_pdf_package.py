"""The PDF sub-package: what each process imports, and the shim over the private CPython attributes the pool reads."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import forkserver

import pytest

from practitioner import ROOT
from practitioner.documents.pdf import _cpython


def test_the_render_process_imports_neither_flask_nor_the_app():
    """Importing the worker (as the forkserver does) loads WeasyPrint's side only: no Flask, no database, no routes."""
    code = ("import json, sys; import practitioner.documents.pdf.worker; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy', 'jinja2', 'practitioner'))))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    loaded = json.loads(run.stdout)
    assert not [m for m in loaded if m.split(".")[0] in ("flask", "sqlalchemy", "jinja2")], loaded
    assert set(loaded) <= {"practitioner", "practitioner.paths", "practitioner.documents", "practitioner.documents.pdf",
                           "practitioner.documents.pdf.worker"}, loaded


def test_the_blueprint_still_loads_through_the_package(app):
    import practitioner.documents as documents

    assert documents.bp.name == "documents" and "documents" in app.blueprints
    with pytest.raises(AttributeError):
        documents.no_such_name  # noqa: B018


def _pid() -> int:
    return os.getpid()


def test_render_processes_gives_the_executors_worker_processes():
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("forkserver")) as executor:
        assert _cpython.render_processes(executor) == []  # none started before the first task
        worker_pid = executor.submit(_pid).result(timeout=60)
        processes = _cpython.render_processes(executor)
        assert [p.pid for p in processes] == [worker_pid] and processes[0].is_alive()
    assert _cpython.render_processes(executor) == []  # shut down: CPython sets _processes to None


def test_the_forkserver_state_is_read_and_forgotten():
    _cpython.check_forkserver()
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("forkserver")) as executor:
        executor.submit(_pid).result(timeout=60)
    server = forkserver._forkserver
    started = _cpython.forkserver_pid()
    assert started is not None and started == server._forkserver_pid and os.path.exists(f"/proc/{started}")
    saved = {name: getattr(server, name) for name in _cpython.FORKSERVER_ATTRIBUTES}
    try:
        alive = os.dup(saved["_forkserver_alive_fd"])  # forget_inherited_forkserver closes the one it holds
        _cpython.forget_inherited_forkserver()
        assert _cpython.forkserver_pid() is None and server._forkserver_alive_fd is None
        assert server._lock is not saved["_lock"]
    finally:
        for name, value in saved.items():
            setattr(server, name, value)
        server._forkserver_alive_fd = alive


def test_a_missing_attribute_fails_loudly(monkeypatch: pytest.MonkeyPatch):
    class Changed:
        """An executor from a Python where _processes is gone."""

    with pytest.raises(_cpython.CPythonInternalsChanged, match=r"ProcessPoolExecutor\._processes.*gh-115634"):
        _cpython.render_processes(Changed())  # type: ignore[arg-type]
    monkeypatch.delattr(forkserver._forkserver, "_forkserver_alive_fd")
    with pytest.raises(_cpython.CPythonInternalsChanged, match=r"_forkserver\._forkserver_alive_fd"):
        _cpython.forget_inherited_forkserver()
    monkeypatch.delattr(forkserver, "_forkserver")
    with pytest.raises(_cpython.CPythonInternalsChanged, match=r"multiprocessing\.forkserver\._forkserver"):
        _cpython.check_forkserver()


def test_only_the_shim_reads_private_multiprocessing_attributes():
    """The pool and the worker read no `_private` attribute of an executor or the forkserver themselves."""
    pdf = ROOT / "practitioner" / "documents" / "pdf"
    for name in ("pool.py", "worker.py", "html.py"):
        text = (pdf / name).read_text()
        for private in ("._processes", "._forkserver", "._broken", "._pending_work_items", "forkserver._"):
            assert private not in text, f"{name} reads {private}: go through practitioner.documents.pdf._cpython"
