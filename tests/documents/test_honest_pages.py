"""Honest pages (issue 10): the export's JSON is reachable (a link, and attached inside the PDF), the patient
page's Documents box and timeline agree and are in the order things happened, clinic-file documents are
not "issued to the patient", no patient document goes out without the clinic's phone, and the content
version is printed once, readably."""

from __future__ import annotations

import io
import json
import re
from datetime import date, datetime, timedelta, timezone

import pikepdf
import pytest
from sqlalchemy import func, select

from practitioner.admin.services import get_settings
from practitioner.documents import services
from practitioner.documents.models import DocumentKind, IssuedDocument
from practitioner.extensions import db
from practitioner.patients.timeline import TimelineEntry
from tests.conftest import post_form
from tests.documents.test_documents import Story, build, render, rf_story, words

PATIENT_KINDS = ("treatment-guide", "aftercare", "consent-form", "patient-export")


@pytest.fixture
def story(practitioner) -> Story:
    """The RF patient's records (the aftercare was issued when the session was signed)."""
    story = rf_story(practitioner, with_draft=False)
    # Read the ids now: a request ends the test's session, and the records would have to be loaded again.
    story.ids = {"treatment-guide": story.plan.public_id, "aftercare": story.signed.public_id, "consent-form": story.consent.public_id,
                 "consultation-summary": story.consultation.public_id, "session-record": story.signed.public_id,
                 "patient-export": story.patient.public_id}
    return story


def _source(story: Story, kind: str):
    return story.ids[kind]


def _issue(client, story: Story, kind: str, **kw):
    page = f"/patients/{story.patient.public_id}"
    return post_form(client, f"/documents/{kind}/{_source(story, kind)}/issue", {}, page=page, **kw)


def _issued() -> list[IssuedDocument]:
    db.session.expire_all()
    return list(db.session.scalars(select(IssuedDocument).order_by(IssuedDocument.id)))


def _section(html: str, heading_id: str) -> str:
    start = html.index(f'id="{heading_id}"')
    return html[start:html.index("</section>", start)]


# -- 1. the export's JSON: a link beside the PDF, and a PDF/A-3 associated file inside it ---------------


def test_export_json_is_linked_beside_the_pdf_and_attached_inside_it(as_practitioner, story):
    assert _issue(as_practitioner, story, "patient-export").status_code == 303
    export = [d for d in _issued() if d.kind == DocumentKind.PATIENT_EXPORT][-1]
    box = _section(as_practitioner.get(f"/patients/{story.patient.public_id}").get_data(as_text=True), f"docs-title-{story.patient.public_id}")
    assert f'href="/issued/{export.public_id}.pdf"' in box and f'href="/issued/{export.public_id}.json"' in box

    served = as_practitioner.get(f"/issued/{export.public_id}.json")
    assert served.status_code == 200
    pdf = pikepdf.open(io.BytesIO(as_practitioner.get(f"/issued/{export.public_id}.pdf").data))
    names = pdf.Root.Names.EmbeddedFiles.Names
    filespecs = [names[i + 1] for i in range(0, len(names), 2)]
    assert len(filespecs) == 1, "one embedded file, named in the EmbeddedFiles name tree"
    filespec = filespecs[0]
    assert filespec.AFRelationship == pikepdf.Name.Data
    assert filespec.objgen in {item.objgen for item in pdf.Root.AF}, "listed in the catalog's /AF"
    assert str(filespec.UF) == export.filename.removesuffix(".pdf") + ".json"
    stream = filespec.EF.F
    assert stream.Subtype == pikepdf.Name("/application/json")
    attached = stream.read_bytes()
    assert int(stream.Params.Size) == len(attached) and "/ModDate" in stream.Params
    assert json.loads(attached) == json.loads(served.data) and attached == served.data
    assert "which is attached inside this PDF" in words(as_practitioner.get(f"/issued/{export.public_id}.pdf").data)


def test_documents_without_json_carry_no_attachment(story):
    pdf = pikepdf.open(io.BytesIO(render(build(DocumentKind.TREATMENT_GUIDE, story.plan.public_id))))
    assert "/Names" not in pdf.Root or "/EmbeddedFiles" not in pdf.Root.Names
    assert "/AF" not in pdf.Root


