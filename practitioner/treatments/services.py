"""Treatment sessions: start (only when screening and consent allow), save drafts, warn, sign, lock, amend, recall."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from practitioner import audit
from practitioner.auth.models import User
from practitioner.clinical.screening import Policy, parse_intake, screen
from practitioner.consents.models import Consent
from practitioner.consultations.models import Consultation
from practitioner.plans.models import TreatmentPlan
from practitioner.consultations.services import intake_for, lock_consultation
from practitioner.database import assign_changed, utcnow
from practitioner.errors import DomainError, NotAllowed, StaleRecord
from practitioner.dates import clinic_today, clinic_zone, day_month_year, to_clinic_time
from practitioner.treatments import limits
from practitioner.treatments.models import (
    RESCREEN_DATED,
    RESCREEN_QUESTIONS,
    RESCREEN_YES_NO,
    Addendum,
    SessionAcknowledgedWarning,
    SessionAdverseEvent,
    SessionProduct,
    SessionRescreenFlag,
    SessionStatus,
    SessionZone,
    TreatmentSession,
)

BLOCKING = ("defer", "refer", "decline")
# The reference's professional periorbital range tops out at 0.5 mm and never within the orbital rim.
PERIORBITAL_MAX_MM = Decimal("0.5")


class RecordLocked(NotAllowed):
    """A signed session cannot change; corrections are addenda."""


class ScreeningBlocksTreatment(NotAllowed):
    """The screening result does not allow treatment and no override is recorded."""


class ConsentMissing(NotAllowed):
    """No signed consent covers this modality."""


class IncompleteRecord(DomainError):
    """Signing refused until every listed item is recorded."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__("The record is not complete: " + "; ".join(missing) + ".")
        self.missing = missing


class ExpiredLot(DomainError):
    """The cartridge lot had expired on the session date."""


class SessionDateRefused(DomainError):
    """The session date is in the future, or before the consultation or the consent that covers it."""


class TextTooLong(DomainError):
    """A text is longer than practitioner/treatments/limits.py allows; `field` names it."""

    def __init__(self, field: str, limit: int, length: int) -> None:
        super().__init__(limits.too_long(limit, length))
        self.field = field


class TooManyAddenda(NotAllowed):
    """The session already holds limits.ADDENDA_PER_SESSION addenda."""


def check_lengths(values: dict[str, Any], most: dict[str, int]) -> None:
    """Refuse (TextTooLong) the first text longer than its limit, whoever calls the service (a CRLF counts once: limits.length)."""
    for field, limit in most.items():
        value = values.get(field)
        if isinstance(value, str) and limits.length(value) > limit:
            raise TextTooLong(field, limit, limits.length(value))


SCALAR_FIELDS = (
    "session_date", "start_time", "supervisor", "history_reviewed", "changes_since_consultation", "pregnant_now",
    "breastfeeding_now", "cold_sore_now", "sunburn_on", "new_medicines", "anticoagulant_now", "isotretinoin_now",
    "neurotoxin_on", "filler_on", "resurfacing_on", "photo_consent", "device_make", "device_model", "device_serial",
    "device_max_depth_mm", "rf_handpiece", "rf_tip_insulated", "rf_tip_gold_plated", "cartridge_product", "needle_count",
    "cartridge_lot", "cartridge_expiry", "sterile_pack_intact", "cleanser", "antiseptic", "anaesthetic_used",
    "anaesthetic_product", "anaesthetic_concentration", "anaesthetic_applied_at", "anaesthetic_removed_at",
    "no_products_applied", "prp_kit_lot", "prp_volume_ml", "prp_spin_protocol", "prp_tube_labelled", "endpoint",
    "endpoint_other", "pain_score", "no_adverse_events", "post_care_products", "next_appointment_on", "clinical_note",
)
# The explicit answer before each re-screen date. Saved like the scalar fields; kept out of the signature's canonical
# content except where it says more than the date does (see canonical_record), so records signed before these
# questions existed still verify.
ANSWER_FIELDS = tuple(RESCREEN_DATED)
EDITABLE_FIELDS = SCALAR_FIELDS + ANSWER_FIELDS
TEXT_FIELDS = {
    "supervisor", "changes_since_consultation", "new_medicines", "device_make", "device_model", "device_serial",
    "rf_handpiece", "cartridge_product", "cartridge_lot", "cleanser", "antiseptic", "anaesthetic_product",
    "anaesthetic_concentration", "prp_kit_lot", "prp_spin_protocol", "endpoint_other", "post_care_products", "clinical_note",
}


