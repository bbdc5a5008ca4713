"""`make run`'s gunicorn flags (the Makefile), read with gunicorn's own option parser."""

from __future__ import annotations

import http.client
import importlib
import re
import shlex
import socket
import subprocess  # nosec B404  # the test starts gunicorn, as make run does
import sys
import time
from pathlib import Path

from gunicorn.config import Config

from practitioner import serving

ROOT = Path(__file__).resolve().parent.parent


def make_run_flags(workers: str = "3", port: int = 5000) -> list[str]:
    """gunicorn's options as `make run` passes them (before the app)."""
    text = (ROOT / "Makefile").read_text()
    match = re.search(r"exec \$\(BIN\)/gunicorn((?:[^\n]*\\\n)*[^\n]*?)\s+wsgi:app", text)
    assert match, "no gunicorn command in the Makefile's run target"
    return shlex.split(match.group(1).replace("\\\n", " ").replace("$(WORKERS)", workers).replace("$(PORT)", str(port)))


def make_run_options():
    """gunicorn's settings as `make run` passes them."""
    return Config().parser().parse_args(make_run_flags())


def test_connections_are_kept_alive_and_closed_by_the_serving_hooks():
    # A kept-alive connection stays with the worker that accepted it: with every client on one
    # worker, the server used one core of two while requests waited (bench/bench_write_path.py).
    # So a kept-alive connection is closed after practitioner.serving's count of requests, and the
    # client's next connection goes to whichever worker is free to accept it.
    options = make_run_options()
    assert options.keepalive > 0
    assert options.config == "python:practitioner.serving"
    settings = Config()
    for name, value in vars(importlib.import_module(options.config.removeprefix("python:"))).items():
        if name in settings.settings:  # what gunicorn takes from a settings module
            settings.set(name, value)
    assert settings.pre_request is serving.pre_request


def test_the_hook_closes_one_request_in_requests_per_connection():
    class Request:
        must_close = False

    requests = [Request() for _ in range(3 * serving.REQUESTS_PER_CONNECTION)]
    for request in requests:
        serving.pre_request(None, request)
    closed = [n for n, request in enumerate(requests) if request.must_close]
    assert len(closed) == 3
    assert closed[1] - closed[0] == closed[2] - closed[1] == serving.REQUESTS_PER_CONNECTION


HELLO = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]
"""


def test_gunicorn_with_make_runs_flags_keeps_a_connection_for_requests_per_connection_requests(tmp_path):
    # The real server: gunicorn with the Makefile's flags (one worker, so one counter) answers on one kept-alive
    # connection until the hook closes it, then on a new one; today's --keep-alive 0 closed after every request.
    (tmp_path / "hello_app.py").write_text(HELLO)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    flags = make_run_flags(workers="1", port=port)
    gunicorn = Path(sys.executable).parent / "gunicorn"
    server = subprocess.Popen([str(gunicorn), *flags, "--pythonpath", str(tmp_path), "hello_app:app"], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read().decode()[-2000:]
                time.sleep(0.1)
        connections, answers = 0, []
        connection = None
        for _ in range(2 * serving.REQUESTS_PER_CONNECTION + 1):
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                connections += 1
            connection.request("GET", "/")
            response = connection.getresponse()
            assert response.read() == b"hello"
            answers.append(response.getheader("Connection"))
            if response.will_close:
                connection.close()
                connection = None
        if connection is not None:
            connection.close()
    finally:
        server.terminate()
        server.wait(20)
        server.stderr.close()
    closing = [n + 1 for n, value in enumerate(answers) if value == "close"]
    assert closing == [serving.REQUESTS_PER_CONNECTION, 2 * serving.REQUESTS_PER_CONNECTION]
    assert connections == 3


def test_make_run_still_serves_with_threaded_workers():
    options = make_run_options()
    assert options.threads == 4 and options.workers == 3
