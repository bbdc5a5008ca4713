"""Every route, from the app's URL map: who gets in, CSRF on every POST, headers on every answer."""

from __future__ import annotations

import pytest
from flask import Flask

from practitioner.extensions import db
from tests.conftest import make_patient, make_user, sign_in
from practitioner.auth.models import Role

ANON, RECEPTION, PRACTITIONER, ADMIN = "anonymous", "reception", "practitioner", "admin"
OK, SIGN_IN, FORBIDDEN, NOT_ALLOWED = 200, 303, 403, 405

# Expected answer to a GET for every endpoint: a new route without an entry fails the test below.
# (303 for the anonymous visitor means "sent to sign in".)
GET_MATRIX: dict[str, dict[str, int]] = {
    "main.home": {ANON: 303, RECEPTION: 303, PRACTITIONER: 303, ADMIN: 303},
    "main.health": {ANON: OK, RECEPTION: OK, PRACTITIONER: OK, ADMIN: OK},
    "auth.sign_in": {ANON: OK, RECEPTION: 303, PRACTITIONER: 303, ADMIN: 303},
    "auth.sign_out": {ANON: NOT_ALLOWED, RECEPTION: NOT_ALLOWED, PRACTITIONER: NOT_ALLOWED, ADMIN: NOT_ALLOWED},
    # The code after a right password: with no password checked yet, back to sign in; signed in, on to the app.
    "auth.two_factor_code": {ANON: 303, RECEPTION: 303, PRACTITIONER: 303, ADMIN: 303},
    "auth.two_factor": {ANON: SIGN_IN, RECEPTION: OK, PRACTITIONER: OK, ADMIN: OK},
    "admin.reset_two_factor": {ANON: NOT_ALLOWED, RECEPTION: NOT_ALLOWED, PRACTITIONER: NOT_ALLOWED, ADMIN: NOT_ALLOWED},
    "patients.list": {ANON: SIGN_IN, RECEPTION: OK, PRACTITIONER: OK, ADMIN: OK},
    "patients.new": {ANON: SIGN_IN, RECEPTION: OK, PRACTITIONER: OK, ADMIN: OK},
    "patients.detail": {ANON: SIGN_IN, RECEPTION: OK, PRACTITIONER: OK, ADMIN: OK},
    "patients.edit": {ANON: SIGN_IN, RECEPTION: OK, PRACTITIONER: OK, ADMIN: OK},
    "patients.archive": {ANON: NOT_ALLOWED, RECEPTION: NOT_ALLOWED, PRACTITIONER: NOT_ALLOWED, ADMIN: NOT_ALLOWED},
    "patients.restore": {ANON: NOT_ALLOWED, RECEPTION: NOT_ALLOWED, PRACTITIONER: NOT_ALLOWED, ADMIN: NOT_ALLOWED},
    "admin.users": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: FORBIDDEN, ADMIN: OK},
    "admin.new_user": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: FORBIDDEN, ADMIN: OK},
    "admin.edit_user": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: FORBIDDEN, ADMIN: OK},
    "admin.settings": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: FORBIDDEN, ADMIN: OK},
    "admin.logo": {ANON: SIGN_IN, RECEPTION: 404, PRACTITIONER: 404, ADMIN: 404},
    "admin.audit_trail": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: FORBIDDEN, ADMIN: OK},
    "admin.policy": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: FORBIDDEN, ADMIN: OK},
    "consultations.new": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "consultations.detail": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "consultations.edit": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    # The world's consultation is not locked, so a re-screen sends the practitioner to edit it instead.
    "consultations.rescreen": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: 303, ADMIN: FORBIDDEN},
    "consultations.override": {ANON: NOT_ALLOWED, RECEPTION: NOT_ALLOWED, PRACTITIONER: NOT_ALLOWED, ADMIN: NOT_ALLOWED},
    "plans.new": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "plans.detail": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "consents.new": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "consents.detail": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "consents.signature": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "admin.aftercare": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: FORBIDDEN, ADMIN: OK},
    # The world's session is a draft: its aftercare is not ready, so a preview sends the user back.
    "documents.preview": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: 303, ADMIN: FORBIDDEN},
    "documents.issue": {ANON: NOT_ALLOWED, RECEPTION: NOT_ALLOWED, PRACTITIONER: NOT_ALLOWED, ADMIN: NOT_ALLOWED},
    "documents.reprint": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "documents.reprint_json": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "documents.job_status": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "documents.retry_job": {ANON: NOT_ALLOWED, RECEPTION: NOT_ALLOWED, PRACTITIONER: NOT_ALLOWED, ADMIN: NOT_ALLOWED},
    "treatments.start": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: 409, ADMIN: FORBIDDEN},
    "treatments.edit": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "treatments.detail": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "treatments.sign": {ANON: NOT_ALLOWED, RECEPTION: NOT_ALLOWED, PRACTITIONER: NOT_ALLOWED, ADMIN: NOT_ALLOWED},
    "treatments.override": {ANON: NOT_ALLOWED, RECEPTION: NOT_ALLOWED, PRACTITIONER: NOT_ALLOWED, ADMIN: NOT_ALLOWED},
    "treatments.add_addendum": {ANON: NOT_ALLOWED, RECEPTION: NOT_ALLOWED, PRACTITIONER: NOT_ALLOWED, ADMIN: NOT_ALLOWED},
    "treatments.unsigned": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "treatments.lots": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "treatments.lots_csv": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: 404, ADMIN: FORBIDDEN},
    # A photo's bytes: practitioners only, like the record's clinical parts (admin sees that it was viewed, not the photo).
    "photos.image": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "photos.thumbnail": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    # Taking photos, review visits, withdrawals of photo consent, marketing: practitioners only. The world's consent
    # gives no photo consent, so a capture page answers 200 with the refusal.
    "photos.capture_consultation": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "photos.capture_session": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "photos.capture_review": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "photos.review_visit": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "photos.new_review_visit": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "photos.withdraw_consent": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "photos.marketing_list": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "photos.mark_marketing": {ANON: NOT_ALLOWED, RECEPTION: NOT_ALLOWED, PRACTITIONER: NOT_ALLOWED, ADMIN: NOT_ALLOWED},
    "photos.unmark_marketing": {ANON: NOT_ALLOWED, RECEPTION: NOT_ALLOWED, PRACTITIONER: NOT_ALLOWED, ADMIN: NOT_ALLOWED},
    "photos.marketing_export": {ANON: NOT_ALLOWED, RECEPTION: NOT_ALLOWED, PRACTITIONER: NOT_ALLOWED, ADMIN: NOT_ALLOWED},
    # The photo protocol is a clinic setting (which views a set holds), not a photo: administrators only.
    "photos.protocol_settings": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: FORBIDDEN, ADMIN: OK},
    # A patient's photo timeline and the comparison: practitioners only.
    "photos.patient_timeline": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "photos.compare_photos": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    # The staff side of the intake: starting one, a link, withdrawing, accepting details are POSTs; the signed intake
    # and the consultation started from it hold clinical answers (practitioners only).
    "intake.start_tablet": {ANON: NOT_ALLOWED, RECEPTION: NOT_ALLOWED, PRACTITIONER: NOT_ALLOWED, ADMIN: NOT_ALLOWED},
    "intake.create_link": {ANON: NOT_ALLOWED, RECEPTION: NOT_ALLOWED, PRACTITIONER: NOT_ALLOWED, ADMIN: NOT_ALLOWED},
    "intake.withdraw": {ANON: NOT_ALLOWED, RECEPTION: NOT_ALLOWED, PRACTITIONER: NOT_ALLOWED, ADMIN: NOT_ALLOWED},
    "intake.accept_details": {ANON: NOT_ALLOWED, RECEPTION: NOT_ALLOWED, PRACTITIONER: NOT_ALLOWED, ADMIN: NOT_ALLOWED},
    "intake.signed": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "consultations.from_intake_new": {ANON: SIGN_IN, RECEPTION: FORBIDDEN, PRACTITIONER: OK, ADMIN: FORBIDDEN},
    "consultations.from_intake_all_nos": {ANON: NOT_ALLOWED, RECEPTION: NOT_ALLOWED, PRACTITIONER: NOT_ALLOWED, ADMIN: NOT_ALLOWED},
    # The patient's intake pages: open without an account, but only to a browser holding one intake (a tablet handed
    # over, or a link whose date of birth was right: test_intake_patient_pages_need_the_intake_session). Without it,
    # signed in or not, each is the same calm page (404), as is an unknown link.
    "intake.resume_tablet": {ANON: NOT_ALLOWED, RECEPTION: NOT_ALLOWED, PRACTITIONER: NOT_ALLOWED, ADMIN: NOT_ALLOWED},
    "intake.open_link": {ANON: 404, RECEPTION: 404, PRACTITIONER: 404, ADMIN: 404},
    "intake.welcome": {ANON: 404, RECEPTION: 404, PRACTITIONER: 404, ADMIN: 404},
    "intake.screen": {ANON: 404, RECEPTION: 404, PRACTITIONER: 404, ADMIN: 404},
    "intake.summary": {ANON: 404, RECEPTION: 404, PRACTITIONER: 404, ADMIN: 404},
    "intake.done": {ANON: 404, RECEPTION: 404, PRACTITIONER: 404, ADMIN: 404},
}