def covering_consent(session: Session, plan: TreatmentPlan) -> Consent | None:
    """The newest signed consent of this patient for the plan's modality."""
    return session.scalars(
        select(Consent).where(Consent.patient_id == plan.patient_id, Consent.modality == plan.modality)
        .order_by(Consent.signed_at.desc(), Consent.id.desc())
    ).first()


def sessions_in_plan(session: Session, plan: TreatmentPlan) -> list[TreatmentSession]:
    """Every session recorded under a plan, in order."""
    return list(session.scalars(select(TreatmentSession).where(TreatmentSession.plan_id == plan.id).order_by(TreatmentSession.sequence)))


def why_cannot_start(session: Session, plan: TreatmentPlan) -> list[str]:
    """What stops a session from being started for this plan, each with what to do (empty: it can start)."""
    reasons = []
    consultation: Consultation = plan.consultation
    if not consultation.allows_treatment:
        reasons.append(f"The consultation's screening says “{consultation.decision.replace('_', ' ')}” and no override is recorded: "
                       "record an override on the consultation, or re-screen when the reason has passed.")
    if covering_consent(session, plan) is None:
        reasons.append(f"No signed consent covers {plan.modality.replace('_', ' ')}: ask the patient to sign one from the consultation page.")
    done = len(sessions_in_plan(session, plan))
    if done >= plan.sessions_planned:
        reasons.append(f"All {plan.sessions_planned} planned sessions are already recorded: make a new plan from a consultation.")
    return reasons


# What a new draft copies from the equipment used last time: never a lot, an expiry or a safety answer.
EQUIPMENT_FIELDS = ("device_make", "device_model", "device_serial", "rf_handpiece", "cartridge_product", "needle_count",
                    "cleanser", "antiseptic")


def _same_device(name: str, earlier: TreatmentSession) -> bool:
    """Whether an earlier session used the device the consultation names (any device when it names none)."""
    wanted = " ".join(name.casefold().split())
    if not wanted:
        return True
    model = earlier.device_model.casefold().strip()
    return bool(model) and (model in wanted or wanted in f"{earlier.device_make} {earlier.device_model}".casefold())


def equipment_source(session: Session, plan: TreatmentPlan, actor: User) -> TreatmentSession | None:
    """The session whose equipment a new draft starts from: the plan's previous session, else the practitioner's
    latest session of the same modality on the device the consultation names."""
    previous = sessions_in_plan(session, plan)
    if previous:
        return previous[-1]
    earlier = session.scalars(
        select(TreatmentSession).join(TreatmentPlan, TreatmentPlan.id == TreatmentSession.plan_id)
        .where(TreatmentSession.practitioner_id == actor.id, TreatmentPlan.modality == plan.modality)
        .order_by(TreatmentSession.session_date.desc(), TreatmentSession.id.desc()).limit(5)
    )
    return next((s for s in earlier if _same_device(plan.consultation.device_name, s)), None)


def planned_rows(session: Session, record: TreatmentSession) -> list[dict[str, Any]]:
    """The zone rows a new draft opens with: one per plan zone, in the plan's order.

    A zone treated at the plan's previous session keeps that session's depth, passes, technique and RF
    settings; any other zone starts at the plan's lower depth for it (the safe side), with the passes and
    technique the plan names for it, if any (what the plan leaves open is the practitioner's to enter).
    """
    earlier = [s for s in sessions_in_plan(session, record.plan) if s.sequence < record.sequence]
    last = {z.zone: z for z in earlier[-1].zones} if earlier else {}
    rows = []
    for planned in record.plan.zones:
        before = last.get(planned.zone)
        if before is not None:
            rows.append({"zone": before.zone, "depth_mm": before.depth_mm, "passes": before.passes, "technique": before.technique,
                         "rf_energy": before.rf_energy, "rf_energy_unit": before.rf_energy_unit, "rf_pulse_ms": before.rf_pulse_ms,
                         "rf_rows": before.rf_rows})
        else:
            rows.append({"zone": planned.zone, "depth_mm": planned.depth_min_mm, "passes": planned.passes, "technique": planned.technique})
    return rows


