"""Context builders for the treatment guide, consent form, consultation summary, session record and patient export.

Each builder loads one record by public id (SourceNotFound when there is none) and turns it into
plain values: strings, numbers, booleans, dates, clinic-local datetimes, and lists and dicts of
those. Codes travel with their labels ({"code": ..., "label": ...}) so a template never needs a
lookup table and the export's JSON stays machine-readable. No integer database id leaves here.

The record-level helpers (`patient_values`, `consultation_values`, `plan_values`, `consent_values`,
`session_values`, `issued_values`) are shared: the patient export is made of exactly the values
the single documents print, and its PDF and JSON are both made from one dict.
"""

from __future__ import annotations

import base64
import io
import json
import tomllib
import uuid
import warnings
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from practitioner.admin.services import current_policy
from practitioner.clinical import guide, questions
from practitioner.clinical.screening import (
    CONCERN_LABELS,
    DECISION_LABELS,
    FLAG_TITLES,
    MODALITY_LABELS,
    NEEDLE_MATERIAL_LABELS,
    POLICY_LABELS,
    TREATMENT_AREA_LABELS,
)
from practitioner.consents.content import sha256 as text_sha256
from practitioner.consents.models import Consent
from practitioner.consultations.models import SCAR_TYPES, Consultation
from practitioner.plans.models import TreatmentPlan
from practitioner.documents.context import CONTENT_DIR, DocumentSpec, SourceNotFound, slug
from practitioner.documents.models import DocumentKind, IssuedDocument
from practitioner.documents.rendering import long_date
from practitioner.clinical.vocabulary import (
    ADVERSE_EVENT_LABELS,
    CONSENT_CONFIRMATION,
    ENDPOINT_LABELS,
    FITZPATRICK_LABELS,
    GLOGAU_LABELS,
    GOODMAN_BARON_LABELS,
    SCAR_LABELS,
    TECHNIQUE_LABELS,
    ZONE_LABELS,
)
from practitioner.clinical.vocabulary import FITZPATRICK_ROMAN as ROMAN
from practitioner.patients.models import Patient
from practitioner.treatments.models import TreatmentSession

LANGUAGE = "en"
EXPORT_SCHEMA = "practitioner.patient-record-export"
EXPORT_SCHEMA_VERSION = "1.0"
CLINIC_FILE_VERSION = "en-record-1"


# -- small conversions ------------------------------------------------------------------------


def _labelled(code: str | None, labels: dict[Any, str]) -> dict[str, Any] | None:
    """A code with its label, or None when there is no code."""
    if code is None or code == "":
        return None
    return {"code": code, "label": labels.get(code, str(code).replace("_", " ").capitalize())}


def _clinic_zone() -> ZoneInfo:
    name = current_app.config.get("TIMEZONE", "UTC") if has_app_context() else "UTC"
    return ZoneInfo(name)


