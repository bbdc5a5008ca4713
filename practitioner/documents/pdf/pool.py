"""Runs in the web process: hands report HTML to this web process's render process and takes the PDF back.

The render process (practitioner.documents.pdf.worker runs there) is started on first use (or
early, see `start_render_process_soon`), replaced every RENDERS_PER_PROCESS renders, killed when a
render overruns RENDER_TIMEOUT_SECONDS, and rebuilt once when it dies mid-render. `render_pdf`
and `pdf_from_html` are the web process's entry points: HTML from practitioner.documents.pdf.html,
PDF from the render process, and WeasyPrint's warnings turned into DocumentRenderError.
The private CPython attributes this needs are read through practitioner.documents.pdf._cpython.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import dataclasses
import logging
import multiprocessing
import os
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from practitioner.documents.pdf import _cpython, worker
from practitioner.documents.pdf.html import render_html
from practitioner.documents.pdf.worker import AttachedFile, RenderResult, warm_up, weasyprint_pdf

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

log = logging.getLogger(__name__)


class DocumentRenderError(RuntimeError):
    """WeasyPrint reported a problem (a refused or missing resource, bad CSS) while rendering."""

    def __init__(self, template: str, messages: list[str], refused: list[str]) -> None:
        self.messages = messages
        self.refused = refused
        details = "; ".join(messages) or "no log message"
        super().__init__(
            f"Rendering {template} was stopped because WeasyPrint reported: {details}. "
            "Fix the template or stylesheet so it only uses files under reports/ and the clinic logo."
        )


# -- the render process ------------------------------------------------------------------------

# WeasyPrint runs in a separate render process, replaced every RENDERS_PER_PROCESS renders, not
# in the web process. Each render leaves memory behind in WeasyPrint's native stack (Pango,
# HarfBuzz, fontconfig, cffi): in one process, about 54 kB per aftercare render, +26 MB over 500
# renders, linear, while the Python heap stays flat (tracemalloc), the same with or without a
# shared FontConfiguration, and malloc_trim gives none of it back (upstream: Kozea/WeasyPrint
# #1496, #2319). Only ending the process returns it. So each web process (keyed by pid: a forked
# gunicorn worker starts its own) sends the HTML to its one render process, which sends back the
# PDF, what WeasyPrint logged and the refused URLs (`RenderResult`).
#
# Measured (bench/bench_pdf.py and a few scripts; aftercare, about 210 ms a render on a quiet
# 2-core machine here; Python 3.11.7, WeasyPrint 66):
# - A render process's RSS grows about 10 MB over its first 3 renders (caches filling), then
#   about 50 kB a render. With RENDERS_PER_PROCESS = 100 it holds at most about 5 MB of
#   leftovers: over 500 renders the web process grew 0.3 MB and the whole tree 1.7 MB (4.9 MB
#   at its peak) instead of 26.5 MB. 200 would halve the restarts but allow about 10 MB, the
#   whole budget.
# - Starting a render process costs about 0.45 s of CPU (the fork, a FontConfiguration, loading
#   the fonts), about 4.5 ms a render over 100. It is paid off the request path: as soon as a
#   render process is retired the next one starts and renders a small warm-up document; only a
#   request arriving before that has finished waits for the rest of it (back to back: one render
#   in 100 takes about 650 ms instead of 215; after a pause of 1.5 s, none).
# - Sending the HTML and getting the PDF back: about 1.2 ms a render, and WeasyPrint takes as
#   long over there as here (209 against 206-212 ms of CPU for the same 20 documents). The
#   endpoint / bare WeasyPrint ratio stayed within noise: 1.117 in the web process, 1.112 with
#   the render process (the worse of interleaved and in blocks; goal <= 1.15). On the seeded
#   20,000-patient database (shorter leaflets, so the fixed costs weigh more) it is 1.16
#   interleaved and 1.23 in blocks; see bench/RESULTS.md.
# - The forkserver has imported WeasyPrint and practitioner.documents.pdf.worker (and __main__, which
#   multiprocessing would otherwise import again in every render process), so a render process
#   forks ready instead of importing for about a second. Neither imports Flask or the app
#   (practitioner.documents and practitioner.documents.pdf import nothing at import time for that): with the app
#   imported they were about 70 MB (PSS) bigger. Starting the forkserver and the render process
#   takes about 0.9 s: a served app does it with a web process's first request, in the background
#   (start_render_process_soon, called from the documents package's receivers), so the first PDF does not wait.
# - The price: beside each web process, a forkserver, multiprocessing's resource tracker and the
#   render process. After 50 renders the tree holds about 175 MB (PSS) where rendering in the
#   web process held 135 MB; that one grows by 26 MB every 500 renders, so it catches up after
#   about 750.
#
# Choices:
# - The count is kept here, not by ProcessPoolExecutor(max_tasks_per_child=...): from 3.11 until
#   the fix for CPython gh-115634 (not in 3.11), that can leave the pool without a worker and
#   with a stale idle token when several threads submit (gunicorn runs 4 threads a worker), and
#   the next render then waits forever (reproduced here on 3.11.7 with 3 threads). Killing an
#   overrunning render and forgetting a parent's forkserver read private CPython attributes:
#   only through practitioner.documents.pdf._cpython, which says why each is read.
# - One render at a time per web process (_pool_lock, as the in-process lock was): there is one
#   render process, the count stays exact and the pool's queue is empty between renders.
# - A render process that dies (killed, out of memory) breaks the pool: it is rebuilt and the
#   render tried once more; a second death raises RenderProcessError.
# - The render process exits when its web process does, even SIGKILLed (a pidfd, see
#   worker.started); at a normal exit the pool is shut down (atexit, and
#   concurrent.futures' own exit hook).
# - PRACTITIONER_PDF_IN_PROCESS=1 renders in the calling process instead, for a debugger or a
#   profiler; it brings the memory growth back, so it is not for production.
RENDERS_PER_PROCESS = 100
# A render that has not finished after this long is stopped (its render process killed): with
# one render at a time per web process, a hung one would otherwise hold every later PDF of that
# web process for good. The longest document here (a patient export) takes about 1 s.
RENDER_TIMEOUT_SECONDS = 60
IN_PROCESS_VARIABLE = "PRACTITIONER_PDF_IN_PROCESS"
_PRELOAD = ["__main__", "practitioner.documents.pdf.worker", "weasyprint", "weasyprint.text.fonts", "pydyf"]


class RenderProcessError(RuntimeError):
    """The render process died twice in a row (killed, out of memory) or overran RENDER_TIMEOUT_SECONDS on one document."""


class RenderQueueFull(RuntimeError):
    """This person already has MAX_WAITING_PER_OWNER documents waiting for this web process's render process."""