def plan_ranges(record: TreatmentSession) -> dict[str, tuple[Decimal, Decimal]]:
    """The plan's depth range for each of its zones."""
    return {z.zone: (z.depth_min_mm, z.depth_max_mm) for z in record.plan.zones}


def start_session(session: Session, plan: TreatmentPlan, *, actor: User, on: date, ip_address: str = "") -> TreatmentSession:
    """Open a draft for the next session of a plan, its equipment from the last session (or the consultation's device).

    The zone rows are not stored yet: the form opens with `planned_rows`, saved with the first save.
    """
    reasons = why_cannot_start(session, plan)
    if reasons:
        if not plan.consultation.allows_treatment:
            raise ScreeningBlocksTreatment(reasons[0])
        if covering_consent(session, plan) is None:
            raise ConsentMissing(reasons[0])
        raise NotAllowed(reasons[0])
    previous = sessions_in_plan(session, plan)
    consultation = plan.consultation
    source = equipment_source(session, plan, actor)
    equipment = {name: getattr(source, name) for name in EQUIPMENT_FIELDS} if source else {"device_make": consultation.device_name}
    in_plan = bool(previous)
    record = TreatmentSession(
        patient_id=plan.patient_id, plan_id=plan.id, sequence=len(previous) + 1, practitioner_id=actor.id,
        session_date=on, created_by_id=actor.id, updated_by_id=actor.id,
        consent_id=covering_consent(session, plan).id,
        device_max_depth_mm=(previous[-1].device_max_depth_mm if in_plan else consultation.device_max_depth_mm),
        **equipment, zones=[], products=[], adverse_events=[], addenda=[],
    )
    session.add(record)
    session.flush()
    audit.append(session, "session.start", actor=actor, patient=record.patient, target=f"session:{record.public_id}",
                 detail={"plan": str(plan.public_id), "sequence": record.sequence}, ip_address=ip_address)
    return record


def _days_before(day: date | None, on: date) -> int | None:
    return None if day is None else max(0, (on - day).days)


def rescreen(record: TreatmentSession, policy: Policy) -> list[dict[str, Any]]:
    """Re-run the screening with today's answers laid over the consultation's; store decision and flags."""
    intake = intake_for(record.plan.consultation)
    on = record.session_date
    intake["modality"] = record.plan.modality
    intake["age"] = record.patient.age_on(on)
    # An unanswered question (None) is not a No: it changes nothing the consultation said. Signing needs every one
    # answered, so a signed session's re-screen always ran on today's answers.
    if record.pregnant_now is not None:
        intake["pregnant"] = bool(intake["pregnant"]) or record.pregnant_now
    if record.breastfeeding_now is not None:
        intake["breastfeeding"] = bool(intake["breastfeeding"]) or record.breastfeeding_now
    findings = intake["findings"]
    if record.cold_sore_now is not None:
        findings["active_cold_sore"] = record.cold_sore_now
    if record.had_sunburn is not None:
        findings["sunburn_days_ago"] = _days_before(record.sunburn_on, on)
    meds = intake["medications"]
    consultation = record.plan.consultation
    # Windows count from the session date now, not from the consultation.
    for key, field in (("nsaid_or_supplement_days_ago", "nsaid_or_supplement_last_on"),
                       ("topical_retinoid_or_acid_days_ago", "topical_retinoid_or_acid_last_on")):
        meds[key] = _days_before(getattr(consultation, field), on)
    if consultation.isotretinoin == "stopped":
        meds["isotretinoin_stopped_days_ago"] = _days_before(consultation.isotretinoin_stopped_on, on)
    if record.isotretinoin_now:
        meds["isotretinoin"], meds["isotretinoin_stopped_days_ago"] = "current", None
    if record.anticoagulant_now is not None:
        meds["anticoagulant_prescribed"] = bool(meds["anticoagulant_prescribed"]) or record.anticoagulant_now
    recent = intake["recent_procedures"]
    for key, mine, theirs in (("neurotoxin_days_ago", record.neurotoxin_on, consultation.neurotoxin_on),
                              ("filler_in_area_days_ago", record.filler_on, consultation.filler_in_area_on),
                              ("resurfacing_days_ago", record.resurfacing_on, consultation.resurfacing_on)):
        latest = max([d for d in (mine, theirs) if d is not None], default=None)
        recent[key] = _days_before(latest, on)
    deepest = record.deepest_mm
    if deepest is not None:
        intake["requested_depth_mm"] = float(deepest)
    if record.device_max_depth_mm is not None:
        intake["device"]["max_evaluated_depth_mm"] = float(record.device_max_depth_mm)
    result = screen(parse_intake(intake), policy, on=on)
    record.rescreen_decision = result.decision
    flags = [flag.to_dict() for flag in result.flags]
    _keep_flags(record, flags)
    return flags