def _local(value: datetime | None) -> datetime | None:
    """A stored UTC timestamp as clinic-local time, to the second (printing and ISO both use it)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(_clinic_zone()).replace(microsecond=0)


def _clock(value: time | None) -> str | None:
    return None if value is None else value.strftime("%H:%M")


def _mm(value: Decimal | float | None) -> str | None:
    """A depth or amount without trailing zeros: Decimal('1.50') -> '1.5'."""
    if value is None:
        return None
    return f"{Decimal(str(value)).normalize():f}"


def _user(user: Any) -> str | None:
    return None if user is None else user.name


def _iso_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not part of the export's JSON")


def export_json(data: dict[str, Any]) -> bytes:
    """The export dict as UTF-8 JSON: sorted keys, ISO dates, two-space indent, a final newline."""
    return (json.dumps(data, sort_keys=True, ensure_ascii=False, indent=2, default=_json_value) + "\n").encode("utf-8")


def _first(session: Session, model: Any, public_id: uuid.UUID, what: str) -> Any:
    record = session.scalars(select(model).where(model.public_id == public_id)).first()
    if record is None:
        raise SourceNotFound(f"No {what} has this id.")
    return record


# -- the patient --------------------------------------------------------------------------------


def patient_values(patient: Patient) -> dict[str, Any]:
    """Demographics, contacts and the clinical basics of the patient record."""
    return {
        "public_id": str(patient.public_id),
        "record_number": patient.record_number,
        "name": patient.full_name,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "preferred_name": patient.preferred_name or None,
        "date_of_birth": patient.date_of_birth,
        "sex": {"code": patient.sex.value, "label": patient.sex.label} if patient.sex else None,
        "contact": {
            "phone": patient.phone or None,
            "email": patient.email or None,
            "address_lines": [line.strip() for line in (patient.address or "").splitlines() if line.strip()],
            "postcode": patient.postcode or None,
        },
        "emergency_contact": {
            "name": patient.emergency_contact_name or None,
            "relationship": patient.emergency_contact_relationship or None,
            "phone": patient.emergency_contact_phone or None,
        },
        "gp": {"name": patient.gp_name or None, "practice": patient.gp_practice or None, "phone": patient.gp_phone or None},
        "fitzpatrick": _labelled(patient.fitzpatrick, FITZPATRICK_LABELS),
        "allergies": {"none_known": bool(patient.no_known_allergies), "text": patient.allergies or None,
                      "summary": patient.allergies_summary},
        "current_medicines": patient.current_medicines or None,
        "archived": None if patient.archived_at is None else {"at": _local(patient.archived_at), "reason": patient.archive_reason or None},
    }


# -- the consultation ---------------------------------------------------------------------------


def _answer(field: str, question: str, value: Any, kind: str, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One screening answer: the field name and raw value for machines, the question and a flag for people.

    ``value`` None is a question never answered (a record made under the old form): it is printed
    as "Not answered" and counts as notable, never as a No.
    """
    if value is None:
        notable = kind != "date"
    elif kind == "yes_no":
        notable = bool(value)
    elif kind == "date":
        notable = True
    else:
        notable = value not in ("", "none", "never")
    row = {"field": field, "question": question, "kind": kind, "value": value, "notable": notable}
    if labels is not None:
        row["label"] = labels.get(value, value) if value is not None else None
    return row


def screening_answers(c: Consultation) -> list[dict[str, Any]]:
    """Every screening question with its answer, grouped and ordered as the consultation form asks them.

    Built from the question catalogue (practitioner.clinical.questions), so a question added there
    is printed here; a dated question's date follows its Yes.
    """
    groups = []
    for section, title in questions.SECTIONS.items():
        rows = []
        for q in questions.in_section(section):
            value = getattr(c, q.name)
            rows.append(_answer(q.name, q.label, value, "yes_no" if q.choices is None else "choice", q.choices))
            if q.date_name and value == q.date_when:
                rows.append(_answer(q.date_name, q.date_label, getattr(c, q.date_name), "date"))
        groups.append({"group": "recent_procedures" if section == "recent" else section, "title": title, "answers": rows})
    return groups


def _flag(code: str, decision: str, reason: str, earliest: Any) -> dict[str, Any]:
    return {"code": code, "title": FLAG_TITLES.get(code, code.replace("_", " ").capitalize()),
            "decision": _labelled(decision, DECISION_LABELS), "reason": reason, "earliest_date": _iso_date(earliest)}


def _policy_values(snapshot: str) -> list[dict[str, Any]]:
    try:
        stored = json.loads(snapshot or "{}")
    except ValueError:
        stored = {}
    if not isinstance(stored, dict):
        stored = {}
    known = [{"setting": name, "label": label, "value": stored[name]} for name, label in POLICY_LABELS.items() if name in stored]
    others = [{"setting": name, "label": name.replace("_", " ").capitalize(), "value": value}
              for name, value in sorted(stored.items()) if name not in POLICY_LABELS]
    return known + others


