"""What the document kinds share: small conversions, the letterhead and numbering, and the record-level values.

Builders turn records into plain values: strings, numbers, booleans, dates, clinic-local
datetimes, and lists and dicts of those. Codes travel with their labels ({"code": ..., "label": ...})
so a template never needs a lookup table and the export's JSON stays machine-readable. No integer
database id leaves here.

The record-level helpers (`patient_values`, `consultation_values`, `plan_values`, `consent_values`,
`session_values`, `issued_values`) are shared: the patient export is made of exactly the values
the single documents print, and its PDF and JSON are both made from one dict.
"""

from __future__ import annotations

import base64
import io
import json
import re
import unicodedata
import warnings
from datetime import date, time, timedelta
from decimal import Decimal
from typing import Any, Mapping

from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from practitioner.admin.models import ClinicSettings
from practitioner.admin.services import get_settings
from practitioner.clinical import questions
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
from practitioner.documents.models import IssuedDocument
from practitioner.dates import clock, to_clinic_time
from practitioner.clinical.vocabulary import (
    ADVERSE_EVENT_LABELS,
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
CLINIC_FILE_VERSION = "en-record-1"


# -- small conversions ------------------------------------------------------------------------


def _labelled(code: str | None, labels: dict[Any, str]) -> dict[str, Any] | None:
    """A code with its label, or None when there is no code."""
    if code is None or code == "":
        return None
    return {"code": code, "label": labels.get(code, str(code).replace("_", " ").capitalize())}


_local = to_clinic_time  # a stored UTC timestamp as clinic-local time, to the second (printing and ISO both use it)


def _clock(value: time | None) -> str | None:
    return None if value is None else clock(value)


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


# -- the letterhead and the number ---------------------------------------------------------------


def slug(text: str) -> str:
    """A file-name-safe lower-case form of a name."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:40] or "patient"


def clinic_values(settings: ClinicSettings) -> dict[str, Any]:
    """The clinic as every document's letterhead shows it."""
    return {
        "name": settings.name,
        "address_lines": [line.strip() for line in (settings.address or "").splitlines() if line.strip()],
        "phone": settings.phone,
        "email": settings.email,
        "out_of_hours": settings.out_of_hours,
    }


def next_version(session: Session, kind: str, source_id: str) -> int:
    """The version a new issue of this document would get."""
    latest = session.scalar(select(func.max(IssuedDocument.version)).where(IssuedDocument.kind == kind, IssuedDocument.source_id == source_id))
    return (latest or 0) + 1


_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                "November", "December")
_EDITION = re.compile(r"(?:^|-)(\d{4})\.(\d{2})(?:-(\d+))?(?:\+[0-9a-f]+)?$")


def readable_edition(content_version: str) -> str:
    """The content version as a patient can read it: 'en-2026.11+3f2a...' -> 'November 2026 edition'.

    The exact version (with the hash of the blocks used) stays in the archive; the page shows it once, readably.
    """
    found = _EDITION.search(content_version)
    if found is None or not 1 <= int(found.group(2)) <= 12:
        # An undated layout version ('en-export-1.0', 'en-record-1'): its name and number, without the language code.
        plain = re.sub(r"^[a-z]{2,3}-", "", content_version.split("+", 1)[0])
        name, _, number = plain.rpartition("-")
        return f"{name} layout, version {number}" if name and number else plain
    year, month, revision = found.groups()
    edition = f"{_MONTH_NAMES[int(month) - 1]} {year} edition"
    return f"{edition}, revision {revision}" if revision and revision != "1" else edition


def finish(session: Session, spec: Any, issued_on: date, number_prefix: str) -> Any:
    """Number the document, add the clinic letterhead, paper size and logo, and the document block."""
    settings = get_settings(session)
    spec.version = next_version(session, spec.kind, spec.source_id)
    spec.number = f"{number_prefix}-{issued_on:%Y%m%d}-{spec.source_id.replace('-', '')[:6].upper()}-{spec.version}"
    spec.paper = settings.paper_size.value
    spec.logo_png = settings.logo_png
    spec.context.setdefault("clinic", clinic_values(settings))
    spec.context["document"] = {"number": spec.number, "content_version": spec.content_version,
                                "edition": readable_edition(spec.content_version), "issued_on": issued_on,
                                "summary": spec.context.get("summary", spec.title)}
    spec.context.pop("summary", None)
    return spec


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


def issued_values(doc: IssuedDocument) -> dict[str, Any]:
    """One issued document as the archive lists it (never its bytes)."""
    return {"public_id": str(doc.public_id), "kind": _labelled(doc.kind.value, {doc.kind.value: doc.kind.label}),
            "source_id": doc.source_id, "number": doc.number, "title": doc.title, "version": doc.version,
            "content_version": doc.content_version, "large_print": bool(doc.large_print), "issued_at": _local(doc.issued_at),
            "issued_by": _user(doc.issued_by), "pdf_sha256": doc.pdf_sha256, "json_sha256": doc.json_sha256 or None}


def session_values(record: TreatmentSession, aftercare: list[IssuedDocument]) -> dict[str, Any]:
    """Every field of docs/session-record.md, the signature, and the addenda beneath."""
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
            # Each question with its answer ('yes', 'no', 'not_answered', 'not_asked'): an unanswered one prints as such, never as No.
            "answers": [{"question": question, "answer": answer, "date": when} for question, answer, when in record.rescreen_answers],
            "decision": _labelled(record.rescreen_decision, DECISION_LABELS),
            "flags": [_flag(f["code"], f["decision"], f["reason"], f.get("earliest_date")) for f in record.rescreen_flags],
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
        "depth_warnings_acknowledged": record.warnings_acknowledged,
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


def _patient_head(patient: Patient) -> dict[str, Any]:
    return {"name": patient.full_name, "date_of_birth": patient.date_of_birth, "record_number": patient.record_number,
            "public_id": str(patient.public_id)}