def _keep_flags(record: TreatmentSession, flags: list[dict[str, Any]]) -> None:
    """Today's flags as the session's rows; rows that already say the same are left as they are."""
    if record.rescreen_flags == flags:
        return
    record.rescreen_flag_rows = [
        SessionRescreenFlag(position=position, code=flag["code"], decision=flag["decision"], reason=flag["reason"],
                            earliest_date=date.fromisoformat(flag["earliest_date"]) if flag.get("earliest_date") else None)
        for position, flag in enumerate(flags)]


def new_blocking_flags(record: TreatmentSession) -> list[dict[str, Any]]:
    """Blocking flags today that the consultation (and its override) did not already cover."""
    consultation = record.plan.consultation
    covered = {f.code for f in consultation.flags} if consultation.active_override else set()
    return [f for f in record.rescreen_flags if f["decision"] in BLOCKING and f["code"] not in covered]


def _mm(value: Decimal) -> str:
    """1.00 -> '1.0', 0.25 -> '0.25'."""
    text = f"{value:.2f}"
    return text[:-1] if text.endswith("0") else text


def _day(value: date) -> str:
    """'3 March 2026'."""
    return day_month_year(value)


def session_date_problem(record: TreatmentSession, day: date, today: date) -> str | None:
    """Why a session cannot be on this day (in the future, before the consultation or the consent), or None."""
    if day > today:
        return f"The session cannot be in the future: enter today ({_day(today)}) or an earlier date."
    consultation_day = record.plan.consultation.consultation_date
    if day < consultation_day:
        return f"The session cannot be before the consultation on {_day(consultation_day)}: enter that date or a later one."
    if record.consent is not None:
        consent_day = record.consent.signed_at.astimezone(clinic_zone()).date()
        if day < consent_day:
            return f"The session cannot be before the consent signed on {_day(consent_day)}: enter that date or a later one."
    return None


def depth_warnings(record: TreatmentSession, practitioner: User) -> list[str]:
    """Depths that must be acknowledged: above the plan's range for the zone, the device's evaluated maximum,
    the practitioner's own, or periorbital."""
    warnings = []
    ranges = plan_ranges(record)
    for zone in record.zones:
        label = zone.zone.replace("_", " ")
        planned = ranges.get(zone.zone)
        if planned is not None and zone.depth_mm > planned[1]:
            warnings.append(f"{label.capitalize()}: {zone.depth_mm} mm is deeper than the plan's range for this zone "
                            f"({_mm(planned[0])} to {_mm(planned[1])} mm).")
        if record.device_max_depth_mm is not None and zone.depth_mm > record.device_max_depth_mm:
            warnings.append(f"{label.capitalize()}: {zone.depth_mm} mm is deeper than the device was evaluated to "
                            f"({record.device_max_depth_mm} mm).")
        if practitioner.max_depth_mm is not None and zone.depth_mm > practitioner.max_depth_mm:
            warnings.append(f"{label.capitalize()}: {zone.depth_mm} mm is deeper than your configured maximum "
                            f"({practitioner.max_depth_mm} mm).")
        if zone.zone == "periorbital" and zone.depth_mm > PERIORBITAL_MAX_MM:
            warnings.append(f"Periorbital: {zone.depth_mm} mm is deeper than the clinical reference allows around the eyes "
                            f"({PERIORBITAL_MAX_MM} mm), and never inside the orbital rim.")
    return warnings