def consultation_values(c: Consultation, *, plans: list[TreatmentPlan] | None = None,
                        consents: list[Consent] | None = None) -> dict[str, Any]:
    """A consultation: findings and answers, scales, the screening result with reasons, overrides."""
    counts = {s.scar_type: s.count for s in c.scar_counts}
    values: dict[str, Any] = {
        "public_id": str(c.public_id),
        "date": c.consultation_date,
        "practitioner": _user(c.practitioner),
        "age_at_consultation": c.age_at_consultation,
        "modality": _labelled(c.modality, MODALITY_LABELS),
        "concerns": [_labelled(code, CONCERN_LABELS) for code in c.concern_codes],
        "treatment_areas": [_labelled(code, TREATMENT_AREA_LABELS) for code in c.area_codes],
        "scales": {
            "fitzpatrick": None if c.fitzpatrick is None else {"value": c.fitzpatrick, "roman": ROMAN.get(c.fitzpatrick), "label": FITZPATRICK_LABELS.get(c.fitzpatrick)},
            "glogau": None if c.glogau is None else {"value": c.glogau, "roman": ROMAN.get(c.glogau), "label": GLOGAU_LABELS.get(c.glogau)},
            "goodman_baron": None if c.goodman_baron_grade is None else {"value": c.goodman_baron_grade, "label": GOODMAN_BARON_LABELS.get(c.goodman_baron_grade)},
            "scar_counts": [{"type": t, "label": SCAR_LABELS[t], "count": counts.get(t)} for t in SCAR_TYPES],
        },
        "skin_notes": c.skin_notes or None,
        "device": {
            "name": c.device_name or None,
            "needle_material": _labelled(c.needle_material, NEEDLE_MATERIAL_LABELS),
            "max_evaluated_depth_mm": _mm(c.device_max_depth_mm),
            "requested_depth_mm": _mm(c.requested_depth_mm),
        },
        "answers": screening_answers(c),
        "notes": c.notes or None,
        "screening": {
            "decision": _labelled(c.decision, DECISION_LABELS),
            "allows_treatment": c.allows_treatment,
            "rebook_from": c.rebook_from,
            "screened_at": _local(c.screened_at),
            "flags": [_flag(f.code, f.decision, f.reason, f.earliest_date) for f in c.flags],
            "policy": _policy_values(c.policy_snapshot),
        },
        "overrides": [
            {"computed_decision": _labelled(o.computed_decision, DECISION_LABELS), "reason": o.reason,
             "recorded_by": _user(o.recorded_by), "recorded_at": _local(o.recorded_at), "superseded_at": _local(o.superseded_at),
             "in_force": o.superseded_at is None}
            for o in c.overrides
        ],
    }
    if plans is not None:
        values["plans"] = [plan_values(p) for p in plans]
    if consents is not None:
        values["consents"] = [{"public_id": str(x.public_id), "content_version": x.content_version, "signed_at": _local(x.signed_at),
                               "witnessed_by": _user(x.witnessed_by)} for x in consents]
    return values


def plan_values(plan: TreatmentPlan) -> dict[str, Any]:
    """A treatment plan: sessions, interval, dates, zones with depth ranges."""
    return {
        "public_id": str(plan.public_id),
        "consultation_public_id": str(plan.consultation.public_id),
        "consultation_date": plan.consultation.consultation_date,
        "modality": _labelled(plan.modality, MODALITY_LABELS),
        "status": {"code": plan.status.value, "label": plan.status.label},
        "sessions_planned": plan.sessions_planned,
        "sessions_done": plan.sessions_done,
        "interval_weeks": plan.interval_weeks,
        "first_session_on": plan.first_session_on,
        "zones": [{"zone": _labelled(z.zone, ZONE_LABELS), "depth_min_mm": _mm(z.depth_min_mm), "depth_max_mm": _mm(z.depth_max_mm),
                   "note": z.note or None} for z in plan.zones],
        "notes": plan.notes or None,
    }


# -- the consent --------------------------------------------------------------------------------

# consents.content.canonical_text writes these sections in this order; the stored text is read back
# by position, and only if every line of it is accounted for (else it is printed line by line).
CONSENT_SECTIONS = ("what_it_is", "expected_effects", "risks", "alternatives", "no_guarantee", "declarations", "photographs")
TICKED_SECTIONS = frozenset({"risks", "declarations"})


