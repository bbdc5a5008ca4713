"""gunicorn's settings module for `make run` (`--config python:practitioner.serving`): its hooks, no app code.

Kept-alive connections, each closed after a while so the clients spread over the workers again.

Opening a TCP connection for every request (`--keep-alive 0`, until December 2026) cost each request an
accept, a close and a wake-up of every worker polling the listening socket, whose main thread then takes the
interpreter from the threads serving requests: under load about a fifth of the server's CPU per request
(bench/RESULTS.md, issue 11). Keeping connections alive saves that, but a kept-alive connection stays with the
worker that accepted it, and when every client's connection had landed on one worker the server used one core
of two (Python's GIL) while requests waited.

So connections are kept alive, and a worker answers one request in REQUESTS_PER_CONNECTION with
`Connection: close`, as nginx's `keepalive_requests` and Apache's `MaxKeepAliveRequests` do. The client opens a
new connection, and the worker least busy is the first to accept it: a worker holding too many clients sheds them
within a few dozen requests. Imported by gunicorn's master before it forks; it imports nothing of the app.
"""

from __future__ import annotations

import itertools
from typing import Any

REQUESTS_PER_CONNECTION = 20

_answered = itertools.count(1)  # per process: the master never answers, so each worker counts from 1 after the fork


def pre_request(worker: Any, req: Any) -> None:
    """gunicorn hook, before each request: every REQUESTS_PER_CONNECTION-th request of this worker closes its connection."""
    if next(_answered) % REQUESTS_PER_CONNECTION == 0:
        req.must_close = True  # gunicorn answers with `Connection: close` and closes the socket after the response
