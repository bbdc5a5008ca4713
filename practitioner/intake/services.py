"""Starting, answering, signing and abandoning an intake. Services flush; the view commits once.

The link: `secrets.token_urlsafe(32)` (32 random bytes, 43 characters), stored only as its SHA-256, valid
for INTAKE_LINK_HOURS (default 72) and only while the intake is open, so after submit or abandon the
same link finds nothing usable. Before anything is shown it asks the patient's date of birth: five wrong
answers close the link for the rest of its life (staff make a new one), and wrong answers from one
address are counted across links in the sign-in failure counters (scope "intake_ip"), with the same
window as sign-in and the address limit of SIGN_IN_ADDRESS_MAX_FAILURES. Every step is an audit row
whose free text carries no patient data. See docs/intake.md.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Mapping

from flask import current_app
from sqlalchemy import delete, select

from practitioner import audit
from practitioner.auth.models import SignInFailureCount
from practitioner.dates import clinic_today
from practitioner.database import utcnow
from practitioner.errors import DomainError, NotAllowed
from practitioner.extensions import db
from practitioner.intake import questions as q
from practitioner.intake.mapping import WhenProblem, parse_when
from practitioner.intake.models import PatientIntake
from practitioner.signatures import InvalidSignature, decode_signature, reencoded_png

LINK_TOKEN_BYTES = 32
TABLET_HOURS = 4
DOB_MAX_FAILURES = 5
ADDRESS_SCOPE = "intake_ip"
MAX_TEXT = 2000

ACTION_STARTED = "intake_started"
ACTION_LINK_CREATED = "intake_link_created"
ACTION_OPENED = "intake_opened"
ACTION_DOB_FAILED = "intake_dob_failed"
ACTION_SUBMITTED = "intake_submitted"
ACTION_ABANDONED = "intake_abandoned"
ACTION_REVIEWED = "intake_reviewed"

# The patient's words for a signature the pad could not give us (InvalidSignature.reason -> message).
SIGNATURE_WORDS = {
    "missing": "Please sign in the box.",
    "empty": "The box looks empty. Please sign in the box.",
}
SIGNATURE_AGAIN = "We could not read your signature. Please clear the box and sign again."


class IntakeClosed(NotAllowed):
    """The intake can no longer be answered: submitted, abandoned or expired."""


class IntakeIncomplete(DomainError):
    """Submit refused: `missing` names each question still unanswered (in the patient's words)."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__("Some questions are not answered yet: " + "; ".join(missing))
        self.missing = missing


class InvalidAnswers(DomainError):
    """Answers that cannot be kept; `problems` maps each field's key to a message for the patient."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("Some answers need another look.")
        self.problems = problems


class SignatureProblem(DomainError):
    """The drawn signature could not be used; the message is for the patient."""


@dataclass(frozen=True)
class DobResult:
    """The outcome of a date-of-birth check: "ok", "wrong" or "throttled" (and tries left on this link)."""

    outcome: str
    tries_left: int = 0

    @property
    def ok(self) -> bool:
        """The date of birth matched and nothing throttled the check."""
        return self.outcome == "ok"


def token_hash(token: str) -> str:
    """The SHA-256 (hex) of a link token: the only form in which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _target(intake: PatientIntake) -> str:
    return f"intake:{intake.public_id}"


def _new(patient: Any, actor: Any, channel: str, hours: int, token: str | None) -> PatientIntake:
    now = utcnow()
    intake = PatientIntake(patient_id=patient.id, patient=patient, channel=channel, started_by_id=actor.id,
                           created_by_id=actor.id, created_at=now, expires_at=now + timedelta(hours=hours),
                           token_hash=token_hash(token) if token else None, dob_failures=0, draft="{}", status="open",
                           verified_at=now if channel == "tablet" else None)
    db.session.add(intake)
    db.session.flush()
    return intake


def start_tablet(patient: Any, actor: Any, ip: str = "") -> PatientIntake:
    """An intake on the clinic's tablet, open for TABLET_HOURS; the staff member handing it over has checked who it is for."""
    intake = _new(patient, actor, "tablet", TABLET_HOURS, None)
    audit.append(db.session, ACTION_STARTED, actor=actor, patient=patient, target=_target(intake),
                 detail={"channel": "tablet"}, ip_address=ip)
    return intake


def create_link(patient: Any, actor: Any, ip: str = "") -> tuple[PatientIntake, str]:
    """An intake reached by a one-time link: the intake and the token (shown once; only its hash is kept)."""
    token = secrets.token_urlsafe(LINK_TOKEN_BYTES)
    hours = int(current_app.config.get("INTAKE_LINK_HOURS", 72))
    intake = _new(patient, actor, "link", hours, token)
    audit.append(db.session, ACTION_LINK_CREATED, actor=actor, patient=patient, target=_target(intake),
                 detail={"channel": "link", "hours": hours}, ip_address=ip)
    return intake, token


def find_by_token(token: str) -> PatientIntake | None:
    """The intake a link token belongs to, by its hash (None for an unknown token); the caller checks it is open."""
    if not token or len(token) > 200:
        return None
    return db.session.scalars(select(PatientIntake).where(PatientIntake.token_hash == token_hash(token))).first()


def usable_by_token(token: str, now: datetime | None = None) -> PatientIntake | None:
    """The intake of a link that can still be used (open, not expired, not closed by wrong dates of birth), else None.

    Unknown, used, expired and closed links all give None, so a page can answer them all the same way.
    """
    intake = find_by_token(token)
    if intake is None or intake.channel != "link" or not intake.is_open(now or utcnow()):
        return None
    if intake.dob_failures >= DOB_MAX_FAILURES:
        return None
    return intake


def _address_limits() -> tuple[int, timedelta]:
    config = current_app.config
    return int(config.get("SIGN_IN_ADDRESS_MAX_FAILURES", 20)), config.get("SIGN_IN_WINDOW", timedelta(minutes=15))


def _address_row(ip: str) -> SignInFailureCount | None:
    return db.session.scalars(select(SignInFailureCount).where(SignInFailureCount.scope == ADDRESS_SCOPE,
                                                                SignInFailureCount.key == ip[:45])).first()


def address_throttled(ip: str) -> bool:
    """Too many wrong dates of birth from this address lately (across every link)."""
    limit, window = _address_limits()
    row = _address_row(ip)
    return row is not None and row.last_at > utcnow() - window and row.failures >= limit


def _count_address_failure(ip: str) -> None:
    _, window = _address_limits()
    now = utcnow()
    db.session.execute(delete(SignInFailureCount).where(SignInFailureCount.scope == ADDRESS_SCOPE,
                                                        SignInFailureCount.last_at <= now - window))
    row = _address_row(ip)
    if row is None:
        row = SignInFailureCount(scope=ADDRESS_SCOPE, key=ip[:45], failures=0, first_at=now, last_at=now, denied_audited=False)
        db.session.add(row)
    row.failures += 1
    row.last_at = now


def check_dob(intake: PatientIntake, dob: date | None, ip: str) -> DobResult:
    """Check the date of birth typed on a link's first page; counts a wrong one per link and per address.

    Throttled (nothing compared) when the link has had DOB_MAX_FAILURES wrong answers, or the address too many
    lately. A right answer marks the intake verified and is audited as opened.
    """
    if intake.dob_failures >= DOB_MAX_FAILURES or address_throttled(ip):
        return DobResult("throttled")
    if dob is not None and dob == intake.patient.date_of_birth:
        if intake.verified_at is None:
            intake.verified_at = utcnow()
        db.session.flush()
        audit.append(db.session, ACTION_OPENED, actor_label="patient", patient=intake.patient_id, target=_target(intake),
                     detail={"channel": intake.channel}, ip_address=ip)
        return DobResult("ok", DOB_MAX_FAILURES - intake.dob_failures)
    intake.dob_failures += 1
    _count_address_failure(ip)
    db.session.flush()
    audit.append(db.session, ACTION_DOB_FAILED, actor_label="patient", patient=intake.patient_id, target=_target(intake),
                 outcome=audit.OUTCOME_FAILURE, detail={"failures": intake.dob_failures}, ip_address=ip)
    left = DOB_MAX_FAILURES - intake.dob_failures
    return DobResult("wrong" if left > 0 else "throttled", left)


def opened_on_tablet(intake: PatientIntake, ip: str = "") -> None:
    """The patient's first screen on the tablet: audited as opened (the staff member checked who it is for)."""
    audit.append(db.session, ACTION_OPENED, actor_label="patient", patient=intake.patient_id, target=_target(intake),
                 detail={"channel": intake.channel}, ip_address=ip)


def _require_open(intake: PatientIntake) -> None:
    if not intake.is_open(utcnow()):
        raise IntakeClosed("This questionnaire can no longer be changed.")


def _text(value: Any, limit: int) -> str:
    return str(value or "").replace("\x00", "").strip()[:limit]


def clean_topic(slug: str, topic_answers: Mapping[str, Any], as_of: date) -> dict[str, Any]:
    """One screen's answers checked and in the stored shape ({"questions": ..., "details": ..., "hopes": ...}).

    `topic_answers` maps a question's key to its answer code, `<key>_when` to the follow-up date ("2026-03"
    or "2026-03-14"), a field's key to its text, and for the hopes screen "concerns" to a list of codes.
    A question left unanswered is left out (never defaulted). InvalidAnswers names each problem by key.
    """
    topic = q.topic(slug)
    if topic is None:
        raise InvalidAnswers({"topic": "There is no such page in this questionnaire."})
    problems: dict[str, str] = {}
    cleaned: dict[str, Any] = {"questions": {}, "details": {}, "hopes": {}}
    for question in topic.questions:
        code = topic_answers.get(question.key)
        if code in (None, ""):
            continue
        if code not in question.codes:
            problems[question.key] = "Choose one of the answers."
            continue
        entry: dict[str, Any] = {"answer": code, "when": None, "estimate": False}
        follow = question.follow_up
        if follow is not None and code in follow.shown_for:
            when = _text(topic_answers.get(f"{question.key}_when"), 10)
            if when:
                try:
                    _, estimate = parse_when(when, as_of)
                    entry["when"], entry["estimate"] = when, estimate
                except WhenProblem as exc:
                    problems[f"{question.key}_when"] = str(exc)
        cleaned["questions"][question.key] = entry
    target = "hopes" if topic.kind == "hopes" else "details"
    for field in topic.fields:
        cleaned[target][field.key] = _text(topic_answers.get(field.key), field.max_length)
    if topic.kind == "hopes":
        given = topic_answers.get("concerns") or []
        codes = [given] if isinstance(given, str) else list(given)
        unknown = [c for c in codes if c not in q.CONCERN_CODES]
        if unknown:
            problems["concerns"] = "Choose from the list."
        cleaned["hopes"]["concerns"] = [c for c in q.CONCERN_CODES if c in codes]
        given = topic_answers.get("areas") or []
        codes = [given] if isinstance(given, str) else list(given)
        if any(c not in q.AREA_CODES for c in codes):
            problems["areas"] = "Choose from the list."
        cleaned["hopes"]["areas"] = [c for c in q.AREA_CODES if c in codes]
    if problems:
        raise InvalidAnswers(problems)
    return cleaned


def save_topic(intake: PatientIntake, slug: str, topic_answers: Mapping[str, Any]) -> None:
    """Keep one screen's answers in the draft (replacing that screen's earlier answers); refused unless open."""
    _require_open(intake)
    cleaned = clean_topic(slug, topic_answers, clinic_today())
    topic = q.topic(slug)
    draft = intake.draft_answers
    stored_questions = dict(draft.get("questions") or {})
    for question in topic.questions if topic is not None else ():
        stored_questions.pop(question.key, None)
    stored_questions.update(cleaned["questions"])
    draft["questions"] = stored_questions
    for part in ("details", "hopes"):
        merged = dict(draft.get(part) or {})
        merged.update(cleaned[part])
        if merged:
            draft[part] = merged
    draft["as_of"] = clinic_today().isoformat()
    intake.draft = json.dumps(draft, sort_keys=True, ensure_ascii=False)
    db.session.flush()


def missing(intake: PatientIntake) -> list[str]:
    """The wording of each question (or follow-up) not yet answered in the draft, in order: submit waits for none."""
    given = intake.draft_answers.get("questions") or {}
    gaps = []
    for question in q.QUESTIONS:
        entry = given.get(question.key)
        code = entry.get("answer") if isinstance(entry, dict) else None
        if code not in question.codes:
            gaps.append(question.wording)
            continue
        follow = question.follow_up
        if follow is not None and code in follow.shown_for and not entry.get("when"):
            gaps.append(f"{question.wording} {follow.wording}")
    return gaps


def canonical_answers(draft: Mapping[str, Any], as_of: date) -> dict[str, Any]:
    """The answers in their one canonical form: every known key, in order, nothing else."""
    given = draft.get("questions") or {}
    questions = {}
    for question in q.QUESTIONS:
        entry = given.get(question.key)
        if isinstance(entry, dict) and entry.get("answer") in question.codes:
            follow = question.follow_up
            asked = follow is not None and entry["answer"] in follow.shown_for
            questions[question.key] = {"answer": entry["answer"], "when": entry.get("when") if asked else None,
                                       "estimate": bool(entry.get("estimate")) if asked else False}
    details = draft.get("details") or {}
    hopes = draft.get("hopes") or {}
    return {
        "as_of": as_of.isoformat(),
        "questions": questions,
        "details": {key: str(details.get(key) or "") for key in q.DETAIL_KEYS},
        "hopes": {"concerns": [c for c in q.CONCERN_CODES if c in (hopes.get("concerns") or [])],
                  "areas": [c for c in q.AREA_CODES if c in (hopes.get("areas") or [])],
                  "words": str(hopes.get("words") or "")},
    }


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces, non-ASCII kept as is: the same answers always give the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_sha256(text_version: str, answers_json: str, submitted_at: datetime, signature_png: bytes) -> str:
    """SHA-256 over the signed content: text version, canonical answers, submission time (UTC ISO), signature bytes.

    The parts are joined as canonical JSON with the signature as its own SHA-256, so the digest can be
    recomputed from the stored row (docs/intake.md).
    """
    content = canonical_json({"text_version": text_version, "answers": json.loads(answers_json),
                              "submitted_at": audit.utc_text(submitted_at),
                              "signature_sha256": hashlib.sha256(signature_png).hexdigest()})
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def matches_hash(intake: PatientIntake) -> bool:
    """The stored signed intake still gives its SHA-256 (False if anything was changed outside the product)."""
    if not intake.is_submitted or not intake.answers_json or intake.signature_png is None or intake.submitted_at is None:
        return False
    return content_sha256(intake.text_version or "", intake.answers_json, intake.submitted_at,
                          intake.signature_png) == intake.sha256


def integrity_problems(intake: PatientIntake, prefetched: audit.SealedDetails | None = None) -> list[str]:
    """What no longer matches what was signed: the row against its SHA-256, and against its sealing audit row.

    Empty when everything matches (and for an intake not submitted). For audit-verify and the pages that show
    or print a signed intake (a warning, printing refused), as consents.services.integrity_problems is. `prefetched`:
    the sealing rows of many intakes read at once (audit.sealed_details_for / sealed_details_all).
    """
    if not intake.is_submitted:
        return []
    problems = []
    if not matches_hash(intake):
        problems.append("the signed intake does not match its stored SHA-256")
    sealed = audit.sealed_details(db.session, ACTION_SUBMITTED, _target(intake), patient_id=intake.patient_id,
                                  prefetched=prefetched)
    if not sealed:
        problems.append("the signed intake has no intact submission audit row")
    elif not any(d.get("sha256") == intake.sha256 and d.get("text_version") == intake.text_version for d in sealed):
        problems.append("the signed intake does not match what its submission audit row sealed")
    return problems


def _signature(signature: bytes | str) -> bytes:
    try:
        return decode_signature(signature) if isinstance(signature, str) else reencoded_png(signature)
    except InvalidSignature as exc:
        raise SignatureProblem(SIGNATURE_WORDS.get(exc.reason, SIGNATURE_AGAIN)) from exc


def submit(intake: PatientIntake, signature_png: bytes | str, ip: str = "") -> None:
    """Sign and keep the intake exactly as answered: refused while open questions remain (IntakeIncomplete).

    The signature (PNG bytes, or the pad's data: URL) is checked and re-encoded as the consent's is; the
    answers are kept in canonical JSON with the text version, the time and a SHA-256 over them all.
    """
    _require_open(intake)
    gaps = missing(intake)
    if gaps:
        raise IntakeIncomplete(gaps)
    png = _signature(signature_png)
    now = utcnow().replace(microsecond=0)
    answers_json = canonical_json(canonical_answers(intake.draft_answers, clinic_today()))
    intake.text_version = q.TEXT_VERSION
    intake.answers_json = answers_json
    intake.signature_png = png
    intake.submitted_at = now
    intake.status = "submitted"
    intake.sha256 = content_sha256(q.TEXT_VERSION, answers_json, now, png)
    db.session.flush()
    audit.append(db.session, ACTION_SUBMITTED, actor_label="patient", patient=intake.patient_id, target=_target(intake),
                 detail={"channel": intake.channel, "text_version": q.TEXT_VERSION, "sha256": intake.sha256},
                 ip_address=ip)


def abandon(intake: PatientIntake, actor: Any = None, ip: str = "") -> None:
    """Close an open intake unsigned (a staff member withdrew it, or the patient stopped); its link no longer works."""
    if intake.status != "open":
        raise IntakeClosed("This questionnaire is already closed.")
    intake.status = "abandoned"
    intake.abandoned_at = utcnow()
    if actor is not None:
        intake.updated_by_id = actor.id
    db.session.flush()
    audit.append(db.session, ACTION_ABANDONED, actor=actor, actor_label=None if actor is not None else "patient",
                 patient=intake.patient_id, target=_target(intake), detail={"channel": intake.channel}, ip_address=ip)


def pending_for_patient(patient_id: int) -> list[PatientIntake]:
    """The patient's signed intakes waiting for review, newest first (one statement)."""
    return list(db.session.scalars(
        select(PatientIntake).where(PatientIntake.patient_id == patient_id, PatientIntake.status == "submitted",
                                    PatientIntake.reviewed_at.is_(None))
        .order_by(PatientIntake.submitted_at.desc(), PatientIntake.id.desc())))