def parse_consent_text(text: str) -> dict[str, Any] | None:
    """The stored canonical consent text as title, version line and sections, or None if it is not in that shape.

    Nothing is reworded: every non-blank line of the text lands in exactly one place, which is
    checked before the structure is used.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) < 3 or lines[2] != "" or not lines[0].strip() or not lines[1].strip():
        return None
    chunks: list[list[str]] = [[]]
    for line in lines[3:]:
        if line == "":
            chunks.append([])
        else:
            chunks[-1].append(line)
    sections: list[dict[str, Any]] = []
    for chunk in chunks:
        if not chunk:
            return None
        if len(chunk) >= 2 and not chunk[0].startswith("- "):
            sections.append({"heading": chunk[0], "paragraphs": [], "items": []})
            body = chunk[1:]
        elif sections and len(chunk) == 1 and not chunk[0].startswith("- ") and not sections[-1]["items"]:
            body = chunk  # a further paragraph of the section above (what the treatment is)
        else:
            return None
        for line in body:
            if line.startswith("- "):
                sections[-1]["items"].append(line[2:])
            elif sections[-1]["items"]:
                return None  # text after a list: not the canonical shape
            else:
                sections[-1]["paragraphs"].append(line)
    if len(sections) != len(CONSENT_SECTIONS):
        return None
    for role, section in zip(CONSENT_SECTIONS, sections, strict=True):
        section["role"] = role
        section["ticked"] = role in TICKED_SECTIONS
    photos = sections[-1]
    if len(photos["items"]) != 2 or any(": " not in item for item in photos["items"]):
        return None
    photos["choices"] = [dict(zip(("label", "statement"), item.split(": ", 1), strict=True)) for item in photos["items"]]
    rebuilt = [lines[0], lines[1]]
    for section in sections:
        rebuilt += [section["heading"], *section["paragraphs"], *(f"- {item}" for item in section["items"])]
    if rebuilt != [line for line in lines if line != ""]:
        return None
    return {"title": lines[0], "version_line": lines[1], "sections": sections}


def _signature_src(png: bytes | None) -> str | None:
    """The drawn signature as a data: URL, if the stored bytes are a readable PNG (else None)."""
    if not png:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with Image.open(io.BytesIO(png)) as image:
                if image.format != "PNG":
                    return None
                image.load()
    except Exception:  # a damaged image would make WeasyPrint warn and the strict render fail
        return None
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def consent_values(consent: Consent, *, with_signature: bool) -> dict[str, Any]:
    """A signed consent: the exact text (as stored, and read back into its sections), photo choices, who and when."""
    text = consent.content_text
    parsed = parse_consent_text(text)
    if parsed is not None:
        photos = parsed["sections"][-1]["choices"]
        photos[0]["agreed"], photos[1]["agreed"] = bool(consent.photo_clinical), bool(consent.photo_marketing)
    values: dict[str, Any] = {
        "public_id": str(consent.public_id),
        "consultation_public_id": str(consent.consultation.public_id),
        "modality": _labelled(consent.modality, MODALITY_LABELS),
        "content_version": consent.content_version,
        "content_sha256": consent.content_sha256,
        "content_sha256_matches": text_sha256(text) == consent.content_sha256,
        "content_text": text,
        "title": parsed["title"] if parsed else None,
        "version_line": parsed["version_line"] if parsed else None,
        "sections": parsed["sections"] if parsed else [],
        "text_lines": [] if parsed else text.splitlines(),
        "photo_clinical": bool(consent.photo_clinical),
        "photo_marketing": bool(consent.photo_marketing),
        "typed_name": consent.patient_typed_name,
        "signed_at": _local(consent.signed_at),
        "witnessed_by": _user(consent.witnessed_by),
        "signature_sha256": consent.signature_sha256,
    }
    if with_signature:
        values["signature_src"] = _signature_src(consent.signature_png)
    return values


# -- the session ----------------------------------------------------------------------------------


def _flags_from_json(raw: str) -> list[dict[str, Any]]:
    try:
        flags = json.loads(raw or "[]")
    except ValueError:
        return []
    return [_flag(str(f.get("code", "")), str(f.get("decision", "")), str(f.get("reason", "")), f.get("earliest_date"))
            for f in flags if isinstance(f, dict)]


def _strings_from_json(raw: str) -> list[str]:
    try:
        items = json.loads(raw or "[]")
    except ValueError:
        return []
    return [str(item) for item in items] if isinstance(items, list) else []


def issued_values(doc: IssuedDocument) -> dict[str, Any]:
    """One issued document as the archive lists it (never its bytes)."""
    return {"public_id": str(doc.public_id), "kind": _labelled(doc.kind.value, {k.value: k.label for k in DocumentKind}),
            "source_id": doc.source_id, "number": doc.number, "title": doc.title, "version": doc.version,
            "content_version": doc.content_version, "large_print": bool(doc.large_print), "issued_at": _local(doc.issued_at),
            "issued_by": _user(doc.issued_by), "pdf_sha256": doc.pdf_sha256, "json_sha256": doc.json_sha256 or None}


def session_values(record: TreatmentSession, aftercare: list[IssuedDocument]) -> dict[str, Any]:
    """Every field of session-record.md, the signature, and the addenda beneath."""
    plan = record.plan
    rf = plan.modality == "rf_microneedling"
    book_from = record.session_date + timedelta(weeks=plan.interval_weeks)
    return {
        "public_id": str(record.public_id),
        "plan_public_id": str(plan.public_id),
        "modality": _labelled(plan.modality, MODALITY_LABELS),
        "is_rf": rf,
        "is_prp": plan.modality == "prp_microneedling",
        "sequence": record.sequence,
        "sessions_planned": plan.sessions_planned,
        "status": _labelled(record.status.value, {"draft": "Draft, not signed", "signed": "Signed and locked"}),
        "date": record.session_date,
        "start_time": _clock(record.start_time),
        "practitioner": _user(record.practitioner),
        "practitioner_registration": record.practitioner.registration or None,
        "supervisor": record.supervisor or None,
        "rescreen": {
            "history_reviewed": record.history_reviewed,
            "changes_since_consultation": record.changes_since_consultation or None,
            "pregnant_now": record.pregnant_now,
            "breastfeeding_now": record.breastfeeding_now,
            "cold_sore_now": record.cold_sore_now,
            "sunburn_on": record.sunburn_on,
            "new_medicines": record.new_medicines or None,
            "anticoagulant_now": record.anticoagulant_now,
            "isotretinoin_now": record.isotretinoin_now,
            "neurotoxin_on": record.neurotoxin_on,
            "filler_on": record.filler_on,
            "resurfacing_on": record.resurfacing_on,
            "decision": _labelled(record.rescreen_decision, DECISION_LABELS),
            "flags": _flags_from_json(record.rescreen_flags),
            "override": None if not record.override_reason else {
                "reason": record.override_reason, "by": _user(record.override_by), "at": _local(record.override_at)},
        },
        "consent": None if record.consent is None else {
            "public_id": str(record.consent.public_id), "content_version": record.consent.content_version,
            "signed_at": _local(record.consent.signed_at)},
        "photo_consent": record.photo_consent,
        "device": {
            "make": record.device_make or None, "model": record.device_model or None, "serial": record.device_serial or None,
            "max_evaluated_depth_mm": _mm(record.device_max_depth_mm),
            "rf_handpiece": record.rf_handpiece or None, "rf_tip_insulated": record.rf_tip_insulated,
            "rf_tip_gold_plated": record.rf_tip_gold_plated,
        },
        "cartridge": {
            "product": record.cartridge_product or None, "needle_count": record.needle_count, "lot": record.cartridge_lot or None,
            "expiry": record.cartridge_expiry, "sterile_pack_intact": record.sterile_pack_intact,
        },
        "skin_preparation": {"cleanser": record.cleanser or None, "antiseptic": record.antiseptic or None},
        "anaesthetic": {
            "used": record.anaesthetic_used, "product": record.anaesthetic_product or None,
            "concentration": record.anaesthetic_concentration or None,
            "applied_at": _clock(record.anaesthetic_applied_at), "removed_at": _clock(record.anaesthetic_removed_at),
        },
        "zones": [
            {"zone": _labelled(z.zone, ZONE_LABELS), "depth_mm": _mm(z.depth_mm), "passes": z.passes,
             "technique": _labelled(z.technique, TECHNIQUE_LABELS), "rf_energy": _mm(z.rf_energy),
             "rf_energy_unit": z.rf_energy_unit or None, "rf_pulse_ms": _mm(z.rf_pulse_ms), "rf_rows": z.rf_rows}
            for z in record.zones
        ],
        "depth_warnings_acknowledged": _strings_from_json(record.warnings_acknowledged),
        "no_products_applied": bool(record.no_products_applied),
        "products": [{"name": p.name, "lot": p.lot, "labelled_for_needled_skin": bool(p.labelled_for_needled_skin)} for p in record.products],
        "prp": None if plan.modality != "prp_microneedling" else {
            "kit_lot": record.prp_kit_lot or None, "volume_ml": _mm(record.prp_volume_ml),
            "spin_protocol": record.prp_spin_protocol or None, "tube_labelled": record.prp_tube_labelled},
        "endpoint": _labelled(record.endpoint, ENDPOINT_LABELS),
        "endpoint_other": record.endpoint_other or None,
        "pain_score": record.pain_score,
        "no_adverse_events": bool(record.no_adverse_events),
        "adverse_events": [{"kind": _labelled(e.kind, ADVERSE_EVENT_LABELS), "detail": e.detail or None, "action_taken": e.action_taken}
                           for e in record.adverse_events],
        "post_care_products": record.post_care_products or None,
        "aftercare_issued": [issued_values(d) for d in aftercare],
        "next_appointment_on": record.next_appointment_on,
        "book_from": None if record.next_appointment_on else book_from,
        "clinical_note": record.clinical_note or None,
        "signature": {"signed": record.is_signed, "signed_by": _user(record.signed_by), "signed_at": _local(record.signed_at),
                      "sha256": record.content_sha256 or None},
        "addenda": [{"author": _user(a.author), "created_at": _local(a.created_at), "reason": a.reason, "text": a.text}
                    for a in record.addenda],
    }


def _aftercare_for(session: Session, record: TreatmentSession) -> list[IssuedDocument]:
    return list(session.scalars(select(IssuedDocument).where(IssuedDocument.kind == DocumentKind.AFTERCARE,
                                                             IssuedDocument.source_id == str(record.public_id))
                                .order_by(IssuedDocument.version)))


def _patient_head(patient: Patient) -> dict[str, Any]:
    return {"name": patient.full_name, "date_of_birth": patient.date_of_birth, "record_number": patient.record_number,
            "public_id": str(patient.public_id)}


# -- 1. the treatment guide ---------------------------------------------------------------------


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


def treatment_guide_spec(session: Session, public_id: uuid.UUID) -> DocumentSpec:
    """The pre-treatment handout for one plan: what it is, this patient's benefits, the plan, dated preparation."""
    plan: TreatmentPlan = _first(session, TreatmentPlan, public_id, "treatment plan")
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
    return DocumentSpec(DocumentKind.TREATMENT_GUIDE, str(plan.public_id), patient.id, "treatment_guide.html", text["title"], context,
                        f"{LANGUAGE}-guide-{text['version']}", f"treatment-guide-{slug(patient.full_name)}-{plan.first_session_on.isoformat()}")


