"""Today's re-screen on the session form: every question an explicit Yes or No, none answered by default.

Drafts may hold unanswered questions; signing is refused, naming each. An unanswered question is never read as
No: not by the re-screen, not on the record page, not in the printed record. Migration 0012 keeps what sessions
were saved with, and a signed session's stored SHA-256 still verifies.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from practitioner import create_app
from practitioner.extensions import db
from practitioner.treatments.models import RESCREEN_DATED, RESCREEN_YES_NO, TreatmentSession
from practitioner.treatments.services import canonical_record, record_hash
from tests.conftest import make_config, make_patient, make_user, post_form
from tests.factories import complete_session_form, signed_session, treatable_plan

QUESTIONS = (*RESCREEN_YES_NO, *RESCREEN_DATED)


@pytest.fixture
def plan(practitioner):
    return treatable_plan(make_patient(actor=practitioner), practitioner)


def _start(client, plan) -> TreatmentSession:
    assert post_form(client, f"/plans/{plan.public_id}/sessions/new", {}).status_code == 303
    db.session.expire_all()
    return db.session.scalars(select(TreatmentSession).order_by(TreatmentSession.id.desc())).first()


def _save(client, record, data):
    page = f"/sessions/{record.public_id}/edit"
    version = re.search(r'name="version" type="hidden" value="(\d+)"', client.get(page).get_data(as_text=True)).group(1)
    return post_form(client, page, {**data, "version": version}, page=page)


def _sign(client, record):
    page = f"/sessions/{record.public_id}"
    version = re.search(r'name="version" type="hidden" value="(\d+)"', client.get(page).get_data(as_text=True)).group(1)
    return post_form(client, f"{page}/sign", {"version": version}, page=page)


def _fresh(record) -> TreatmentSession:
    db.session.expire_all()
    return db.session.get(TreatmentSession, record.id)


def _checked(html: str, name: str) -> list[str]:
    return re.findall(rf'<input[^>]*checked[^>]*name="{name}"|<input[^>]*name="{name}"[^>]*checked', html)


def test_a_new_session_form_answers_no_rescreen_question_even_after_a_previous_session(as_practitioner, plan, practitioner):
    signed_session(plan, practitioner, pregnant_now=False, cold_sore_now=False)  # session 1 answered No to everything
    record = _start(as_practitioner, plan)
    html = as_practitioner.get(f"/sessions/{record.public_id}/edit").get_data(as_text=True)
    for name in QUESTIONS:
        assert re.search(rf'type="radio"[^>]*name="{name}"|name="{name}"[^>]*type="radio"', html), f"{name} is a Yes/No question"
        assert not _checked(html, name), f"{name} must not be answered for the practitioner"
    assert "Answer “No” to the rest of the re-screen" in html
    assert all(getattr(_fresh(record), name) is None for name in QUESTIONS)


def test_a_draft_saves_with_questions_unanswered_but_signing_is_refused_naming_each(as_practitioner, plan):
    record = _start(as_practitioner, plan)
    data = complete_session_form()
    for name in ("breastfeeding_now", "had_filler"):
        del data[name]
    assert _save(as_practitioner, record, data).status_code == 303, "a draft is work in progress"
    assert _fresh(record).breastfeeding_now is None and _fresh(record).had_filler is None
    response = _sign(as_practitioner, record)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    refusal = "answer every re-screen question (yes or no): breastfeeding now, filler in the area since the last visit"
    assert refusal in html.lower(), "each unanswered question by name, and only those"
    assert not _fresh(record).is_signed
    page = as_practitioner.get(f"/sessions/{record.public_id}").get_data(as_text=True)
    assert page.count("Not answered") == 2


@pytest.mark.parametrize("change, field, message", [
    ({"had_sunburn": "yes"}, "sunburn_on", "Enter the date"),
    ({"had_neurotoxin": "no", "neurotoxin_on": "2026-01-05"}, "had_neurotoxin", "answer Yes, or clear the date"),
    ({"had_filler": None, "filler_on": "2026-01-05"}, "had_filler", "answer Yes, or clear the date"),
])
def test_a_yes_without_its_date_or_a_date_without_a_yes_is_a_field_error(as_practitioner, plan, change, field, message):
    record = _start(as_practitioner, plan)
    response = _save(as_practitioner, record, complete_session_form(**change))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*name="{field}"', html), field
    assert re.search(r'name="cartridge_lot"[^>]*value="LOT-A1"', html), "what was typed is kept"
    assert "{" not in re.sub(r"<script.*?</script>|<style.*?</style>", "", html, flags=re.S).split("<form", 1)[1].split("</form>")[0] \
        .replace("{{", ""), "no program text"
    assert _fresh(record).version == record.version, "nothing saved"


def test_a_yes_with_its_date_is_kept_and_signs(as_practitioner, plan):
    record = _start(as_practitioner, plan)
    day = date.today() - timedelta(days=120)
    assert _save(as_practitioner, record, complete_session_form(had_resurfacing="yes", resurfacing_on=day.isoformat())).status_code == 303
    assert (_fresh(record).had_resurfacing, _fresh(record).resurfacing_on) == (True, day)
    assert _sign(as_practitioner, record).status_code == 303


def test_pregnant_today_still_defers(as_practitioner, plan):
    record = _start(as_practitioner, plan)
    response = _save(as_practitioner, record, complete_session_form(pregnant_now="yes"))
    assert response.status_code == 303
    html = as_practitioner.get(f"/sessions/{record.public_id}/edit").get_data(as_text=True)
    assert re.search(r'<input[^>]*(checked[^>]*name="pregnant_now"[^>]*value="yes"|name="pregnant_now"[^>]*type="radio"[^>]*value="yes"[^>]*checked)',
                     html), "the Yes is kept as the answer"
    record = _fresh(record)
    assert record.rescreen_decision == "defer"
    assert "pregnancy" in " ".join(f["code"] for f in record.rescreen_flags)
    assert _sign(as_practitioner, record).status_code == 422


def test_an_unanswered_question_is_not_read_as_no_by_the_rescreen(practitioner):
    from practitioner.clinical.screening import Policy
    from practitioner.treatments.services import rescreen
    from tests.factories import make_consent, make_consultation, make_plan

    consultation = make_consultation(make_patient(actor=practitioner), practitioner, active_cold_sore=True, decision="defer")
    plan = make_plan(consultation)
    make_consent(consultation, practitioner)
    record = TreatmentSession(patient_id=plan.patient_id, plan_id=plan.id, sequence=1, practitioner_id=practitioner.id,
                              session_date=date.today())
    db.session.add(record)
    db.session.flush()
    rescreen(record, Policy())
    assert record.rescreen_decision == "defer", "the consultation's cold sore stands while today's question is unanswered"
    record.cold_sore_now = False  # asked today: healed
    rescreen(record, Policy())
    assert record.rescreen_decision != "defer"


def test_the_printed_record_says_not_answered_never_no(as_practitioner, plan):
    from practitioner.documents.models import DocumentKind
    from tests.documents.test_documents import build, render, words

    record = _start(as_practitioner, plan)
    data = complete_session_form()
    del data["pregnant_now"]
    _save(as_practitioner, record, data)
    text_ = words(render(build(DocumentKind.SESSION_RECORD, record.public_id)))
    assert "Pregnant now Not answered" in text_
    assert "Breastfeeding now No" in text_


def _hash_of(canonical: dict) -> str:
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def _schema() -> list[tuple]:
    """SQLite's stored definitions of every table, index and trigger (nothing to compare on PostgreSQL)."""
    if db.engine.dialect.name != "sqlite":
        return []
    with db.engine.connect() as connection:
        return sorted(tuple(row) for row in connection.execute(text("SELECT type, name, tbl_name, sql FROM sqlite_master")))