# -- fairness: whose render goes next ------------------------------------------------------------
#
# One render at a time per web process (above), so a queue forms when several are asked at once.
# First come, first served let one person's burst (twelve export previews) hold everyone else's
# PDF for the whole burst. Instead each render names its owner (services.owner_of: "user:<id>")
# and waits in its owner's queue; when a render ends, the next turn goes to the owner served least
# recently (owners never served first, then by arrival): round robin over the people waiting. So
# another person's render starts after at most the one in flight, however many one person queued.
# A person may have MAX_WAITING_PER_OWNER renders waiting here; one more is refused (RenderQueueFull)
# rather than holding another of the web process's threads.
MAX_WAITING_PER_OWNER = 3


class FairGate:
    """One turn at a time, handed out round robin over the owners waiting (see above)."""

    def __init__(self, max_waiting_per_owner: int = MAX_WAITING_PER_OWNER) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, collections.deque[threading.Event]] = {}
        self._arrival: dict[str, int] = {}  # when each waiting owner's queue began (ties among the never served)
        self._served: dict[str, int] = {}  # owner -> the turn number it last had
        self._turns = 0
        self._busy = False
        self._max_waiting = max_waiting_per_owner

    @contextlib.contextmanager
    def turn(self, owner: str) -> Iterator[None]:
        """Wait for this owner's turn, hold it for the block, then hand it on."""
        ticket = threading.Event()
        with self._lock:
            if not self._busy:
                self._busy = True
                self._grant(owner)
                ticket.set()
            else:
                queue = self._waiting.get(owner) or collections.deque()
                if len(queue) >= self._max_waiting:
                    raise RenderQueueFull(
                        f"You already have {self._max_waiting} documents waiting to be made here. "
                        "Open them once they are ready, then ask for the next.")
                if not queue:
                    self._waiting[owner], self._arrival[owner] = queue, self._turns
                queue.append(ticket)
        try:
            ticket.wait()
        except BaseException:  # interrupted while waiting: give up the place, or the turn if it came meanwhile
            with self._lock:
                queue = self._waiting.get(owner)
                if queue is not None and ticket in queue:
                    queue.remove(ticket)
                    if not queue:
                        del self._waiting[owner], self._arrival[owner]
                    raise
            self._hand_on()
            raise
        try:
            yield
        finally:
            self._hand_on()

    def waiting(self) -> dict[str, int]:
        """How many turns each owner is waiting for (for tests and the bench)."""
        with self._lock:
            return {owner: len(queue) for owner, queue in self._waiting.items()}

    def _grant(self, owner: str) -> None:
        self._turns += 1
        self._served[owner] = self._turns
        if len(self._served) > 1000:  # forget owners long gone (none of them is waiting)
            self._served = {o: t for o, t in self._served.items() if o in self._waiting or t > self._turns - 100}

    def _hand_on(self) -> None:
        with self._lock:
            if not self._waiting:
                self._busy = False
                return
            owner = min(self._waiting, key=lambda o: (self._served.get(o, -1), self._arrival[o]))
            queue = self._waiting[owner]
            ticket = queue.popleft()
            if not queue:
                del self._waiting[owner], self._arrival[owner]
            self._grant(owner)
            ticket.set()