# -- 2. the consent form ------------------------------------------------------------------------


def consent_form_spec(session: Session, public_id: uuid.UUID) -> DocumentSpec:
    """The signed consent as the patient signed it: the stored text, the photo choices, the signature."""
    consent: Consent = _first(session, Consent, public_id, "consent")
    patient = consent.consultation.patient
    values = {**consent_values(consent, with_signature=True), "practitioner_confirmation": CONSENT_CONFIRMATION}
    context = {
        "patient": _patient_head(patient),
        "consent": values,
        "summary": f"Consent form signed by {patient.full_name} on {consent.signed_at:%-d %B %Y}",
    }
    return DocumentSpec(DocumentKind.CONSENT_FORM, str(consent.public_id), patient.id, "consent_form.html", "Consent form", context,
                        f"consent-{consent.modality.replace('_', '-')}-{consent.content_version}",
                        f"consent-{slug(patient.full_name)}-{_local(consent.signed_at).date().isoformat()}")


# -- 3. the consultation summary ----------------------------------------------------------------


def _plans_for(session: Session, consultation: Consultation) -> list[TreatmentPlan]:
    return list(session.scalars(select(TreatmentPlan).where(TreatmentPlan.consultation_id == consultation.id).order_by(TreatmentPlan.id)))


def _consents_for(session: Session, consultation: Consultation) -> list[Consent]:
    return list(session.scalars(select(Consent).where(Consent.consultation_id == consultation.id).order_by(Consent.signed_at, Consent.id)))