# Which record's id each route's <uuid:public_id> takes (the patient's unless listed).
ID_KIND = {
    "admin.edit_user": "user",
    "consultations.detail": "consultation",
    "consultations.edit": "consultation",
    "consultations.rescreen": "consultation",
    "consultations.override": "consultation",
    "plans.new": "consultation",
    "consents.new": "consultation",
    "plans.detail": "plan",
    "consents.detail": "consent",
    "consents.signature": "consent",
    "treatments.start": "plan",
    "treatments.edit": "session",
    "treatments.detail": "session",
    "treatments.sign": "session",
    "treatments.override": "session",
    "treatments.add_addendum": "session",
    "documents.reprint": "document",
    "documents.reprint_json": "document",
    "documents.job_status": "job",
    "documents.retry_job": "job",
    "photos.image": "photo",
    "photos.thumbnail": "photo",
    "photos.capture_consultation": "consultation",
    "photos.capture_session": "session",
    "photos.capture_review": "review",
    "photos.review_visit": "review",
    "photos.mark_marketing": "photo",
    "photos.unmark_marketing": "photo",
    "intake.withdraw": "intake",
    "intake.resume_tablet": "intake",
    "intake.accept_details": "intake",
    "intake.signed": "intake",
    "consultations.from_intake_new": "intake",
    "consultations.from_intake_all_nos": "intake",
}

