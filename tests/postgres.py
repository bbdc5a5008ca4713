"""A throwaway PostgreSQL server for the test suite's PostgreSQL pass.

``PRACTITIONER_TEST_POSTGRES=1`` turns the pass on. The server is then either

* the one named by ``PRACTITIONER_TEST_POSTGRES_URL`` (its role needs CREATEDB; every database
  the run makes is named ``practitioner_test_<pid>_<random>...`` and dropped again), or
* a cluster of its own: Debian's ``initdb`` into a temporary directory, run as the ``postgres``
  system user when we are root (the server refuses to run as root), listening on 127.0.0.1 on a
  free port with its socket in that directory, durability switched off for speed (the data are
  thrown away), and deleted at the end of the run.

The app connects as an ordinary role (``practitioner``: LOGIN CREATEDB, no superuser), as it
would in production; creating and dropping databases goes through a superuser connection.
Nothing here imports the app, so the module is usable on its own::

    with start() as server:
        server.create_database("scratch")
        print(server.url("scratch"))
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

ENABLE_VARIABLE = "PRACTITIONER_TEST_POSTGRES"
URL_VARIABLE = "PRACTITIONER_TEST_POSTGRES_URL"
APP_ROLE = "practitioner"
SUPERUSER = "postgres"
DRIVER = "postgresql+psycopg"

# Durability off and nothing written that nobody reads: the cluster lives for one test run.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_connections": "200",
    "shared_buffers": "64MB",
    "timezone": "'Pacific/Auckland'",  # not UTC: times must come back right whatever the server's zone
    "log_min_messages": "warning",
    "log_min_error_statement": "panic",
}


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL pass cannot get a server; the message says why and what to do."""


def enabled() -> bool:
    """Is this the PostgreSQL pass?"""
    return os.environ.get(ENABLE_VARIABLE, "").strip().lower() in {"1", "true", "yes", "on"}