def _apply(record: TreatmentSession, values: dict[str, Any]) -> set[str]:
    changed = assign_changed(record, values, EDITABLE_FIELDS, TEXT_FIELDS)
    zones = [(z["zone"], z["depth_mm"], z["passes"], z["technique"], z.get("rf_energy"), z.get("rf_energy_unit") or "",
              z.get("rf_pulse_ms"), z.get("rf_rows")) for z in values.get("zones", [])]
    current = [(z.zone, z.depth_mm, z.passes, z.technique, z.rf_energy, z.rf_energy_unit, z.rf_pulse_ms, z.rf_rows) for z in record.zones]
    if zones != current:
        record.zones = [SessionZone(position=i, zone=z[0], depth_mm=z[1], passes=z[2], technique=z[3], rf_energy=z[4],
                                    rf_energy_unit=z[5], rf_pulse_ms=z[6], rf_rows=z[7]) for i, z in enumerate(zones)]
        changed.add("zones")
    products = [(p["name"], p["lot"], bool(p["labelled_for_needled_skin"])) for p in values.get("products", [])]
    if products != [(p.name, p.lot, p.labelled_for_needled_skin) for p in record.products]:
        record.products = [SessionProduct(position=i, name=p[0], lot=p[1], labelled_for_needled_skin=p[2]) for i, p in enumerate(products)]
        changed.add("products")
    events = [(e["kind"], e.get("detail") or "", e["action_taken"]) for e in values.get("adverse_events", [])]
    if events != [(e.kind, e.detail, e.action_taken) for e in record.adverse_events]:
        record.adverse_events = [SessionAdverseEvent(position=i, kind=e[0], detail=e[1], action_taken=e[2]) for i, e in enumerate(events)]
        changed.add("adverse_events")
    return changed


def save_draft(
    session: Session, record: TreatmentSession, values: dict[str, Any], *, expected_version: int | None, actor: User,
    policy: Policy, acknowledged: bool, ip_address: str = "", today: date | None = None,
) -> tuple[set[str], list[str]]:
    """Save what was typed into an unsigned session; re-screen; return (changed fields, unacknowledged warnings).

    Refused (SessionDateRefused) when the session date is after `today` (the clinic's today by default), or
    before the consultation or the consent that covers it.
    """
    if record.is_signed:
        raise RecordLocked("This session is signed and locked. Add an addendum to correct or add to it.")
    if expected_version is not None and expected_version != record.version:
        raise StaleRecord("Someone else saved this session after you opened it.")
    lot_expiry = values.get("cartridge_expiry")
    day = values.get("session_date") or record.session_date
    if lot_expiry is not None and lot_expiry < day:
        raise ExpiredLot(f"This cartridge lot expired on {lot_expiry:%-d %b %Y}, before the session date. Use an in-date cartridge.")
    problem = session_date_problem(record, day, today or clinic_today())
    if problem:
        raise SessionDateRefused(problem)
    check_lengths(values, limits.SESSION_TEXT)
    changed = _apply(record, values)
    rescreen(record, policy)
    warnings = depth_warnings(record, actor)
    before = record.warnings_acknowledged
    now_acknowledged = warnings if acknowledged else [w for w in before if w in warnings]
    if now_acknowledged != before:
        record.acknowledged_warning_rows = [SessionAcknowledgedWarning(position=position, text=text)
                                            for position, text in enumerate(now_acknowledged)]
        changed.add("warnings_acknowledged")
        # Who acknowledged and when, as for a signature; cleared when no acknowledged warning is left.
        newly = acknowledged and bool(set(now_acknowledged) - set(before))
        if newly or not now_acknowledged:
            record.warnings_acknowledged_by_id = actor.id if now_acknowledged else None
            record.warnings_acknowledged_at = utcnow() if now_acknowledged else None
    unacknowledged = [w for w in warnings if w not in now_acknowledged]
    if not changed:
        return changed, unacknowledged
    record.updated_by_id = actor.id
    try:
        session.flush()
    except StaleDataError as exc:
        raise StaleRecord("Someone else saved this session after you opened it.") from exc
    audit.append(session, "session.update", actor=actor, patient=record.patient, target=f"session:{record.public_id}",
                 detail={"fields": sorted(changed)}, ip_address=ip_address)
    return changed, unacknowledged


