"""Documents off the request path (practitioner/documents/jobs.py): the aftercare at signing is a job that runs,
archives, retries a failed render by itself, then says what failed and offers Try again; a job is claimed once."""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from practitioner.database import utcnow
from practitioner.documents import jobs, services
from practitioner.documents.models import DocumentJob, DocumentKind, IssuedDocument, JobState
from practitioner.extensions import db
from tests.conftest import make_patient, post_form
from tests.factories import draft_ready_to_sign, sign_on_the_page, treatable_plan


def _signable(client, practitioner) -> str:
    return draft_ready_to_sign(client, practitioner)


def _sign(client, record_url: str):
    return sign_on_the_page(client, record_url)


def _job() -> DocumentJob:
    db.session.remove()
    return db.session.scalars(select(DocumentJob).order_by(DocumentJob.id.desc())).first()


def _aftercare() -> list[IssuedDocument]:
    db.session.remove()
    return list(db.session.scalars(select(IssuedDocument).where(IssuedDocument.kind == DocumentKind.AFTERCARE)))


def test_signing_queues_a_job_that_renders_and_archives_the_aftercare(as_practitioner, practitioner):
    record_url = _signable(as_practitioner, practitioner)
    assert _sign(as_practitioner, record_url).status_code == 303
    job = _job()
    assert job.kind == DocumentKind.AFTERCARE and job.state is JobState.DONE and job.attempts == 1
    [issued] = _aftercare()
    assert job.issued_document_id == issued.id and job.source_id == record_url.rsplit("/", 1)[1]
    pdf = as_practitioner.get(f"/issued/{issued.public_id}.pdf").data
    assert pdf.startswith(b"%PDF") and hashlib.sha256(pdf).hexdigest() == issued.pdf_sha256
    assert issued.issued_by_id == practitioner.id and issued.version == 1
    page = as_practitioner.get(record_url).get_data(as_text=True)
    assert f"Aftercare issued as {issued.number}" in page and f"/issued/{issued.public_id}.pdf" in page


def test_in_the_background_the_sign_request_does_not_render_and_the_runner_archives(app, as_practitioner, practitioner, monkeypatch):
    app.config["DOCUMENT_JOBS"] = "background"
    rendered_in: list[str] = []
    real_render = services.render

    def watched(spec, **kwargs):
        rendered_in.append(threading.current_thread().name)
        return real_render(spec, **kwargs)

    monkeypatch.setattr(services, "render", watched)
    record_url = _signable(as_practitioner, practitioner)
    try:
        response = _sign(as_practitioner, record_url)
        assert response.status_code == 303
        page = as_practitioner.get(record_url).get_data(as_text=True)
        deadline = time.monotonic() + 60
        while _job().state is not JobState.DONE and time.monotonic() < deadline:
            db.session.remove()  # outside a request every transaction writes: end it, or the runner waits for the lock
            time.sleep(0.1)
    finally:
        jobs.stop_runner(app)
    assert "Preparing the aftercare" in page or "Aftercare issued as" in page
    assert _job().state is JobState.DONE and len(_aftercare()) == 1
    assert rendered_in == ["document-jobs"], "rendered by the runner thread, not in the sign request"


def test_while_preparing_the_page_says_so_and_refreshes_itself_with_or_without_javascript(app, as_practitioner, practitioner):
    app.config["DOCUMENT_JOBS"] = "background"
    jobs.stop_runner(app)
    record_url = _signable(as_practitioner, practitioner)
    # No runner gets to it: the job stays pending.
    original = jobs.wake_after_response
    try:
        jobs.wake_after_response = lambda: None
        assert _sign(as_practitioner, record_url).status_code == 303
    finally:
        jobs.wake_after_response = original
    page = as_practitioner.get(record_url).get_data(as_text=True)
    job = _job()
    assert job.state is JobState.PENDING
    assert "Preparing the aftercare instructions" in page and 'role="status"' in page
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page
    assert f'data-job-status="/documents/jobs/{job.public_id}.json"' in page and "js/document-jobs.js" in page
    status = as_practitioner.get(f"/documents/jobs/{job.public_id}.json").get_json()
    assert status == {"state": "pending", "ready": False, "failed": False, "url": None}
    assert jobs.run_due(db.session) == 1
    status = as_practitioner.get(f"/documents/jobs/{job.public_id}.json").get_json()
    assert status["ready"] and status["url"] == f"/issued/{_aftercare()[0].public_id}.pdf"
    page = as_practitioner.get(record_url).get_data(as_text=True)
    assert "http-equiv=\"refresh\"" not in page and "Preparing the aftercare" not in page


