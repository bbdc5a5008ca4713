"""Fixtures: a fresh migrated database per test, the app, clients signed in as each role, factories."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path
from typing import Any, Iterator

import pytest
from flask import Flask
from flask.globals import _cv_app
from flask.testing import FlaskClient

from practitioner import create_app
from practitioner.auth.models import Role, User
from practitioner.auth.services import create_user
from practitioner.extensions import db
from practitioner.patients.models import Patient
from practitioner.patients.services import register_patient

PASSWORD = "correct horse battery staple"
SECRET = "test-secret-key-that-is-long-enough-0123456789"


def make_config(database_path: Path, **extra: Any) -> dict[str, Any]:
    """The test configuration: a file database, CSRF on, cookies usable over plain HTTP."""
    return {
        "TESTING": True,
        "SECRET_KEY": SECRET,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database_path}",
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


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One database built by running the real migrations; each test gets a copy."""
    from flask_migrate import upgrade

    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    app = create_app(make_config(path))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return path


@pytest.fixture
def database_path(tmp_path: Path, migrated_template: Path) -> Path:
    """A private copy of the migrated database for one test."""
    target = tmp_path / "practitioner.sqlite3"
    shutil.copyfile(migrated_template, target)
    return target


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
def app(database_path: Path) -> Iterator[Flask]:
    """The app on a fresh database, inside an app context (for factories and assertions)."""
    application = create_app(make_config(database_path))
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
    patient = register_patient(db.session, data, actor=actor, clinical=True)
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
