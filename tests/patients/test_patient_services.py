"""Patient services without the web: name folding and the duplicate check."""

from __future__ import annotations

from datetime import date

import pytest

from practitioner.extensions import db
from practitioner.patients.services import PossibleDuplicate, fold_name, possible_duplicates, register_patient
from tests.conftest import make_patient


@pytest.mark.parametrize(("typed", "folded"), [
    ("José  GARCÍA", "jose garcia"), ("jose garcia", "jose garcia"), (" Zoë\tLambert ", "zoe lambert"),
    ("MÜLLER", "muller"), ("Straße", "strasse"), ("İlkay", "ilkay"), ("Ｊｏｓé", "jose"), ("Ólafur  Ragnar\u00a0Grímsson", "olafur ragnar grimsson"),
])
def test_fold_name(typed, folded):
    assert fold_name(typed) == folded


def test_fold_name_keeps_letters_that_are_not_accented_forms():
    assert fold_name("Øyvind") != fold_name("Oyvind")  # Ø is its own letter, not O with a mark
    assert fold_name("Nguyễn") == fold_name("NGUYEN")


def test_the_service_refuses_a_duplicate_unless_told_it_is_someone_else(app, practitioner):
    existing = make_patient(actor=practitioner, given_name="José", family_name="García", date_of_birth=date(1987, 6, 5))
    values = {"given_name": "jose", "family_name": "garcia", "date_of_birth": date(1987, 6, 5), "sex": "male", "record_number": "", "phone": ""}
    assert [p.id for p in possible_duplicates(db.session, given_name="JOSE", family_name="GARCIA", date_of_birth=date(1987, 6, 5))] == [existing.id]
    with pytest.raises(PossibleDuplicate) as refused:
        register_patient(db.session, values, actor=practitioner, clinical=False)
    assert [p.id for p in refused.value.matches] == [existing.id]
    db.session.rollback()
    patient = register_patient(db.session, values, actor=practitioner, clinical=False, different_from={str(existing.public_id)})
    assert patient.id != existing.id


@pytest.mark.sqlite_only(reason="SQLite's query plans")
def test_the_duplicate_check_finds_candidates_by_the_date_of_birth_index(app, practitioner):
    from sqlalchemy import event

    make_patient(actor=practitioner, given_name="José", family_name="García", date_of_birth=date(1987, 6, 5))
    seen: list[tuple[str, object]] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "patients" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        possible_duplicates(db.session, given_name="Jose", family_name="Garcia", date_of_birth=date(1987, 6, 5))
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert len(seen) == 1, seen
    statement, parameters = seen[0]
    plan = " | ".join(str(row[-1]) for row in db.session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
    assert "ix_patients_date_of_birth" in plan and "SCAN patients" not in plan, plan
