"""Whether a patient's photo consent stands, and the refusals that follow from it (docs/photography.md).

The rule, for each scope (clinical photography, marketing use):

- the patient's consent is what their **latest signed consent form** says (consents.models.Consent,
  `photo_clinical` / `photo_marketing`): a later form that says No replaces an earlier Yes;
- a **withdrawal** of that scope recorded after that form was signed ends it
  (PhotoConsentWithdrawal); a form signed after the withdrawal gives consent again;
- for a treatment session, the session's own "Photo consent for today" answer must not be No.

Withdrawing marketing consent ends every marketing mark of the patient's photos at once; withdrawing
clinical photography consent stops new photos, and photos already taken stay in the record, because
they are part of the clinical record. Services call these checks each time (never a cached answer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload, lazyload

from practitioner import audit
from practitioner.consents.models import Consent
from practitioner.consents.timeline import patient_consents
from practitioner.consultations.timeline import patient_consultations
from practitioner.dates import as_utc, short_date
from practitioner.database import utcnow
from practitioner.photos.models import CONSENT_SCOPE_LABELS, CONSENT_SCOPES, MarketingMark, Photo, PhotoConsentWithdrawal

if TYPE_CHECKING:
    from practitioner.auth.models import User
    from practitioner.patients.models import Patient

CLINICAL = "clinical"
MARKETING = "marketing"
MARKS_ENDED_BY_WITHDRAWAL = "marketing consent withdrawn"

# Why a photo is refused, each a code the pages turn into what to do next.
NO_CONSENT_FORM = "no_consent_form"  # no consent form signed at all
NOT_GIVEN = "not_given"  # the latest form says No to this use
WITHDRAWN = "withdrawn"  # withdrawn after the latest form was signed
TODAY_NO = "today_no"  # the session's "Photo consent for today" is No
SIGNED = "signed"  # the session is signed: its photo set is closed


class PhotoRefused(Exception):
    """A photo (or a marketing mark) refused, with the sentence the practitioner reads and why (a code above)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class NothingToWithdraw(Exception):
    """A withdrawal of a consent that does not stand (the message says so)."""


@dataclass(frozen=True)
class ConsentState:
    """One scope of a patient's photo consent: the latest signed form, and a withdrawal after it, if any."""

    scope: str
    consent: Consent | None
    withdrawal: PhotoConsentWithdrawal | None

    @property
    def label(self) -> str:
        """'Clinical photography' or 'Marketing use'."""
        return CONSENT_SCOPE_LABELS[self.scope]

    @property
    def given(self) -> bool:
        """Whether the consent stands now."""
        return self.consent is not None and bool(getattr(self.consent, f"photo_{self.scope}")) and self.withdrawal is None

    @property
    def summary(self) -> str:
        """The state in one sentence, dated ('Given on the consent form signed 3 Mar 2026.')."""
        if self.consent is None:
            return "No consent form signed yet."
        signed = short_date(as_utc(self.consent.signed_at).date())
        if self.withdrawal is not None:
            return f"Withdrawn on {short_date(as_utc(self.withdrawal.withdrawn_at).date())} (given on the form signed {signed})."
        if self.given:
            return f"Given on the consent form signed {signed}."
        return f"Not given on the latest consent form (signed {signed})."


def latest_consent(session: Session, patient_id: int) -> Consent | None:
    """The patient's latest signed consent form, whatever it says about photos (its columns only, nothing joined)."""
    return session.scalars(select(Consent).where(Consent.patient_id == patient_id).options(lazyload("*"))
                           .order_by(Consent.signed_at.desc(), Consent.id.desc()).limit(1)).first()


def _state(scope: str, form: Consent | None, history: list[PhotoConsentWithdrawal]) -> ConsentState:
    """The state of one scope from the latest form and the patient's withdrawals (newest first)."""
    withdrawal = next((w for w in history if w.scope == scope), None)
    if withdrawal is not None and form is not None and as_utc(withdrawal.withdrawn_at) <= as_utc(form.signed_at):
        withdrawal = None  # a form signed after the withdrawal gives consent again
    if withdrawal is not None and (form is None or not getattr(form, f"photo_{scope}")):
        withdrawal = None  # nothing given to withdraw: the form's own No is the reason
    return ConsentState(scope, form, withdrawal)


def consent_state(session: Session, patient_id: int, scope: str) -> ConsentState:
    """Where one scope of the patient's photo consent stands now (read from the database each time)."""
    if scope not in CONSENT_SCOPES:
        raise ValueError(f"unknown photo consent scope {scope!r}")
    form = latest_consent(session, patient_id)
    latest = session.scalars(select(PhotoConsentWithdrawal)
                             .where(PhotoConsentWithdrawal.patient_id == patient_id, PhotoConsentWithdrawal.scope == scope)
                             .order_by(PhotoConsentWithdrawal.withdrawn_at.desc(), PhotoConsentWithdrawal.id.desc())
                             .limit(1)).all() if form is not None else []
    return _state(scope, form, list(latest))


@dataclass(frozen=True)
class ConsentOverview:
    """Both scopes of a patient's photo consent, every withdrawal (newest first), and their latest consultation's id."""

    clinical: ConsentState
    marketing: ConsentState
    withdrawals: list[PhotoConsentWithdrawal]
    consultation_public_id: Any  # where a new consent form is signed (None: no consultation yet)