# POST rights, checked with a valid CSRF token: 403 for a role that may not, anything else otherwise.
POST_FORBIDDEN: dict[str, set[str]] = {
    "admin.new_user": {RECEPTION, PRACTITIONER},
    "admin.edit_user": {RECEPTION, PRACTITIONER},
    "admin.settings": {RECEPTION, PRACTITIONER},
    "admin.policy": {RECEPTION, PRACTITIONER},
    "consultations.new": {RECEPTION, ADMIN},
    "consultations.edit": {RECEPTION, ADMIN},
    "consultations.rescreen": {RECEPTION, ADMIN},
    "consultations.override": {RECEPTION, ADMIN},
    "plans.new": {RECEPTION, ADMIN},
    "consents.new": {RECEPTION, ADMIN},
    "treatments.start": {RECEPTION, ADMIN},
    "treatments.edit": {RECEPTION, ADMIN},
    "treatments.sign": {RECEPTION, ADMIN},
    "treatments.override": {RECEPTION, ADMIN},
    "treatments.add_addendum": {RECEPTION, ADMIN},
    "admin.aftercare": {RECEPTION, PRACTITIONER},
    "documents.issue": {RECEPTION, ADMIN},
    "documents.retry_job": {RECEPTION, ADMIN},
    "photos.capture_consultation": {RECEPTION, ADMIN},
    "photos.capture_session": {RECEPTION, ADMIN},
    "photos.capture_review": {RECEPTION, ADMIN},
    "photos.new_review_visit": {RECEPTION, ADMIN},
    "photos.withdraw_consent": {RECEPTION, ADMIN},
    "photos.mark_marketing": {RECEPTION, ADMIN},
    "photos.unmark_marketing": {RECEPTION, ADMIN},
    "photos.marketing_export": {RECEPTION, ADMIN},
    "photos.protocol_settings": {RECEPTION, PRACTITIONER},
    # Reception and practitioners start intakes; the admin, who sees no clinical data, does not.
    "intake.start_tablet": {ADMIN},
    "intake.create_link": {ADMIN},
    "intake.withdraw": {ADMIN},
    "intake.resume_tablet": {ADMIN},
    "intake.accept_details": {ADMIN},
    "consultations.from_intake_new": {RECEPTION, ADMIN},
    "consultations.from_intake_all_nos": {RECEPTION, ADMIN},
}


