"""Users, clinic settings, the logo upload and the audit trail pages."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import select

from practitioner.admin.models import ClinicSettings, PaperSize
from practitioner.audit import AuditEvent
from practitioner.auth.models import Role, User, UserSession
from practitioner.extensions import db
from tests.conftest import PASSWORD, csrf_token, make_patient, post_form, sign_in


def _png(width: int = 120, height: int = 60, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (47, 111, 106)).save(out, format=fmt)
    return out.getvalue()


SETTINGS = {"name": "Quay Skin", "address": "1 Quay", "phone": "0117 496 0000", "email": "", "out_of_hours": "NHS 111",
            "paper_size": "Letter"}


def test_admin_creates_a_user_who_can_sign_in(as_admin, app):
    data = {"name": "Nina Nurse", "email": "Nina@Clinic.example", "role": "practitioner", "registration": "NMC 123",
            "max_depth_mm": "1.5", "active": "y", "new_password": "a long enough password", "confirm_password": "a long enough password"}
    response = post_form(as_admin, "/admin/users/new", data)
    assert response.status_code == 303
    user = db.session.scalars(select(User).where(User.email == "nina@clinic.example")).one()
    assert user.role == Role.PRACTITIONER and str(user.max_depth_mm) == "1.50"
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.create").order_by(AuditEvent.id)).all()[-1].actor_label == "admin@clinic.example"
    other = app.test_client()
    assert sign_in(other, "nina@clinic.example", "a long enough password").status_code == 303


def test_new_user_form_errors_are_422_with_values_kept(as_admin):
    data = {"name": "", "email": "nina@clinic.example", "role": "practitioner", "new_password": "short", "confirm_password": "other"}
    response = post_form(as_admin, "/admin/users/new", data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter the person&#39;s name." in html and "Use at least 12 characters." in html and "The two passwords differ." in html
    assert 'value="nina@clinic.example"' in html


def test_duplicate_email_refused(as_admin, practitioner):
    data = {"name": "Dup", "email": practitioner.email, "role": "reception", "new_password": "a long enough password",
            "confirm_password": "a long enough password"}
    response = post_form(as_admin, "/admin/users/new", data)
    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)


def test_change_role_and_deactivate_ends_their_sessions(as_admin, practitioner, app):
    theirs = app.test_client()
    sign_in(theirs, practitioner.email)
    page = f"/admin/users/{practitioner.public_id}"
    response = post_form(as_admin, page, {"name": practitioner.name, "role": "reception", "registration": "", "max_depth_mm": "",
                                           "your_password": PASSWORD})
    assert response.status_code == 303
    db.session.expire_all()
    user = db.session.get(User, practitioner.id)
    assert user.role == Role.RECEPTION and not user.is_active_account, "unticked 'active' deactivates"
    assert all(s.ended_at is not None for s in db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)))
    assert theirs.get("/patients/").status_code == 303, "a deactivated user's open session ends at once"
    changes = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.update")).one().detail_items["changes"]
    assert changes["role"] == ["practitioner", "reception"] and changes["active"] == ["True", "False"]
    assert db.session.get(User, practitioner.id) is not None, "never deleted"


def test_admin_cannot_demote_themselves(as_admin, admin):
    response = post_form(as_admin, f"/admin/users/{admin.public_id}", {"name": admin.name, "role": "reception", "active": "y", "your_password": PASSWORD})
    assert response.status_code == 422
    assert "You cannot remove your own administrator role" in response.get_data(as_text=True)


def test_settings_save_and_audit(as_admin):
    response = post_form(as_admin, "/admin/settings", SETTINGS)
    assert response.status_code == 303
    settings = db.session.get(ClinicSettings, 1)
    assert settings.name == "Quay Skin" and settings.paper_size == PaperSize.LETTER
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "settings.update")).one()
    assert event.detail_items["changes"]["name"][1] == "Quay Skin"
    assert "Quay Skin" in as_admin.get("/admin/settings").get_data(as_text=True)


def test_settings_validation(as_admin):
    response = post_form(as_admin, "/admin/settings", {**SETTINGS, "name": "", "phone": "", "paper_size": "A3"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter the clinic&#39;s name." in html and "Patients need a number to call." in html and "Not a valid choice" in html


def _upload(client, data: bytes, filename: str = "logo.png"):
    token = csrf_token(client, "/admin/settings")
    return client.post("/admin/settings", data={**SETTINGS, "csrf_token": token, "logo": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def test_logo_upload_is_reencoded_and_served(as_admin):
    jpeg = _png(300, 100, "JPEG")
    assert _upload(as_admin, jpeg, "logo.jpg").status_code == 303
    settings = db.session.get(ClinicSettings, 1)
    assert settings.logo_sha256 and (settings.logo_width, settings.logo_height) == (300, 100)
    response = as_admin.get("/admin/settings/logo.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.data.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("payload", "filename", "message"),
    [
        (b"%PDF-1.4 not an image at all", "logo.png", "not a readable PNG or JPEG"),
        (b"GIF89a" + b"\x00" * 100, "logo.png", "not a readable PNG or JPEG"),
        (_png(10, 10), "logo.png", "at least 16 pixels"),
        (_png(200, 200), "logo.gif", "Choose a PNG or JPEG image."),
    ],
)
def test_bad_logos_are_refused_cleanly(as_admin, payload, filename, message):
    response = _upload(as_admin, payload, filename)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert not db.session.get(ClinicSettings, 1) or not db.session.get(ClinicSettings, 1).logo_sha256


def test_image_bomb_is_refused_before_decoding(as_admin):
    # A 20000 x 20000 PNG compresses to a few hundred KB but would need 1.2 GB to decode.
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, format="PNG")
    response = _upload(as_admin, out.getvalue())
    assert response.status_code == 422
    assert "too many pixels for a logo" in response.get_data(as_text=True)


def test_oversized_file_is_refused(as_admin, app):
    app.config["LOGO_MAX_BYTES"] = 1000
    response = _upload(as_admin, _png(400, 400) + b"\x00" * 2000)
    assert response.status_code == 422
    assert "the limit is" in response.get_data(as_text=True)


def test_audit_trail_filters_by_patient_and_user(as_admin, app, practitioner):
    first = make_patient(family_name="Alpha", actor=practitioner)
    second = make_patient(family_name="Beta", actor=practitioner)
    viewer = app.test_client()
    sign_in(viewer, practitioner.email)
    viewer.get(f"/patients/{first.public_id}")
    viewer.get(f"/patients/{second.public_id}")
    html = as_admin.get("/admin/audit", query_string={"patient": first.record_number}).get_data(as_text=True)
    assert "Alpha, Alex" in html and "Beta, Alex" not in html and "patient.view" in html
    html = as_admin.get("/admin/audit", query_string={"user": str(practitioner.public_id), "action": "auth.sign_in"}).get_data(as_text=True)
    assert "1 row" in html
    html = as_admin.get("/admin/audit", query_string={"patient": "NOPE"}).get_data(as_text=True)
    assert "No patient has this name or record number." in html and "0 rows" in html