def overview(session: Session, patient_id: int) -> ConsentOverview:
    """What the patient's page shows of photo consent: one statement (the withdrawals; none without a consent form).

    The latest consent form and the latest consultation come from the page's own reads of the patient's consents
    and consultations (the timeline lists them; per_request keeps them for the page), picked here in the order
    the database would sort them.
    """
    forms = patient_consents(session, patient_id)
    form = max(forms, key=lambda c: (as_utc(c.signed_at), c.id)) if forms else None
    consultations = patient_consultations(session, patient_id)
    latest = max(consultations, key=lambda c: (c.consultation_date, c.id)) if consultations else None
    # No form: nothing was given, so nothing can have been withdrawn.
    history = list(session.scalars(_WITHDRAWALS, {"patient_id": patient_id})) if form is not None else []
    return ConsentOverview(_state(CLINICAL, form, history), _state(MARKETING, form, history), history,
                           latest.public_id if latest is not None else None)


# Built once (every patient page with a consent form asks it), with who recorded each withdrawal joined in.
_WITHDRAWALS = (select(PhotoConsentWithdrawal).where(PhotoConsentWithdrawal.patient_id == bindparam("patient_id"))
                .options(joinedload(PhotoConsentWithdrawal.recorded_by).lazyload("*"))
                .order_by(PhotoConsentWithdrawal.withdrawn_at.desc(), PhotoConsentWithdrawal.id.desc()))


def _refusal(state: ConsentState) -> PhotoRefused:
    what = "clinical photos" if state.scope == CLINICAL else "marketing use of photos"
    if state.consent is None:
        return PhotoRefused(f"No consent form is signed for this patient, so no {what}. Record the patient's "
                            "consent on the consent form first, with the photography choice ticked.", reason=NO_CONSENT_FORM)
    if state.withdrawal is not None:
        return PhotoRefused(f"The patient withdrew consent to {what} on "
                            f"{short_date(as_utc(state.withdrawal.withdrawn_at).date())}. Only a new consent form, signed "
                            "with the photography choice ticked, gives it again.", reason=WITHDRAWN)
    return PhotoRefused(f"The patient's latest consent form (signed {short_date(as_utc(state.consent.signed_at).date())}) "
                        f"does not give consent to {what}. If the patient agrees now, record it on a new consent form.",
                        reason=NOT_GIVEN)


def clinical_consent_for(session: Session, patient_id: int, *, today_answer: bool | None = None) -> Consent:
    """The signed consent form a new clinical photo relies on, or PhotoRefused saying why there is none.

    `today_answer` is a session's "Photo consent for today" answer: No refuses as well (unanswered does not).
    """
    state = consent_state(session, patient_id, CLINICAL)
    if not state.given:
        raise _refusal(state)
    if today_answer is False:
        raise PhotoRefused("This session's record says No to photo consent for today, so no photos are taken at it. "
                           "If the patient agrees now, change that answer on the session record first.", reason=TODAY_NO)
    assert state.consent is not None  # nosec B101  # given implies a form
    return state.consent


def marketing_consent_for(session: Session, patient_id: int) -> Consent:
    """The signed consent form a marketing mark relies on, or PhotoRefused saying why there is none."""
    state = consent_state(session, patient_id, MARKETING)
    if not state.given:
        raise _refusal(state)
    assert state.consent is not None  # nosec B101  # given implies a form
    return state.consent


def record_withdrawal(session: Session, patient: Patient, *, scope: str, reason: str, actor: User,
                      ip_address: str = "") -> PhotoConsentWithdrawal:
    """Record that the patient withdrew one scope of photo consent; a marketing withdrawal ends every mark at once."""
    state = consent_state(session, patient.id, scope)
    if not state.given:
        raise NothingToWithdraw(f"Nothing to withdraw for {state.label.lower()}: {state.summary[:1].lower()}{state.summary[1:]}")
    now = utcnow()
    withdrawal = PhotoConsentWithdrawal(patient_id=patient.id, scope=scope, reason=reason.strip(), withdrawn_at=now,
                                        recorded_by_id=actor.id)
    session.add(withdrawal)
    ended = end_marks(session, patient.id, reason=MARKS_ENDED_BY_WITHDRAWAL, actor=actor, at=now) if scope == MARKETING else 0
    session.flush()
    audit.append(session, "photo_consent.withdraw", actor=actor, patient=patient, target=f"patient:{patient.public_id}",
                 detail={"scope": scope, "reason": withdrawal.reason, "marketing_marks_ended": ended}, ip_address=ip_address)
    return withdrawal


def end_marks(session: Session, patient_id: int, *, reason: str, actor: User, at: datetime | None = None) -> int:
    """End every open marketing mark of the patient's photos (one statement's worth of rows); how many ended."""
    marks = session.scalars(select(MarketingMark).join(Photo, Photo.id == MarketingMark.photo_id)
                            .where(Photo.patient_id == patient_id, MarketingMark.ended_at.is_(None))).all()
    for mark in marks:
        mark.ended_at = at or utcnow()
        mark.ended_by_id = actor.id
        mark.ended_reason = reason
    return len(marks)