def _endpoints(app: Flask) -> list[tuple[str, str, set[str]]]:
    rules = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        rules.append((rule.endpoint, rule.rule, set(rule.methods or ()) - {"HEAD", "OPTIONS"}))
    return rules


def _url(rule: str, endpoint: str, world: dict) -> str:
    url = rule.replace("<uuid:public_id>", world["ids"][ID_KIND.get(endpoint, "patient")])
    url = url.replace("<kind>", "aftercare").replace("<uuid:source_id>", world["ids"]["session"])
    url = url.replace("<token>", "an-unknown-link-token-of-the-usual-length-000").replace("<slug>", "today")
    assert "<" not in url, f"no test value for a parameter of {rule}"
    return url


@pytest.fixture
def world(app):
    """One of each role, and a patient, consultation, plan and consent to address."""
    users = {role.value: make_user(role, email=f"{role.value}@clinic.example") for role in Role}
    patient = make_patient(actor=users["practitioner"])
    ids = {"patient": str(patient.public_id), "user": str(users["practitioner"].public_id)}
    ids.update(make_clinical_records(patient, users["practitioner"]))
    from tests.intake.factories import make_intake

    ids["intake"] = str(make_intake(patient, users["reception"], submitted=True).public_id)  # signed, waiting for review
    return {"users": users, "ids": ids}