_gate = FairGate()


@dataclasses.dataclass
class _Pool:
    pid: int  # the process that made it: a forked child must not use its parent's
    executor: ProcessPoolExecutor


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _new_pool() -> _Pool:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)  # read when the forkserver starts, once per web process
    executor = ProcessPoolExecutor(
        max_workers=1, mp_context=context, initializer=worker.started, initargs=(os.getpid(),)
    )
    _cpython.render_processes(executor)  # fails loudly now, not when a render overruns, if CPython changed
    return _Pool(os.getpid(), executor)


def _current_pool() -> _Pool:
    global _pool
    if _pool is None or _pool.pid != os.getpid():
        _pool = _new_pool()
    return _pool


def _retire(pool: _Pool, *, start_next: bool) -> None:
    """Let the render process exit; with start_next, start the next one and warm it up now."""
    global _pool
    pool.executor.shutdown(wait=False, cancel_futures=True)
    _pool = None
    if start_next:
        try:
            _current_pool().executor.submit(warm_up)  # nobody waits for it
        except Exception:  # the document was rendered: the next render tries again
            log.exception("Could not start the next PDF render process")
            _pool = None


def render_isolated(html: str, *, title: str, language: str, logo_png: bytes | None,
                    attachments: tuple[AttachedFile, ...] = (), owner: str = "") -> RenderResult:
    """`weasyprint_pdf` in this web process's render process (see above), replaced every RENDERS_PER_PROCESS renders.

    Renders wait their turn in `owner`'s queue of the fair gate (see "fairness" above).
    """
    with _gate.turn(owner), _pool_lock:
        for attempt in (1, 2):
            pool = _current_pool()
            try:
                future = pool.executor.submit(weasyprint_pdf, html, title=title, language=language, logo_png=logo_png,
                                              attachments=attachments)
                result = future.result(timeout=RENDER_TIMEOUT_SECONDS)
            except TimeoutError:
                _kill(pool)
                _retire(pool, start_next=False)
                raise RenderProcessError(
                    f"The document took longer than {RENDER_TIMEOUT_SECONDS} seconds to render and was stopped. "
                    "Try again; if it happens again, tell your clinic administrator which document it was."
                ) from None
            except BrokenProcessPool as error:
                _retire(pool, start_next=False)
                if attempt == 2:
                    raise RenderProcessError(
                        "The PDF render process stopped twice while rendering this document (killed, or out "
                        "of memory?). The next document starts a new render process."
                    ) from error
                log.warning("The PDF render process stopped (killed, or out of memory?): starting a new one to try again")
                continue
            if result.renders >= RENDERS_PER_PROCESS:
                _retire(pool, start_next=True)
            return result
    raise AssertionError("unreachable")


_started_early: int | None = None  # the pid that has asked for its render process early


