"""The treatment guide: the pre-treatment handout for the patient, made from a treatment plan and its consultation.

What the treatment is, the benefits that match this patient's concerns, the plan, and the
preparation with real dates counted back from the first session. The wording is
reports/content/<language>/guide.toml; which benefits and steps apply is practitioner.clinical.guide.
"""

from __future__ import annotations

import tomllib
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from practitioner.admin.services import current_policy
from practitioner.clinical import guide
from practitioner.clinical.screening import MODALITY_LABELS
from practitioner.clinical.vocabulary import ZONE_LABELS
from practitioner.dates import long_date
from practitioner.documents.kinds._common import LANGUAGE, _labelled, _user, slug
from practitioner.paths import CONTENT_DIR
from practitioner.documents.kinds._types import DocumentSpec, DocumentType
from practitioner.plans.models import TreatmentPlan


@lru_cache(maxsize=8)
def guide_content(language: str = LANGUAGE) -> dict[str, Any]:
    """The guide's wording (reports/content/<language>/guide.toml), read once per process."""
    path = CONTENT_DIR / language / "guide.toml"
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    missing = [key for key in ("version", "title", "what_it_is", "benefits", "raised_scars", "plan", "preparation", "expect") if key not in data]
    if missing:
        raise RuntimeError(f"The treatment guide wording in {path} lacks {', '.join(missing)}: add them or restore the file.")
    return data


def _dated(sentence: str, day: date | None) -> dict[str, Any]:
    """A sentence with a {date} placeholder, split around the date so the template can print it in bold."""
    before, found, after = sentence.partition("{date}")
    if not found or day is None:
        return {"before": sentence.replace("{date}", ""), "date": None, "after": ""}
    return {"before": before, "date": day, "after": after}


def _joined(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def build(session: Session, plan: TreatmentPlan, issued_on: date | None = None) -> DocumentSpec:
    """The pre-treatment handout for one plan: what it is, this patient's benefits, the plan, dated preparation."""
    consultation = plan.consultation
    patient = consultation.patient
    text = guide_content()
    concerns = consultation.concern_codes
    depths = [float(z.depth_max_mm) for z in plan.zones if z.depth_max_mm is not None]
    steps = guide.preparation_steps(plan.first_session_on, plan.modality, bool(consultation.cold_sore_history), current_policy(session),
                                    max(depths) if depths else None)
    areas = [ZONE_LABELS.get(z.zone, z.zone.replace("_", " ")) for z in plan.zones]
    areas = [a if i == 0 else a[:1].lower() + a[1:] for i, a in enumerate(dict.fromkeys(areas))]
    plan_text = text["plan"]
    if plan.sessions_planned == 1:
        sessions_line = plan_text["one_session"]
    else:
        sessions_line = plan_text["sessions"].replace("{sessions}", str(plan.sessions_planned)).replace("{interval}", str(plan.interval_weeks))
    first_before, _, first_after = plan_text["first"].partition("{first_session}")
    context = {
        "patient": {"name": patient.full_name},
        "treatment": {"modality": _labelled(plan.modality, MODALITY_LABELS), "first_session_on": plan.first_session_on,
                      "practitioner": _user(consultation.practitioner), "sessions_planned": plan.sessions_planned,
                      "interval_weeks": plan.interval_weeks},
        "what_it_is": list(text["what_it_is"][plan.modality]),
        "results": text["what_it_is"]["results"],
        "safety": text["what_it_is"]["safety"],
        "benefits": {"heading": text["benefits"]["heading"],
                     "items": [text["benefits"][key] for key in guide.benefits_for(concerns)],
                     "none": text["benefits"]["none"]},
        "raised_scars": ({"heading": text["raised_scars"]["heading"], "paragraphs": list(text["raised_scars"]["text"])}
                         if guide.raised_scar_caveat(concerns) else None),
        "plan": {"heading": plan_text["heading"], "sessions": sessions_line,
                 "first": {"before": first_before, "date": plan.first_session_on, "after": first_after},
                 "areas": plan_text["areas"].replace("{areas}", _joined(areas)) if areas else None},
        "preparation": {"heading": text["preparation"]["heading"], "intro": text["preparation"]["intro"],
                        "steps": [{"key": s.key, **_dated(text["preparation"][s.key], s.starts)} for s in steps]},
        "expect": {"heading": text["expect"]["heading"], "items": list(text["expect"]["items"])},
        "summary": f"Treatment guide for {patient.full_name}, first session {long_date(plan.first_session_on)}",
    }
    return DocumentSpec(TYPE.kind, str(plan.public_id), patient.id, TYPE.template, text["title"], context,
                        f"{LANGUAGE}-guide-{text['version']}", f"treatment-guide-{slug(patient.full_name)}-{plan.first_session_on.isoformat()}")


TYPE = DocumentType(
    code="treatment-guide",
    label="Treatment guide",
    number_prefix="TG",
    source=TreatmentPlan,
    source_name="treatment plan",
    template="treatment_guide.html",
    for_patient=True,
    build=build,
)
