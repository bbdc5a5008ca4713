"""Command-line tasks: create-user and the demo seed."""

from __future__ import annotations

from sqlalchemy import func, select

from practitioner.auth.models import Role, User
from practitioner.extensions import db
from practitioner.patients.models import Patient


def test_create_user_reads_the_password_from_stdin(app):
    result = app.test_cli_runner().invoke(
        args=["create-user", "--email", "Lead@Clinic.example", "--name", "Dr Lead", "--role", "admin", "--password-stdin"],
        input="a very long first password\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalars(select(User)).one()
    assert user.email == "lead@clinic.example" and user.role == Role.ADMIN
    assert "a very long first password" not in result.output


def test_create_user_refuses_a_short_password_and_duplicates(app):
    runner = app.test_cli_runner()
    args = ["create-user", "--email", "a@clinic.example", "--name", "A", "--role", "reception", "--password-stdin"]
    short = runner.invoke(args=args, input="short\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    assert runner.invoke(args=args, input="long enough password\n").exit_code == 0
    again = runner.invoke(args=args, input="long enough password\n")
    assert again.exit_code == 1 and "already exists" in again.output


def test_create_user_without_password_stdin_is_a_usage_error(app):
    result = app.test_cli_runner().invoke(args=["create-user", "--email", "a@clinic.example", "--name", "A", "--role", "admin"])
    assert result.exit_code == 2 and "--password-stdin" in result.output


def test_seed_demo_is_idempotent_and_prints_the_sign_in(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "practitioner@demo.clinic" in first.output and "velvet harbour quartz meadow" in first.output and "4 clinical records" in first.output
    counts = (db.session.scalar(select(func.count(User.id))), db.session.scalar(select(func.count(Patient.id))))
    assert counts == (4, 12)
    from practitioner.consultations.models import Consultation
    from practitioner.documents.models import IssuedDocument
    from practitioner.treatments.models import TreatmentSession

    decisions = sorted(db.session.scalars(select(Consultation.decision)))
    assert decisions == ["defer", "proceed", "refer"]
    assert db.session.scalar(select(func.count(TreatmentSession.id)).where(TreatmentSession.signed_at.is_not(None))) == 1
    assert db.session.scalar(select(func.count(IssuedDocument.id))) == 1
    from practitioner.intake.models import PatientIntake
    from practitioner.intake.services import pending_for_patient

    (intake,) = db.session.scalars(select(PatientIntake)).all()  # Hannah's, signed on the tablet, waiting for review
    assert intake.status == "submitted" and intake.reviewed_at is None and intake.patient.record_number == "P000108"
    assert [i.id for i in pending_for_patient(intake.patient_id)] == [intake.id]
    assert {intake.answers["questions"][k]["answer"] for k in ("took_nsaid_or_supplement", "cold_sore_history")} == {"yes", "not_sure"}
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "0 users, 0 patients and 0 clinical records added" in second.output
    assert (db.session.scalar(select(func.count(User.id))), db.session.scalar(select(func.count(Patient.id)))) == counts


def test_a_production_start_has_no_demo_data(app):
    # The app factory and migrations create no users or patients: only seed-demo does.
    assert db.session.scalar(select(func.count(User.id))) == 0
    assert db.session.scalar(select(func.count(Patient.id))) == 0


def _first_screening_example(tmp_path) -> tuple[str, str]:
    """The first worked example of the screening rules, written to a file: (path, expected decision)."""
    import json
    from pathlib import Path

    example = json.loads((Path(__file__).parent / "clinical" / "screening-examples.json").read_text(encoding="utf-8"))[0]
    intake = tmp_path / "intake.json"
    intake.write_text(json.dumps(example["intake"]), encoding="utf-8")
    return str(intake), example["expected"]["decision"]


def test_screen_on_a_database_never_migrated_uses_the_default_policy_and_says_so(tmp_path, empty_database_url):
    """A fresh empty SQLite file (or, in the PostgreSQL pass, an empty database)."""
    import json

    from practitioner import create_app
    from tests.conftest import make_config

    intake, decision = _first_screening_example(tmp_path)
    fresh = create_app(make_config(empty_database_url))
    with fresh.app_context():
        result = fresh.test_cli_runner().invoke(args=["screen", intake])
        db.engine.dispose()
    assert result.exception is None, result.exception
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["decision"] == decision
    assert "policy could not be read" in result.stderr and "flask db upgrade" in result.stderr
    assert "Traceback" not in result.output


def test_screen_on_a_migrated_database_reads_the_clinic_policy_quietly(app, tmp_path):
    import json

    intake, decision = _first_screening_example(tmp_path)
    result = app.test_cli_runner().invoke(args=["screen", intake])
    assert result.exit_code == 0 and json.loads(result.stdout)["decision"] == decision
    assert result.stderr == ""