def consultation_summary_spec(session: Session, public_id: uuid.UUID) -> DocumentSpec:
    """The clinic-file summary of one consultation: answers, scales, screening with reasons, overrides, plans."""
    consultation: Consultation = _first(session, Consultation, public_id, "consultation")
    patient = consultation.patient
    context = {
        "patient": _patient_head(patient),
        "consultation": consultation_values(consultation, plans=_plans_for(session, consultation),
                                            consents=_consents_for(session, consultation)),
        "summary": f"Consultation summary for {patient.full_name}, {consultation.consultation_date:%-d %B %Y}",
    }
    return DocumentSpec(DocumentKind.CONSULTATION_SUMMARY, str(consultation.public_id), patient.id, "consultation_summary.html",
                        "Consultation summary", context, CLINIC_FILE_VERSION,
                        f"consultation-{slug(patient.full_name)}-{consultation.consultation_date.isoformat()}")


# -- 4. the session record ----------------------------------------------------------------------


def session_record_spec(session: Session, public_id: uuid.UUID) -> DocumentSpec:
    """The clinic-file session record: every field, the signature (or DRAFT), the addenda."""
    record: TreatmentSession = _first(session, TreatmentSession, public_id, "session")
    patient = record.patient
    context = {
        "patient": _patient_head(patient),
        "session": session_values(record, _aftercare_for(session, record)),
        "summary": f"Session record for {patient.full_name}, {record.session_date:%-d %B %Y} (session {record.sequence})",
    }
    return DocumentSpec(DocumentKind.SESSION_RECORD, str(record.public_id), patient.id, "session_record.html",
                        "Session record" if record.is_signed else "Session record (draft)", context, CLINIC_FILE_VERSION,
                        f"session-{slug(patient.full_name)}-{record.session_date.isoformat()}-{record.sequence}")


