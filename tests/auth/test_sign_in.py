"""Sign-in, throttling, sessions, idle expiry, sign-out and the kept form draft."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from practitioner.audit import AuditEvent
from practitioner.auth.models import Role, SignInFailureCount, UserSession
from practitioner.auth.services import password_matches
from practitioner.extensions import db
from tests.conftest import PASSWORD, csrf_token, drop_append_only_triggers, make_patient, make_user, sign_in


def _session_cookie(client):
    cookie = client.get_cookie("practitioner_session")
    return cookie.value if cookie else None


@pytest.mark.real_hashing
def test_passwords_are_argon2id_hashes(app, practitioner):
    assert practitioner.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD not in practitioner.password_hash
    assert password_matches(practitioner, PASSWORD)
    assert not password_matches(practitioner, PASSWORD + "x")


def test_sign_in_page_renders_labelled_fields(client):
    html = client.get("/sign-in").get_data(as_text=True)
    assert '<label for="email">Email</label>' in html
    assert '<label for="password">Password</label>' in html


def test_sign_in_success_redirects_and_audits(client, practitioner):
    response = sign_in(client, practitioner.email)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/patients/")
    assert client.get("/patients/").status_code == 200
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.sign_in").order_by(AuditEvent.id)).all()[-1]
    assert event.outcome == "success" and event.actor_id == practitioner.id


def test_email_is_case_insensitive(client, practitioner):
    assert sign_in(client, practitioner.email.upper()).status_code == 303


def test_wrong_password_is_422_with_message_and_audited(client, practitioner):
    response = sign_in(client, practitioner.email, "wrong password entirely")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "The email or password is not right." in html
    assert f'value="{practitioner.email}"' in html, "the email typed is kept"
    failure = db.session.scalars(select(AuditEvent).where(AuditEvent.outcome == "failure")).one()
    assert failure.actor_label == practitioner.email


def test_unknown_email_gives_the_same_message(client, practitioner):
    response = sign_in(client, "nobody@clinic.example", "whatever password")
    assert response.status_code == 422
    assert "The email or password is not right." in response.get_data(as_text=True)


def test_empty_form_gets_a_message_per_field(client):
    response = client.post("/sign-in", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter your email address." in html and "Enter your password." in html
    assert 'aria-invalid="true"' in html


def test_sign_in_without_csrf_token_is_400(client, practitioner):
    response = client.post("/sign-in", data={"email": practitioner.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert client.get("/patients/").status_code == 303


def test_five_failures_throttle_the_account_even_with_the_right_password(client, practitioner):
    for _ in range(5):
        assert sign_in(client, practitioner.email, "not the password").status_code == 422
    response = sign_in(client, practitioner.email, PASSWORD)
    assert response.status_code == 429
    assert "Too many failed sign-ins for this account" in response.get_data(as_text=True)
    assert client.get("/patients/").status_code == 303, "a throttled sign-in does not sign in"
    denied = db.session.scalars(select(AuditEvent).where(AuditEvent.outcome == "denied").order_by(AuditEvent.id)).all()
    assert denied and denied[-1].detail_items["reason"] == "throttled"


def test_throttle_is_per_account(client, practitioner, reception):
    for _ in range(5):
        sign_in(client, practitioner.email, "not the password")
    assert sign_in(client, reception.email).status_code == 303


def test_four_failures_do_not_throttle(client, practitioner):
    for _ in range(4):
        sign_in(client, practitioner.email, "not the password")
    assert sign_in(client, practitioner.email).status_code == 303


def test_failures_older_than_the_window_do_not_count(client, practitioner, app):
    for _ in range(5):
        sign_in(client, practitioner.email, "not the password")
    # Age the failures past the 15-minute window (the audit table is append-only, so the
    # test lifts the trigger the way only someone with database access could).
    table = AuditEvent.__table__
    with db.engine.begin() as conn:
        drop_append_only_triggers(conn)
        for row in conn.execute(select(table.c.id, table.c.at)).all():
            conn.execute(update(table).where(table.c.id == row.id).values(at=row.at - timedelta(minutes=16)))
        # The failures are counted in their own bounded table (docs/security.md, Sign-in): age those too.
        counts = SignInFailureCount.__table__
        for row in conn.execute(select(counts.c.id, counts.c.last_at)).all():
            conn.execute(update(counts).where(counts.c.id == row.id).values(last_at=row.last_at - timedelta(minutes=16)))
    assert sign_in(client, practitioner.email).status_code == 303


def test_deactivated_user_cannot_sign_in(client, app):
    user = make_user(Role.PRACTITIONER, email="gone@clinic.example")
    user.is_active_account = False
    db.session.commit()
    assert sign_in(client, "gone@clinic.example").status_code == 422


def test_session_changes_at_sign_in(client, practitioner):
    client.get("/sign-in")
    before = _session_cookie(client)
    sign_in(client, practitioner.email)
    after = _session_cookie(client)
    assert before and after and before != after
    key = db.session.scalars(select(UserSession.session_key)).one()
    assert key not in (before or "")


def test_each_sign_in_gets_a_new_server_session(client, practitioner):
    sign_in(client, practitioner.email)
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/patients/")})
    sign_in(client, practitioner.email)
    keys = db.session.scalars(select(UserSession.session_key)).all()
    assert len(keys) == 2 and keys[0] != keys[1]


def test_sign_out_ends_the_session_even_for_a_copied_cookie(client, practitioner, app):
    sign_in(client, practitioner.email)
    stolen = _session_cookie(client)
    response = client.post("/sign-out", data={"csrf_token": csrf_token(client, "/patients/")})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.scalars(select(UserSession)).one().end_reason == "signed_out"
    replay = app.test_client()
    replay.set_cookie("practitioner_session", stolen)
    assert replay.get("/patients/").status_code == 303, "the old cookie must not sign anyone in"


def test_sign_out_requires_post(as_practitioner):
    assert as_practitioner.get("/sign-out").status_code == 405
    assert as_practitioner.get("/patients/").status_code == 200


def _idle(minutes: int) -> None:
    for user_session in db.session.scalars(select(UserSession)):
        user_session.last_seen_at -= timedelta(minutes=minutes)
    db.session.commit()


def test_idle_for_30_minutes_signs_out(as_practitioner):
    _idle(31)
    response = as_practitioner.get("/patients/")
    assert response.status_code == 303
    assert "/sign-in" in response.headers["Location"]
    db.session.expire_all()
    assert db.session.scalars(select(UserSession)).one().end_reason == "idle"


def test_idle_for_29_minutes_stays_signed_in(as_practitioner):
    _idle(29)
    assert as_practitioner.get("/patients/").status_code == 200


def test_typing_is_kept_across_an_idle_sign_out(as_practitioner, practitioner):
    token = csrf_token(as_practitioner, "/patients/new")
    _idle(45)
    typed = {"given_name": "Imogen", "family_name": "Blackwood", "date_of_birth": "1987-06-05", "sex": "female",
             "phone": "07700 900555", "allergies": "Penicillin (rash)", "csrf_token": token}
    response = as_practitioner.post("/patients/new", data=typed)
    assert response.status_code == 303 and "/sign-in" in response.headers["Location"]
    assert "next=/patients/new" in response.headers["Location"]
    # Sign in again: back on the form, with what was typed.
    response = as_practitioner.post("/sign-in?next=/patients/new", data={
        "email": practitioner.email, "password": PASSWORD, "csrf_token": csrf_token(as_practitioner)})
    assert response.status_code == 303 and response.headers["Location"].endswith("/patients/new")
    html = as_practitioner.get("/patients/new").get_data(as_text=True)
    assert 'value="Imogen"' in html and 'value="Blackwood"' in html and "Penicillin (rash)" in html
    assert "What you typed before you were signed out is back in the form" in html
    # Nothing was saved behind their back.
    from practitioner.patients.models import Patient
    assert db.session.scalars(select(Patient)).all() == []


def test_kept_typing_is_not_given_to_another_user(as_practitioner, app):
    other = make_user(Role.PRACTITIONER, email="other@clinic.example")
    token = csrf_token(as_practitioner, "/patients/new")
    _idle(45)
    as_practitioner.post("/patients/new", data={"given_name": "Secret", "family_name": "Typing", "csrf_token": token})
    as_practitioner.post("/sign-in?next=/patients/new", data={
        "email": other.email, "password": PASSWORD, "csrf_token": csrf_token(as_practitioner)})
    html = as_practitioner.get("/patients/new").get_data(as_text=True)
    assert "Secret" not in html


def test_open_redirect_after_sign_in_is_refused(client, practitioner):
    token = csrf_token(client)
    response = client.post("/sign-in?next=https://evil.example/", data={
        "email": practitioner.email, "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"].endswith("/patients/")


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/patients/")
    assert response.status_code == 303 and "/sign-in" in response.headers["Location"]


def test_patient_page_view_requires_sign_in(client, app):
    patient = make_patient()
    response = client.get(f"/patients/{patient.public_id}")
    assert response.status_code == 303