# -- 3. the patient page: the Documents box and the timeline agree, in the order things happened ------


def test_patient_page_documents_box_and_timeline_list_the_same_documents(as_practitioner, story):
    for kind in ("consultation-summary", "treatment-guide", "patient-export", "session-record"):
        assert _issue(as_practitioner, story, kind).status_code == 303
    html = as_practitioner.get(f"/patients/{story.patient.public_id}").get_data(as_text=True)
    box = re.findall(r"/issued/([0-9a-f-]{36})\.pdf", _section(html, f"docs-title-{story.patient.public_id}"))
    timeline = re.findall(r"/issued/([0-9a-f-]{36})\.pdf", _section(html, "timeline-title"))
    everything = [str(d.public_id) for d in reversed(_issued())]
    assert len(everything) == 5  # the aftercare issued at signing, and the four above
    assert box == timeline == everything, "both list every document issued for the patient, newest first"


def test_same_day_entries_are_in_the_order_they_happened_not_grouped_by_kind(as_practitioner, story):
    # The plan was made, then the consent signed, then the aftercare issued (at signing): newest first
    # that is aftercare, consent, plan, whatever order the features add their entries in.
    html = _section(as_practitioner.get(f"/patients/{story.patient.public_id}").get_data(as_text=True), "timeline-title")
    order = [html.index(marker) for marker in ("Aftercare instructions given to the patient", "Consent signed", "Treatment plan:")]
    assert order == sorted(order), "newest first, by when each happened"


def test_a_timeline_day_sorts_by_the_moment_and_a_dated_entry_with_a_known_time_joins_in():
    day = date(2026, 11, 24)
    at = lambda hour: datetime(2026, 11, 24, hour, tzinfo=timezone.utc)  # noqa: E731
    entries = [
        TimelineEntry(when=at(9), kind="consent", title="consent 09:00"),
        TimelineEntry(when=day, kind="consultation", title="consultation, no time"),
        TimelineEntry(when=day, kind="session", title="session 10:30", at=at(10) + timedelta(minutes=30)),
        TimelineEntry(when=at(11), kind="document", title="document 11:00"),
        TimelineEntry(when=at(8), kind="plan", title="plan 08:00"),
        TimelineEntry(when=date(2026, 11, 23), kind="session", title="the day before"),
    ]
    newest_first = [e.title for e in sorted(entries, key=lambda e: e.sort_key, reverse=True)]
    assert newest_first == ["document 11:00", "session 10:30", "consent 09:00", "plan 08:00", "consultation, no time", "the day before"]


def test_clinic_file_documents_are_saved_to_the_file_not_issued_to_the_patient(as_practitioner, story):
    session_page = as_practitioner.get(f"/sessions/{story.signed.public_id}").get_data(as_text=True)
    assert "Save session record to the file" in session_page and "Issue session record to the patient" not in session_page
    assert "Issue aftercare instructions to the patient" in session_page
    consultation_page = as_practitioner.get(f"/consultations/{story.consultation.public_id}").get_data(as_text=True)
    assert "Save consultation summary to the file" in consultation_page and "Issue consultation summary" not in consultation_page
    assert "Issue treatment guide to the patient" in as_practitioner.get(f"/plans/{story.plan.public_id}").get_data(as_text=True)
    assert "Issue patient record export to the patient" in as_practitioner.get(f"/patients/{story.patient.public_id}").get_data(as_text=True)
    assert _issue(as_practitioner, story, "consultation-summary").status_code == 303
    timeline = _section(as_practitioner.get(f"/patients/{story.patient.public_id}").get_data(as_text=True), "timeline-title")
    assert "Consultation summary saved to the clinic file" in timeline and "Consultation summary given" not in timeline
    assert "Aftercare instructions given to the patient" in timeline


# -- 6. no patient document without the clinic's phone ---------------------------------------------------


