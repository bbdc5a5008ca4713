"""The WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""

import sys

from practitioner import create_app

# gunicorn runs the app in threads (`make run`: 4 a worker), and a page spends most of its time in
# Python with short trips into SQLite, each of which gives up the GIL. Python lets the running
# thread keep the GIL 5 ms before handing it to a thread that wants it back, so every trip could
# cost up to 5 ms of waiting, also while that thread holds SQLite's write lock for an audit row
# (and every other writer waits for it). Measured with bench/bench_write_path.py: see bench/RESULTS.md.
GIL_SWITCH_INTERVAL_SECONDS = 0.0005
sys.setswitchinterval(GIL_SWITCH_INTERVAL_SECONDS)

app = create_app()