def test_migration_0012_keeps_signed_sessions_and_their_hashes_both_ways(empty_database_url):
    from flask_migrate import downgrade, upgrade

    app = create_app(make_config(empty_database_url))
    with app.app_context():
        try:
            upgrade()
            author = make_user(email="rescreen-migration@clinic.example")
            plan = treatable_plan(make_patient(actor=author), author)
            long_ago = date.today() - timedelta(days=400)
            # Every dated question Yes with its date: the signature is the one the old form's code made.
            # 1.50 as the column stores it, so the hash made at signing is the hash of the record as read back.
            dated = signed_session(plan, author, device_max_depth_mm=Decimal("1.50"), sunburn_on=long_ago, neurotoxin_on=long_ago, filler_on=long_ago, resurfacing_on=long_ago)
            # No to the dated questions: the old form stored blank dates, which say nothing.
            blank = signed_session(plan, author, sequence=2, device_max_depth_mm=Decimal("1.50"))
            dated_id, blank_id, dated_hash = dated.id, blank.id, dated.content_sha256
            blank_canonical, dated_canonical = canonical_record(blank), canonical_record(dated)
            db.session.remove()

            schema_at_head = _schema()
            downgrade(revision="0011")  # the database as the old form left it
            with db.engine.connect() as connection:
                old = connection.execute(text("SELECT pregnant_now, sunburn_on FROM treatment_sessions WHERE id = :id"),
                                         {"id": dated_id}).one()
            assert (bool(old.pregnant_now), old.sunburn_on is not None) == (False, True)

            upgrade()
            # The rebuild put back every index and lock trigger word for word (SQLite keeps their SQL; PostgreSQL alters in place).
            assert _schema() == schema_at_head
            dated = db.session.get(TreatmentSession, dated_id)
            assert all(getattr(dated, name) is True for name in RESCREEN_DATED), "a date given was a Yes"
            assert canonical_record(dated) == dated_canonical
            assert record_hash(dated) == dated_hash == dated.content_sha256, "the signature still verifies"
            blank = db.session.get(TreatmentSession, blank_id)
            assert all(getattr(blank, name) is None for name in RESCREEN_DATED), "a blank date is not invented into a No"
            assert all(getattr(blank, name) is False for name in RESCREEN_YES_NO), "the answers it was saved with"
            old_form = {k: v for k, v in blank_canonical.items() if k not in RESCREEN_DATED}
            assert canonical_record(blank) == old_form, "what the old form's code signed, key for key"
            assert [a for _, a, _ in blank.rescreen_answers].count("not_asked") == 4
            db.session.remove()
            # Still locked by the same trigger.
            with pytest.raises(DatabaseError, match="locked"):
                with db.engine.begin() as connection:
                    connection.execute(text("UPDATE treatment_sessions SET had_sunburn = :no WHERE id = :id"), {"id": blank_id, "no": False})
        finally:
            db.session.remove()
            db.engine.dispose()
