"""The progress sheet: for the patient, made from a treatment plan, its progress and matched before-and-after photo pairs.

Pairs: per view the photo protocol asks for in the plan's zones, the baseline and the latest photo
(practitioner.photos.progress), at most six; only photos taken under a consent to clinical
photography. The images are read from the database, reduced to the size the page prints them at and
embedded as data: URLs (the report fetcher serves nothing from the network or the file system).
The catalogue builds a kind from its record alone, so the pairs are always the defaults.
"""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload, object_session, selectinload

from practitioner.clinical.screening import MODALITY_LABELS
from practitioner.consultations.models import Consultation
from practitioner.documents.kinds._common import LANGUAGE, _labelled, slug
from practitioner.documents.kinds._types import DocumentSpec, DocumentType
from practitioner.photos import progress
from practitioner.photos.compare import PhotoCard
from practitioner.plans.models import TreatmentPlan
from practitioner.treatments.models import TreatmentSession

LAYOUT_VERSION = "1"
NO_PAIRS = ("A progress sheet needs two photos of the same view from this plan, taken with the patient's consent to "
            "clinical photography (for example at the consultation and at a later session): there are none yet.")

# What the sheet reads of the plan: its consultation and patient, and its zones (for the protocol's views).
LOADS = (
    lazyload("*"),
    selectinload(TreatmentPlan.consultation).lazyload("*"),
    selectinload(TreatmentPlan.consultation).selectinload(Consultation.patient).lazyload("*"),
    selectinload(TreatmentPlan.zones),
)


def missing(plan: TreatmentPlan) -> str | None:
    """Ready when at least one view has two consented photos of this plan."""
    session = object_session(plan)
    if session is None or not progress.default_pairs(session, plan):
        return NO_PAIRS
    return None


def _photo(card: PhotoCard, jpeg: bytes) -> dict[str, Any]:
    return {"src": "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii"), "alt": card.alt, "date": card.day,
            "visit": card.visit, "moment": card.moment_label, "sha256": card.sha256}


def _weeks(first: date, last: date) -> str:
    weeks = (last - first).days // 7
    if weeks < 1:
        return "the same week"
    return f"{weeks} week{'' if weeks == 1 else 's'} apart"


def build(session: Session, plan: TreatmentPlan, issued_on: date | None = None) -> DocumentSpec:
    """The progress sheet of one plan: sessions done of planned, their dates, and the default photo pairs."""
    patient = plan.consultation.patient
    pairs = progress.default_pairs(session, plan)
    images = progress.print_images(session, [(card.public_id, card.sha256) for pair in pairs for card in pair])
    done = session.execute(select(TreatmentSession.sequence, TreatmentSession.session_date)
                           .where(TreatmentSession.plan_id == plan.id, TreatmentSession.signed_at.is_not(None))
                           .order_by(TreatmentSession.session_date, TreatmentSession.sequence)).all()
    count = len(done)
    context = {
        "patient": {"name": patient.full_name},
        "plan": {"modality": _labelled(plan.modality, MODALITY_LABELS), "sessions_planned": plan.sessions_planned,
                 "sessions_done": count, "progress": f"{count} of {plan.sessions_planned} session{'' if plan.sessions_planned == 1 else 's'} done",
                 "first_session_on": plan.first_session_on, "consultation_date": plan.consultation.consultation_date,
                 "sessions": [{"number": number, "date": day} for number, day in done]},
        "pairs": [{"title": before.view_label, "apart": _weeks(before.day, after.day),
                   "before": _photo(before, images[before.public_id]), "after": _photo(after, images[after.public_id])}
                  for before, after in pairs],
        "summary": f"Progress sheet for {patient.full_name}: {count} of {plan.sessions_planned} sessions done, "
                   f"{len(pairs)} photo pair{'' if len(pairs) == 1 else 's'}",
    }
    return DocumentSpec(TYPE.kind, str(plan.public_id), patient.id, TYPE.template, "Your progress", context,
                        f"{LANGUAGE}-progress-{LAYOUT_VERSION}", f"progress-sheet-{slug(patient.full_name)}")


TYPE = DocumentType(
    code="progress-sheet",
    label="Progress sheet",
    number_prefix="PS",
    source=TreatmentPlan,
    source_name="treatment plan",
    template="progress_sheet.html",
    for_patient=True,
    build=build,
    missing=missing,
    loads=LOADS,
)
