"""Intakes for tests, made through the intake's own services (so a factory intake is one the product could make).

    intake = make_intake(patient, reception)                         # open, on the tablet, nothing answered
    intake = make_intake(patient, reception, channel="link")         # intake.token holds the link's token
    intake = make_intake(patient, reception, answers=answer_set())   # every question answered with the calm answer
    intake = make_intake(patient, reception, submitted=True,         # signed; Not sure and a Yes with a month
                         answers=answer_set(pregnant="not_sure", had_neurotoxin=("yes", "2026-11")))
"""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any

from PIL import Image, ImageDraw

from practitioner.auth.models import User
from practitioner.extensions import db
from practitioner.intake import questions, services
from practitioner.intake.models import PatientIntake
from practitioner.patients.models import Patient

# The answer that raises nothing, for each question: "no", or the question's own calm choice.
CALM = {"diabetes": "none", "isotretinoin": "never"}


def calm_code(question: questions.Question) -> str:
    """The answer to `question` that raises nothing."""
    return CALM.get(question.key, questions.NO)


def answer_set(*, details: dict[str, str] | None = None, concerns: tuple[str, ...] = ("fine_lines_wrinkles",),
               words: str = "", areas: tuple[str, ...] = (), **overrides: Any) -> dict[str, Any]:
    """Answers in the stored shape: every question answered calmly, except the overrides.

    An override is a code ("yes", "not_sure", "stopped"), a (code, when) pair such as ("yes", "2026-11"),
    or None to leave that question unanswered.
    """
    given: dict[str, Any] = {}
    for question in questions.QUESTIONS:
        value = overrides.pop(question.key, calm_code(question))
        if value is None:
            continue
        code, when = value if isinstance(value, tuple) else (value, None)
        given[question.key] = {"answer": code, "when": when, "estimate": bool(when) and len(when) == 7}
    if overrides:
        raise TypeError(f"unknown question keys: {sorted(overrides)}")
    return {"questions": given, "details": dict(details or {}),
            "hopes": {"concerns": list(concerns), "areas": list(areas), "words": words}}


def signature_png(width: int = 400, height: int = 150) -> bytes:
    """A drawn signature: a dark scribble on a white box, as the pad sends it."""
    image = Image.new("RGBA", (width, height), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    draw.line([(20, 100), (80, 40), (140, 110), (220, 30), (300, 100), (380, 60)], fill=(0, 0, 0, 255), width=5)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def make_intake(patient: Patient, started_by: User, *, channel: str = "tablet", answers: dict[str, Any] | None = None,
                submitted: bool = False, verified: bool = True, as_of: date | None = None) -> PatientIntake:
    """A committed intake. Link intakes carry `.token` (the one-time token; only its hash is stored).

    `answers` go into the draft as they are (a submitted intake with no answers given gets `answer_set()`);
    `verified=False` leaves a link intake before its date-of-birth check. `submitted=True` signs it through
    `services.submit`, so it is stored exactly as the product stores one.
    """
    if channel == "link":
        intake, token = services.create_link(patient, started_by)
        intake.token = token  # type: ignore[attr-defined]
        if verified:
            intake.verified_at = intake.created_at
    else:
        intake = services.start_tablet(patient, started_by)
    if answers is None and submitted:
        answers = answer_set()
    if answers is not None:
        draft = dict(answers)
        if as_of is not None:
            draft["as_of"] = as_of.isoformat()
        intake.draft = json.dumps(draft, sort_keys=True, ensure_ascii=False)
    db.session.flush()
    if submitted:
        services.submit(intake, signature_png())
    db.session.commit()
    return intake


def unlock_intakes() -> None:
    """Lift the signed intakes' lock, as only someone holding the database could (SQLite and PostgreSQL)."""
    db.session.rollback()
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("ALTER TABLE patient_intakes DISABLE TRIGGER USER")
            return
        names = connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'patient_intakes'").scalars().all()
        for name in names:
            connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