def make_clinical_records(patient, author) -> dict[str, str]:
    """A proceed consultation with a plan and a signed consent, inserted directly."""
    import hashlib
    from datetime import date
    from decimal import Decimal

    from practitioner.consents.models import Consent
    from practitioner.consultations.models import Consultation
    from practitioner.plans.models import PlanZone, TreatmentPlan

    consultation = Consultation(patient_id=patient.id, practitioner_id=author.id, consultation_date=date.today(),
                                modality="microneedling", decision="proceed")
    db.session.add(consultation)
    db.session.flush()
    plan = TreatmentPlan(patient_id=patient.id, consultation_id=consultation.id, modality="microneedling", sessions_planned=4,
                         interval_weeks=4, first_session_on=date.today(),
                         zones=[PlanZone(position=0, zone="cheeks", depth_min_mm=Decimal("1.0"), depth_max_mm=Decimal("1.5"))])
    text = "Consent text"
    consent = Consent(patient_id=patient.id, consultation_id=consultation.id, modality="microneedling", content_version="test",
                      content_sha256=hashlib.sha256(text.encode()).hexdigest(), content_text=text, patient_typed_name=patient.full_name,
                      signature_png=b"\x89PNG", signature_sha256="0" * 64, witnessed_by_id=author.id)
    db.session.add(plan)
    from tests.factories import seal_consent, seal_document

    seal_consent(consent)  # with its SHA-256 and audit row, as signing makes it (so it prints)
    from practitioner.treatments.models import TreatmentSession

    draft = TreatmentSession(patient_id=patient.id, plan_id=plan.id, sequence=1, practitioner_id=author.id,
                             session_date=date.today(), consent_id=consent.id)
    db.session.add(draft)
    db.session.commit()
    # The plan's one planned session is taken, so starting another answers 409 with the reason.
    plan.sessions_planned = 1
    from practitioner.documents.models import DocumentKind, IssuedDocument

    issued = IssuedDocument(patient_id=patient.id, kind=DocumentKind.AFTERCARE, source_id=str(draft.public_id), version=1,
                            number="AC-TEST-1", title="Aftercare instructions", filename="aftercare-test-v1.pdf", content_version="test",
                            pdf=b"%PDF-1.7 test", pdf_sha256="0" * 64, json_data=b"{}", json_sha256="0" * 64, issued_by_id=author.id)
    seal_document(issued)  # its SHA-256 and audit row, as issuing makes it (so it reprints)
    db.session.commit()
    job = make_failed_job(patient, draft, author)
    photo_ids = make_photo_records(patient, plan, consent, author, visit=draft)
    return {**photo_ids, "consultation": str(consultation.public_id), "plan": str(plan.public_id), "consent": str(consent.public_id),
            "session": str(draft.public_id), "document": str(issued.public_id), "job": str(job.public_id)}


def make_failed_job(patient, session, author):
    """A document job for the session's aftercare that failed (what the job routes address)."""
    from datetime import date

    from practitioner.documents.models import DocumentJob, DocumentKind, JobState

    job = DocumentJob(kind=DocumentKind.AFTERCARE, source_id=str(session.public_id), patient_id=patient.id, issued_on=date.today(),
                      requested_by_id=author.id, state=JobState.FAILED, attempts=3, error="The PDF renderer failed 3 times in a row.")
    db.session.add(job)
    db.session.commit()
    return job


def make_photo_records(patient, plan, consent, author, *, visit=None) -> dict[str, str]:
    """What the photo routes address: a review visit of the plan, and a photo taken through the service at `visit` (the
    review visit when none is given: a signed session takes no photo)."""
    from datetime import date

    from tests.photos.images import phone_jpeg
    from practitioner.photos.models import ReviewVisit
    from practitioner.photos.services import store_photo

    review = ReviewVisit(patient_id=patient.id, plan_id=plan.id, visit_date=date.today(), notes="", created_by_id=author.id)
    db.session.add(review)
    db.session.flush()
    photo = store_photo(db.session, patient=patient, visit=visit or review, view="frontal", zone=None, moment="before", consent=consent,
                        checks={}, data=phone_jpeg(640, 480), actor=author)
    db.session.commit()
    return {"review": str(review.public_id), "photo": str(photo.public_id)}


def _client_as(app, world, who):
    client = app.test_client()
    if who != ANON:
        assert sign_in(client, world["users"][who].email).status_code == 303
    return client


def test_every_route_has_an_entry(app):
    missing = {endpoint for endpoint, _, _ in _endpoints(app)} - set(GET_MATRIX)
    assert not missing, f"add these routes to GET_MATRIX with the expected answer per role: {sorted(missing)}"


@pytest.mark.parametrize("who", [ANON, RECEPTION, PRACTITIONER, ADMIN])
def test_get_answers_per_role(app, world, who):
    client = _client_as(app, world, who)
    wrong = {}
    for endpoint, rule, methods in _endpoints(app):
        status = client.get(_url(rule, endpoint, world)).status_code
        if status != GET_MATRIX[endpoint][who]:
            wrong[endpoint] = (status, GET_MATRIX[endpoint][who])
    assert not wrong, f"(got, expected) for {who}: {wrong}"


