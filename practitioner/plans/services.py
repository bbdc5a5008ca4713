"""Treatment plans: make one from a consultation that allows treatment, find them, and lay out their course."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from practitioner import audit
from practitioner.auth.models import User
from practitioner.clinical.depth import ZONE_LABELS, DepthSuggestion, ceiling_refusal, mm, suggest_depth
from practitioner.clinical.screening import DECISION_LABELS
from practitioner.clinical.vocabulary import TECHNIQUE_LABELS
from practitioner.consultations.models import Consultation
from practitioner.errors import NotAllowed
from practitioner.patients.models import Patient
from practitioner.plans.models import PlanZone, TreatmentPlan

CENT = Decimal("0.01")


class ZonesRefused(NotAllowed):
    """The plan's zones cannot be saved as given; names the row (None: the list itself) and field to correct."""

    def __init__(self, message: str, *, position: int | None, field: str) -> None:
        super().__init__(message)
        self.position = position
        self.field = field


@dataclass(frozen=True)
class PlannedSession:
    """One session of a plan's course, on the date projected from the first session and the interval."""

    number: int
    on: date | None  # None: past the calendar's end (a far first date stored before dates were bounded)
    done: bool


@dataclass(frozen=True)
class PlanZoneRow:
    """A plan zone beside today's suggestion for it, for the plan page."""

    zone: PlanZone
    label: str
    suggestion: DepthSuggestion
    deeper_than_suggested: bool

    @property
    def depth_text(self) -> str:
        """The planned range as people read it: '0.25–0.5 mm'."""
        return f"{mm(self.zone.depth_min_mm)}–{mm(self.zone.depth_max_mm)} mm"

    @property
    def technique_text(self) -> str:
        """The planned passes and technique as people read them: '3 passes, cross-hatch' ('' when the plan names neither)."""
        parts = []
        if self.zone.passes is not None:
            parts.append(f"{self.zone.passes} pass{'' if self.zone.passes == 1 else 'es'}")
        if self.zone.technique:
            parts.append(TECHNIQUE_LABELS.get(self.zone.technique, self.zone.technique).lower() if parts
                         else TECHNIQUE_LABELS.get(self.zone.technique, self.zone.technique))
        return ", ".join(parts)


def plan_fitzpatrick(consultation: Consultation) -> int | None:
    """The skin type the depths are suggested for: the consultation's, else the patient's record."""
    return consultation.fitzpatrick if consultation.fitzpatrick is not None else consultation.patient.fitzpatrick


def treatment_refusal(consultation: Consultation) -> str | None:
    """Why no plan can be made from this consultation, or None when its result allows treatment."""
    if consultation.allows_treatment:
        return None
    decision = DECISION_LABELS.get(consultation.decision, consultation.decision)
    return (f"The screening result of this consultation is “{decision}”, so no treatment plan can be made from it. "
            "A plan needs a result of Proceed or Proceed with caution, or a documented override. "
            "Review the screening on the consultation page, record an override there if it is justified, or book a new consultation.")


def _check_zones(zones: list[dict[str, Any]]) -> None:
    if not zones:
        raise ZonesRefused("A plan needs at least one zone. Add a zone and save again.", position=None, field="zones")
    seen: set[str] = set()
    for position, row in enumerate(zones):
        zone, low, high = row["zone"], row["depth_min_mm"], row["depth_max_mm"]
        if zone in seen:
            raise ZonesRefused(f"{ZONE_LABELS[zone]} is listed twice: give each zone one row.", position=position, field="zone")
        seen.add(zone)
        if low > high:
            raise ZonesRefused("The deepest depth must be at least the shallowest.", position=position, field="depth_max_mm")
        refusal = ceiling_refusal(zone, high)
        if refusal:
            raise ZonesRefused(refusal, position=position, field="depth_max_mm")


