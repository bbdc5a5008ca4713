"""Issuing: the aftercare at signing, the archive, reprints, new versions, and what the PDF says."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import date, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from practitioner.documents.models import DocumentKind, IssuedDocument
from practitioner.extensions import db
from tests.conftest import make_patient, post_form
from tests.factories import complete_session_form, signed_session, treatable_plan


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _issued(kind: DocumentKind | None = None) -> list[IssuedDocument]:
    db.session.expire_all()
    query = select(IssuedDocument).order_by(IssuedDocument.id)
    if kind is not None:
        query = query.where(IssuedDocument.kind == kind)
    return list(db.session.scalars(query))


@pytest.fixture
def signed(practitioner):
    patient = make_patient(actor=practitioner, given_name="Mei", family_name="Chen")
    plan = treatable_plan(patient, practitioner)
    return signed_session(plan, practitioner, zones=(("cheeks", "1.25"), ("forehead", "0.5")), products=(("Hyaluronic serum", "HS-1"),),
                          next_appointment_on=date.today() + timedelta(days=28))


def test_signing_a_session_issues_its_aftercare(as_practitioner, practitioner):
    patient = make_patient(actor=practitioner, given_name="Ola", family_name="Nowak")
    plan = treatable_plan(patient, practitioner)
    start = post_form(as_practitioner, f"/plans/{plan.public_id}/sessions/new", {})
    record_url = start.headers["Location"].removesuffix("/edit")
    page = record_url + "/edit"
    html = as_practitioner.get(page).get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', html).group(1)
    assert post_form(as_practitioner, page, {**complete_session_form(), "version": version}).status_code == 303
    html = as_practitioner.get(record_url).get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', html).group(1)
    response = post_form(as_practitioner, record_url + "/sign", {"version": version}, page=record_url)
    assert response.status_code == 303
    issued = _issued(DocumentKind.AFTERCARE)
    assert len(issued) == 1 and issued[0].version == 1
    assert "Aftercare issued as" in as_practitioner.get(record_url).get_data(as_text=True)
    pdf = as_practitioner.get(f"/issued/{issued[0].public_id}.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.headers["Cache-Control"] == "no-store"
    assert "Ola Nowak" in _pdf_text(pdf.data)


def test_aftercare_pdf_carries_the_patient_dates_and_variant(as_practitioner, signed):
    response = post_form(as_practitioner, f"/documents/aftercare/{signed.public_id}/issue", {}, page=f"/sessions/{signed.public_id}")
    assert response.status_code == 303
    issued = _issued(DocumentKind.AFTERCARE)[-1]
    body = as_practitioner.get(f"/issued/{issued.public_id}.pdf").data
    content = _pdf_text(body)
    today = date.today()
    assert "Mei Chen" in content and "aftercare instructions" in content.lower()
    makeup = today + timedelta(days=1)
    assert f"{makeup:%A} {makeup.day} {makeup:%B}" in content, "make-up date is a real calendar date"
    assert "Hyaluronic serum" in content and "1.25 mm" in content
    assert "do not wash" not in content.lower(), "no PRP lines on a microneedling leaflet"
    assert 1 <= len(PdfReader(io.BytesIO(body)).pages) <= 6


def test_reprint_serves_the_stored_bytes_and_hash(as_practitioner, signed):
    post_form(as_practitioner, f"/documents/aftercare/{signed.public_id}/issue", {}, page=f"/sessions/{signed.public_id}")
    issued = _issued(DocumentKind.AFTERCARE)[-1]
    first = as_practitioner.get(f"/issued/{issued.public_id}.pdf")
    second = as_practitioner.get(f"/issued/{issued.public_id}.pdf")
    assert first.data == second.data
    assert hashlib.sha256(first.data).hexdigest() == issued.pdf_sha256
    assert re.match(r'inline; filename="aftercare-mei-chen-\d{4}-\d{2}-\d{2}-v1\.pdf"', first.headers["Content-Disposition"])


def test_reissue_after_an_addendum_is_a_new_version_beside_the_old(as_practitioner, signed):
    page = f"/sessions/{signed.public_id}"
    post_form(as_practitioner, f"/documents/aftercare/{signed.public_id}/issue", {}, page=page)
    post_form(as_practitioner, f"{page}/addenda", {"reason": "Late entry", "text": "Bruising noted next day."}, page=page)
    post_form(as_practitioner, f"/documents/aftercare/{signed.public_id}/issue", {"large_print": "1"}, page=page)
    versions = _issued(DocumentKind.AFTERCARE)
    assert [v.version for v in versions] == [1, 2] and versions[1].large_print
    assert versions[0].pdf_sha256 != versions[1].pdf_sha256
    html = as_practitioner.get(f"/patients/{signed.patient.public_id}").get_data(as_text=True)
    assert versions[0].number in html and versions[1].number in html


def test_large_print_is_at_least_16_point(as_practitioner, signed):
    post_form(as_practitioner, f"/documents/aftercare/{signed.public_id}/issue", {"large_print": "1"}, page=f"/sessions/{signed.public_id}")
    issued = _issued(DocumentKind.AFTERCARE)[-1]
    reader = PdfReader(io.BytesIO(as_practitioner.get(f"/issued/{issued.public_id}.pdf").data))
    sizes: list[float] = []

    def visitor(text_, cm, tm, font_dict, font_size):
        if text_.strip():
            sizes.append(font_size * tm[0])

    reader.pages[1].extract_text(visitor_text=visitor)
    body = [s for s in sizes if s > 0]
    assert body and min(body) >= 15.5, min(body)


def test_archive_refuses_changes(as_practitioner, signed):
    post_form(as_practitioner, f"/documents/aftercare/{signed.public_id}/issue", {}, page=f"/sessions/{signed.public_id}")
    with pytest.raises(DatabaseError, match="archived as given"):
        db.session.execute(text("UPDATE issued_documents SET pdf = :pdf"), {"pdf": b"\x00"})
    db.session.rollback()


def test_unsigned_session_has_no_aftercare_yet(as_practitioner, practitioner):
    plan = treatable_plan(make_patient(actor=practitioner), practitioner)
    start = post_form(as_practitioner, f"/plans/{plan.public_id}/sessions/new", {})
    session_id = start.headers["Location"].split("/")[-2]
    response = post_form(as_practitioner, f"/documents/aftercare/{session_id}/issue", {}, page=f"/sessions/{session_id}")
    assert response.status_code == 303
    assert "sign the session record first" in as_practitioner.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert _issued() == []


def test_unknown_kind_and_source_are_404(as_practitioner, signed):
    assert as_practitioner.get(f"/documents/recipe/{signed.public_id}.pdf").status_code == 404
    assert as_practitioner.get("/documents/aftercare/00000000-0000-0000-0000-000000000000.pdf").status_code == 404


def test_reception_cannot_print_clinical_documents(as_reception, app):
    from practitioner.auth.models import Role
    from tests.conftest import make_user

    author = make_user(Role.PRACTITIONER, email="doc@clinic.example")
    record = signed_session(treatable_plan(make_patient(actor=author), author), author)
    assert as_reception.get(f"/documents/aftercare/{record.public_id}.pdf").status_code == 403


def test_render_document_command(app, signed, tmp_path):
    out = tmp_path / "aftercare.pdf"
    result = app.test_cli_runner().invoke(args=["render-document", "aftercare", str(signed.public_id), "--out", str(out), "--large-print"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF") and "Mei Chen" in _pdf_text(out.read_bytes())
    assert _issued() == [], "rendering from the command line issues nothing"


def test_building_the_aftercare_reads_only_what_it_prints(app, signed):
    """A handful of statements, not the session's whole default graph (consent, addenda, screening rows twice)."""
    from sqlalchemy import event

    from practitioner.documents import services
    from practitioner.extensions import db

    public_id = signed.public_id
    services.build(db.session, DocumentKind.AFTERCARE, public_id, date.today())  # first-use settings rows
    db.session.commit()
    db.session.expunge_all()
    statements: list[str] = []
    record = lambda conn, cursor, statement, *args: statements.append(statement)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        spec = services.build(db.session, DocumentKind.AFTERCARE, public_id, date.today())
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert spec.context["patient"]["name"] == "Mei Chen"
    assert len(statements) <= 14, "\n".join(statements)  # 29 with the default eager loads
    # By key, never joined: a join from the sessions table cost 34 ms at 100,000 sessions (bench_pdf).
    assert not any(" JOIN " in statement for statement in statements)
    for table in ("consents", "session_addenda", "screening_flags", "plan_zones"):
        assert not any(f"FROM {table}" in statement for statement in statements), table