def test_every_post_route_refuses_a_missing_csrf_token(app, world):
    client = _client_as(app, world, ADMIN)
    posts = [(endpoint, rule) for endpoint, rule, methods in _endpoints(app) if "POST" in methods]
    assert len(posts) >= 8
    for endpoint, rule in posts:
        response = client.post(_url(rule, endpoint, world), data={"name": "x", "reason": "x"})
        assert response.status_code == 400, f"{endpoint} accepted a POST without a CSRF token"


@pytest.mark.parametrize("who", [RECEPTION, PRACTITIONER, ADMIN])
def test_post_rights(app, world, who):
    from tests.conftest import csrf_token

    client = _client_as(app, world, who)
    token = csrf_token(client, "/patients/")
    for endpoint, rule, methods in _endpoints(app):
        if "POST" not in methods or who not in POST_FORBIDDEN.get(endpoint, set()):
            continue
        assert client.post(_url(rule, endpoint, world), data={"csrf_token": token, "name": "x"}).status_code == 403, endpoint


# What a GET or HEAD may write, each in its own short write_step: its audit rows (appended, never
# changed), the sign-in session's last-seen time, a kept form draft taken back, and the one-row
# settings tables made on first use. Every other table must come out of a GET exactly as it went in.
GET_MAY_WRITE = frozenset({"audit_events", "audit_chain_head", "user_sessions", "form_drafts",
                           "clinic_settings", "clinical_policy", "aftercare_settings"})


def _table_rows(table) -> list[str]:
    return sorted(repr(tuple(row)) for row in db.session.execute(table.select()))


def _records() -> dict[str, list[str]]:
    db.session.expire_all()
    return {table.name: _table_rows(table) for table in db.metadata.sorted_tables if table.name not in GET_MAY_WRITE}


@pytest.mark.parametrize("who", [ANON, RECEPTION, PRACTITIONER, ADMIN])
def test_no_get_route_changes_a_record(app, world, who):
    """Every GET route, with form-like values in the query string, leaves every record as it was
    (compared row by row in every table) and only appends to the audit trail."""
    client = _client_as(app, world, who)
    audit_table = db.metadata.tables["audit_events"]
    before, audit_before = _records(), _table_rows(audit_table)
    assert len(before) >= 15 and before["patients"] and before["treatment_sessions"] and before["issued_documents"]
    form_like = {"name": "x", "reason": "x", "given_name": "x", "family_name": "x", "version": "1", "signature": "x",
                 "lot": "LOT-1", "q": "x", "page": "2"}
    for endpoint, rule, methods in _endpoints(app):
        client.get(_url(rule, endpoint, world), query_string=form_like)
    after = _records()
    changed = sorted(name for name in before if before[name] != after[name])
    assert not changed, f"a GET changed rows in: {changed}"
    audit_after = _table_rows(audit_table)
    assert set(audit_before) <= set(audit_after), "a GET changed or removed an audit row"
    if who != ANON:
        assert len(audit_after) > len(audit_before), "the views were not audited: is the check reading the right rows?"


@pytest.mark.parametrize("who", [ANON, PRACTITIONER])
def test_security_headers_on_every_answer(app, world, who):
    client = _client_as(app, world, who)
    for endpoint, rule, methods in _endpoints(app):
        headers = client.get(_url(rule, endpoint, world)).headers
        csp = headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, endpoint
        assert headers.get("X-Content-Type-Options") == "nosniff", endpoint
        assert headers.get("Referrer-Policy") == "no-referrer", endpoint
        assert headers.get("Cache-Control") in ("no-store", "private, max-age=300"), endpoint
        assert "Content-Security-Policy" in headers, endpoint