@pytest.mark.parametrize("kind", PATIENT_KINDS)
def test_no_patient_document_is_issued_while_the_clinic_has_no_phone(as_practitioner, story, kind):
    get_settings(db.session).phone = ""
    db.session.commit()
    before = len(_issued())
    response = _issue(as_practitioner, story, kind, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Not issued: the clinic has no phone number" in html and "Clinic settings page" in html and "/admin/settings" in html
    assert len(_issued()) == before, "nothing archived"
    assert db.session.scalar(select(func.count()).select_from(IssuedDocument).where(IssuedDocument.kind == DocumentKind(kind))) == (
        1 if kind == "aftercare" else 0)


def test_the_refusal_is_only_for_patient_documents(as_practitioner, practitioner, story):
    get_settings(db.session).phone = "  "
    db.session.commit()
    before = len(_issued())
    assert _issue(as_practitioner, story, "session-record").status_code == 303
    assert len(_issued()) == before + 1, "a clinic-file document tells the patient nothing to call about"
    with pytest.raises(services.NoClinicPhone, match="Clinic settings"):
        services.issue_now(db.session, DocumentKind.AFTERCARE, story.ids["aftercare"], actor=db.session.merge(practitioner),
                           issued_on=date.today())


# -- 2. the aftercare's days print their year when the issue date is in another year ----------------------


def test_aftercare_dates_print_their_year_when_issued_in_another_year(story):
    day = story.signed.session_date
    same_year = words(render(build(DocumentKind.AFTERCARE, story.signed.public_id, on=day)))
    next_year = words(render(build(DocumentKind.AFTERCARE, story.signed.public_id, on=date(day.year + 1, 1, 4))))
    weekday = f"{day:%A} {day.day} {day:%B}"
    assert f"Today: {weekday} {day.year}" in next_year
    assert f"Today: {weekday}" in same_year and f"Today: {weekday} {day.year}" not in same_year


# -- 10. the content version: once, readable -------------------------------------------------------------


def test_content_version_is_printed_once_and_readably(story):
    spec = build(DocumentKind.AFTERCARE, story.signed.public_id)
    text = words(render(spec))
    assert re.fullmatch(r"en-2026\.11\+[0-9a-f]{12}", spec.content_version)
    assert spec.content_version not in text and spec.content_version.split("+")[1] not in text
    assert "Content version" not in text
    assert text.count("Wording: November 2026 edition.") == 1
    guide = words(render(build(DocumentKind.TREATMENT_GUIDE, story.plan.public_id)))
    assert guide.count("Wording: November 2026 edition, revision 2.") == 1 and "en-guide-" not in guide


# -- 8. the admin sees the wording awaiting medical review ------------------------------------------------


def test_admin_settings_page_lists_the_wording_awaiting_medical_review(as_admin):
    html = as_admin.get("/admin/settings").get_data(as_text=True)
    section = _section(html, "review-title")
    for title in ("Bleeding during your treatment", "Feeling faint", "Burn or blister", "Skin reaction"):
        assert title in section
    assert "Bruising" not in section


def test_no_image_asks_to_be_interpolated(story):
    # PDF/A forbids /Interpolate true (veraPDF rule 6.2.8-3); the signed consent form carries the drawn signature.
    pdf = pikepdf.open(io.BytesIO(render(build(DocumentKind.CONSENT_FORM, story.consent.public_id))))
    images = [obj for obj in pdf.objects if isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") == pikepdf.Name.Image]
    assert images, "the signature is an image"
    assert all(not bool(image.get("/Interpolate", False)) for image in images)


@pytest.mark.parametrize(("version", "shown"), [
    ("en-2026.11+3f2a9c0d1e4b", "November 2026 edition"), ("en-guide-2026.11-2", "November 2026 edition, revision 2"),
    ("consent-rf-microneedling-2026.11-1", "November 2026 edition"), ("en-export-1.0", "export layout, version 1.0"),
    ("en-record-1", "record layout, version 1"),
])
def test_readable_edition_drops_the_hash_and_the_codes(version, shown):
    from practitioner.documents.kinds._common import readable_edition

    assert readable_edition(version) == shown