def test_a_failing_render_is_retried_then_the_page_says_what_failed_and_try_again_issues_it(as_practitioner, practitioner, monkeypatch):
    real_render = services.render
    calls: list[int] = []

    def broken(spec, **kwargs):
        calls.append(1)
        raise RuntimeError("the render process died")

    monkeypatch.setattr(services, "render", broken)
    record_url = _signable(as_practitioner, practitioner)
    assert _sign(as_practitioner, record_url).status_code == 303
    job = _job()
    assert job.state is JobState.PENDING and job.attempts == 1 and job.run_after > utcnow() + timedelta(seconds=2)
    page = as_practitioner.get(record_url).get_data(as_text=True)
    assert "Preparing the aftercare" in page and "Try again" not in page, "a retry needs no one to notice"
    assert jobs.run_due(db.session) == 0, "not before its backoff"
    assert jobs.run_due(db.session, now=utcnow() + timedelta(seconds=10)) == 1
    assert _job().state is JobState.PENDING and _job().attempts == 2
    assert jobs.run_due(db.session, now=utcnow() + timedelta(minutes=5)) == 1
    job = _job()
    assert job.state is JobState.FAILED and job.attempts == jobs.MAX_ATTEMPTS == len(calls) and not _aftercare()
    assert jobs.run_due(db.session, now=utcnow() + timedelta(days=1)) == 0, "bounded: no fourth attempt"
    page = as_practitioner.get(record_url).get_data(as_text=True)
    assert "The aftercare could not be issued automatically" in page and "The PDF renderer failed 3 times in a row" in page
    assert f'action="/documents/jobs/{job.public_id}/retry"' in page and ">Try again</button>" in page
    assert "RuntimeError" not in page and "render process died" not in page

    monkeypatch.setattr(services, "render", real_render)
    response = post_form(as_practitioner, f"/documents/jobs/{job.public_id}/retry", {}, page=record_url)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"{record_url}#docs-title-{job.source_id}")
    assert _job().state is JobState.DONE and len(_aftercare()) == 1
    again = post_form(as_practitioner, f"/documents/jobs/{job.public_id}/retry", {}, page=record_url)
    assert again.status_code == 303 and len(_aftercare()) == 1, "a done job is not issued twice"
    assert "not waiting to be tried again" in as_practitioner.get(record_url).get_data(as_text=True)


def test_a_refusal_is_not_retried_it_is_said_at_once(app, practitioner):
    from practitioner.admin.services import get_settings

    job_id = _queued_job(practitioner).id
    get_settings(db.session).phone = ""
    db.session.commit()
    assert jobs.run_due(db.session) == 1
    job = db.session.get(DocumentJob, job_id, populate_existing=True)
    assert job.state is JobState.FAILED and job.attempts == 1 and "the clinic has no phone number" in job.error
    assert not _aftercare()


def _queued_job(practitioner) -> DocumentJob:
    from tests.factories import signed_session

    record = signed_session(treatable_plan(make_patient(actor=practitioner), practitioner), practitioner)
    job = jobs.enqueue(db.session, DocumentKind.AFTERCARE, record.public_id, patient_id=record.patient_id, actor=practitioner,
                       issued_on=record.session_date)
    db.session.commit()
    return job


