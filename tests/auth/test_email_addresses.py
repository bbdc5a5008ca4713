"""One email rule: every address `flask create-user` accepts, the admin's user form and the sign-in form accept, and back."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from practitioner.admin.forms import NewUserForm
from practitioner.auth.forms import SignInForm
from practitioner.auth.models import User
from practitioner.extensions import db
from tests.conftest import PASSWORD, sign_in

ADDRESSES = [
    # Reserved and internal domains: an offline clinic may use them, so all three take them.
    ("lead@clinic.test", True), ("lead@clinic.example", True), ("lead@clinic.invalid", True), ("desk@clinic.local", True),
    ("desk@intranet.internal", True), ("user@example.com", True),
    # Plus-addressing, upper case, apostrophes, internationalised names and domains.
    ("anna+clinic@example.com", True), ("Dr.Lee@Clinic.Example", True), ("USER@EXAMPLE.COM", True),
    ("o'brien@example.com", True), ("zoë@bücher.de", True), ("anna@xn--bcher-kva.de", True), ("josé@clínica.es", True),
    # Not addresses at all, or not ones anyone could sign in with.
    ("no-at-sign.example.com", False), ("two@@example.com", False), ("a@b@example.com", False), ("@example.com", False),
    ("name@", False), ("name@localhost", False), ("name@-clinic.example", False), ("a..b@example.com", False),
    (".a@example.com", False), ("a.@example.com", False), ("a b@example.com", False), ("name@exa_mple.com", False),
    ("name@example.com.", False), ("name@[127.0.0.1]", False), ("name@10.0.0.1", False), ('"quoted"@example.com', False),
    ("x" * 65 + "@example.com", False), ("a@" + "b" * 250 + ".com", False), ("tab\t@example.com", False),
]


def _admin_form_takes(app, address: str) -> bool:
    with app.test_request_context(method="POST", data={"email": address}):
        form = NewUserForm(meta={"csrf": False})
        return form.email.validate(form)


def _sign_in_form_takes(app, address: str) -> bool:
    with app.test_request_context(method="POST", data={"email": address, "password": PASSWORD}):
        form = SignInForm(meta={"csrf": False})
        return form.email.validate(form)


@pytest.mark.parametrize(("address", "accepted"), ADDRESSES)
def test_create_user_admin_form_and_sign_in_agree(app, client, address, accepted):
    created = app.test_cli_runner().invoke(
        args=["create-user", "--email", address, "--name", "Someone", "--role", "practitioner", "--password-stdin"],
        input=PASSWORD + "\n")
    verdicts = {"create-user": created.exit_code == 0, "admin form": _admin_form_takes(app, address),
                "sign-in form": _sign_in_form_takes(app, address)}
    assert verdicts == dict.fromkeys(verdicts, accepted), created.output
    if accepted:
        # Whoever create-user made can sign in with the address as it was typed.
        assert sign_in(client, address).status_code == 303
    else:
        assert created.exit_code == 1 and "Traceback" not in created.output and "Error: " in created.output
        assert db.session.scalars(select(User)).all() == []


def test_a_refused_address_is_explained_on_the_admin_form_with_values_kept(as_admin):
    from tests.conftest import post_form

    data = {"email": "name@localhost", "name": "Dr New", "role": "practitioner",
            "new_password": "a long enough password", "confirm_password": "a long enough password"}
    response = post_form(as_admin, "/admin/users/new", data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "The part after the @ should be a domain name like clinic.example" in html
    assert 'value="name@localhost"' in html and 'value="Dr New"' in html
