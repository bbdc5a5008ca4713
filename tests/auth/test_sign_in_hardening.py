"""Issue 14, sign-in: the password rule everywhere a password is set, throttling that slows rather than locks the
owner out and limits one address over many accounts, a bounded count of failures, the session's absolute lifetime,
and an admin's own password to confirm a role change, a reset or a new administrator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from practitioner.audit import AuditEvent
from practitioner.auth import services
from practitioner.auth.models import Role, SignInFailureCount, User, UserSession
from practitioner.auth.passwords import password_problem
from practitioner.demo import DEMO_PASSWORD
from practitioner.extensions import db
from tests.conftest import PASSWORD, csrf_token, post_form

WEAK = ["aaaaaaaaaaaa", "password1234", "123456789012", "demo-clinic-2026"]


# --- the password rule ---------------------------------------------------------------------------------

@pytest.mark.parametrize("weak", WEAK)
def test_common_and_published_passwords_are_refused(weak):
    problem = password_problem(weak, name="Nina Nurse", email="nina@clinic.example")
    assert problem and "Choose a longer phrase of unrelated words" in problem


def test_a_password_holding_the_persons_name_or_email_is_refused():
    for password in ("nina@clinic.example", "NinaNurse-rides-far", "my nurse sunflower dial", "zebra-NINA-harbour-44"):
        assert password_problem(password, name="Nina Nurse", email="nina@clinic.example"), password


def test_a_phrase_of_unrelated_words_and_the_demo_password_pass():
    assert password_problem(PASSWORD, name="Nina Nurse", email="nina@clinic.example") is None
    assert password_problem(DEMO_PASSWORD, name="Morgan Ellis", email="admin@demo.clinic") is None


def _new_user(client, password: str, **extra):
    data = {"name": "Nina Nurse", "email": "nina@clinic.example", "role": "practitioner", "new_password": password,
            "confirm_password": password, **extra}
    return post_form(client, "/admin/users/new", data)


@pytest.mark.parametrize("weak", ["password1234", "nina@clinic.example"])
def test_the_admin_cannot_create_a_user_with_a_weak_password(as_admin, weak):
    response = _new_user(as_admin, weak)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Choose a longer phrase of unrelated words" in html and 'value="Nina Nurse"' in html
    assert db.session.scalars(select(User).where(User.email == "nina@clinic.example")).first() is None


def test_the_admin_cannot_reset_a_password_to_a_weak_one(as_admin, practitioner):
    before = practitioner.password_hash
    response = post_form(as_admin, f"/admin/users/{practitioner.public_id}", {
        "name": practitioner.name, "role": "practitioner", "active": "y", "new_password": "123456789012", "your_password": PASSWORD})
    assert response.status_code == 422
    assert "Choose a longer phrase of unrelated words" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, practitioner.id).password_hash == before


def test_the_command_line_refuses_a_weak_first_admin_password(app):
    args = ["create-user", "--email", "lead@clinic.example", "--name", "Dr A Lead", "--role", "admin", "--password-stdin"]
    result = app.test_cli_runner().invoke(args=args, input="password1234\n")
    assert result.exit_code != 0 and "Choose a longer phrase of unrelated words" in result.output
    with app.app_context():
        assert db.session.scalars(select(User)).all() == []


# --- throttling ----------------------------------------------------------------------------------------

def _try(client, email: str, password: str, address: str):
    token = csrf_token(client, "/sign-in")
    return client.post("/sign-in", data={"email": email, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


@pytest.fixture
def pauses(monkeypatch):
    waited: list[float] = []
    monkeypatch.setattr(services, "pause", waited.append)
    return waited


def test_guessing_from_elsewhere_slows_but_does_not_lock_out_the_owner(app, practitioner, pauses):
    attacker = app.test_client()
    for _ in range(5):
        assert _try(attacker, practitioner.email, "not the password", "203.0.113.9").status_code == 422
    assert _try(attacker, practitioner.email, PASSWORD, "203.0.113.9").status_code == 429, "the guessing address is stopped"
    owner = app.test_client()
    assert _try(owner, practitioner.email, PASSWORD, "198.51.100.20").status_code == 303, "the owner still gets in"
    assert pauses and 0 < pauses[-1] <= 5, "after a short delay"


def test_the_delay_grows_with_failures_from_many_addresses_and_is_capped(app, practitioner, pauses):
    client = app.test_client()
    for n in range(12):
        _try(client, practitioner.email, "not the password", f"192.0.2.{n}")
    assert pauses == sorted(pauses) and pauses[0] < pauses[-1] == 5.0


def test_one_address_over_many_accounts_is_stopped(app, practitioner, pauses):
    client = app.test_client()
    for n in range(20):
        assert _try(client, f"person{n}@clinic.example", "not the password", "203.0.113.50").status_code == 422
    response = _try(client, practitioner.email, PASSWORD, "203.0.113.50")
    assert response.status_code == 429
    assert "Too many failed sign-ins from this network address" in response.get_data(as_text=True)
    assert _try(app.test_client(), practitioner.email, PASSWORD, "198.51.100.7").status_code == 303, "other addresses are not"


def test_a_flood_of_failures_adds_one_audit_row_per_burst_and_a_bounded_count(app, practitioner, pauses):
    client = app.test_client()
    for _ in range(40):
        _try(client, practitioner.email, "not the password", "203.0.113.77")
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.sign_in")).all()
    assert sorted(row.outcome for row in rows) == ["denied", "failure"], "one row for the burst, one when it was refused"
    assert db.session.scalar(select(func.count()).select_from(SignInFailureCount)) == 3
    owner = app.test_client()
    assert _try(owner, practitioner.email, PASSWORD, "198.51.100.1").status_code == 303
    success = db.session.scalars(select(AuditEvent).where(AuditEvent.outcome == "success")).all()[-1]
    assert success.detail_items["failures_before"] == 5, "the success row says how many failed before it"


# --- the session's absolute lifetime ------------------------------------------------------------------

def test_a_sign_in_ends_after_a_working_day_however_active(as_practitioner):
    for user_session in db.session.scalars(select(UserSession)):
        user_session.created_at -= timedelta(hours=12, minutes=1)
    db.session.commit()
    assert as_practitioner.get("/patients/").status_code == 303
    db.session.expire_all()
    assert db.session.scalars(select(UserSession)).one().end_reason == "max_age"


def test_a_sign_in_ended_after_its_working_day_says_so_once(app, as_practitioner):
    app.config["SESSION_MAX_AGE"] = timedelta(hours=9)  # the hours come from the setting
    for user_session in db.session.scalars(select(UserSession)):
        user_session.created_at -= timedelta(hours=9, minutes=1)
    db.session.commit()
    message = "You were signed out after 9 hours; please sign in again."
    response = as_practitioner.get("/patients/", follow_redirects=True)
    assert response.request.path == "/sign-in" and message in response.get_data(as_text=True)
    again = as_practitioner.get("/patients/", follow_redirects=True)
    assert again.request.path == "/sign-in" and message not in again.get_data(as_text=True), "said once"
    assert "30 minutes without activity" not in response.get_data(as_text=True)


def test_a_sign_in_of_eleven_hours_still_works(as_practitioner):
    for user_session in db.session.scalars(select(UserSession)):
        user_session.created_at -= timedelta(hours=11)
    db.session.commit()
    assert as_practitioner.get("/patients/").status_code == 200


# --- the admin confirms with their own password ----------------------------------------------------------

@pytest.mark.parametrize("typed", ["", "not my password"])
def test_changing_a_role_needs_the_admins_own_password(as_admin, admin, practitioner, typed):
    response = post_form(as_admin, f"/admin/users/{practitioner.public_id}", {
        "name": practitioner.name, "role": "reception", "active": "y", "your_password": typed})
    assert response.status_code == 422
    assert "Type your own password (the one you signed in with) to confirm this change." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, practitioner.id).role == Role.PRACTITIONER
    refused = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.confirm_password")).one()
    assert refused.outcome == "failure" and refused.actor_id == admin.id


def test_resetting_a_password_needs_the_admins_own_password(as_admin, practitioner):
    response = post_form(as_admin, f"/admin/users/{practitioner.public_id}", {
        "name": practitioner.name, "role": "practitioner", "active": "y", "new_password": "velvet harbour quartz meadow"})
    assert response.status_code == 422
    response = post_form(as_admin, f"/admin/users/{practitioner.public_id}", {
        "name": practitioner.name, "role": "practitioner", "active": "y", "new_password": "velvet harbour quartz meadow",
        "your_password": PASSWORD})
    assert response.status_code == 303


def test_creating_an_administrator_needs_the_admins_own_password(as_admin):
    response = _new_user(as_admin, "velvet harbour quartz meadow", role="admin")
    assert response.status_code == 422
    assert db.session.scalars(select(User).where(User.email == "nina@clinic.example")).first() is None
    assert _new_user(as_admin, "velvet harbour quartz meadow", role="admin", your_password=PASSWORD).status_code == 303


def test_a_name_change_alone_needs_no_confirmation(as_admin, practitioner):
    response = post_form(as_admin, f"/admin/users/{practitioner.public_id}", {
        "name": "Dr Renamed", "role": "practitioner", "active": "y"})
    assert response.status_code == 303


def test_a_weak_password_and_a_missing_confirmation_are_both_said_at_once(as_admin):
    html = _new_user(as_admin, "password1234", role="admin").get_data(as_text=True)
    assert "Choose a longer phrase of unrelated words" in html
    assert "Type your own password (the one you signed in with) to confirm this change." in html