def test_a_job_is_claimed_once_by_two_workers_at_the_same_moment(app, practitioner):
    job_id = _queued_job(practitioner).id
    barrier = threading.Barrier(2)
    claimed: dict[str, int | None] = {}

    def worker(name: str) -> None:
        with app.app_context():
            barrier.wait()
            job = jobs.claim(db.session, name)
            claimed[name] = job.id if job else None
            db.session.remove()

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("worker-a", "worker-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(claimed.values(), key=str) == [job_id, None], claimed
    job = _job()
    assert job.state is JobState.RUNNING and job.attempts == 1 and job.claimed_by in claimed
    assert jobs.claim(db.session, "worker-c") is None, "a running job is not claimed again"


def test_a_job_whose_worker_died_is_claimed_again_after_its_deadline(app, practitioner):
    job_id = _queued_job(practitioner).id
    assert jobs.claim(db.session, "died").id == job_id
    assert jobs.claim(db.session, "other", now=utcnow() + jobs.CLAIM_DEADLINE / 2) is None
    again = jobs.claim(db.session, "other", now=utcnow() + jobs.CLAIM_DEADLINE + timedelta(seconds=1))
    assert again is not None and again.id == job_id and again.claimed_by == "other" and again.attempts == 2


def test_a_preview_that_is_not_ready_goes_back_to_the_record_never_to_the_referer(as_practitioner, practitioner):
    from tests.factories import treatable_plan as plan_for

    plan = plan_for(make_patient(actor=practitioner), practitioner)
    record_url = post_form(as_practitioner, f"/plans/{plan.public_id}/sessions/new", {}).headers["Location"].removesuffix("/edit")
    source = record_url.rsplit("/", 1)[1]
    response = as_practitioner.get(f"/documents/aftercare/{source}.pdf", headers={"Referer": "https://evil.example/phish"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"{record_url}#docs-title-{source}"
    assert "evil.example" not in response.headers["Location"]


@pytest.mark.parametrize("kind", ["patient-export"])
def test_a_patient_document_not_ready_goes_back_to_the_patient(as_practitioner, practitioner, kind):
    patient = make_patient(actor=practitioner)
    from practitioner.admin.services import get_settings

    get_settings(db.session).phone = ""
    db.session.commit()
    response = post_form(as_practitioner, f"/documents/{kind}/{patient.public_id}/issue", {}, page="/patients/",
                         headers={"Referer": "https://evil.example/"})
    assert response.status_code == 303 and response.headers["Location"].startswith(f"/patients/{patient.public_id}")


def test_the_patient_export_is_issued_off_the_request_path_and_appears_on_the_patients_page(app, as_practitioner, practitioner,
                                                                                           monkeypatch):
    from tests.factories import signed_session

    patient = make_patient(actor=practitioner, given_name="Ola", family_name="Nowak")
    signed_session(treatable_plan(patient, practitioner), practitioner)
    app.config["DOCUMENT_JOBS"] = "background"
    monkeypatch.setattr(jobs, "wake_after_response", lambda: None)  # no runner: see the request return first
    page = f"/patients/{patient.public_id}"
    response = post_form(as_practitioner, f"/documents/patient-export/{patient.public_id}/issue", {}, page=page)
    assert response.status_code == 303 and response.headers["Location"] == f"{page}#docs-title-{patient.public_id}"
    job = _job()
    assert job.kind == DocumentKind.PATIENT_EXPORT and job.state is JobState.PENDING
    shown = as_practitioner.get(page).get_data(as_text=True)
    assert "Preparing the patient record export" in shown and f"/documents/jobs/{job.public_id}.json" in shown
    assert jobs.run_due(db.session) == 1
    db.session.remove()
    [export] = db.session.scalars(select(IssuedDocument).where(IssuedDocument.kind == DocumentKind.PATIENT_EXPORT)).all()
    assert export.json_data and "Patient record export issued as" in as_practitioner.get(page).get_data(as_text=True)


def test_stop_all_runners_ends_every_runner_thread_of_the_process(app):
    """The test suite's guard (conftest) relies on it: a runner left behind polls a database that is gone."""
    import threading

    app.config["DOCUMENT_JOBS"] = "background"
    jobs.start_runner(app)
    runners = [t for t in threading.enumerate() if t.name == "document-jobs"]
    assert runners, "the runner started"
    jobs.stop_all_runners()
    for thread in runners:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in runners)
    assert jobs._runners == {}
