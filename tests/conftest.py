"""Fixtures: a fresh migrated database per test, the app, clients signed in as each role, factories.

Two passes share these fixtures. By default each test gets a copy of a SQLite file built once by
the real migrations. With PRACTITIONER_TEST_POSTGRES=1 (the PostgreSQL pass, see tests/postgres.py)
the migrations build a template database once and each test gets `CREATE DATABASE ... TEMPLATE`,
dropped afterwards. Tests that are about SQLite itself carry `@pytest.mark.sqlite_only(reason=...)`
and are skipped in the PostgreSQL pass.
"""

from __future__ import annotations

import os
import re
import shutil
import weakref
from datetime import date
from pathlib import Path
from typing import Any, Iterator

import pytest
from flask import Flask
from flask.globals import _cv_app
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from practitioner import create_app
from practitioner.auth.models import Role, User
from practitioner.auth.services import create_user
from practitioner.extensions import db
from practitioner.patients.models import Patient
from practitioner.patients.services import possible_duplicates, register_patient
from tests import postgres

POSTGRES = postgres.enabled()
"""True in the PostgreSQL pass (PRACTITIONER_TEST_POSTGRES=1)."""

PASSWORD = "correct horse battery staple"
SECRET = "test-secret-key-that-is-long-enough-0123456789"


def database_uri(database: Path | str) -> str:
    """A SQLAlchemy URL for a SQLite file path, or the URL itself when given one."""
    if isinstance(database, str) and "://" in database:
        return database
    return f"sqlite:///{database}"


def make_config(database: Path | str, **extra: Any) -> dict[str, Any]:
    """The test configuration: the given database (a SQLite file path, or a URL such as the
    `database_url` fixture's), CSRF on, cookies usable over plain HTTP."""
    return {
        "TESTING": True,
        "SECRET_KEY": SECRET,
        "AUDIT_KEY": "test-audit-key-kept-outside-the-database",
        "SQLALCHEMY_DATABASE_URI": database_uri(database),
        "SESSION_COOKIE_SECURE": False,
        **extra,
    }


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Cheap Argon2id parameters for speed; tests marked `real_hashing` keep the production ones."""
    if request.node.get_closest_marker("real_hashing"):
        return
    from argon2 import PasswordHasher

    from practitioner.auth import services

    monkeypatch.setattr(services, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture(autouse=True)
def no_document_runner_outlives_its_test() -> Iterator[None]:
    """An app a test made (with documents in the background, or not in testing mode) leaves no runner thread polling
    its database after the test: on PostgreSQL that database is dropped, and the runner's errors reach later tests."""
    yield
    from practitioner.documents import jobs

    jobs.stop_all_runners()


def pytest_report_header(config: pytest.Config) -> str:
    if POSTGRES:
        where = os.environ.get(postgres.URL_VARIABLE) and postgres.URL_VARIABLE or "a throwaway cluster on 127.0.0.1"
        return f"database: PostgreSQL pass ({where}); sqlite_only tests are skipped"
    return "database: SQLite pass (PRACTITIONER_TEST_POSTGRES=1 for the PostgreSQL pass)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In the PostgreSQL pass, skip the tests marked sqlite_only, giving their reason."""
    if not POSTGRES:
        return
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is not None:
            reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "about SQLite itself")
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {reason}"))


def _migrate(database: Path | str) -> None:
    """Run the real migrations to head on one database and close every connection to it."""
    from flask_migrate import upgrade

    app = create_app(make_config(database))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.PostgresServer]:
    """The PostgreSQL pass's server, started once (tests/postgres.py); stopped and deleted at the end.

    Outside the PostgreSQL pass a test asking for it is skipped. In the pass, a server that
    cannot start fails every test that needs it under CI, and skips them (saying why) elsewhere.
    """
    if not POSTGRES:
        pytest.skip(f"not the PostgreSQL pass: set {postgres.ENABLE_VARIABLE}=1")
    try:
        server = postgres.start()
    except postgres.PostgresUnavailable as exc:
        message = f"The PostgreSQL pass ({postgres.ENABLE_VARIABLE}=1) has no server: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message + "\nUnder CI this is a failure, never a skip.", pytrace=False)
        pytest.skip(message)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres_server: postgres.PostgresServer) -> str:
    """The PostgreSQL pass's template: one database built by the real migrations; each test gets a copy."""
    name = postgres_server.new_name("template")
    _migrate(postgres_server.create_database(name))
    return name


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite database built by running the real migrations; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    _migrate(path)
    return path