# -- 5. the patient record export ---------------------------------------------------------------


def export_values(session: Session, patient: Patient) -> dict[str, Any]:
    """Everything the record holds about one patient, as one plain dict (the PDF and the JSON both print it)."""
    consultations = list(session.scalars(select(Consultation).where(Consultation.patient_id == patient.id)
                                         .order_by(Consultation.consultation_date, Consultation.id)))
    plans = list(session.scalars(select(TreatmentPlan).where(TreatmentPlan.patient_id == patient.id)
                                 .order_by(TreatmentPlan.first_session_on, TreatmentPlan.id)))
    consents = list(session.scalars(select(Consent).where(Consent.patient_id == patient.id).order_by(Consent.signed_at, Consent.id)))
    records = list(session.scalars(select(TreatmentSession).where(TreatmentSession.patient_id == patient.id)
                                   .order_by(TreatmentSession.session_date, TreatmentSession.sequence, TreatmentSession.id)))
    documents = list(session.scalars(select(IssuedDocument).where(IssuedDocument.patient_id == patient.id)
                                     .order_by(IssuedDocument.issued_at, IssuedDocument.number)))
    aftercare: dict[str, list[IssuedDocument]] = {}
    for doc in documents:
        if doc.kind == DocumentKind.AFTERCARE:
            aftercare.setdefault(doc.source_id, []).append(doc)
    return {
        "schema": EXPORT_SCHEMA,
        "schema_version": EXPORT_SCHEMA_VERSION,
        "language": LANGUAGE,
        "notes": "Dates are ISO 8601; times carry the clinic's UTC offset. Records are named by their public ids only.",
        "patient": patient_values(patient),
        "consultations": [consultation_values(c) for c in consultations],
        "treatment_plans": [plan_values(p) for p in plans],
        "consents": [consent_values(c, with_signature=False) for c in consents],
        "sessions": [session_values(r, sorted(aftercare.get(str(r.public_id), []), key=lambda d: d.version)) for r in records],
        "issued_documents": [issued_values(d) for d in documents],
    }


def patient_export_spec(session: Session, public_id: uuid.UUID) -> DocumentSpec:
    """A patient's whole record for an access request: a readable PDF and the same data as JSON."""
    patient: Patient = _first(session, Patient, public_id, "patient")
    data = export_values(session, patient)
    context = {"record": data, "summary": f"Patient record export for {patient.full_name}"}
    spec = DocumentSpec(DocumentKind.PATIENT_EXPORT, str(patient.public_id), patient.id, "patient_export.html", "Your patient record",
                        context, f"{LANGUAGE}-export-{EXPORT_SCHEMA_VERSION}", f"patient-record-{slug(patient.full_name)}")
    spec.json_data = export_json(data)
    return spec


BUILDERS: dict[DocumentKind, Callable[[Session, uuid.UUID], DocumentSpec]] = {
    DocumentKind.TREATMENT_GUIDE: treatment_guide_spec,
    DocumentKind.CONSENT_FORM: consent_form_spec,
    DocumentKind.CONSULTATION_SUMMARY: consultation_summary_spec,
    DocumentKind.SESSION_RECORD: session_record_spec,
    DocumentKind.PATIENT_EXPORT: patient_export_spec,
}
