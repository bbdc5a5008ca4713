"""Helpers shared by the reliability tests: patient data, plain SQLite reads, running the CLI on an app."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

from flask import Flask


def patient_values(tag: str) -> dict[str, Any]:
    """Plausible patient details for register_patient; `tag` makes the family name unique."""
    return {
        "given_name": "Drill", "family_name": f"Writer{tag}", "date_of_birth": date(1985, 3, 14), "sex": "female",
        "phone": "07700 900123", "email": "", "address": "", "postcode": "", "preferred_name": "",
        "emergency_contact_name": "", "emergency_contact_relationship": "", "emergency_contact_phone": "",
        "gp_name": "", "gp_practice": "", "gp_phone": "", "record_number": "",
        "fitzpatrick": 3, "no_known_allergies": True, "allergies": "", "current_medicines": "",
    }


def patient_form(tag: str, phone: str = "07700 900123") -> dict[str, str]:
    """The new-patient form as a browser posts it (practitioner's form, with the clinical basics)."""
    return {
        "given_name": "Load", "family_name": f"Tester{tag}", "date_of_birth": "1988-06-01", "sex": "female",
        "phone": phone, "email": "", "address": "", "postcode": "", "preferred_name": "", "record_number": "",
        "emergency_contact_name": "", "emergency_contact_relationship": "", "emergency_contact_phone": "",
        "gp_name": "", "gp_practice": "", "gp_phone": "", "fitzpatrick": "3", "no_known_allergies": "y",
        "allergies": "", "current_medicines": "",
    }


def scalar(path: Path, sql: str, *params: Any) -> Any:
    """One value from a short-lived plain connection (a WAL reader: never blocks the writers)."""
    conn = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True, timeout=15)
    try:
        return conn.execute(sql, params).fetchone()[0]
    finally:
        conn.close()


def rows(path: Path, sql: str, *params: Any) -> list[tuple]:
    """Every row from a short-lived plain connection."""
    conn = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True, timeout=15)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def sha256(path: Path) -> str:
    """The file's SHA-256."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def invoke(app: Flask, *args: str, **kwargs: Any):
    """Run `flask <args>` against this app (its own app context, so its own database)."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args), **kwargs)


HALF_SAVED_QUERIES = {
    "patients_without_create_event": """
        SELECT p.id FROM patients p WHERE NOT EXISTS (
          SELECT 1 FROM audit_events a WHERE a.patient_id = p.id AND a.action = 'patient.create')""",
    "create_events_without_patient": """
        SELECT a.id FROM audit_events a WHERE a.action = 'patient.create' AND NOT EXISTS (
          SELECT 1 FROM patients p WHERE p.id = a.patient_id)""",
    "patients_with_several_create_events": """
        SELECT patient_id FROM audit_events WHERE action = 'patient.create'
        GROUP BY patient_id HAVING count(*) > 1""",
}
NOTHING_HALF_SAVED = {key: [] for key in HALF_SAVED_QUERIES}


def half_saved(path: Path) -> dict[str, list]:
    """In a SQLite file: patients without their `patient.create` audit row, rows without their patient,
    patients created twice."""
    return {key: rows(path, sql) for key, sql in HALF_SAVED_QUERIES.items()}


def half_saved_in(session: Any) -> dict[str, list]:
    """The same, through a SQLAlchemy session (any database)."""
    from sqlalchemy import text

    return {key: [tuple(row) for row in session.execute(text(sql))] for key, sql in HALF_SAVED_QUERIES.items()}
