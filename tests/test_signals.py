"""Signals: every cross-feature plug point is a signal of practitioner/signals.py with a receiver; a
receiver failing after a session is signed is reported and leaves the signature standing; lower
pages name no document kind."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import timedelta
from pathlib import Path

from blinker import Namespace
from sqlalchemy import select

from practitioner import signals
from practitioner.admin.services import get_settings
from practitioner.database import utcnow
from practitioner.documents import jobs
from practitioner.documents import services as document_services
from practitioner.documents.models import DocumentKind, IssuedDocument
from practitioner.extensions import db
from practitioner.treatments.models import TreatmentSession
from practitioner.treatments.views import SIGNED_BUT_FOLLOW_ON_FAILED
from tests.conftest import make_config, make_patient
from tests.factories import draft_ready_to_sign, sign_on_the_page, treatable_plan

ROOT = Path(__file__).resolve().parents[1]


def test_every_signal_has_a_receiver_once_the_app_is_built(app):
    assert signals.ALL, "the catalogue declares its signals"
    for signal in signals.ALL:
        assert signal.receivers, f"nothing answers {signal.name}"
        assert signal.__doc__ and "Sent by" in signal.__doc__, f"{signal.name} says who sends it"
    assert {signals._name(r) for r in signals.session_signed.receivers.values()} == {
        "practitioner.documents.receivers.issue_aftercare"}
    assert len(signals.patient_timeline.receivers) == 6, "intake, consultations, plans, consents, sessions and documents"


def test_receivers_are_connected_once_however_many_apps_a_process_builds(app, database_url):
    from practitioner import create_app

    before = {signal.name: len(signal.receivers) for signal in signals.ALL}
    create_app(make_config(database_url))
    create_app(make_config(database_url))
    assert {signal.name: len(signal.receivers) for signal in signals.ALL} == before


def test_the_old_plug_points_are_gone(app):
    assert not (ROOT / "practitioner/treatments/hooks.py").exists()
    assert not (ROOT / "practitioner/documents/wiring.py").exists()
    import practitioner.patients.timeline as timeline

    assert not hasattr(timeline, "register_source")
    assert "documents_for_source" not in app.jinja_env.globals and "document_kind" not in app.jinja_env.globals


LOWER_TEMPLATES = ("patients", "consultations", "plans", "consents", "treatments")
KIND_WORDS = re.compile(r"document_kind|DocumentKind|documents_for_|doc_kinds|['\"](aftercare|treatment[-_]guide|consent[-_]form|"
                        r"consultation[-_]summary|session[-_]record|patient[-_]export)['\"]")


def test_no_lower_page_names_a_document_kind():
    named = [f"{path.relative_to(ROOT)}: {match.group(0)}"
             for folder in LOWER_TEMPLATES for path in sorted((ROOT / "templates" / folder).glob("*.html"))
             for match in KIND_WORDS.finditer(path.read_text(encoding="utf-8"))]
    assert named == [], "lower pages render what the record_documents receivers return"


FEATURES = ("patients", "intake", "consultations", "plans", "consents", "treatments", "photos", "documents")
INCLUDE = re.compile(r"""{%-?\s*(?:include|import|from|extends)\s+["']([a-z_]+)/""")


def test_no_feature_template_includes_a_higher_features_template():
    """A lower page shows what higher features add through `record_sections`, never by naming their partials."""
    upward = [f"{path.relative_to(ROOT)} -> {match.group(1)}/"
              for lower in FEATURES for path in sorted((ROOT / "templates" / lower).glob("*.html"))
              for match in INCLUDE.finditer(path.read_text(encoding="utf-8"))
              if match.group(1) in FEATURES and FEATURES.index(match.group(1)) > FEATURES.index(lower)]
    assert upward == []


def test_a_consultations_page_shows_its_plans_then_its_consents_and_a_plans_page_its_sessions(as_practitioner, practitioner):
    from tests.factories import make_consent, make_consultation

    consultation = make_consultation(make_patient(actor=practitioner), practitioner)
    make_consent(consultation, practitioner)
    html = as_practitioner.get(f"/consultations/{consultation.public_id}").get_data(as_text=True)
    assert 'id="plans-title"' in html and 'id="consents-title"' in html
    assert html.index('id="plans-title"') < html.index('id="consents-title"') < html.index('id="answers-title"')
    plan = treatable_plan(make_patient(actor=practitioner, given_name="Sam", family_name="Sections"), practitioner)
    page = as_practitioner.get(f"/plans/{plan.public_id}").get_data(as_text=True)
    assert "Start session 1" in page


# -- signing: the aftercare through session_signed, and a receiver that fails ---------------------------


def _complete_draft(client, practitioner, clinic_phone: str = "0117 496 0123") -> str:
    get_settings(db.session).phone = clinic_phone
    db.session.commit()
    return draft_ready_to_sign(client, practitioner)


def _sign(client, record_url: str):
    return sign_on_the_page(client, record_url)


def _stored(record_url: str) -> TreatmentSession:
    db.session.remove()  # read what was committed, in a new session
    public_id = uuid.UUID(record_url.rsplit("/", 1)[1])
    return db.session.scalars(select(TreatmentSession).where(TreatmentSession.public_id == public_id)).one()


def _aftercare_count() -> int:
    return len(list(db.session.scalars(select(IssuedDocument).where(IssuedDocument.kind == DocumentKind.AFTERCARE))))


def _unlocked_edit_refused(client, record_url: str) -> bool:
    return client.get(record_url + "/edit", follow_redirects=False).status_code != 200


def _no_patient_data_logged(caplog) -> None:
    logged = "\n".join(record.getMessage() + (str(record.exc_info[1]) if record.exc_info else "") for record in caplog.records)
    assert "Nowak" not in logged and "Ola" not in logged, "the log names no patient"


def test_a_session_draft_offers_the_aftercare_preview_but_not_its_issue(as_practitioner, practitioner):
    record_url = _complete_draft(as_practitioner, practitioner)
    page = as_practitioner.get(record_url).get_data(as_text=True)
    assert "Preview aftercare" in page and "Preview session record" in page
    assert DocumentKind.AFTERCARE.issue_label not in page and "Save session record to the file" in page
    assert "Nothing issued from this record yet." in page


def test_when_issuing_the_aftercare_fails_after_signing_the_signature_stands_and_the_practitioner_is_told(
        as_practitioner, practitioner, monkeypatch, caplog):
    def broken(session, kind, source_id, **kwargs):
        record = session.scalars(select(TreatmentSession).where(TreatmentSession.public_id == source_id)).one()
        raise RuntimeError(f"could not render the leaflet for {record.patient.given_name} {record.patient.family_name}")

    monkeypatch.setattr(document_services, "issue_now", broken)
    record_url = _complete_draft(as_practitioner, practitioner)
    caplog.set_level(logging.INFO)
    response = _sign(as_practitioner, record_url)
    assert response.status_code == 303 and response.headers["Location"].endswith(record_url)
    # The render is tried again by itself (practitioner.documents.jobs): run the retries when they fall due.
    for minutes in (1, 2):
        jobs.run_due(db.session, now=utcnow() + timedelta(minutes=minutes))

    stored = _stored(record_url)
    assert stored.is_signed and stored.signed_by_id is not None, "signed and committed"
    assert _unlocked_edit_refused(as_practitioner, record_url), "locked"
    assert _aftercare_count() == 0
    page = as_practitioner.get(record_url).get_data(as_text=True)
    assert "Signed. The record is now locked" in page
    assert "The aftercare could not be issued automatically. Issue it from this page" in page
    assert DocumentKind.AFTERCARE.issue_label in page, "and the button it names is there"
    assert SIGNED_BUT_FOLLOW_ON_FAILED not in page, "the receiver reported its own failure"
    assert any(r.levelno == logging.ERROR and "RuntimeError" in r.getMessage() and "aftercare" in r.getMessage()
               for r in caplog.records), "the failure is logged"
    _no_patient_data_logged(caplog)


def _raising_receiver(record, **kwargs):
    raise ValueError(f"{record.patient.family_name} broke a follow-on step")


def test_any_receiver_that_raises_after_signing_is_reported_and_the_others_still_run(as_practitioner, practitioner, caplog):
    record_url = _complete_draft(as_practitioner, practitioner)
    caplog.set_level(logging.INFO)
    signals.session_signed.connect(_raising_receiver, weak=False)
    try:
        response = _sign(as_practitioner, record_url)
    finally:
        signals.session_signed.disconnect(_raising_receiver)
    assert response.status_code == 303
    stored = _stored(record_url)
    assert stored.is_signed and stored.signed_by_id is not None
    assert _unlocked_edit_refused(as_practitioner, record_url)
    assert _aftercare_count() == 1, "documents' receiver still issued the aftercare"
    page = as_practitioner.get(record_url).get_data(as_text=True)
    assert SIGNED_BUT_FOLLOW_ON_FAILED in page and "Aftercare issued as" in page
    assert any(r.levelno == logging.ERROR and "ValueError" in r.getMessage() and "_raising_receiver" in r.getMessage()
               for r in caplog.records)
    _no_patient_data_logged(caplog)


def test_send_guarded_runs_the_senders_rollback_after_a_failure_and_keeps_the_answers():
    signal = Namespace().signal("test")
    calls: list[str] = []

    def answers(sender, **kwargs):
        return signals.Notice(f"fine {kwargs['n']}")

    def fails(sender, **kwargs):
        raise KeyError(sender)

    signal.connect(answers, weak=False)
    signal.connect(fails, weak=False)
    values, failed = signals.send_guarded(signal, "Ola Nowak", on_failure=lambda: calls.append("rollback"), n=1)
    assert values == [signals.Notice("fine 1")] and failed == [fails] and calls == ["rollback"]


def test_a_refusal_at_signing_says_what_to_do_first(as_practitioner, practitioner):
    record_url = _complete_draft(as_practitioner, practitioner, clinic_phone="")
    assert _sign(as_practitioner, record_url).status_code == 303
    assert _stored(record_url).is_signed and _aftercare_count() == 0
    page = as_practitioner.get(record_url).get_data(as_text=True)
    assert "The aftercare could not be issued automatically. Issue it from this page" in page
    assert "the clinic has no phone number" in page and "Clinic settings" in page


def test_each_kind_in_the_catalogue_is_offered_on_the_page_of_the_record_it_is_made_from(app, as_practitioner, practitioner):
    from flask import url_for

    from practitioner.documents import kinds
    from tests.documents.test_documents import rf_story

    get_settings(db.session).phone = "0117 496 0123"
    db.session.commit()
    story = rf_story(practitioner, with_draft=False)
    # The progress sheet is made once a view was photographed twice under a clinical photography consent.
    from tests.photos.factories import make_photo, photo_consent

    photo_consent_form = photo_consent(story.consultation, practitioner)
    for _ in range(2):
        make_photo(story.patient.id, photo_consent_form, practitioner, view="frontal", moment="baseline", consultation=story.consultation)
    from tests.intake.factories import make_intake

    records = {"patients.detail": story.patient, "consultations.detail": story.consultation, "plans.detail": story.plan,
               "consents.detail": story.consent, "treatments.detail": story.signed,
               "intake.signed": make_intake(story.patient, practitioner, submitted=True)}
    with app.test_request_context():
        pages = {type(record): (url_for(endpoint, public_id=record.public_id), str(record.public_id)) for endpoint, record in records.items()}
    for declared in kinds.KINDS.values():
        page, public_id = pages[declared.source]
        html = as_practitioner.get(page).get_data(as_text=True)
        assert f"/documents/{declared.kind.value}/{public_id}.pdf" in html, f"{declared.kind.value} on {page}"
        assert declared.issue_label in html, f"{declared.kind.value} can be issued from {page}"