def find_bindir() -> Path:
    """Debian's server binaries (the newest /usr/lib/postgresql/<major>/bin), else initdb on PATH."""
    def major(path: str) -> int:
        match = re.search(r"/postgresql/(\d+)/bin$", path)
        return int(match.group(1)) if match else 0

    candidates = sorted(
        (d for d in glob.glob("/usr/lib/postgresql/*/bin") if os.access(os.path.join(d, "initdb"), os.X_OK)
         and os.access(os.path.join(d, "pg_ctl"), os.X_OK)),
        key=major,
    )
    if candidates:
        return Path(candidates[-1])
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    raise PostgresUnavailable(
        "PostgreSQL's server programs (initdb, pg_ctl) are not installed: no /usr/lib/postgresql/*/bin. "
        "Install Debian's postgresql package (`make postgres`, as root), or point "
        f"{URL_VARIABLE} at a server whose role may create databases."
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _url(*, user: str, password: str | None, host: str, port: int | None, database: str) -> str:
    from sqlalchemy.engine import URL

    return URL.create(DRIVER, username=user, password=password, host=host, port=port, database=database) \
        .render_as_string(hide_password=False)


class PostgresServer:
    """A PostgreSQL server the tests may create and drop databases on."""

    def __init__(self, *, host: str, port: int | None, app_user: str, app_password: str | None,
                 admin_user: str, admin_password: str | None, admin_database: str, owner: str | None,
                 prefix: str, cluster: "_Cluster | None" = None) -> None:
        self.host, self.port = host, port
        self.app_user, self.app_password = app_user, app_password
        self.admin_user, self.admin_password, self.admin_database = admin_user, admin_password, admin_database
        self.owner = owner
        self.prefix = prefix
        self._cluster = cluster
        self._admin: Any = None
        self._counter = 0

    # -- names and URLs --------------------------------------------------------------------------

    def url(self, database: str) -> str:
        """The SQLAlchemy URL the app uses for one database on this server."""
        return _url(user=self.app_user, password=self.app_password, host=self.host, port=self.port, database=database)

    def new_name(self, label: str = "t") -> str:
        """A database name no other test (or test run, on a shared server) uses."""
        self._counter += 1
        return f"{self.prefix}_{label}{self._counter}"

    # -- administration --------------------------------------------------------------------------

    def _admin_connection(self) -> Any:
        import psycopg

        if self._admin is None or self._admin.closed:
            self._admin = psycopg.connect(
                host=self.host, port=self.port, user=self.admin_user, password=self.admin_password,
                dbname=self.admin_database, autocommit=True, connect_timeout=10,
            )
        return self._admin

    def execute(self, sql: Any, params: Any = None) -> list[tuple[Any, ...]]:
        """Run one statement on the maintenance database (autocommit) and return any rows."""
        cursor = self._admin_connection().execute(sql, params)
        return cursor.fetchall() if cursor.description else []

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create a database (a copy of `template` when given) owned by the app's role; return its URL."""
        from psycopg import sql

        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        else:
            statement += sql.SQL(" TEMPLATE template0 ENCODING 'UTF8'")
        if self.owner:
            statement += sql.SQL(" OWNER {}").format(sql.Identifier(self.owner))
        self._admin_connection().execute(statement)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, ending any connection still open to it."""
        from psycopg import sql

        self._admin_connection().execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

    def drop_leftovers(self) -> None:
        """Drop every database this run created (on a shared server, only ours)."""
        rows = self.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (self.prefix.replace("_", r"\_") + r"\_%",))
        for (name,) in rows:
            self.drop_database(name)

    def stop(self) -> None:
        """Drop our databases and, when we started the server, stop it and delete its files."""
        try:
            if self._cluster is None:
                self.drop_leftovers()
        finally:
            if self._admin is not None:
                self._admin.close()
                self._admin = None
            if self._cluster is not None:
                self._cluster.stop()

    def __enter__(self) -> "PostgresServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Cluster:
    """A private cluster: initdb, pg_ctl start on loopback, pg_ctl stop and delete."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.run_as: str | None = None
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root: the package's system user runs the cluster.
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable(
                    "running as root, and there is no `postgres` system user to run the server as "
                    "(Debian's postgresql package creates it): reinstall the package or run the tests as another user."
                ) from None
            if shutil.which("runuser") is None:
                raise PostgresUnavailable("running as root, and `runuser` (util-linux) is missing to start the server as `postgres`.")
            self.run_as = "postgres"
        # Under /tmp when the server runs as `postgres`: a TMPDIR inside root's home would be out of its reach.
        base = "/tmp" if self.run_as and os.path.isdir("/tmp") else None
        self.root = Path(tempfile.mkdtemp(prefix="practitioner-pg-", dir=base))
        self.data = self.root / "data"
        self.sockets = self.root / "socket"
        self.log = self.root / "server.log"
        self.port = 0
        self.started = False

    def _command(self, *args: str) -> list[str]:
        program = [str(self.bindir / args[0]), *args[1:]]
        return ["runuser", "-u", self.run_as, "--", *program] if self.run_as else program

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.setdefault("LANG", "C.UTF-8")
        env["LC_ALL"] = "C.UTF-8"
        return subprocess.run(self._command(*args), cwd=self.root, env=env, capture_output=True, text=True, timeout=timeout)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def start(self, superuser_password: str) -> None:
        self.sockets.mkdir()
        password_file = self.root / "superuser-password"
        password_file.touch(mode=0o600)
        password_file.write_text(superuser_password + "\n")
        if self.run_as:
            account = pwd.getpwnam(self.run_as)
            for path in (self.root, self.sockets, password_file):
                os.chown(path, account.pw_uid, account.pw_gid)

        done = self._run(
            "initdb", "--pgdata", str(self.data), "--username", SUPERUSER, "--pwfile", str(password_file),
            "--auth-local", "trust", "--auth-host", "scram-sha-256", "--encoding", "UTF8", "--locale", "C.UTF-8",
            "--no-sync",
        )
        password_file.unlink()
        if done.returncode != 0:
            raise PostgresUnavailable(f"initdb failed (exit {done.returncode}):\n{done.stderr.strip() or done.stdout.strip()}")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# practitioner test run\n")
            for name, value in SERVER_SETTINGS.items():
                conf.write(f"{name} = {value}\n")
            conf.write(f"unix_socket_directories = '{self.sockets}'\n")

        last_error = ""
        for _attempt in range(3):  # a free port can be taken between finding it and binding it
            self.port = _free_port()
            done = self._run("pg_ctl", "--pgdata", str(self.data), "--log", str(self.log), "--wait", "--timeout", "60",
                             "-o", f"-p {self.port}", "start")
            if done.returncode == 0:
                self.started = True
                return
            last_error = f"pg_ctl start failed (exit {done.returncode}): {done.stderr.strip()}\n{self._log_tail()}"
            if "already in use" not in last_error and "could not bind" not in last_error:
                break
            time.sleep(0.2)
        raise PostgresUnavailable(last_error)

    def stop(self) -> None:
        try:
            if self.started:
                self._run("pg_ctl", "--pgdata", str(self.data), "--mode", "immediate", "--wait", "stop", timeout=60)
                self.started = False
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _wait_until_accepting(server: PostgresServer, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            server.execute("SELECT 1")
            return
        except Exception as exc:  # noqa: BLE001 - the last error is reported below
            if time.monotonic() > deadline:
                raise PostgresUnavailable(f"the server at {server.host}:{server.port} does not accept connections: {exc}") from exc
            time.sleep(0.2)


def _run_prefix() -> str:
    return f"practitioner_test_{os.getpid()}_{secrets.token_hex(3)}"


def start() -> PostgresServer:
    """The server for this run: PRACTITIONER_TEST_POSTGRES_URL's, or a new private cluster.

    Raises PostgresUnavailable with a message saying what is missing and how to get it.
    """
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise PostgresUnavailable(f"the PostgreSQL driver is not installed ({exc}): `pip install -e '.[test]'` installs psycopg.") from exc

    given = os.environ.get(URL_VARIABLE, "").strip()
    if given:
        from sqlalchemy.engine import make_url

        url = make_url(given)
        if not url.get_backend_name() == "postgresql":
            raise PostgresUnavailable(f"{URL_VARIABLE} must be a postgresql:// URL, not {url.get_backend_name()}://")
        server = PostgresServer(
            host=url.host or "127.0.0.1", port=url.port, app_user=url.username or "", app_password=url.password,
            admin_user=url.username or "", admin_password=url.password, admin_database=url.database or "postgres",
            owner=None, prefix=_run_prefix(),
        )
        _wait_until_accepting(server, seconds=10)
        return server

    cluster = _Cluster(find_bindir())
    atexit.register(cluster.stop)  # also when the run ends without its fixtures' teardown
    try:
        superuser_password = secrets.token_urlsafe(24)
        cluster.start(superuser_password)
        app_password = secrets.token_urlsafe(24)
        server = PostgresServer(
            host="127.0.0.1", port=cluster.port, app_user=APP_ROLE, app_password=app_password,
            admin_user=SUPERUSER, admin_password=superuser_password, admin_database="postgres",
            owner=APP_ROLE, prefix="practitioner_test", cluster=cluster,
        )
        _wait_until_accepting(server)
        from psycopg import sql

        server.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(sql.Identifier(APP_ROLE), sql.Literal(app_password)))
        return server
    except BaseException:
        cluster.stop()
        raise