def record_session_override(session: Session, record: TreatmentSession, reason: str, *, actor: User, ip_address: str = "") -> None:
    """Document why treatment goes ahead despite a new blocking flag today."""
    if record.is_signed:
        raise RecordLocked("This session is signed and locked.")
    if not new_blocking_flags(record):
        raise NotAllowed("Today's re-screen raised nothing that needs an override.")
    record.override_reason, record.override_by_id, record.override_at = reason.strip(), actor.id, utcnow()
    audit.append(session, "session.override", actor=actor, patient=record.patient, target=f"session:{record.public_id}",
                 detail={"flags": [f["code"] for f in new_blocking_flags(record)], "reason": record.override_reason},
                 ip_address=ip_address)


def missing_for_signing(record: TreatmentSession, practitioner: User) -> list[str]:
    """Everything that must be recorded before the session can be signed, in form order."""
    missing = []
    if record.history_reviewed is not True:
        missing.append("confirm that history, medicines and allergies were reviewed today")
    unanswered = [RESCREEN_QUESTIONS[name].lower() for name in (*RESCREEN_YES_NO, *RESCREEN_DATED) if getattr(record, name) is None]
    if unanswered:
        missing.append("answer every re-screen question (Yes or No): " + ", ".join(unanswered))
    for answer, day in RESCREEN_DATED.items():
        if getattr(record, answer) is True and getattr(record, day) is None:
            missing.append(f"the date for “{RESCREEN_QUESTIONS[answer].lower()}”")
    if new_blocking_flags(record) and not record.override_reason:
        codes = ", ".join(f["code"].replace("_", " ") for f in new_blocking_flags(record))
        missing.append(f"today's re-screen raised {codes}: record an override with the reason, or do not treat")
    if record.consent_id is None:
        missing.append("a signed consent for this treatment")
    if record.photo_consent is None:
        missing.append("photo consent (yes or no)")
    if not record.device_make or not record.device_model:
        missing.append("device make and model")
    if not record.cartridge_lot:
        missing.append("cartridge lot")
    if record.cartridge_expiry is None:
        missing.append("cartridge expiry date")
    if record.sterile_pack_intact is not True:
        missing.append("sterile pack intact (it must be, to treat)")
    if record.anaesthetic_used is None:
        missing.append("topical anaesthetic (none, or the product)")
    elif record.anaesthetic_used and not record.anaesthetic_product:
        missing.append("the topical anaesthetic product")
    if not record.zones:
        missing.append("at least one treated zone")
    if record.plan.modality == "rf_microneedling" and any(z.rf_energy is None or not z.rf_energy_unit for z in record.zones):
        missing.append("RF energy and its unit for every zone")
    if not record.products and not record.no_products_applied:
        missing.append("products applied to needled skin (or tick 'none')")
    if record.plan.modality == "prp_microneedling":
        if not record.prp_kit_lot:
            missing.append("PRP tube or kit lot")
        if record.prp_volume_ml is None:
            missing.append("PRP volume drawn")
        if not record.prp_spin_protocol:
            missing.append("PRP spin protocol")
        if record.prp_tube_labelled is not True:
            missing.append("PRP tube labelled with the patient (it must be)")
    if not record.endpoint:
        missing.append("endpoint reached")
    if record.pain_score is None:
        missing.append("pain score")
    if not record.adverse_events and not record.no_adverse_events:
        missing.append("adverse events (or tick 'none')")
    unacknowledged = [w for w in depth_warnings(record, practitioner) if w not in record.warnings_acknowledged]
    if unacknowledged:
        missing.append("acknowledge the depth warnings")
    return missing


