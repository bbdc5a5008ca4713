"""Signed consent: the signing page, the signed consent, its signature image, and what is refused."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import uuid
from datetime import date, timedelta

import pytest
from flask import g, render_template
from PIL import Image, ImageDraw
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DatabaseError

from practitioner.audit import AuditEvent
from practitioner.auth.models import Role, User
from practitioner.consents.content import (
    ConsentContentError,
    canonical_text,
    load_consent_content,
)
from practitioner.consents.models import Consent
from practitioner.consents.services import consent_record_hash
from practitioner.consultations.models import Consultation, ScreeningOverride
from practitioner.extensions import db
from practitioner.patients.models import Patient
from tests.conftest import make_patient, make_user, post_form, sign_in

PNG_PREFIX = "data:image/png;base64,"


def make_consultation(patient: Patient, practitioner: User, decision: str = "proceed", modality: str = "microneedling",
                      **values) -> Consultation:
    """A committed consultation with the given screening decision."""
    consultation = Consultation(patient_id=patient.id, practitioner_id=practitioner.id, consultation_date=date.today(),
                                modality=modality, decision=decision, **values)
    db.session.add(consultation)
    db.session.commit()
    return consultation


def signature_png(size: tuple[int, int] = (600, 200), ink: bool = True, image_format: str = "PNG") -> bytes:
    """A drawn signature: white paper and (unless `ink` is false) a black line."""
    image = Image.new("RGB", size, "white")
    if ink:
        ImageDraw.Draw(image).line([(40, 150), (160, 60), (300, 140), (440, 60), (560, 120)], fill="black", width=4)
    buffer = io.BytesIO()
    image.save(buffer, image_format)
    return buffer.getvalue()


def same_pixels(a: bytes, b: bytes) -> bool:
    """Whether two PNGs hold the same picture (as RGBA pixels), whatever their bytes."""
    from PIL import Image, ImageChops

    with Image.open(io.BytesIO(a)) as first, Image.open(io.BytesIO(b)) as second:
        one, two = first.convert("RGBA"), second.convert("RGBA")
        return one.size == two.size and ImageChops.difference(one, two).getbbox() is None


def data_url(raw: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64," + base64.b64encode(raw).decode()


def consent_data(patient: Patient, modality: str = "microneedling", **overrides) -> dict[str, str]:
    """Every risk and declaration ticked, the right name, a real signature; overrides replace or (None) drop fields."""
    content = load_consent_content(modality)
    data = {f"risk_{n}": "y" for n in range(len(content.risks))}
    data.update({f"declaration_{n}": "y" for n in range(len(content.declarations))})
    data.update(patient_typed_name=f"{patient.given_name} {patient.family_name}", signature=data_url(signature_png()),
                practitioner_confirms="y", photo_clinical="y")
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def world(app, practitioner):
    """A patient with a consultation whose screening allows treatment."""
    patient = make_patient(actor=practitioner, given_name="Zoë", family_name="Okafor-Hale")
    consultation = make_consultation(patient, practitioner)
    return {"patient": patient, "consultation": consultation, "practitioner": practitioner,
            "new": f"/consultations/{consultation.public_id}/consents/new"}


def _consents() -> list[Consent]:
    return db.session.scalars(select(Consent)).all()


def _sign(client, world, **overrides):
    patient = db.session.get(Patient, world["patient"].id)
    return post_form(client, world["new"], consent_data(patient, **overrides))


# Signing

def test_signing_page_shows_every_risk_and_declaration_as_a_tick(as_practitioner, world):
    response = as_practitioner.get(world["new"])
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    content = load_consent_content("microneedling")
    for n, risk in enumerate(content.risks):
        assert f'id="risk_{n}"' in html and f'for="risk_{n}"' in html
    assert html.count('type="checkbox"') == len(content.risks) + len(content.declarations) + 3
    assert "Clear signature" in html and "<canvas" in html
    assert "vendor/signature_pad/signature_pad.umd.min.js" in html and "js/consent.js" in html
    assert content.sha256 in html


def test_signing_stores_the_text_version_hash_signature_and_witness(as_practitioner, world):
    response = _sign(as_practitioner, world)
    assert response.status_code == 303
    consent = _consents()[0]
    assert response.headers["Location"].endswith(f"/consents/{consent.public_id}")
    content = load_consent_content("microneedling")
    assert consent.content_text == content.text == canonical_text(content)
    assert consent.content_version == content.version == "2026.11-1"
    assert consent.content_sha256 == content.sha256
    assert same_pixels(consent.signature_png, signature_png())  # re-encoded: the drawing, nothing else posted with it
    assert consent.signature_sha256 == hashlib.sha256(consent.signature_png).hexdigest()
    assert consent.witnessed_by_id == world["practitioner"].id
    assert consent.patient_id == world["patient"].id and consent.consultation_id == world["consultation"].id
    assert consent.modality == "microneedling"
    assert (consent.photo_clinical, consent.photo_marketing) == (True, False)
    assert consent.patient_typed_name == "Zoë Okafor-Hale"
    assert consent.signed_at is not None


def test_stored_sha256_is_the_hash_of_the_stored_text(as_practitioner, app, practitioner):
    patient = make_patient(actor=practitioner)
    consultation = make_consultation(patient, practitioner, decision="proceed_with_caution", modality="rf_microneedling")
    response = post_form(as_practitioner, f"/consultations/{consultation.public_id}/consents/new",
                         consent_data(patient, modality="rf_microneedling"))
    assert response.status_code == 303
    consent = _consents()[0]
    assert consent.content_sha256 == hashlib.sha256(consent.content_text.encode("utf-8")).hexdigest()
    assert "Burns or blisters from the heat." in consent.content_text


def test_the_signed_consent_page_shows_what_was_signed(as_practitioner, world):
    _sign(as_practitioner, world, photo_marketing="y")
    consent = _consents()[0]
    response = as_practitioner.get(f"/consents/{consent.public_id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Zoë Okafor-Hale" in html and world["practitioner"].name in html
    assert consent.content_version in html and consent.content_sha256 in html
    assert f"/consents/{consent.public_id}/signature.png" in html
    assert "cannot be edited" in html and "the patient signs a new consent" in html
    assert "Lumps under the skin from a reaction to a product (granulomas)." in html
    assert html.count(">Agreed<") == 2


def test_signature_image_is_the_stored_png_and_never_cached(as_practitioner, world):
    _sign(as_practitioner, world)
    consent = _consents()[0]
    response = as_practitioner.get(f"/consents/{consent.public_id}/signature.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.headers["Cache-Control"] == "no-store"
    stored = db.session.get(Consent, consent.id).signature_png
    assert response.data == stored and same_pixels(response.data, signature_png())


def test_name_is_matched_ignoring_case_spaces_and_accents(as_practitioner, world):
    assert _sign(as_practitioner, world, patient_typed_name="  zoe   OKAFOR-hale ").status_code == 303
    assert _consents()[0].patient_typed_name == "zoe   OKAFOR-hale"


def test_name_mismatch_is_422_with_values_kept(as_practitioner, world):
    response = _sign(as_practitioner, world, patient_typed_name="Zoe Okafor", photo_clinical=None, photo_marketing="y")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "does not match the patient" in html
    assert 'value="Zoe Okafor"' in html
    assert _checked(html, "photo_marketing") and _checked(html, "risk_0")
    assert not _checked(html, "photo_clinical")
    # The drawing is sent back so the patient need not sign again for a mistyped name.
    assert PNG_PREFIX in html
    assert _consents() == []


def _checked(html: str, field_id: str) -> bool:
    start = html.rfind("<input", 0, html.index(f'id="{field_id}"'))
    return "checked" in html[start:html.index(">", start)]


def test_missing_signature_is_422(as_practitioner, world):
    response = _sign(as_practitioner, world, signature="")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Ask the patient to sign in the box." in html
    assert 'value="Zoë Okafor-Hale"' in html
    assert _consents() == []


def test_blank_white_signature_is_422(as_practitioner, world):
    response = _sign(as_practitioner, world, signature=data_url(signature_png(ink=False)))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "The signature box is empty" in html
    assert PNG_PREFIX not in html  # a refused drawing is not put back
    assert _consents() == []


def test_transparent_signature_is_blank(as_practitioner, world):
    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    response = _sign(as_practitioner, world, signature=data_url(buffer.getvalue()))
    assert response.status_code == 422
    assert "The signature box is empty" in response.get_data(as_text=True)


@pytest.mark.parametrize("signature, message", [
    (data_url(signature_png(image_format="JPEG"), "image/jpeg"), "not received as a PNG image"),
    (data_url(signature_png(image_format="JPEG")), "not received as a PNG image"),
    (data_url(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"), "not received as a PNG image"),
    ("https://example.com/signature.png", "not received as a PNG image"),
    (PNG_PREFIX + "not base64!", "could not be read"),
    (data_url(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64), "could not be read"),
    (data_url(signature_png(size=(20, 10), ink=False)), "not a usable size"),
], ids=["jpeg", "jpeg-called-png", "svg", "remote-url", "bad-base64", "broken-png", "tiny"])
def test_a_signature_that_is_not_a_usable_png_is_422(as_practitioner, world, signature, message):
    response = _sign(as_practitioner, world, signature=signature)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _consents() == []


def test_an_unticked_risk_or_declaration_or_confirmation_is_422(as_practitioner, world):
    response = _sign(as_practitioner, world, risk_3=None, declaration_0=None, practitioner_confirms=None)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Tick this once the patient has read and understood this risk." in html
    assert "Tick this once the patient confirms this statement." in html
    assert "Confirm that you explained the treatment" in html
    assert "Please correct 3 things below" in html
    assert _consents() == []


def test_a_new_version_means_a_new_consent(as_practitioner, world):
    assert _sign(as_practitioner, world).status_code == 303
    assert _sign(as_practitioner, world).status_code == 303
    assert len({c.public_id for c in _consents()}) == 2


# Refusals

@pytest.mark.parametrize("decision", ["defer", "refer", "decline"])
def test_consultation_that_does_not_allow_treatment_is_refused_with_409(as_practitioner, app, practitioner, decision):
    patient = make_patient(actor=practitioner)
    consultation = make_consultation(patient, practitioner, decision=decision,
                                     rebook_from=date.today() + timedelta(days=30) if decision == "defer" else None)
    path = f"/consultations/{consultation.public_id}/consents/new"
    response = as_practitioner.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Consent cannot be signed" in html and "record an override with your reason" in html
    assert "<canvas" not in html and "Sign consent</button>" not in html
    patient = db.session.get(Patient, patient.id)
    response = post_form(as_practitioner, path, consent_data(patient), page="/patients/")
    assert response.status_code == 409
    assert "Consent cannot be signed" in response.get_data(as_text=True)
    assert _consents() == []


def test_deferred_message_says_when(as_practitioner, app, practitioner):
    patient = make_patient(actor=practitioner)
    consultation = make_consultation(patient, practitioner, decision="defer", rebook_from=date(2031, 3, 4))
    html = as_practitioner.get(f"/consultations/{consultation.public_id}/consents/new").get_data(as_text=True)
    assert "not before 4 March 2031" in html and "Re-book the patient" in html


def test_an_override_allows_consent(as_practitioner, app, practitioner):
    patient = make_patient(actor=practitioner)
    consultation = make_consultation(patient, practitioner, decision="refer")
    db.session.add(ScreeningOverride(consultation_id=consultation.id, computed_decision="refer",
                                     reason="GP clearance letter seen", recorded_by_id=practitioner.id))
    db.session.commit()
    path = f"/consultations/{consultation.public_id}/consents/new"
    assert as_practitioner.get(path).status_code == 200
    assert post_form(as_practitioner, path, consent_data(db.session.get(Patient, patient.id))).status_code == 303


def test_unknown_consultation_and_consent_are_404(as_practitioner):
    assert as_practitioner.get(f"/consultations/{uuid.uuid4()}/consents/new").status_code == 404
    assert as_practitioner.get(f"/consents/{uuid.uuid4()}").status_code == 404
    assert as_practitioner.get(f"/consents/{uuid.uuid4()}/signature.png").status_code == 404


# Who may

def _signed_consent(world) -> Consent:
    patient = db.session.get(Patient, world["patient"].id)
    consultation = db.session.get(Consultation, world["consultation"].id)
    from practitioner.consents.services import sign_consent

    consent = sign_consent(db.session, consultation, load_consent_content("microneedling"),
                           typed_name=patient.full_name, signature_data_url=data_url(signature_png()),
                           photo_clinical=False, photo_marketing=False, actor=db.session.get(User, world["practitioner"].id))
    db.session.commit()
    return consent


@pytest.mark.parametrize("role", [Role.RECEPTION, Role.ADMIN])
def test_roles_without_clinical_access_get_403_on_every_consent_route(app, client, world, role):
    consent = _signed_consent(world)
    user = make_user(role, email=f"{role.value}@clinic.example")
    assert sign_in(client, user.email).status_code == 303
    for path in (world["new"], f"/consents/{consent.public_id}", f"/consents/{consent.public_id}/signature.png"):
        assert client.get(path).status_code == 403, path
    patient = db.session.get(Patient, world["patient"].id)
    assert post_form(client, world["new"], consent_data(patient), page="/patients/").status_code == 403
    assert len(_consents()) == 1


def test_anonymous_is_sent_to_sign_in(client, world):
    consent = _signed_consent(world)
    for path in (world["new"], f"/consents/{consent.public_id}", f"/consents/{consent.public_id}/signature.png"):
        response = client.get(path)
        assert response.status_code in (302, 303), path
        assert "/sign-in" in response.headers["Location"]


def test_there_is_no_way_to_edit_a_consent(as_practitioner, world, app):
    consent = _signed_consent(world)
    response = post_form(as_practitioner, f"/consents/{consent.public_id}", {"patient_typed_name": "Someone else"},
                         page="/patients/")
    assert response.status_code == 405
    assert as_practitioner.get(f"/consents/{consent.public_id}/edit").status_code == 404
    assert not [rule for rule in app.url_map.iter_rules() if "consent" in rule.endpoint and "edit" in rule.endpoint]


def test_the_database_refuses_to_change_or_delete_a_consent(world):
    consent = _signed_consent(world)
    with pytest.raises(DatabaseError, match="cannot be changed"):
        db.session.execute(update(Consent).where(Consent.id == consent.id).values(patient_typed_name="Someone else"))
    db.session.rollback()
    with pytest.raises(DatabaseError, match="cannot be changed"):
        db.session.execute(delete(Consent).where(Consent.id == consent.id))
    db.session.rollback()
    assert db.session.get(Consent, consent.id).patient_typed_name == "Zoë Okafor-Hale"


def test_signing_writes_an_audit_row(as_practitioner, world):
    _sign(as_practitioner, world, photo_marketing="y")
    consent = _consents()[0]
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "consent.sign")).one()
    assert event.actor_id == world["practitioner"].id
    assert event.patient_id == world["patient"].id
    assert event.target == f"consent:{consent.public_id}"
    assert json.loads(event.detail) == {"version": consent.content_version, "sha256": consent.content_sha256,
                                        "photo_clinical": True, "photo_marketing": True,
                                        "record_sha256": consent_record_hash(consent)}  # seals the whole consent


# The partial on the consultation page

def test_consents_partial_lists_consents_and_offers_signing(app, world):
    consent = _signed_consent(world)
    consultation = db.session.get(Consultation, world["consultation"].id)
    with app.test_request_context():
        g._login_user = db.session.get(User, world["practitioner"].id)  # what Flask-Login reads as current_user
        html = render_template("consents/_for_consultation.html", consultation=consultation, consents=[consent])
    assert f"/consents/{consent.public_id}" in html
    assert f'href="{world["new"]}"' in html and "Sign consent" in html


def test_consents_partial_offers_no_signing_when_treatment_is_not_allowed(app, world, practitioner):
    consultation = make_consultation(db.session.get(Patient, world["patient"].id), practitioner, decision="decline")
    with app.test_request_context():
        g._login_user = db.session.get(User, practitioner.id)
        html = render_template("consents/_for_consultation.html", consultation=consultation, consents=[])
    assert "Sign consent" not in html
    assert "No consent signed" in html and "once the screening allows treatment" in html


# The content

@pytest.mark.parametrize("modality, specific", [
    ("microneedling", "Marks in lines or a grid pattern (track marks), or scarring."),
    ("rf_microneedling", "Nerve injury, which can cause numbness or weakness."),
    ("prp_microneedling", "Feeling faint, or fainting, when the blood is taken."),
])
def test_every_modality_has_consent_text(modality, specific):
    content = load_consent_content(modality)
    assert specific in content.risks
    assert any("Doing nothing" in line for line in content.alternatives)
    assert content.no_guarantee and content.photo_clinical and content.photo_marketing and content.declarations
    assert canonical_text(content) == content.text and content.text.endswith("\n")
    assert content.sha256 == hashlib.sha256(content.text.encode()).hexdigest()


def test_missing_or_broken_content_is_a_clear_error(tmp_path, monkeypatch):
    from practitioner.consents import content as consent_content

    with pytest.raises(ConsentContentError, match="no consent text for microneedling in language 'xx'"):
        load_consent_content("microneedling", language="xx")
    with pytest.raises(ConsentContentError, match="Unknown language code"):
        load_consent_content("microneedling", language="../en")
    with pytest.raises(ConsentContentError, match="Unknown modality"):
        load_consent_content("laser")
    (tmp_path / "en" / "consent").mkdir(parents=True)
    (tmp_path / "en" / "consent" / "microneedling.toml").write_text('version = "1"\ntitle = "T"\nrisk = ["typo"]\n')
    monkeypatch.setattr(consent_content, "CONTENT_DIR", tmp_path)
    load_consent_content.cache_clear()
    try:
        with pytest.raises(ConsentContentError, match=r"'risks' must be a non-empty list.*unknown keys: risk"):
            load_consent_content("microneedling")
    finally:
        load_consent_content.cache_clear()
