# Practitioner: `make run` for the demo clinic, `make test` for every test (SQLite),
# `make test-postgres` for every test again on a throwaway PostgreSQL.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
WORKERS ?= 3
export FLASK_APP := wsgi

.PHONY: run serve test test-postgres postgres install install-test browser pdf-tools bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

instance/secret_key:
	@mkdir -p instance
	@umask 077 && $(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(48))' > $@

# The demo clinic: migrate, seed (idempotent), print the sign-in, serve with gunicorn.
# --keep-alive 2 --config python:practitioner.serving: connections are kept alive, and each worker
# closes one in 20 (practitioner/serving.py), so clients spread over the workers again: a kept-alive
# connection stays with the worker that accepted it, and with --keep-alive alone one worker (one core
# at most: Python's GIL) often ended up with every client. Against --keep-alive 0 (a new connection
# per request: accept, close, every worker woken): 286 against 240 req/s, 166 against 147 per busy
# core, p50 28 against 34 ms (bench_write_path.py, same run; bench/RESULTS.md, issue 11).
run: install instance/secret_key
	@export PRACTITIONER_SECRET_KEY="$$(cat instance/secret_key)" PRACTITIONER_COOKIE_SECURE=0; \
	$(BIN)/flask db upgrade && \
	$(BIN)/flask seed-demo && \
	echo "Serving on http://127.0.0.1:$(PORT)  (Ctrl+C to stop)" && \
	exec $(BIN)/gunicorn --workers $(WORKERS) --threads 4 --bind 127.0.0.1:$(PORT) \
	  --keep-alive 2 --config python:practitioner.serving --access-logfile - --access-logformat '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s' \
	  --graceful-timeout 20 --timeout 60 wsgi:app

# Debian's chromium drives the browser tests; installed when missing and we may.
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's chromium for the browser tests..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing and cannot be installed here: browser tests will be skipped (failed under CI)."; fi; \
	fi

pdf-tools:
	@if ! command -v pdftoppm >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null; \
	  fi; \
	fi

test: install-test browser pdf-tools
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Debian's PostgreSQL server programs (initdb, pg_ctl) for the PostgreSQL pass; installed when
# missing and we may. The tests start their own cluster on 127.0.0.1 (tests/postgres.py).
postgres:
	@if [ -z "$$PRACTITIONER_TEST_POSTGRES_URL" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	    && ! command -v initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's postgresql for the PostgreSQL test pass..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "PostgreSQL is missing and cannot be installed here: the PostgreSQL pass will be skipped (failed under CI)."; fi; \
	fi

# Every test again on PostgreSQL (or on the server at PRACTITIONER_TEST_POSTGRES_URL).
test-postgres: install-test browser pdf-tools postgres
	PRACTITIONER_TEST_POSTGRES=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install-test
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
