"""Intake services: the link (long, random, hashed, expiring, single use), the date-of-birth throttles,
answering, submitting (refused while anything is unanswered; the signature re-encoded; the SHA-256),
abandoning, the review queue, the database lock after submit, and an audit row for every step."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from datetime import date, timedelta

import pytest
from PIL import Image
from sqlalchemy import event, select, text
from sqlalchemy.exc import DatabaseError

from practitioner.audit import AuditEvent
from practitioner.auth.models import Role
from practitioner.database import utcnow
from practitioner.extensions import db
from practitioner.intake import questions, services
from practitioner.intake.models import PatientIntake
from tests.conftest import POSTGRES, make_patient, make_user
from tests.intake.factories import answer_set, make_intake, signature_png, unlock_intakes

DOB = date(1988, 4, 2)


@pytest.fixture
def staff(app):
    return make_user(Role.RECEPTION, email="desk@clinic.example")


@pytest.fixture
def patient(staff):
    return make_patient(staff, given_name="Maya", family_name="Okonkwo", date_of_birth=DOB)


def _actions(intake: PatientIntake) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.target == f"intake:{intake.public_id}")
                                   .order_by(AuditEvent.id)))


def _sql(statement: str, **params) -> None:
    db.session.rollback()
    with db.engine.begin() as connection:
        connection.execute(text(statement), params)


# -- the link -------------------------------------------------------------------------------------------------


def test_a_link_token_is_long_random_and_stored_only_as_its_hash(patient, staff):
    first, token = services.create_link(patient, staff)
    second, other = services.create_link(patient, staff)
    db.session.commit()
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) >= 32 and token != other
    assert first.token_hash == hashlib.sha256(token.encode()).hexdigest() != second.token_hash
    row = db.session.execute(text("SELECT * FROM patient_intakes WHERE id = :id"), {"id": first.id}).mappings().one()
    assert not any(token in str(value) for value in row.values())
    assert services.find_by_token(token) is first and services.find_by_token(other) is second
    assert services.find_by_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert services.find_by_token("") is None and services.find_by_token("x" * 500) is None


def test_a_link_expires_after_the_configured_hours_default_72(app, patient, staff):
    intake, token = services.create_link(patient, staff)
    assert intake.expires_at - intake.created_at == timedelta(hours=72)
    app.config["INTAKE_LINK_HOURS"] = 24
    short, _ = services.create_link(patient, staff)
    assert short.expires_at - short.created_at == timedelta(hours=24)
    db.session.commit()
    assert services.usable_by_token(token) is intake
    assert services.usable_by_token(token, now=intake.created_at + timedelta(hours=71, minutes=59)) is intake
    assert services.usable_by_token(token, now=intake.created_at + timedelta(hours=72)) is None


def test_a_tablet_intake_has_no_link_and_a_short_life(patient, staff):
    intake = services.start_tablet(patient, staff)
    assert intake.token_hash is None and intake.channel == "tablet" and intake.verified_at is not None
    assert intake.expires_at - intake.created_at == timedelta(hours=services.TABLET_HOURS)


def test_a_used_link_finds_nothing_usable(patient, staff):
    intake = make_intake(patient, staff, channel="link", submitted=True)
    assert services.find_by_token(intake.token) is intake
    assert services.usable_by_token(intake.token) is None


def test_an_abandoned_link_finds_nothing_usable_and_cannot_be_abandoned_twice(patient, staff):
    intake = make_intake(patient, staff, channel="link")
    services.abandon(intake, staff)
    db.session.commit()
    assert intake.status == "abandoned" and intake.abandoned_at is not None
    assert services.usable_by_token(intake.token) is None
    with pytest.raises(services.IntakeClosed):
        services.abandon(intake, None)
    assert _actions(intake) == ["intake_link_created", "intake_abandoned"]


# -- the date of birth ----------------------------------------------------------------------------------------


def test_the_right_date_of_birth_opens_the_link(patient, staff):
    intake = make_intake(patient, staff, channel="link", verified=False)
    assert intake.verified_at is None
    result = services.check_dob(intake, DOB, "203.0.113.5")
    db.session.commit()
    assert result.ok and intake.verified_at is not None
    assert _actions(intake) == ["intake_link_created", "intake_opened"]


def test_five_wrong_dates_of_birth_close_the_link_for_good(patient, staff):
    intake = make_intake(patient, staff, channel="link", verified=False)
    outcomes = [services.check_dob(intake, date(1990, 1, n), "203.0.113.5") for n in range(1, 6)]
    assert [r.outcome for r in outcomes] == ["wrong"] * 4 + ["throttled"]
    assert [r.tries_left for r in outcomes] == [4, 3, 2, 1, 0]
    assert services.check_dob(intake, DOB, "198.51.100.7").outcome == "throttled"
    db.session.commit()
    assert intake.verified_at is None and intake.dob_failures == 5
    assert services.usable_by_token(intake.token) is None
    assert _actions(intake) == ["intake_link_created"] + ["intake_dob_failed"] * 5


def test_wrong_dates_of_birth_from_one_address_are_throttled_across_links(app, patient, staff):
    app.config["SIGN_IN_ADDRESS_MAX_FAILURES"] = 6
    links = [make_intake(patient, staff, channel="link", verified=False) for _ in range(3)]
    for intake in links[:2]:
        for n in range(3):
            assert services.check_dob(intake, date(1970, 1, n + 1), "203.0.113.9").outcome == "wrong"
    db.session.commit()
    assert services.check_dob(links[2], DOB, "203.0.113.9").outcome == "throttled"
    assert links[2].dob_failures == 0, "a refusal by address does not count against the link"
    assert services.check_dob(links[2], DOB, "198.51.100.1").ok


def test_the_address_count_ends_with_the_sign_in_window(app, patient, staff):
    app.config["SIGN_IN_ADDRESS_MAX_FAILURES"] = 1
    first = make_intake(patient, staff, channel="link", verified=False)
    services.check_dob(first, date(1970, 1, 1), "203.0.113.9")
    db.session.commit()
    assert services.address_throttled("203.0.113.9")
    _sql("UPDATE sign_in_failure_counts SET last_at = :old", old=utcnow() - timedelta(minutes=16))
    assert not services.address_throttled("203.0.113.9")


def test_audit_rows_carry_no_patient_data(patient, staff):
    intake = make_intake(patient, staff, channel="link", verified=False)
    services.check_dob(intake, date(1970, 1, 1), "203.0.113.9")
    services.check_dob(intake, DOB, "203.0.113.9")
    services.save_topic(intake, "details", {"phone": "07700 900123", "address": "1 Secret Lane"})
    db.session.commit()
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.target == f"intake:{intake.public_id}")).all()
    written = " ".join(f"{r.actor_label} {r.detail} {r.target}" for r in rows)
    for secret in ("Maya", "Okonkwo", "1988", "07700", "Secret", "1970"):
        assert secret not in written


# -- answering and submitting ---------------------------------------------------------------------------------


def test_a_screen_s_answers_are_kept_in_the_draft_and_replace_that_screen_s_earlier_ones(patient, staff):
    intake = make_intake(patient, staff)
    services.save_topic(intake, "today", {"pregnant": "yes", "had_sunburn": "yes", "had_sunburn_when": "2026-11"})
    services.save_topic(intake, "today", {"pregnant": "no"})
    services.save_topic(intake, "hopes", {"concerns": ["laxity", "pigmentation"], "areas": ["neck", "cheeks"], "words": "Brighter skin"})
    db.session.commit()
    draft = intake.draft_answers
    assert draft["questions"] == {"pregnant": {"answer": "no", "when": None, "estimate": False}}
    assert draft["hopes"] == {"concerns": ["laxity", "pigmentation"], "areas": ["cheeks", "neck"], "words": "Brighter skin"}


def test_bad_answers_are_refused_by_field_in_patient_words(patient, staff):
    intake = make_intake(patient, staff)
    with pytest.raises(services.InvalidAnswers) as caught:
        services.save_topic(intake, "recent", {"had_neurotoxin": "maybe", "had_filler_in_area": "yes",
                                               "had_filler_in_area_when": "2999-01"})
    assert set(caught.value.problems) == {"had_neurotoxin", "had_filler_in_area_when"}
    assert "still to come" in caught.value.problems["had_filler_in_area_when"]
    with pytest.raises(services.InvalidAnswers):
        services.save_topic(intake, "hopes", {"concerns": ["world_peace"]})
    with pytest.raises(services.InvalidAnswers) as caught:
        services.save_topic(intake, "hopes", {"areas": ["cheeks", "elbows"]})
    assert set(caught.value.problems) == {"areas"}
    with pytest.raises(services.InvalidAnswers):
        services.save_topic(intake, "nowhere", {})


def test_submit_is_refused_naming_each_unanswered_question(patient, staff):
    intake = make_intake(patient, staff, answers=answer_set(pregnant=None, isotretinoin=("stopped", None)))
    gaps = services.missing(intake)
    assert gaps == [questions.BY_KEY["pregnant"].wording,
                    questions.BY_KEY["isotretinoin"].wording + " When did you stop?"]
    with pytest.raises(services.IntakeIncomplete) as caught:
        services.submit(intake, signature_png())
    assert caught.value.missing == gaps and intake.status == "open"
    assert len(services.missing(make_intake(patient, staff))) == len(questions.QUESTIONS)


def test_submit_keeps_the_answers_canonical_the_signature_re_encoded_and_a_sha256_over_both(patient, staff):
    intake = make_intake(patient, staff, answers=answer_set(had_neurotoxin=("yes", "2026-11"), words="Smoother"))
    drawn = signature_png() + b"trailer that must not be kept"
    services.submit(intake, drawn, "203.0.113.5")
    db.session.commit()
    assert intake.status == "submitted" and intake.submitted_at is not None
    assert intake.signature_png != drawn and b"trailer" not in intake.signature_png
    assert intake.signature_png.startswith(b"\x89PNG")
    stored = json.loads(intake.answers_json)
    assert stored["questions"]["had_neurotoxin"] == {"answer": "yes", "when": "2026-11", "estimate": True}
    assert stored["hopes"]["words"] == "Smoother" and set(stored["details"]) == set(questions.DETAIL_KEYS)
    assert intake.answers_json == json.dumps(stored, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    content = json.dumps({"text_version": questions.TEXT_VERSION, "answers": stored,
                          "submitted_at": intake.submitted_at.isoformat(timespec="microseconds"),
                          "signature_sha256": hashlib.sha256(intake.signature_png).hexdigest()},
                         sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert intake.sha256 == hashlib.sha256(content.encode()).hexdigest()
    assert services.matches_hash(intake)
    assert _actions(intake) == ["intake_started", "intake_submitted"]
    with pytest.raises(services.IntakeClosed):
        services.save_topic(intake, "today", {"pregnant": "yes"})
    with pytest.raises(services.IntakeClosed):
        services.submit(intake, signature_png())


def test_a_signature_data_url_is_accepted_and_an_empty_box_is_refused_in_the_patient_s_words(patient, staff):
    intake = make_intake(patient, staff, answers=answer_set())
    with pytest.raises(services.SignatureProblem, match="Please sign in the box"):
        services.submit(intake, b"")
    blank = signature_png()
    out = io.BytesIO()
    Image.new("RGBA", (400, 150), (255, 255, 255, 0)).save(out, format="PNG")
    with pytest.raises(services.SignatureProblem, match="looks empty"):
        services.submit(intake, out.getvalue())
    assert intake.status == "open"
    services.submit(intake, "data:image/png;base64," + base64.b64encode(blank).decode())
    assert intake.status == "submitted"


def test_an_expired_intake_cannot_be_answered_or_submitted(patient, staff):
    intake = make_intake(patient, staff, answers=answer_set())
    intake.expires_at = utcnow() - timedelta(seconds=1)
    with pytest.raises(services.IntakeClosed):
        services.save_topic(intake, "today", {"pregnant": "no"})
    with pytest.raises(services.IntakeClosed):
        services.submit(intake, signature_png())


# -- the review queue -----------------------------------------------------------------------------------------


def test_pending_for_patient_lists_signed_unreviewed_intakes_in_one_statement(patient, staff):
    other = make_patient(staff, given_name="Other")
    make_intake(patient, staff)
    waiting = make_intake(patient, staff, submitted=True)
    reviewed = make_intake(patient, staff, submitted=True)
    make_intake(other, staff, submitted=True)
    reviewed.reviewed_at, reviewed.reviewed_by_id = utcnow(), staff.id
    db.session.commit()
    patient_id = patient.id
    db.session.expire_all()
    seen = []

    def note(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        pending = services.pending_for_patient(patient_id)
        names = [i.patient.given_name for i in pending]
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert [i.id for i in pending] == [waiting.id] and names == ["Maya"]
    assert len(seen) == 1, seen


# -- the lock -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("column, value", [("answers_json", "{}"), ("sha256", "0" * 64), ("text_version", "forged"),
                                           ("status", "open"), ("patient_id", None), ("signature_png", b"x"),
                                           ("draft", "{}")])
def test_a_submitted_intake_cannot_be_changed_in_the_database(patient, staff, column, value):
    intake = make_intake(patient, staff, submitted=True)
    if column == "patient_id":
        value = make_patient(staff, given_name="Someone").id
    with pytest.raises(DatabaseError, match="kept exactly as signed"):
        _sql(f"UPDATE patient_intakes SET {column} = :value WHERE id = :id", value=value, id=intake.id)  # nosec B608
    with pytest.raises(DatabaseError, match="kept exactly as signed"):
        _sql("DELETE FROM patient_intakes WHERE id = :id", id=intake.id)


def test_the_review_may_be_recorded_once(patient, staff):
    intake = make_intake(patient, staff, submitted=True)
    _sql("UPDATE patient_intakes SET reviewed_at = :at, reviewed_by_id = :by WHERE id = :id",
         at=utcnow(), by=staff.id, id=intake.id)
    with pytest.raises(DatabaseError, match="kept exactly as signed"):
        _sql("UPDATE patient_intakes SET reviewed_at = :at WHERE id = :id", at=utcnow(), id=intake.id)


def test_an_open_intake_may_still_change(patient, staff):
    intake = make_intake(patient, staff)
    _sql("UPDATE patient_intakes SET draft = '{}' WHERE id = :id", id=intake.id)
    _sql("DELETE FROM patient_intakes WHERE id = :id", id=intake.id)


@pytest.mark.sqlite_only(reason="REPLACE is SQLite's; PostgreSQL's ON CONFLICT DO UPDATE is the test below")
def test_replace_over_a_submitted_intake_is_refused(patient, staff):
    intake = make_intake(patient, staff, submitted=True)
    with pytest.raises(DatabaseError, match="cannot be replaced"):
        _sql("INSERT OR REPLACE INTO patient_intakes SELECT * FROM patient_intakes WHERE id = :id", id=intake.id)
    _sql("CREATE TEMP TABLE forged AS SELECT * FROM patient_intakes WHERE id = :id", id=intake.id)
    _sql("UPDATE temp.forged SET answers_json = '{}'")
    with pytest.raises(DatabaseError, match="cannot be replaced"):
        _sql("REPLACE INTO patient_intakes SELECT * FROM temp.forged")
    other = make_intake(patient, staff)
    with pytest.raises(DatabaseError, match="cannot be replaced"):
        _sql("UPDATE OR REPLACE patient_intakes SET id = :locked WHERE id = :id", locked=intake.id, id=other.id)


def test_on_conflict_do_update_over_a_submitted_intake_is_refused(patient, staff):
    if not POSTGRES:
        pytest.skip("PostgreSQL pass only (PRACTITIONER_TEST_POSTGRES=1)")
    intake = make_intake(patient, staff, submitted=True)
    with pytest.raises(DatabaseError, match="kept exactly as signed"):
        _sql("INSERT INTO patient_intakes SELECT * FROM patient_intakes WHERE id = :id "
             "ON CONFLICT (id) DO UPDATE SET answers_json = '{}'", id=intake.id)


def test_a_rewritten_signed_intake_is_found_even_with_its_hash_recomputed(patient, staff):
    intake = make_intake(patient, staff, submitted=True)
    assert services.integrity_problems(intake) == []
    assert services.integrity_problems(make_intake(patient, staff)) == []
    forged = json.loads(intake.answers_json)
    forged["questions"]["pregnant"]["answer"] = "yes"
    forged_json = json.dumps(forged, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    intake_id = intake.id
    unlock_intakes()
    _sql("UPDATE patient_intakes SET answers_json = :forged WHERE id = :id", forged=forged_json, id=intake_id)
    db.session.expire_all()
    intake = db.session.get(PatientIntake, intake_id)
    assert services.integrity_problems(intake) == ["the signed intake does not match its stored SHA-256"]
    recomputed = services.content_sha256(intake.text_version, forged_json, intake.submitted_at, intake.signature_png)
    _sql("UPDATE patient_intakes SET sha256 = :sha WHERE id = :id", sha=recomputed, id=intake_id)
    db.session.expire_all()
    intake = db.session.get(PatientIntake, intake_id)
    assert services.integrity_problems(intake) == ["the signed intake does not match what its submission audit row sealed"]


def test_consent_and_intake_signatures_are_checked_by_one_piece_of_code():
    from practitioner import signatures
    from practitioner.consents import services as consents

    assert consents.decode_signature is signatures.decode_signature
    assert services.decode_signature is signatures.decode_signature and services.reencoded_png is signatures.reencoded_png
