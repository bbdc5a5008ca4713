"""Photo consent rules (practitioner/photos/consent.py): none, given, withdrawn, given again, the session's answer for today."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from practitioner.extensions import db
from practitioner.photos import consent
from practitioner.photos.consent import PhotoRefused
from tests.conftest import make_patient, post_form
from tests.factories import make_consultation
from tests.photos.visits import consultation_with_consent, draft_session, sign_form, withdraw

NOW = datetime.now(timezone.utc)


def test_no_consent_form_no_photos(app, practitioner):
    patient = make_patient(actor=practitioner)
    make_consultation(patient, practitioner)
    with pytest.raises(PhotoRefused) as refused:
        consent.clinical_consent_for(db.session, patient.id)
    assert refused.value.reason == consent.NO_CONSENT_FORM
    assert "consent form" in str(refused.value)


def test_given_on_the_latest_form(app, practitioner):
    patient = make_patient(actor=practitioner)
    _, form = consultation_with_consent(patient, practitioner, clinical=True)
    assert consent.clinical_consent_for(db.session, patient.id).id == form.id
    assert consent.consent_state(db.session, patient.id, "clinical").given
    assert not consent.consent_state(db.session, patient.id, "marketing").given


def test_a_later_form_saying_no_replaces_an_earlier_yes(app, practitioner):
    patient = make_patient(actor=practitioner)
    consultation, _ = consultation_with_consent(patient, practitioner, clinical=True, signed_at=NOW - timedelta(days=30))
    sign_form(consultation, practitioner, clinical=False, signed_at=NOW - timedelta(days=1))
    with pytest.raises(PhotoRefused) as refused:
        consent.clinical_consent_for(db.session, patient.id)
    assert refused.value.reason == consent.NOT_GIVEN


def test_withdrawn_after_signing_then_given_again_by_a_new_form(app, practitioner):
    patient = make_patient(actor=practitioner)
    consultation, _ = consultation_with_consent(patient, practitioner, clinical=True, signed_at=NOW - timedelta(days=10))
    withdraw(patient.id, "clinical", practitioner, at=NOW - timedelta(days=5))
    with pytest.raises(PhotoRefused) as refused:
        consent.clinical_consent_for(db.session, patient.id)
    assert refused.value.reason == consent.WITHDRAWN
    assert "withdrew" in str(refused.value)
    state = consent.consent_state(db.session, patient.id, "clinical")
    assert not state.given and state.summary.startswith("Withdrawn on ")

    again = sign_form(consultation, practitioner, clinical=True, signed_at=NOW - timedelta(days=1))
    assert consent.clinical_consent_for(db.session, patient.id).id == again.id


def test_a_marketing_withdrawal_leaves_clinical_consent_standing(app, practitioner):
    patient = make_patient(actor=practitioner)
    consultation_with_consent(patient, practitioner, clinical=True, marketing=True, signed_at=NOW - timedelta(days=3))
    withdraw(patient.id, "marketing", practitioner)
    assert consent.consent_state(db.session, patient.id, "clinical").given
    assert not consent.consent_state(db.session, patient.id, "marketing").given


def test_the_sessions_answer_for_today_no_refuses_unanswered_does_not(app, practitioner):
    patient = make_patient(actor=practitioner)
    consultation, form = consultation_with_consent(patient, practitioner, clinical=True)
    with pytest.raises(PhotoRefused) as refused:
        consent.clinical_consent_for(db.session, patient.id, today_answer=False)
    assert refused.value.reason == consent.TODAY_NO
    assert consent.clinical_consent_for(db.session, patient.id, today_answer=None).id == form.id


def test_withdrawal_form_records_it_dated_on_the_patient_page(app, as_practitioner, practitioner):
    patient = make_patient(actor=practitioner)
    consultation_with_consent(patient, practitioner, clinical=True, signed_at=NOW - timedelta(days=2))
    path = f"/patients/{patient.public_id}/photo-consent/withdraw"
    response = post_form(as_practitioner, path, {"scope": "clinical", "reason": "Does not want photos any more"})
    assert response.status_code == 303
    page = as_practitioner.get(f"/patients/{patient.public_id}").get_data(as_text=True)
    assert "Does not want photos any more" in page
    assert "Photos already taken stay in the record, because they are part of the clinical record." in page
    assert "Withdrawn on " in page
    assert consent.overview(db.session, patient.id).withdrawals[0].scope == "clinical"


@pytest.mark.parametrize("data, field_message", [
    ({"scope": "", "reason": "No reason given"}, "Choose which consent the patient withdraws."),
    ({"scope": "clinical", "reason": ""}, "Write the reason the patient gave"),
    ({"scope": "everything", "reason": "x"}, "Choose clinical photography or marketing use."),
    ({"scope": "marketing", "reason": "Not given, so nothing to withdraw"}, "Nothing to withdraw for marketing use: not given on the latest consent form"),
])
def test_withdrawal_form_bad_input_is_422_with_the_values_kept(app, as_practitioner, practitioner, data, field_message):
    patient = make_patient(actor=practitioner)
    consultation_with_consent(patient, practitioner, clinical=True, marketing=False)
    path = f"/patients/{patient.public_id}/photo-consent/withdraw"
    response = post_form(as_practitioner, path, data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_message in body
    if data["reason"]:
        assert data["reason"] in body
    assert "['" not in body and "{'" not in body, "no program text in a message"
    assert consent.overview(db.session, patient.id).withdrawals == []


def test_withdrawal_without_csrf_is_refused(app, as_practitioner, practitioner):
    patient = make_patient(actor=practitioner)
    consultation_with_consent(patient, practitioner, clinical=True)
    response = as_practitioner.post(f"/patients/{patient.public_id}/photo-consent/withdraw", data={"scope": "clinical", "reason": "x"})
    assert response.status_code in (400, 422)
    assert consent.overview(db.session, patient.id).withdrawals == []


def test_session_page_answer_no_refuses_capture(app, as_practitioner, practitioner):
    patient = make_patient(actor=practitioner)
    consultation, _ = consultation_with_consent(patient, practitioner, clinical=True)
    record = draft_session(consultation, practitioner, photo_consent=False)
    page = as_practitioner.get(f"/sessions/{record.public_id}/photos")
    assert page.status_code == 200
    assert "says No to photo consent for today" in page.get_data(as_text=True)
    assert 'type="file"' not in page.get_data(as_text=True)