def _plain(value: Any) -> Any:
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def canonical_record(record: TreatmentSession) -> dict[str, Any]:
    """The record's content in a fixed shape and order: what the signature's SHA-256 covers."""
    return {
        "public_id": str(record.public_id),
        "patient": str(record.patient.public_id),
        "plan": str(record.plan.public_id),
        "sequence": record.sequence,
        "practitioner": record.practitioner.email,
        "consent": str(record.consent.public_id) if record.consent else None,
        **{name: _plain(getattr(record, name)) for name in SCALAR_FIELDS},
        "zones": [{"zone": z.zone, "depth_mm": _plain(z.depth_mm), "passes": z.passes, "technique": z.technique,
                   "rf_energy": _plain(z.rf_energy), "rf_energy_unit": z.rf_energy_unit, "rf_pulse_ms": _plain(z.rf_pulse_ms),
                   "rf_rows": z.rf_rows} for z in record.zones],
        "products": [{"name": p.name, "lot": p.lot, "labelled_for_needled_skin": p.labelled_for_needled_skin} for p in record.products],
        "adverse_events": [{"kind": e.kind, "detail": e.detail, "action_taken": e.action_taken} for e in record.adverse_events],
        # A Yes is already in its date; a No (or a Yes without a date) is not, so only those are added. A session
        # signed before the question existed has none of these keys, as when it was signed.
        **{answer: getattr(record, answer) for answer, day in RESCREEN_DATED.items()
           if getattr(record, answer) is False or (getattr(record, answer) is True and getattr(record, day) is None)},
        "rescreen_decision": record.rescreen_decision,
        "rescreen_flags": record.rescreen_flags,
        "override_reason": record.override_reason,
        "warnings_acknowledged": record.warnings_acknowledged,
    }