def test_session_cookie_flags(app, world):
    client = app.test_client()
    response = client.get("/sign-in")
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookie_in_production_configuration(monkeypatch, database_url):
    from practitioner import create_app

    monkeypatch.setenv("PRACTITIONER_SECRET_KEY", "y" * 48)
    monkeypatch.setenv("PRACTITIONER_DATABASE_URL", database_url)
    monkeypatch.delenv("PRACTITIONER_COOKIE_SECURE", raising=False)
    production = create_app()
    cookie = production.test_client().get("/sign-in").headers.get("Set-Cookie", "")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("who", [ADMIN, PRACTITIONER])
def test_pages_have_no_inline_script_and_no_none_attributes(app, world, who):
    client = _client_as(app, world, who)
    for endpoint, rule, methods in _endpoints(app):
        response = client.get(_url(rule, endpoint, world))
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        html = response.get_data(as_text=True)
        assert "<script>" not in html and " onclick=" not in html and " onload=" not in html, endpoint
        # aria-invalid="None" would be read as "invalid" by screen readers.
        assert '="None"' not in html, endpoint


def test_500_page_is_friendly_and_shows_no_trace(app, world):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/__boom")
    def boom():
        raise RuntimeError("secret internal detail")

    response = app.test_client().get("/__boom")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong on our side" in html
    assert "secret internal detail" not in html and "Traceback" not in html


def test_friendly_403_names_what_to_do(app, world):
    client = _client_as(app, world, RECEPTION)
    response = client.get("/admin/users")
    assert response.status_code == 403
    assert "Ask a clinic administrator" in response.get_data(as_text=True)


@pytest.mark.parametrize("who", [RECEPTION, PRACTITIONER, ADMIN])
def test_an_id_that_names_no_record_answers_404(app, world, who):
    """Every GET route addressed by <uuid:public_id> answers 404, not 500, for an id of no record, to each role let in."""
    import uuid

    client = _client_as(app, world, who)
    wrong = {}
    for endpoint, rule, methods in _endpoints(app):
        if "<uuid:public_id>" not in rule or "GET" not in methods or GET_MATRIX[endpoint][who] in (SIGN_IN, FORBIDDEN):
            continue
        status = client.get(rule.replace("<uuid:public_id>", str(uuid.uuid4()))).status_code
        if status != 404:
            wrong[endpoint] = status
    assert not wrong, f"expected 404 for {who}: {wrong}"


INTAKE_PATIENT_PAGES = {"intake.welcome": "/intake/welcome", "intake.screen": "/intake/questions/today", "intake.summary": "/intake/check"}


@pytest.mark.parametrize("who", [ANON, RECEPTION])
def test_intake_patient_pages_need_the_intake_session(app, world, who):
    """The patient's pages answer (200, with the app's headers) to a browser holding an open intake, signed in or not,
    and nothing else (the calm 404 of GET_MATRIX); a signed or withdrawn intake closes them again."""
    from practitioner.intake import tablet
    from tests.intake.factories import make_intake

    patient = make_patient(actor=world["users"]["practitioner"])
    intake = make_intake(patient, world["users"]["reception"], channel="link")
    client = _client_as(app, world, who)
    with client.session_transaction() as cookie:
        cookie[tablet.ACCESS] = str(intake.public_id)
    for endpoint, path in INTAKE_PATIENT_PAGES.items():
        response = client.get(path)
        assert response.status_code == OK, endpoint
        assert response.headers["Cache-Control"] == "no-store" and response.headers["X-Robots-Tag"] == "noindex, nofollow", endpoint
        assert "script-src 'self'" in response.headers["Content-Security-Policy"], endpoint
    withdrawn = db.session.get(type(intake), intake.id)  # each request ended the test's session: load it again
    withdrawn.status, withdrawn.abandoned_at = "abandoned", withdrawn.created_at
    db.session.commit()
    assert {client.get(path).status_code for path in INTAKE_PATIENT_PAGES.values()} == {404}
