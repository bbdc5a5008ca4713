"""Migration 0007: consultations recorded under the old form keep the answers they were saved with."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from practitioner import create_app
from practitioner.extensions import db
from tests.conftest import make_config, make_patient, make_user
from tests.factories import make_consultation


def _row(consultation_id: int, columns: str) -> dict:
    with db.engine.connect() as connection:
        return dict(connection.execute(text(f"SELECT {columns} FROM consultations WHERE id = :id"), {"id": consultation_id}).mappings().one())


def test_old_answers_are_kept_and_a_blank_date_is_not_read_as_no(empty_database_url):
    from flask_migrate import downgrade, upgrade

    app = create_app(make_config(empty_database_url))
    with app.app_context():
        try:
            upgrade()
            author = make_user(email="old-form@clinic.example")
            consultation = make_consultation(make_patient(actor=author), author, pregnant=True, diabetes="controlled",
                                             had_sunburn=True, sunburn_on=date(2026, 1, 5))
            consultation_id = consultation.id
            db.session.remove()
            downgrade(revision="0006")  # as a database saved under the old form looks
            old = _row(consultation_id, "pregnant, smoker, diabetes, isotretinoin, sunburn_on, neurotoxin_on")
            assert (bool(old["pregnant"]), bool(old["smoker"]), old["diabetes"], old["isotretinoin"]) == (True, False, "controlled", "never")
            assert old["neurotoxin_on"] is None


            upgrade()
            new = _row(consultation_id, "pregnant, smoker, diabetes, isotretinoin, had_sunburn, had_neurotoxin, locked_at, supersedes_id")
            assert (bool(new["pregnant"]), bool(new["smoker"]), new["diabetes"], new["isotretinoin"]) == (True, False, "controlled", "never")
            assert bool(new["had_sunburn"]) is True, "a date given under the old form was a Yes"
            assert new["had_neurotoxin"] is None, "a blank date was never an explicit No"
            assert new["locked_at"] is None and new["supersedes_id"] is None
        finally:
            db.session.remove()
            db.engine.dispose()