@pytest.fixture
def database_path(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A private copy of the migrated SQLite database for one test (the SQLite pass only: the
    PostgreSQL pass has no file; use `database_url`, which works in both)."""
    if POSTGRES:
        pytest.skip("needs the SQLite database file; in the PostgreSQL pass use the database_url fixture")
    migrated_template: Path = request.getfixturevalue("migrated_template")
    target = tmp_path / "practitioner.sqlite3"
    shutil.copyfile(migrated_template, target)
    return target


_engines: "weakref.WeakSet[Engine]" = weakref.WeakSet()


@event.listens_for(Engine, "engine_connect")
def _remember_engine(connection: Connection) -> None:
    """Note every engine that connects, so a test's database can be let go of before it is dropped."""
    if POSTGRES:
        _engines.add(connection.engine)


def _dispose_engines_on(database: str) -> None:
    """Close the pooled connections of every engine on `database`, including those of apps a test
    made and did not dispose (`create_app()` in a test): otherwise psycopg warns when the garbage
    collector finds them later, in some other test."""
    for engine in list(_engines):
        if engine.url.database == database:
            engine.dispose()
            _engines.discard(engine)


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A private, migrated database for one test, as a SQLAlchemy URL (for `make_config`).

    SQLite pass: a copy of the migrated file (the `database_path` fixture). PostgreSQL pass:
    a fresh database copied from the migrated template, dropped after the test (connections
    still open to it are ended first, so a test that forgot to dispose an engine cannot block it).
    """
    if not POSTGRES:
        yield database_uri(request.getfixturevalue("database_path"))
        return
    server: postgres.PostgresServer = request.getfixturevalue("postgres_server")
    template: str = request.getfixturevalue("postgres_template")
    name = server.new_name()
    url = server.create_database(name, template=template)
    try:
        yield url
    finally:
        _dispose_engines_on(name)
        server.drop_database(name)


@pytest.fixture
def empty_database_url(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A private database with no tables at all (for migration tests), as a SQLAlchemy URL."""
    if not POSTGRES:
        yield database_uri(tmp_path / "empty.sqlite3")
        return
    server: postgres.PostgresServer = request.getfixturevalue("postgres_server")
    name = server.new_name("empty")
    url = server.create_database(name)
    try:
        yield url
    finally:
        _dispose_engines_on(name)
        server.drop_database(name)


def drop_append_only_triggers(connection: Connection | None = None) -> None:
    """Lift the audit trail's append-only triggers, as only someone with database access could.

    For tests that tamper with the audit chain to prove tampering is detected. Works on SQLite
    (two triggers) and PostgreSQL (one trigger for UPDATE OR DELETE, see migration 0001); pass
    a connection to do it inside that connection's transaction.
    """
    if connection is None:
        with db.engine.begin() as own:
            drop_append_only_triggers(own)
        return
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_update ON audit_events")
    else:
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_update")
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_delete")


class IsolatedClient(FlaskClient):
    """A test client whose requests get their own app context, as real requests do.

    Flask reuses an already-pushed app context for a request, which would share `g`
    (the cached user, the CSRF token) and the database session between the test and
    every request. Stepping the test's context aside for each request keeps them apart.
    """

    def open(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        ctx = _cv_app.get(None)
        if ctx is not None:
            ctx.pop()
        try:
            return super().open(*args, **kwargs)
        finally:
            if ctx is not None:
                ctx.push()


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    """The app on a fresh database (SQLite, or PostgreSQL in that pass), inside an app context."""
    application = create_app(make_config(database_url))
    application.test_client_class = IsolatedClient
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """An anonymous browser."""
    return app.test_client()


def make_user(role: Role = Role.PRACTITIONER, email: str | None = None, name: str | None = None, **kw: Any) -> User:
    """A committed user with the shared test password."""
    user = create_user(
        db.session, email=email or f"{role.value}@clinic.example", name=name or f"Test {role.value.title()}",
        role=role, password=PASSWORD, actor=None, **kw,
    )
    db.session.commit()
    return user


_counter = iter(range(1, 1_000_000))


def make_patient(actor: User | None = None, **values: Any) -> Patient:
    """A committed patient with plausible defaults; keyword arguments override them."""
    n = next(_counter)
    actor = actor or db.session.scalars(db.select(User).limit(1)).first() or make_user(Role.PRACTITIONER, email=f"author{n}@clinic.example")
    data = {
        "given_name": "Alex", "family_name": f"Testperson{n}", "date_of_birth": date(1990, 1, 15), "sex": "female",
        "phone": f"07700 9{n:05d}", "email": "", "address": "", "postcode": "", "preferred_name": "",
        "emergency_contact_name": "", "emergency_contact_relationship": "", "emergency_contact_phone": "",
        "gp_name": "", "gp_practice": "", "gp_phone": "", "record_number": "",
        "fitzpatrick": 3, "no_known_allergies": True, "allergies": "", "current_medicines": "",
    }
    data.update(values)
    # Tests may give two patients the same name and birthday on purpose: say they are different people.
    same = possible_duplicates(db.session, given_name=data["given_name"], family_name=data["family_name"], date_of_birth=data["date_of_birth"])
    patient = register_patient(db.session, data, actor=actor, clinical=True, different_from={str(p.public_id) for p in same})
    db.session.commit()
    return patient


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/sign-in") -> str:
    """Fetch a page and read its CSRF token, as a browser would."""
    response = client.get(path)
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {path} (status {response.status_code})"
    return match.group(1) or match.group(2)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD):
    """Sign in through the real form."""
    token = csrf_token(client, "/sign-in")
    return client.post("/sign-in", data={"email": email, "password": password, "csrf_token": token})


def statements_of(call: Any) -> list[str]:
    """The SQL statements `call()` sends, from a fresh session (BEGIN left out), for tests that pin a count."""
    from sqlalchemy import event

    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    db.session.commit()
    db.session.expunge_all()
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return [s for s in seen if not s.startswith("BEGIN")]


def post_form(client: FlaskClient, path: str, data: dict[str, Any], page: str | None = None, **kw: Any):
    """POST a form with a valid CSRF token taken from the page that shows it."""
    token = csrf_token(client, page or path)
    return client.post(path, data={**data, "csrf_token": token}, **kw)


@pytest.fixture
def practitioner(app: Flask) -> User:
    """A practitioner account."""
    return make_user(Role.PRACTITIONER)


@pytest.fixture
def reception(app: Flask) -> User:
    """A reception account."""
    return make_user(Role.RECEPTION)


@pytest.fixture
def admin(app: Flask) -> User:
    """An administrator account."""
    return make_user(Role.ADMIN)


@pytest.fixture
def as_practitioner(client: FlaskClient, practitioner: User) -> FlaskClient:
    """A browser signed in as a practitioner."""
    assert sign_in(client, practitioner.email).status_code == 303
    return client


@pytest.fixture
def as_reception(client: FlaskClient, reception: User) -> FlaskClient:
    """A browser signed in as reception."""
    assert sign_in(client, reception.email).status_code == 303
    return client


@pytest.fixture
def as_admin(client: FlaskClient, admin: User) -> FlaskClient:
    """A browser signed in as an administrator."""
    assert sign_in(client, admin.email).status_code == 303
    return client
