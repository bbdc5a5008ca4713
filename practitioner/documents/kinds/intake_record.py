"""The health questionnaire (signed intake): for the patient, the answers they gave and signed, exactly as signed.

Made from a submitted PatientIntake only, and only from what was signed (the stored canonical answers,
never the draft), in the wording of the questions' version the patient answered. Before it is made
the stored SHA-256 is checked against the stored content and the audit row that sealed it
(practitioner.documents.services.refuse_if_altered): a signed intake that no longer matches is not
printed, as a session record or a consent that no longer matches is not.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Mapping

from sqlalchemy.orm import Session, undefer

from practitioner import audit
from practitioner.dates import day_month_year, to_clinic_time
from practitioner.documents.kinds._common import _local, _patient_head, _signature_src, slug
from practitioner.documents.kinds._types import DocumentSpec, DocumentType
from practitioner.intake import mapping, questions, services
from practitioner.intake.models import PatientIntake

CHANNEL_WORDS = {"tablet": "On the clinic's tablet", "link": "Through a one-time link, before the visit"}

# The questions' wording by version: a signed intake is printed only in the words its patient saw. When the wording
# changes (questions.TEXT_VERSION is bumped), the old version's topics stay here under their version.
# 2026-12-06.3 added only the hopes screen's areas question (questions.AREAS_WORDING): the topics are the same words.
WORDINGS: dict[str, tuple[questions.Topic, ...]] = {"2026-12-06.2": questions.TOPICS, questions.TEXT_VERSION: questions.TOPICS}
BEFORE_AREAS = frozenset({"2026-12-06.2"})  # versions whose patients were not asked the areas question


def missing(intake: PatientIntake) -> str | None:
    """Why this intake cannot be printed yet (None once it is signed, in a wording this version holds)."""
    if intake.status != "submitted":
        return ("The health questionnaire is printed once the patient has signed it: this one "
                + ("was withdrawn before it was signed." if intake.status == "abandoned" else "is not signed yet."))
    if intake.text_version not in WORDINGS:
        return (f"Not printed: this questionnaire was signed in the questions' version {intake.text_version}, whose wording "
                "this version of Practitioner does not hold, so it cannot be printed in the words the patient saw. "
                "Tell the clinic's administrator.")
    return None


def integrity_problems(session: Session, intake: PatientIntake) -> list[str]:
    """What no longer matches what was signed (the intake's own check: the stored content against its SHA-256, and
    that against the audit row that sealed it). Empty for an intake not signed, or when everything matches."""
    return services.integrity_problems(intake)


def tamper_warning(intake: PatientIntake) -> str:
    """The warning given instead of the document when the signed intake no longer matches what was signed."""
    signed_on = day_month_year(to_clinic_time(intake.submitted_at).date()) if intake.submitted_at else "an unknown date"
    return audit.TAMPER_WARNING.format(signed_on=signed_on)


def _question_rows(topic: questions.Topic, mapped: Mapping[str, mapping.PatientAnswer]) -> list[dict[str, Any]]:
    rows = []
    for question in topic.questions:
        answer = mapped[question.key]
        follow = question.follow_up
        asked = follow is not None and answer.answer_code in follow.shown_for
        rows.append({"key": question.key, "wording": question.wording, "code": answer.answer_code or None,
                     "answer": answer.label, "notable": answer.needs_attention,
                     "follow_up": {"wording": follow.wording, "when": answer.when_text or mapping.NOT_ANSWERED,
                                   "estimate": answer.estimate} if asked and follow is not None else None})
    return rows


def _written(fields: tuple[questions.Field, ...]) -> list[dict[str, Any]]:
    """A screen's free-text fields in its order, in runs: short ones together (a table), each long one on its own."""
    runs: list[dict[str, Any]] = []
    for field in fields:
        if field.multiline or not runs or runs[-1]["multiline"]:
            runs.append({"multiline": field.multiline, "fields": []})
        runs[-1]["fields"].append({"key": field.key, "label": field.label})
    return runs


def intake_values(intake: PatientIntake, *, with_signature: bool = True) -> dict[str, Any]:
    """The signed intake as plain values: the questions by topic in the signed version's words with the answers,
    the details and hopes the patient typed, the declaration, the signature, the time and the SHA-256.

    Shared with the patient record export, which prints it without the signature image (`with_signature=False`,
    as it prints consents), so the export never loads the deferred signature bytes.
    """
    signed = intake.answers
    topics = WORDINGS[intake.text_version or ""]
    mapped = mapping.consultation_answers(signed)
    details = signed.get("details") if isinstance(signed.get("details"), Mapping) else {}
    hopes = signed.get("hopes") if isinstance(signed.get("hopes"), Mapping) else {}
    field_topics = [t for t in topics if t.kind != "hopes"]
    hopes_topic = next(t for t in topics if t.kind == "hopes")
    words_field = next(f for f in hopes_topic.fields if f.key == "words")
    details_topic = next(t for t in topics if t.kind == "details")
    return {
        "public_id": str(intake.public_id),
        "channel": CHANNEL_WORDS.get(intake.channel, intake.channel),
        "submitted_at": _local(intake.submitted_at),
        "text_version": intake.text_version,
        "sha256": intake.sha256,
        **({"signature_src": _signature_src(intake.signature_png)} if with_signature else {}),
        "declaration": questions.DECLARATION,
        "topics": [{"slug": t.slug, "title": t.title, "questions": _question_rows(t, mapped),
                    "written": _written(t.fields)}
                   for t in topics if t.kind == "questions"],
        # Every free text the patient typed, keyed by its field (a refusal of an unprintable character names it).
        "details": {f.key: str(details.get(f.key) or "") for t in field_topics for f in t.fields},
        "details_title": details_topic.title,
        "details_written": _written(details_topic.fields),
        "hopes_title": hopes_topic.title,
        "concerns_label": questions.CONCERNS_WORDING,
        "concerns": [questions.concern_label(code) for code in hopes.get("concerns") or [] if code in questions.CONCERN_CODES],
        # Asked from version 2026-12-06.3 on: None (no row) for an intake signed before the question existed.
        "areas_label": questions.AREAS_WORDING,
        "areas": None if intake.text_version in BEFORE_AREAS else
                 [questions.area_label(code) for code in hopes.get("areas") or [] if code in questions.AREA_CODES],
        "words_label": words_field.label,
        "hopes": {"words": str(hopes.get("words") or "")},
    }


def build(session: Session, intake: PatientIntake, issued_on: date | None = None) -> DocumentSpec:
    """The signed intake as the patient signed it: each answer, what they typed, the signature, time and SHA-256."""
    patient = intake.patient
    signed_at = _local(intake.submitted_at)
    context = {
        "patient": _patient_head(patient),
        "intake": intake_values(intake),
        "summary": f"Health questionnaire signed by {patient.full_name} on {day_month_year(signed_at.date())}",
    }
    return DocumentSpec(TYPE.kind, str(intake.public_id), patient.id, TYPE.template, TYPE.label, context,
                        f"intake-{intake.text_version}", f"health-questionnaire-{slug(patient.full_name)}-{signed_at.date().isoformat()}")


TYPE = DocumentType(
    code="intake-record",
    label="Health questionnaire (signed intake)",
    number_prefix="HQ",
    source=PatientIntake,
    source_name="intake",
    template="intake_record.html",
    for_patient=True,
    build=build,
    missing=missing,
    loads=(undefer(PatientIntake.signature_png),),
)