def start_render_process_soon() -> None:
    """Start this web process's render process in the background, once, so its first PDF does not
    wait about 0.9 s for the forkserver and the render process to start and warm up."""
    global _started_early
    if _started_early == os.getpid() or os.environ.get(IN_PROCESS_VARIABLE) == "1":
        return
    _started_early = os.getpid()
    threading.Thread(target=_start_early, name="start-render-process", daemon=True).start()


def _start_early() -> None:
    try:
        with _pool_lock:
            if _pool is None or _pool.pid != os.getpid():
                _current_pool().executor.submit(warm_up)  # nobody waits for it
    except Exception:  # the first render starts it instead
        log.exception("Could not start the PDF render process early")


def _kill(pool: _Pool) -> None:
    """SIGKILL the pool's render process (ProcessPoolExecutor offers no public way to stop a running task)."""
    for process in _cpython.render_processes(pool.executor):
        with contextlib.suppress(Exception):
            process.kill()


def shutdown_render_process() -> None:
    """End this process's render process now and wait for it; the next render starts a new one."""
    with _pool_lock:
        _shutdown()


def _shutdown() -> None:
    global _pool
    pool, _pool = _pool, None
    if pool is not None and pool.pid == os.getpid():
        pool.executor.shutdown(wait=True, cancel_futures=True)


def _after_fork_in_child() -> None:
    # A forked child (a gunicorn worker) neither uses its parent's pool nor waits for a lock that
    # another thread of the parent held at the fork. Nor its parent's forkserver: multiprocessing
    # would check on it with waitpid, which fails in a child ("No child processes"), so the child
    # forgets it and starts its own with its first render.
    global _pool, _pool_lock, _gate
    _pool, _pool_lock, _gate = None, threading.Lock(), FairGate()
    _cpython.forget_inherited_forkserver()


_cpython.check_forkserver()  # fail at import, not in a forked child, if CPython changed
os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_shutdown)  # without the lock: a thread still in a render must not hold up the exit


def render_pdf(
    template_name: str,
    context: Mapping[str, Any],
    *,
    title: str,
    language: str = "en",
    paper: str = "A4",
    large_print: bool = False,
    logo_png: bytes | None = None,
    strict: bool = True,
    attachments: tuple[AttachedFile, ...] = (),
    owner: str = "",
) -> bytes:
    """Render a report template to a tagged PDF/A-3u with the bundled font and locked-down fetching.

    With `strict` (the default) any warning or error WeasyPrint logs, a refused URL included,
    raises DocumentRenderError instead of returning a document with something missing.
    `attachments` are embedded as PDF/A-3 associated files (the patient export's JSON). `owner` names whose
    render it is, for the fair queue (RenderQueueFull when that person already has too many waiting).
    """
    if logo_png is not None and not logo_png.startswith(_PNG_SIGNATURE):
        raise ValueError("The clinic logo must be PNG bytes (as stored by the clinic settings).")
    html = render_html(
        template_name, context, title=title, language=language, paper=paper,
        large_print=large_print, with_logo=logo_png is not None,
    )
    return pdf_from_html(html, title=title, language=language, logo_png=logo_png, label=template_name, strict=strict,
                         attachments=attachments, owner=owner)


def pdf_from_html(
    html: str,
    *,
    title: str,
    language: str,
    logo_png: bytes | None = None,
    label: str = "document",
    strict: bool = True,
    attachments: tuple[AttachedFile, ...] = (),
    owner: str = "",
) -> bytes:
    """WeasyPrint on report HTML from render_html, in the render process: reports/ as base URL, the report fetcher, PDF/A-3u with tags."""
    if os.environ.get(IN_PROCESS_VARIABLE) == "1":
        result = weasyprint_pdf(html, title=title, language=language, logo_png=logo_png, attachments=attachments)
    else:
        result = render_isolated(html, title=title, language=language, logo_png=logo_png, attachments=attachments, owner=owner)
        # What WeasyPrint logged over there is logged here too, as when it ran in this process.
        for level, message in result.problems:
            logging.getLogger("weasyprint").log(level, "%s", message)
    messages = result.messages
    if messages or result.refused:
        log.warning("WeasyPrint problems rendering %s: %s (refused: %s)", label, messages, result.refused)
        if strict:
            raise DocumentRenderError(label, messages, list(result.refused))
    return result.pdf
