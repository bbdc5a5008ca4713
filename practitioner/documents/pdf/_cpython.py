"""The private CPython attributes the render pool reads, in one place, each with the reason.

The pool (practitioner.documents.pdf.pool) runs WeasyPrint in one render process per web process,
through `concurrent.futures.ProcessPoolExecutor` on a forkserver context. Two things it needs have
no public API, so it reads private attributes, here and nowhere else:

- `ProcessPoolExecutor._processes` (pid -> `multiprocessing.Process`), read by `render_processes`.
  A render that overruns RENDER_TIMEOUT_SECONDS must be stopped, or it holds every later PDF of its
  web process (one render at a time). `Future.cancel()` does not stop a task that is running, and
  the executor exposes no process handle, so the pool SIGKILLs the process found here. Why not let
  the executor recycle the process with `max_tasks_per_child` instead of counting renders: from
  3.11 until the fix for CPython gh-115634 (not in 3.11), an executor with max_tasks_per_child can
  be left with no worker and a stale idle token when a worker exits while several threads submit
  (gunicorn runs 4 threads a worker), and the next render then waits forever (reproduced here on
  3.11.7 with 3 threads). So the pool counts renders itself, and retires and kills processes itself.

- `multiprocessing.forkserver._forkserver` and its `_forkserver_pid`, `_forkserver_address`,
  `_forkserver_alive_fd` and `_lock`, cleared by `forget_inherited_forkserver`. A process forked
  from a web process (a gunicorn worker forked from the master after it rendered) inherits the
  parent's forkserver state; multiprocessing would then check on that forkserver with waitpid,
  which fails in the child ("No child processes"), and connect to a server that is not its own.
  Clearing the state makes the child start its own forkserver with its first render. There is no
  public way to reset it (multiprocessing only offers `set_forkserver_preload`).

Both checks fail loudly: if a Python release renames or removes one of these, `CPythonInternalsChanged`
is raised (when the pool module is imported, and when a pool is made) instead of a hung render
that is never killed or a child talking to its parent's forkserver. tests/documents/test_pdf_package.py
checks the values on this Python and the loud failure.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import forkserver
from multiprocessing.process import BaseProcess

# What `forget_inherited_forkserver` clears; ForkServer.__init__ sets all of them.
FORKSERVER_ATTRIBUTES = ("_forkserver_pid", "_forkserver_address", "_forkserver_alive_fd", "_lock")


class CPythonInternalsChanged(RuntimeError):
    """A private CPython attribute the render pool relies on is gone (see this module's docstring)."""

    def __init__(self, attribute: str) -> None:
        super().__init__(
            f"The PDF render pool reads {attribute}, which this Python ({sys.version.split()[0]}) does not have. "
            "Check practitioner/documents/pdf/_cpython.py against this Python's concurrent.futures and "
            "multiprocessing (CPython gh-115634 explains why the pool manages its render process itself)."
        )


def render_processes(executor: ProcessPoolExecutor) -> list[BaseProcess]:
    """The executor's worker processes (`ProcessPoolExecutor._processes`), to kill an overrunning render."""
    try:
        processes = executor._processes  # type: ignore[attr-defined]
    except AttributeError:
        raise CPythonInternalsChanged("ProcessPoolExecutor._processes") from None
    if processes is None:  # set to None once the executor has shut down and joined its processes
        return []
    if not isinstance(processes, dict):
        raise CPythonInternalsChanged("ProcessPoolExecutor._processes as a dict of pid -> Process")
    return list(processes.values())


def _server() -> object:
    try:
        return forkserver._forkserver  # type: ignore[attr-defined]
    except AttributeError:
        raise CPythonInternalsChanged("multiprocessing.forkserver._forkserver") from None


def check_forkserver() -> None:
    """Raise CPythonInternalsChanged unless the forkserver state `forget_inherited_forkserver` clears is there."""
    server = _server()
    for name in FORKSERVER_ATTRIBUTES:
        if not hasattr(server, name):
            raise CPythonInternalsChanged(f"multiprocessing.forkserver._forkserver.{name}")


def forkserver_pid() -> int | None:
    """The pid of this process's forkserver, or None when it has not started one (or forgot its parent's)."""
    check_forkserver()
    return _server()._forkserver_pid  # type: ignore[attr-defined]


def forget_inherited_forkserver() -> None:
    """In a forked child: forget the parent's forkserver, so the child's first render starts its own."""
    check_forkserver()
    server = _server()
    if server._forkserver_pid is not None:  # type: ignore[attr-defined]
        alive = server._forkserver_alive_fd  # type: ignore[attr-defined]
        server._forkserver_pid = server._forkserver_address = server._forkserver_alive_fd = None  # type: ignore[attr-defined]
        server._lock = threading.Lock()  # type: ignore[attr-defined]
        if alive is not None:
            with contextlib.suppress(OSError):
                os.close(alive)