def create_plan(
    session: Session, consultation: Consultation, values: dict[str, Any], *, actor: User, ip_address: str = "",
) -> TreatmentPlan:
    """Make a treatment plan from a consultation whose result allows treatment; refuse otherwise."""
    refusal = treatment_refusal(consultation)
    if refusal:
        raise NotAllowed(refusal)
    zones = list(values["zones"])
    _check_zones(zones)
    plan = TreatmentPlan(
        patient_id=consultation.patient_id, consultation_id=consultation.id, modality=values["modality"],
        sessions_planned=values["sessions_planned"], interval_weeks=values["interval_weeks"],
        first_session_on=values["first_session_on"], notes=(values.get("notes") or "").strip(),
        created_by_id=actor.id, updated_by_id=actor.id,
    )
    plan.zones = [
        PlanZone(position=position, zone=row["zone"], note=(row.get("note") or "").strip(),
                 passes=row.get("passes"), technique=row.get("technique") or None,
                 depth_min_mm=Decimal(row["depth_min_mm"]).quantize(CENT, ROUND_HALF_UP),
                 depth_max_mm=Decimal(row["depth_max_mm"]).quantize(CENT, ROUND_HALF_UP))
        for position, row in enumerate(zones)
    ]
    session.add(plan)
    session.flush()
    fitzpatrick = plan_fitzpatrick(consultation)
    # Deeper than suggested is allowed (the practitioner decides), so the audit row keeps it findable.
    deeper = [z.zone for z in plan.zones if _deeper_than_suggested(z, suggest_depth(z.zone, fitzpatrick, plan.modality))]
    audit.append(session, "plan.create", actor=actor, patient=consultation.patient, target=f"plan:{plan.public_id}",
                 detail={"consultation": str(consultation.public_id), "modality": plan.modality,
                         "sessions_planned": plan.sessions_planned, "interval_weeks": plan.interval_weeks,
                         "zones": [z.zone for z in plan.zones], "deeper_than_suggested": deeper},
                 ip_address=ip_address)
    return plan


def record_plan_view(session: Session, plan: TreatmentPlan, *, actor: User, ip_address: str = "") -> None:
    """Note in the audit trail that someone opened this plan."""
    audit.append(session, "plan.view", actor=actor, patient=plan.consultation.patient, target=f"plan:{plan.public_id}",
                 ip_address=ip_address)


def get_plan(session: Session, public_id: uuid.UUID) -> TreatmentPlan | None:
    """The plan with this public id, with its consultation, patient and zones loaded."""
    return session.scalars(select(TreatmentPlan).where(TreatmentPlan.public_id == public_id)).first()


def plans_for_consultation(session: Session, consultation: Consultation) -> list[TreatmentPlan]:
    """The plans made from one consultation, oldest first."""
    query = select(TreatmentPlan).where(TreatmentPlan.consultation_id == consultation.id)
    return list(session.scalars(query.order_by(TreatmentPlan.created_at, TreatmentPlan.id)))


def plans_for_patient(session: Session, patient: Patient) -> list[TreatmentPlan]:
    """All of a patient's plans, newest first."""
    query = select(TreatmentPlan).where(TreatmentPlan.patient_id == patient.id)
    return list(session.scalars(query.order_by(TreatmentPlan.created_at.desc(), TreatmentPlan.id.desc())))


def session_schedule(plan: TreatmentPlan) -> list[PlannedSession]:
    """Each planned session with its projected date: the first session plus k times the interval."""
    step = timedelta(weeks=plan.interval_weeks)
    return [PlannedSession(k + 1, _projected(plan.first_session_on, k * step), k < plan.sessions_done) for k in range(plan.sessions_planned)]


def _projected(first: date, offset: timedelta) -> date | None:
    try:
        return first + offset
    except OverflowError:  # a far date kept from before dates were bounded: the page still shows the plan
        return None


def _deeper_than_suggested(zone: PlanZone, suggestion: DepthSuggestion) -> bool:
    return suggestion.max_mm is not None and zone.depth_max_mm > suggestion.max_mm


def plan_zone_rows(plan: TreatmentPlan) -> list[PlanZoneRow]:
    """The plan's zones, each with the suggestion for this patient's skin type and the plan's modality."""
    fitzpatrick = plan_fitzpatrick(plan.consultation)
    rows = []
    for zone in plan.zones:
        suggestion = suggest_depth(zone.zone, fitzpatrick, plan.modality)
        rows.append(PlanZoneRow(zone, ZONE_LABELS[zone.zone], suggestion, _deeper_than_suggested(zone, suggestion)))
    return rows
