"""Two-factor sign-in: enrolment by QR code confirmed with a code, the code after the password, recovery codes once,
throttling of codes, the admin's reset, and the clinic setting that requires it for everyone."""

from __future__ import annotations

import re

import pyotp
from sqlalchemy import select

from practitioner.admin.models import ClinicSettings
from practitioner.audit import AuditEvent
from practitioner.auth.models import RecoveryCode, User, UserSession
from practitioner.extensions import db
from tests.conftest import PASSWORD, csrf_token, post_form, sign_in


def _enrol(client) -> tuple[str, list[str]]:
    html = client.get("/account/two-factor").get_data(as_text=True)
    assert "<svg" in html and "http" not in re.search(r"<svg.*?</svg>", html, re.S).group(0).replace("http://www.w3.org/2000/svg", "")
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', html).group(1).replace(" ", "")
    response = post_form(client, "/account/two-factor", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200
    codes = re.findall(r"<li><code>([0-9a-f-]+)</code></li>", response.get_data(as_text=True))
    return secret, codes


def _sign_out(client):
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/patients/")})


def test_enrolment_needs_a_right_code_before_it_is_on(as_practitioner, practitioner):
    as_practitioner.get("/account/two-factor")
    response = post_form(as_practitioner, "/account/two-factor", {"code": "000000"})
    assert response.status_code == 422 and "That code does not match" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, practitioner.id).totp_enabled_at is None


def test_enrol_then_sign_in_asks_for_the_code_after_the_password(as_practitioner, practitioner, app):
    secret, codes = _enrol(as_practitioner)
    assert len(codes) == 10
    stored = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10 and not set(codes) & set(stored), "recovery codes are stored hashed"
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.two_factor_enrolled")).one()
    _sign_out(as_practitioner)
    response = sign_in(as_practitioner, practitioner.email)
    assert response.status_code == 303 and response.headers["Location"].endswith("/sign-in/code")
    assert as_practitioner.get("/patients/").status_code == 303, "a right password alone does not sign in"
    response = post_form(as_practitioner, "/sign-in/code", {"code": "123456"})
    assert response.status_code == 422 and "That code is not right" in response.get_data(as_text=True)
    # The step used at enrolment cannot be replayed; the app's next code is taken.
    db.session.expire_all()
    user = db.session.get(User, practitioner.id)
    replayed = pyotp.TOTP(secret).at(user.totp_last_step * 30)
    assert post_form(as_practitioner, "/sign-in/code", {"code": replayed}).status_code == 422
    next_code = pyotp.TOTP(secret).at((user.totp_last_step + 1) * 30)
    response = post_form(as_practitioner, "/sign-in/code", {"code": next_code})
    assert response.status_code == 303 and as_practitioner.get("/patients/").status_code == 200
    row = db.session.scalars(select(AuditEvent).where(AuditEvent.outcome == "success", AuditEvent.action == "auth.sign_in")).all()[-1]
    assert row.detail_items["second_factor"] == "totp"


def test_a_recovery_code_works_once_and_is_audited(as_practitioner, practitioner):
    _, codes = _enrol(as_practitioner)
    for expected in (303, 422):
        _sign_out(as_practitioner)
        sign_in(as_practitioner, practitioner.email)
        assert post_form(as_practitioner, "/sign-in/code", {"code": codes[0]}).status_code == expected
    assert len(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.recovery_code_used")).all()) == 1


def test_wrong_codes_are_throttled_like_passwords(as_practitioner, practitioner):
    _enrol(as_practitioner)
    _sign_out(as_practitioner)
    sign_in(as_practitioner, practitioner.email)
    for _ in range(5):
        assert post_form(as_practitioner, "/sign-in/code", {"code": "000000"}).status_code == 422
    response = post_form(as_practitioner, "/sign-in/code", {"code": "000000"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/sign-in")
    assert sign_in(as_practitioner, practitioner.email, PASSWORD).status_code == 429


def test_the_admin_resets_two_factor_with_their_own_password(app, as_admin, admin, practitioner):
    theirs = app.test_client()
    sign_in(theirs, practitioner.email)
    _enrol(theirs)
    page = f"/admin/users/{practitioner.public_id}"
    assert "Reset two-factor sign-in" in as_admin.get(page).get_data(as_text=True)
    wrong = post_form(as_admin, f"{page}/two-factor/reset", {"your_password": "not mine"}, page=page)
    assert wrong.status_code == 422
    assert post_form(as_admin, f"{page}/two-factor/reset", {"your_password": PASSWORD}, page=page).status_code == 303
    db.session.expire_all()
    assert db.session.get(User, practitioner.id).totp_enabled_at is None
    reset = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.two_factor_reset")).one()
    assert reset.actor_id == admin.id


def test_when_the_clinic_requires_it_a_user_without_it_is_sent_to_enrol(client, practitioner):
    db.session.get(ClinicSettings, 1).require_two_factor = True
    db.session.commit()
    response = sign_in(client, practitioner.email)
    assert response.status_code == 303 and response.headers["Location"].endswith("/account/two-factor")
    blocked = client.get("/patients/")
    assert blocked.status_code == 303 and blocked.headers["Location"].endswith("/account/two-factor")
    _enrol(client)
    assert client.get("/patients/").status_code == 200
    assert db.session.scalars(select(UserSession)).all()


def _turn_requirement(as_admin, on: bool):
    from tests.admin.test_admin_views import SETTINGS

    data = {**SETTINGS, **({"require_two_factor": "y"} if on else {})}
    assert post_form(as_admin, "/admin/settings", data).status_code == 303


def test_turning_the_requirement_on_applies_at_once_to_someone_already_signed_in(app, as_admin, practitioner):
    theirs = app.test_client()
    sign_in(theirs, practitioner.email)
    assert theirs.get("/patients/").status_code == 200
    _turn_requirement(as_admin, True)
    response = theirs.get("/patients/")
    assert response.status_code == 303 and response.headers["Location"].endswith("/account/two-factor")
    page = theirs.get("/account/two-factor").get_data(as_text=True)
    assert "Your clinic asks everyone to sign in with a code from an authenticator app too." in page
    for path in ("/patients/", "/patients/new", f"/admin/users/{practitioner.public_id}"):
        blocked = theirs.get(path)
        assert blocked.status_code == 303 and blocked.headers["Location"].endswith("/account/two-factor"), path
    _enrol(theirs)
    assert theirs.get("/patients/").status_code == 200


def test_someone_held_at_enrolment_can_still_sign_out(app, as_admin, practitioner):
    theirs = app.test_client()
    sign_in(theirs, practitioner.email)
    _turn_requirement(as_admin, True)
    token = csrf_token(theirs, "/account/two-factor")
    response = theirs.post("/sign-out", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"].endswith("/sign-in")
    db.session.expire_all()
    ended = db.session.scalars(select(UserSession).where(UserSession.user_id == practitioner.id)).one()
    assert ended.end_reason == "signed_out"


def test_someone_who_has_two_factor_already_is_not_held(app, as_admin, practitioner):
    theirs = app.test_client()
    sign_in(theirs, practitioner.email)
    _enrol(theirs)
    _turn_requirement(as_admin, True)
    assert theirs.get("/patients/").status_code == 200


def test_turning_the_requirement_off_again_releases_those_not_yet_asked(app, as_admin, practitioner):
    theirs = app.test_client()
    sign_in(theirs, practitioner.email)
    _turn_requirement(as_admin, True)
    assert as_admin.get("/patients/").status_code == 303, "the administrator without two-factor is asked too"
    _enrol(as_admin)
    _turn_requirement(as_admin, False)
    assert theirs.get("/patients/").status_code == 200