def record_hash(record: TreatmentSession) -> str:
    """SHA-256 of the canonical JSON of the record."""
    canonical = json.dumps(canonical_record(record), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def addendum_hash(addendum: Addendum) -> str:
    """SHA-256 of an addendum as it was added: its session, author, moment, reason and text."""
    canonical = json.dumps({"session_id": addendum.session_id, "author_id": addendum.author_id,
                            "created_at": audit.utc_text(addendum.created_at), "reason": addendum.reason, "text": addendum.text},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def integrity_problems(session: Session, record: TreatmentSession, sealed: audit.SealedDetails | None = None) -> list[str]:
    """What no longer matches what was signed: the record against its stored SHA-256 and its signing audit row, and
    each addendum against its audit row. Empty for a draft, or when everything matches. `sealed`: the audit rows
    read beforehand for many records at once (audit.sealed_details_for)."""
    if not record.is_signed:
        return []
    problems = []
    target = f"session:{record.public_id}"
    actual = record_hash(record)
    signed = [d.get("sha256") for d in audit.sealed_details(session, "session.sign", target, patient_id=record.patient_id,
                                                            prefetched=sealed)]
    if actual != record.content_sha256:
        problems.append("the session record does not match its stored SHA-256")
    if actual not in signed:
        problems.append("the session record does not match the SHA-256 its signing audit row sealed"
                        if signed else "the session has no intact signing audit row")
    added = {d.get("addendum"): d for d in audit.sealed_details(session, "session.addendum", target, patient_id=record.patient_id,
                                                                prefetched=sealed)}
    for addendum in record.addenda:
        seal = added.get(addendum.id)
        if seal is None:
            problems.append(f"addendum {addendum.id} has no intact audit row")
        elif "sha256" in seal and seal["sha256"] != addendum_hash(addendum):
            problems.append(f"addendum {addendum.id} does not match the SHA-256 its audit row sealed")
    return problems


def tamper_warning(record: TreatmentSession) -> str:
    """The red warning shown instead of "Signed and locked" when the record no longer matches its signature."""
    return audit.TAMPER_WARNING.format(signed_on=day_month_year(to_clinic_time(record.signed_at).date()) if record.signed_at else "an unknown date")


def sign_session(session: Session, record: TreatmentSession, *, actor: User, expected_version: int | None, ip_address: str = "",
                 today: date | None = None) -> None:
    """Sign and lock: who, when, and the SHA-256 of the canonical record. Refused until complete and correctly dated."""
    if record.is_signed:
        raise RecordLocked("This session is already signed.")
    if expected_version is not None and expected_version != record.version:
        raise StaleRecord("Someone else saved this session after you opened it.")
    if record.practitioner_id != actor.id:
        raise NotAllowed("Only the practitioner who treated the patient signs the session. Add a note instead.")
    if record.cartridge_expiry is not None and record.cartridge_expiry < record.session_date:
        raise ExpiredLot("The cartridge lot had expired on the session date.")
    problem = session_date_problem(record, record.session_date, today or clinic_today())
    if problem:
        raise SessionDateRefused(problem + " Change the date on the form, then sign.")
    missing = missing_for_signing(record, actor)
    if missing:
        raise IncompleteRecord(missing)
    # Rows not yet written (today's flags, acknowledged warnings, zones) go in before the lock: once signed_at is
    # set, the database refuses any change to the session's child rows.
    session.flush()
    record.content_sha256 = record_hash(record)
    record.signed_at = utcnow()
    record.signed_by_id = actor.id
    record.status = SessionStatus.SIGNED
    # The consultation's answers this session relied on are locked with it.
    lock_consultation(session, record.plan.consultation, at=record.signed_at, actor=actor, ip_address=ip_address)
    session.flush()
    audit.append(session, "session.sign", actor=actor, patient=record.patient, target=f"session:{record.public_id}",
                 detail={"sha256": record.content_sha256}, ip_address=ip_address)


def add_addendum(session: Session, record: TreatmentSession, reason: str, text: str, *, actor: User, ip_address: str = "") -> Addendum:
    """A correction or late entry beneath the unchanged, signed original."""
    if not record.is_signed:
        raise NotAllowed("The session is not signed yet: edit it directly.")
    check_lengths({"reason": reason.strip(), "text": text.strip()}, {"reason": limits.ADDENDUM_REASON, "text": limits.ADDENDUM_TEXT})
    held = session.scalar(select(func.count()).select_from(Addendum).where(Addendum.session_id == record.id))
    if held >= limits.ADDENDA_PER_SESSION:
        raise TooManyAddenda(f"This session already holds {limits.ADDENDA_PER_SESSION} addenda, the most one session may hold "
                             "(so its record prints in time). Record further follow-up in the patient's next session record.")
    addendum = Addendum(session_id=record.id, author_id=actor.id, reason=reason.strip(), text=text.strip(), created_at=utcnow())
    session.add(addendum)
    session.flush()
    audit.append(session, "session.addendum", actor=actor, patient=record.patient, target=f"session:{record.public_id}",
                 detail={"addendum": addendum.id, "reason": addendum.reason, "sha256": addendum_hash(addendum)}, ip_address=ip_address)
    return addendum


@dataclass(frozen=True)
class LotHit:
    """One session that used the lot, and how."""

    record: TreatmentSession
    matched: str
    product: str


def find_lot(session: Session, lot: str) -> list[LotHit]:
    """Every session (and so patient) that used a cartridge, product or PRP kit lot: the recall question."""
    wanted = lot.strip().upper()
    if not wanted:
        return []
    by_session = select(TreatmentSession).where(or_(func.upper(TreatmentSession.cartridge_lot) == wanted,
                                                    func.upper(TreatmentSession.prp_kit_lot) == wanted))
    by_product = select(SessionProduct).where(func.upper(SessionProduct.lot) == wanted)
    hits: list[LotHit] = []
    for record in session.scalars(by_session):
        if record.cartridge_lot.upper() == wanted:
            hits.append(LotHit(record, "cartridge", record.cartridge_product))
        if record.prp_kit_lot.upper() == wanted:
            hits.append(LotHit(record, "PRP kit", "PRP tube or kit"))
    products = list(session.scalars(by_product))
    if products:
        records = {r.id: r for r in session.scalars(select(TreatmentSession).where(TreatmentSession.id.in_({p.session_id for p in products})))}
        hits.extend(LotHit(records[p.session_id], "product", p.name) for p in products)
    return sorted(hits, key=lambda h: (h.record.session_date, h.record.id), reverse=True)


def unsigned_sessions(session: Session, practitioner: User) -> list[TreatmentSession]:
    """The practitioner's sessions not yet signed, oldest first: the outstanding notes."""
    return list(session.scalars(
        select(TreatmentSession).where(TreatmentSession.practitioner_id == practitioner.id, TreatmentSession.signed_at.is_(None))
        .order_by(TreatmentSession.session_date, TreatmentSession.id)
    ))


def record_view(session: Session, record: TreatmentSession, *, actor: User, ip_address: str = "") -> None:
    """Note in the audit trail that someone opened this session record."""
    audit.append(session, "session.view", actor=actor, patient=record.patient, target=f"session:{record.public_id}", ip_address=ip_address)


def record_lot_search(session: Session, lot: str, hits: int, *, actor: User, ip_address: str = "", export: bool = False) -> None:
    """A lot search reveals patients: it is audited like a view."""
    audit.append(session, "lot.export" if export else "lot.search", actor=actor, target=f"lot:{lot[:80]}",
                 detail={"hits": hits}, ip_address=ip_address)
