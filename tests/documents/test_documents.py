"""The five record documents: treatment guide, consent form, consultation summary, session record, patient export.

Each is built and rendered through practitioner.documents.services from records made by the real
services (screening, overrides, plans, a drawn consent signature, signed sessions with addenda),
then read back with pypdf: names, real dates, the right variant's lines and not the wrong one's,
sane page counts, large print, ink inside the margins; and each is previewed and issued through
its routes.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import pytest
from flask import current_app
from PIL import Image, ImageDraw
from pypdf import PdfReader
from sqlalchemy import select

from practitioner.admin.services import update_policy
from practitioner.auth.models import User
from practitioner.clinical.screening import DECISION_LABELS, FLAG_TITLES, Policy
from practitioner.consents.content import load_consent_content
from practitioner.consents.models import Consent
from practitioner.consents.services import sign_consent
from practitioner.consultations.models import Consultation
from practitioner.plans.models import TreatmentPlan
from practitioner.plans.services import create_plan
from practitioner.consultations.services import SCALAR_FIELDS, form_data, record_consultation, record_override, update_consultation
from practitioner.documents import services
from practitioner.documents.kinds import KINDS, DocumentSpec, SourceNotFound, get
from practitioner.documents.kinds._common import parse_consent_text
from practitioner.documents.kinds.treatment_guide import guide_content
from practitioner.documents.models import DocumentKind, IssuedDocument
from practitioner.documents.pdf.html import long_date
from practitioner.documents.pdf.worker import weasyprint_problems
from practitioner.extensions import db
from practitioner.patients.models import Patient
from practitioner.treatments.models import TreatmentSession
from practitioner.treatments.services import add_addendum
from tests.conftest import make_patient, post_form
from tests.documents.test_rendering import font_sizes, page_texts, squeeze
from tests.factories import seal_consent, signed_session

HOSTILE = '<img src="http://127.0.0.1:9/x.png"> & <b>bold</b>'


# -- records made by the real services ---------------------------------------------------------


def drawn_signature() -> bytes:
    """A PNG signature as the consent pad sends it: dark strokes on white."""
    image = Image.new("RGB", (480, 160), "white")
    draw = ImageDraw.Draw(image)
    points = [(30 + x * 4, 90 + int(35 * math.sin(x / 6)) - x // 4) for x in range(100)]
    draw.line(points, fill=(20, 30, 60), width=5)
    draw.line([(120, 120), (400, 112)], fill=(20, 30, 60), width=3)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def consultation_answers(**answers: Any) -> dict[str, Any]:
    """Every consultation field at its 'nothing to report' value, with the given answers laid over."""
    values: dict[str, Any] = {name: False for name in SCALAR_FIELDS}
    values.update(
        consultation_date=date.today(), modality="microneedling", fitzpatrick=3, glogau=2, goodman_baron_grade=None,
        skin_notes="", device_name="SkinPen Precision", needle_material="stainless_steel", device_max_depth_mm=None,
        requested_depth_mm=None, diabetes="none", isotretinoin="never", notes="",
        sunburn_on=None, isotretinoin_stopped_on=None, nsaid_or_supplement_last_on=None, topical_retinoid_or_acid_last_on=None,
        neurotoxin_on=None, filler_in_area_on=None, resurfacing_on=None,
        concerns=["fine_lines_wrinkles"], treatment_areas=["forehead"],
    )
    values.update(answers)
    return values


@dataclass
class Story:
    """One patient's records, as a clinic would have them after a few visits."""

    patient: Patient
    consultation: Consultation
    plan: TreatmentPlan
    consent: Consent
    signed: TreatmentSession
    draft: TreatmentSession | None = None


def rf_story(author: User, *, with_draft: bool = True) -> Story:
    """RF microneedling for acne scars (raised ones too): deferred, overridden twice, planned, consented, treated."""
    today = date.today()
    patient = make_patient(actor=author, given_name="Sofía", family_name="O'Connor-Ramírez", date_of_birth=date(1988, 3, 9),
                           email="sofia@example.org", address="Flat 2, 14 Harbour Row\nBristol", postcode="BS1 5TT",
                           emergency_contact_name="Tomás Ramírez", emergency_contact_relationship="Brother",
                           emergency_contact_phone="07700 900123", gp_name="Dr Helen Marsh", gp_practice="Quayside Surgery",
                           fitzpatrick=4, no_known_allergies=False, allergies="Penicillin (rash)", current_medicines="Cetirizine 10 mg")
    policy = Policy()
    consultation = record_consultation(db.session, patient, consultation_answers(
        consultation_date=today - timedelta(days=40), modality="rf_microneedling", fitzpatrick=4, glogau=2, goodman_baron_grade=3,
        concerns=["atrophic_acne_scars", "raised_scars", "enlarged_pores"], treatment_areas=["cheeks", "forehead"],
        scars_rolling=12, scars_boxcar=6, scars_hypertrophic=2, cold_sore_history=True,
        had_sunburn=True, sunburn_on=today - timedelta(days=44), device_name="Morpheus8 (InMode)", needle_material="gold_plated",
        device_max_depth_mm="3.0", requested_depth_mm="2.0", skin_notes=f"Rolling and boxcar scars on both cheeks. {HOSTILE}",
        notes="Patient hopes for smoother cheeks before a wedding in spring.\nDiscussed a realistic timeline."),
        actor=author, policy=policy)
    db.session.commit()
    record_override(db.session, consultation, "Sunburn has settled on inspection; Dr Marsh agreed by phone.", actor=author)
    db.session.commit()
    update_consultation(db.session, consultation, {**form_data(consultation), "used_topical_retinoid_or_acid": True,
                                                       "topical_retinoid_or_acid_last_on": today - timedelta(days=43)},
                        expected_version=None, actor=author, policy=policy)
    db.session.commit()
    if not consultation.allows_treatment:
        record_override(db.session, consultation, "Retinoid stopped three days before; skin intact. Proceed as planned.", actor=author)
        db.session.commit()
    plan = create_plan(db.session, consultation, {
        "modality": "rf_microneedling", "sessions_planned": 4, "interval_weeks": 6, "first_session_on": today - timedelta(days=14),
        "notes": "Review scars after session 2.",
        "zones": [{"zone": "cheeks", "depth_min_mm": Decimal("1.5"), "depth_max_mm": Decimal("2.0"), "note": "Deeper on rolling scars"},
                  {"zone": "forehead", "depth_min_mm": Decimal("0.5"), "depth_max_mm": Decimal("1.0"), "note": ""},
                  {"zone": "scar_area", "depth_min_mm": Decimal("1.0"), "depth_max_mm": Decimal("1.5"), "note": ""}],
    }, actor=author)
    db.session.commit()
    consent = sign_consent(db.session, consultation, load_consent_content("rf_microneedling"), typed_name="Sofía O'Connor-Ramírez",
                           signature_data_url="data:image/png;base64," + base64.b64encode(drawn_signature()).decode(),
                           photo_clinical=True, photo_marketing=False, actor=author)
    db.session.commit()
    # Treated today: a session may not be dated before the consent that covers it, signed just now.
    signed = signed_session(plan, author, session_date=today, zones=(("cheeks", "2.0"), ("forehead", "0.75")),
                            products=(("Hyaluronic glide serum", "HG-2291"), ("Calming balm", "CB-77")), adverse_events=("bruising",),
                            start_time=time(10, 30), device_make="InMode", device_model="Morpheus8", device_serial="M8-20417",
                            device_max_depth_mm=Decimal("3.0"), cartridge_product="Prime 24-pin tip", needle_count=24,
                            cartridge_lot="M8-PR-443", rf_handpiece="Morpheus8 Prime", rf_tip_insulated=True,
                            rf_tip_gold_plated=True, anaesthetic_used=True, anaesthetic_product="LMX4", anaesthetic_concentration="4%",
                            cleanser="Gentle foaming cleanser", antiseptic="Chlorhexidine 0.05%", post_care_products="Mineral SPF 50",
                            next_appointment_on=today + timedelta(days=28), clinical_note=f"Good even erythema. {HOSTILE}")
    services.issue_now(db.session, DocumentKind.AFTERCARE, signed.public_id, actor=author, issued_on=signed.session_date)
    add_addendum(db.session, signed, "Late entry", "Patient phoned on day 2: bruising on the left cheek settling.", actor=author)
    db.session.commit()
    story = Story(patient, consultation, plan, consent, signed)
    if with_draft:
        draft = TreatmentSession(patient_id=patient.id, plan_id=plan.id, sequence=2, practitioner_id=author.id, session_date=today,
                                 device_make="InMode", device_model="Morpheus8", cartridge_lot="M8-PR-443", history_reviewed=True)
        db.session.add(draft)
        db.session.commit()
        story.draft = draft
    db.session.expire_all()  # as a new request would see them (the app keeps objects across commits)
    return story


def mn_story(author: User, *, first_session_on: date | None = None) -> tuple[Patient, Consultation, TreatmentPlan]:
    """Plain microneedling for fine lines only, no cold-sore history, first session ahead."""
    patient = make_patient(actor=author, given_name="Grace", family_name="Okafor", fitzpatrick=2)
    consultation = record_consultation(db.session, patient, consultation_answers(
        concerns=["fine_lines_wrinkles"], treatment_areas=["forehead", "periorbital"]), actor=author, policy=Policy())
    db.session.commit()
    plan = create_plan(db.session, consultation, {
        "modality": "microneedling", "sessions_planned": 3, "interval_weeks": 4,
        "first_session_on": first_session_on or date.today() + timedelta(days=30), "notes": "",
        "zones": [{"zone": "forehead", "depth_min_mm": Decimal("0.5"), "depth_max_mm": Decimal("1.0"), "note": ""},
                  {"zone": "periorbital", "depth_min_mm": Decimal("0.25"), "depth_max_mm": Decimal("0.5"), "note": ""}],
    }, actor=author)
    db.session.commit()
    db.session.expire_all()
    return patient, consultation, plan


# -- helpers -------------------------------------------------------------------------------------


def build(kind: DocumentKind, source: Any, on: date | None = None) -> DocumentSpec:
    """The spec through the documents service, the read ended as the views end it."""
    spec = services.build(db.session, kind, source, on or date.today())
    db.session.commit()
    return spec


def render(spec: DocumentSpec, *, large_print: bool = False) -> bytes:
    """services.render (strict: a WeasyPrint warning raises), checking that WeasyPrint logged nothing at all."""
    with weasyprint_problems() as problems:
        pdf = services.render(spec, large_print=large_print)
    assert not problems, [record.getMessage() for record in problems]
    return pdf


def words(pdf: bytes) -> str:
    """Every page's text with whitespace runs made single spaces (line wrapping does not matter)."""
    return " ".join(" ".join(page_texts(pdf)).split())


def page_count(pdf: bytes) -> int:
    """How many pages."""
    return len(PdfReader(io.BytesIO(pdf)).pages)


def assert_readable_sizes(normal: bytes, large: bytes) -> None:
    """Normal print never below 11 pt, large print never below 16 pt, and large is longer."""
    assert min(font_sizes(normal)) >= 11
    assert min(font_sizes(large)) >= 16
    assert page_count(large) >= page_count(normal)


def ink_checks(pdf: bytes, tmp_path: Path, name: str) -> None:
    """Every page has ink inside the margins and none within 3 mm of the paper's edge (pdftoppm -r 60)."""
    pdftoppm = shutil.which("pdftoppm") or ("/usr/bin/pdftoppm" if Path("/usr/bin/pdftoppm").exists() else None)
    if pdftoppm is None:
        if os.environ.get("CI"):
            pytest.fail("pdftoppm is missing: install poppler-utils")
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    source = tmp_path / f"{name}.pdf"
    source.write_bytes(pdf)
    subprocess.run([pdftoppm, "-png", "-r", "60", str(source), str(tmp_path / name)], check=True, timeout=120)
    pages = sorted(tmp_path.glob(f"{name}-*.png"))
    assert len(pages) == page_count(pdf)
    edge = math.ceil(3 / 25.4 * 60)
    for path in pages:
        with Image.open(path) as opened:
            image = opened.convert("L")
        width, height = image.size
        for box in ((0, 0, width, edge), (0, height - edge, width, height), (0, 0, edge, height), (width - edge, 0, width, height)):
            assert image.crop(box).getextrema()[0] >= 250, f"ink within 3 mm of the edge on {path.name}"
        # The body (between the running header and footer) must hold something on every page.
        body = image.crop((edge, int(height * 0.12), width - edge, int(height * 0.85)))
        assert body.getextrema()[0] < 128, f"no content in the body of {path.name}"


def all_keys(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in a nested JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from all_keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from all_keys(item)


@pytest.fixture
def story(practitioner: User) -> Story:
    """The RF patient's records."""
    return rf_story(practitioner)


# -- 1. treatment guide -----------------------------------------------------------------------


def test_guide_carries_this_patients_benefits_raised_scar_caveat_and_dates_from_the_clinic_policy(practitioner, story, tmp_path):
    update_policy(db.session, {**Policy().as_dict(), "retinoid_window_days": 7, "sunburn_window_days": 21}, actor=practitioner)
    db.session.commit()
    spec = build(DocumentKind.TREATMENT_GUIDE, story.plan.public_id)
    assert spec.title == "Your treatment guide" and spec.content_version == "en-guide-2026.11-2"
    pdf = render(spec)
    text = words(pdf)
    first = story.plan.first_session_on
    assert "Sofía O'Connor-Ramírez" in text
    assert "Your treatment guide" in text and "Radiofrequency (RF) microneedling uses" in text
    # Benefits for atrophic scars and pores only; the raised-scar caveat and referral advice.
    assert "Less visible acne scars of the kind that leave dips or pits in the skin" in text and "Pores that look smaller." in text
    assert "Softer fine lines" not in text and "Gentle exfoliation" not in text
    assert "About raised scars" in text and "We advise you to see a doctor about other treatments for raised scars." in text
    # Real dates counted back from the first session with this clinic's policy.
    assert f"From {long_date(first - timedelta(days=7))}: stop retinoids (vitamin A creams" in text
    assert f"From {long_date(first - timedelta(days=21))}: keep out of strong sun" in text
    assert f"On {long_date(first - timedelta(days=1))}: start the antiviral medicine" in text, "cold-sore history"
    assert f"On the day ({long_date(first)}): come with a clean face" in text
    assert "4 sessions, about 6 weeks apart." in text and "Areas: Cheeks, forehead and scarred areas." in text
    assert "Plan for about 6 to 7 days of redness and some swelling at the depth planned for you." in text  # 2.0 mm planned
    assert 1 <= page_count(pdf) <= 3
    large = render(spec, large_print=True)
    assert "Sofía O'Connor-Ramírez" in words(large) and page_count(large) <= 6
    assert_readable_sizes(pdf, large)
    ink_checks(pdf, tmp_path, "guide")
    ink_checks(large, tmp_path, "guide-large")


def test_guide_for_fine_lines_only_has_no_other_benefit_no_raised_scars_and_no_antiviral(practitioner):
    patient, _, plan = mn_story(practitioner)
    pdf = render(build(DocumentKind.TREATMENT_GUIDE, plan.public_id))
    text = words(pdf)
    assert patient.full_name in text
    assert "Softer fine lines and wrinkles" in text
    for other in ("dips or pits", "Pores that look smaller", "Gentle exfoliation", "About raised scars", "antiviral", "RF treatment"):
        assert other not in text, other
    assert f"From {long_date(plan.first_session_on - timedelta(days=Policy().retinoid_window_days))}: stop retinoids" in text
    assert "Plan for about 4 to 5 days of looking pink" in text  # 1.0 mm planned on the forehead
    assert "Areas: Forehead and around the eyes." in text
    assert page_count(pdf) <= 3


def test_guide_for_a_single_session_says_one_session_from_the_guide_wording(practitioner):
    _, _, plan = mn_story(practitioner)
    plan.sessions_planned = 1
    db.session.commit()
    text = words(render(build(DocumentKind.TREATMENT_GUIDE, plan.public_id)))
    assert guide_content()["plan"]["one_session"] in text
    assert "1 sessions" not in text and "weeks apart" not in text


# -- 2. consent form --------------------------------------------------------------------------


def test_consent_text_reads_back_into_its_sections_for_every_modality():
    for modality in ("microneedling", "rf_microneedling", "prp_microneedling"):
        content = load_consent_content(modality)
        parsed = parse_consent_text(content.text)
        assert parsed is not None, modality
        sections = {s["role"]: s for s in parsed["sections"]}
        assert parsed["title"] == content.title and parsed["version_line"] == content.version_line
        assert sections["risks"]["items"] == list(content.risks) and sections["risks"]["ticked"]
        assert sections["declarations"]["items"] == list(content.declarations)
        assert sections["what_it_is"]["paragraphs"] == list(content.what_it_is)
        assert [c["statement"] for c in sections["photographs"]["choices"]] == [content.photo_clinical, content.photo_marketing]
    assert parse_consent_text("Consent for microneedling") is None
    assert parse_consent_text(load_consent_content("microneedling").text + "\nAn extra line\n") is None


def test_rf_consent_form_prints_the_signed_words_ticked_with_signature_and_hash(story, tmp_path):
    spec = build(DocumentKind.CONSENT_FORM, story.consent.public_id)
    pdf = render(spec)
    text, flat = words(pdf), squeeze(" ".join(page_texts(pdf)))
    content = load_consent_content("rf_microneedling")
    assert "Sofía O'Connor-Ramírez" in text and content.title in text
    for line in (*content.risks, *content.declarations, *content.alternatives, *content.expected_effects, content.no_guarantee):
        assert squeeze(line) in flat, line
    rf_only = set(content.risks) - set(load_consent_content("microneedling").risks)
    assert rf_only and all(squeeze(risk) in flat for risk in rf_only)
    signed_on = story.consent.signed_at
    assert "Date signed" in text and long_date(signed_on.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).date()) in text
    assert squeeze(f"Witnessed by {story.consent.witnessed_by.name}") in flat
    assert squeeze(f"Typed name {story.consent.patient_typed_name}") in flat
    assert squeeze(f"Text version {content.version}") in flat
    # The closing lines never sit alone on a last page: the signature comes over with them.
    last_page = squeeze(page_texts(pdf)[-1])
    assert squeeze("Typed name") in last_page and squeeze("This is a copy of the consent form") in last_page
    assert story.consent.content_sha256 in flat and "(it matches the text printed above)" in text
    assert "For your clinical record" in text and "For marketing" in text
    images = [x for page in PdfReader(io.BytesIO(pdf)).pages for x in page["/Resources"].get("/XObject", {}).values()
              if x.get_object()["/Subtype"] == "/Image"]
    assert images, "the drawn signature is embedded"
    assert 2 <= page_count(pdf) <= 5
    large = render(spec, large_print=True)
    assert_readable_sizes(pdf, large)
    assert page_count(large) <= 9
    ink_checks(pdf, tmp_path, "consent")
    ink_checks(large, tmp_path, "consent-large")


def test_microneedling_consent_has_no_rf_risks(practitioner):
    _, consultation, _ = mn_story(practitioner)
    content = load_consent_content("microneedling")
    consent = sign_consent(db.session, consultation, content, typed_name="Grace Okafor",
                           signature_data_url="data:image/png;base64," + base64.b64encode(drawn_signature()).decode(),
                           photo_clinical=False, photo_marketing=False, actor=practitioner)
    db.session.commit()
    flat = squeeze(" ".join(page_texts(render(build(DocumentKind.CONSENT_FORM, consent.public_id)))))
    assert all(squeeze(risk) in flat for risk in content.risks)
    for risk in set(load_consent_content("rf_microneedling").risks) - set(content.risks):
        assert squeeze(risk) not in flat, risk


def test_consent_text_not_in_the_canonical_shape_is_printed_line_by_line(practitioner):
    patient = make_patient(actor=practitioner, given_name="Lin", family_name="Hale")
    consultation = record_consultation(db.session, patient, consultation_answers(), actor=practitioner, policy=Policy())
    text = "Consent for microneedling\nI agree to <b>treatment</b>.\n"
    consent = Consent(patient_id=patient.id, consultation_id=consultation.id, modality="microneedling", content_version="old-1",
                      content_sha256=hashlib.sha256(text.encode()).hexdigest(), content_text=text, patient_typed_name="Lin Hale",
                      signature_png=b"\x89PNG\r\n", signature_sha256="0" * 64, witnessed_by_id=practitioner.id)
    seal_consent(consent)  # with its SHA-256 and audit row, as signing makes it (so it prints)
    db.session.commit()
    text_out = words(render(build(DocumentKind.CONSENT_FORM, consent.public_id)))
    assert "Consent for microneedling" in text_out and "I agree to <b>treatment</b>." in text_out
    assert "The stored signature image could not be shown" in text_out


# -- 3. consultation summary --------------------------------------------------------------------


def test_consultation_summary_has_answers_scales_flags_overrides_policy_and_plan(story, tmp_path):
    consultation = story.consultation
    spec = build(DocumentKind.CONSULTATION_SUMMARY, consultation.public_id)
    pdf = render(spec)
    text, flat = words(pdf), squeeze(" ".join(page_texts(pdf)))
    assert "Sofía O'Connor-Ramírez" in text and "Consultation summary" in text
    assert long_date(consultation.consultation_date) in text
    assert f"Decision {DECISION_LABELS[consultation.decision]}" in text
    assert f"Re-book from {long_date(consultation.rebook_from)}" in text
    for flag in consultation.flags:
        assert squeeze(FLAG_TITLES[flag.code]) in flat and squeeze(flag.reason) in flat
    assert "Superseded override" in text and "Override in force" in text
    for override in consultation.overrides:
        assert squeeze(override.reason) in flat
    assert "IV: rarely burns, tans easily" in text and "3: moderate (flattens when stretched)" in text
    assert "Rolling 12, Boxcar 6, Hypertrophic 2" in text
    for question in ("Pregnant", "Keloid scars", "Gold", "Isotretinoin (Roaccutane)", "Recent botulinum toxin", "Smokes"):
        assert question in text
    assert "History of cold sores Yes" in text
    assert "Wait after neurotoxin (days) 14" in text
    assert "Radiofrequency microneedling: 4 sessions, every 6 weeks" in text and "Deeper on rolling scars" in text
    assert f"consent text version {story.consent.content_version}" in text
    # Typed text is printed as text: the tags come out as characters, nothing was fetched (strict render).
    assert '<img src="http://127.0.0.1:9/x.png"> & <b>bold</b>' in text
    assert 2 <= page_count(pdf) <= 7
    large = render(spec, large_print=True)
    assert_readable_sizes(pdf, large)
    assert page_count(large) <= 14
    ink_checks(pdf, tmp_path, "summary")
    ink_checks(large, tmp_path, "summary-large")


# -- 4. session record --------------------------------------------------------------------------


def test_signed_session_record_has_every_field_the_signature_and_the_addenda(story, tmp_path):
    record = story.signed
    spec = build(DocumentKind.SESSION_RECORD, record.public_id)
    pdf = render(spec)
    text, flat = words(pdf), squeeze(" ".join(page_texts(pdf)))
    assert "Sofía O'Connor-Ramírez" in text and "Session record" in text and "1 of 4" in text
    for fact in ("InMode Morpheus8, serial M8-20417", "Morpheus8 Prime", "Insulated: Yes; gold-plated: Yes", "Prime 24-pin tip, 24 needles",
                 "M8-PR-443", "Sterile pack intact Yes", "Gentle foaming cleanser / Chlorhexidine 0.05%", "LMX4 4%",
                 "Hyaluronic glide serum HG-2291 Yes", "Calming balm CB-77", "Even redness", "3 / 10", "Bruising. Action taken: Cold compress",
                 "Mineral SPF 50", f"Next appointment {long_date(record.next_appointment_on)}", "15 mJ/pin", "History, medicines and allergies"):
        assert fact in text, fact
    assert f"expires {record.cartridge_expiry.day} " in text
    assert "Signed and locked by" in text and record.content_sha256 in flat
    assert "Late entry" in text and "Patient phoned on day 2: bruising on the left cheek settling." in text
    aftercare = db.session.scalars(select(IssuedDocument).where(IssuedDocument.kind == DocumentKind.AFTERCARE)).one()
    assert aftercare.number in text
    assert "DRAFT" not in text
    assert 1 <= page_count(pdf) <= 5
    large = render(spec, large_print=True)
    assert_readable_sizes(pdf, large)
    ink_checks(pdf, tmp_path, "session")
    ink_checks(large, tmp_path, "session-large")


def test_unsigned_session_record_is_marked_draft_on_every_page(story):
    spec = build(DocumentKind.SESSION_RECORD, story.draft.public_id)
    for pdf in (render(spec), render(spec, large_print=True)):
        texts = page_texts(pdf)
        assert all("DRAFT — NOT SIGNED" in " ".join(t.split()) for t in texts), "every page says draft"
        assert "Signed and locked" not in words(pdf)
        assert f"book from {long_date(story.draft.session_date + timedelta(weeks=story.plan.interval_weeks))}" in words(pdf)


# -- 5. patient record export -----------------------------------------------------------------


def test_export_pdf_and_json_carry_the_same_record(story, tmp_path):
    spec = build(DocumentKind.PATIENT_EXPORT, story.patient.public_id)
    assert spec.json_data is not None
    data = json.loads(spec.json_data.decode("utf-8"))
    assert spec.json_data.decode("utf-8") == json.dumps(data, sort_keys=True, ensure_ascii=False, indent=2) + "\n"
    assert data["schema"] == "practitioner.patient-record-export" and data["schema_version"] == "1.0"
    for key, value in all_keys(data):
        assert key != "id" and not (key.endswith("_id") and isinstance(value, int)), key
    assert "signature_src" not in dict(all_keys(data)) and "iVBORw0KGgo" not in spec.json_data.decode()
    patient = data["patient"]
    assert patient["public_id"] == str(story.patient.public_id) and patient["date_of_birth"] == "1988-03-09"
    assert [len(data[k]) for k in ("consultations", "treatment_plans", "consents", "sessions")] == [1, 1, 1, 2]
    assert date.fromisoformat(data["consultations"][0]["date"]) == story.consultation.consultation_date

    pdf = render(spec)
    text, flat = words(pdf), squeeze(" ".join(page_texts(pdf)))
    assert patient["name"] in text and patient["record_number"] in text and "Penicillin (rash)" in text
    for c in data["consultations"]:
        assert long_date(date.fromisoformat(c["date"])) in text
        assert all(squeeze(f["reason"]) in flat for f in c["screening"]["flags"])
    for consent in data["consents"]:
        assert consent["content_sha256"] in flat and consent["signature_sha256"] in flat
    for s in data["sessions"]:
        assert long_date(date.fromisoformat(s["date"])) in text
        if s["cartridge"]["lot"]:
            assert s["cartridge"]["lot"] in text
    for doc in data["issued_documents"]:
        assert doc["number"] in text and doc["pdf_sha256"] in flat
    assert "DRAFT — NOT SIGNED" in text and "Patient phoned on day 2" in text
    assert 4 <= page_count(pdf) <= 20
    large = render(spec, large_print=True)
    assert_readable_sizes(pdf, large)
    ink_checks(pdf, tmp_path, "export")
    ink_checks(large, tmp_path, "export-large")


# -- every builder ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [k for k in DocumentKind if k != DocumentKind.AFTERCARE])
def test_every_builder_refuses_an_unknown_record(app, kind):
    assert kind in KINDS
    with pytest.raises(SourceNotFound):
        get(kind).spec(db.session, uuid.uuid4())


# -- the routes ---------------------------------------------------------------------------------

FILENAMES = {
    "treatment-guide": r"treatment-guide-sofia-o-connor-ramirez-\d{4}-\d{2}-\d{2}-v\d\.pdf",
    "consent-form": r"consent-sofia-o-connor-ramirez-\d{4}-\d{2}-\d{2}-v\d\.pdf",
    "consultation-summary": r"consultation-sofia-o-connor-ramirez-\d{4}-\d{2}-\d{2}-v\d\.pdf",
    "session-record": r"session-sofia-o-connor-ramirez-\d{4}-\d{2}-\d{2}-1-v\d\.pdf",
    "patient-export": r"patient-record-sofia-o-connor-ramirez-v\d\.pdf",
}


def source_of(story: Story, kind: str) -> uuid.UUID:
    """The record each document is made from."""
    return {"treatment-guide": story.plan, "consent-form": story.consent, "consultation-summary": story.consultation,
            "session-record": story.signed, "patient-export": story.patient}[kind].public_id


@pytest.mark.parametrize("kind", list(FILENAMES))
def test_preview_issue_reprint_and_reissue(as_practitioner, story, kind):
    source = source_of(story, kind)
    preview = as_practitioner.get(f"/documents/{kind}/{source}.pdf")
    assert preview.status_code == 200 and preview.mimetype == "application/pdf"
    assert preview.headers["Cache-Control"] == "no-store"
    assert re.fullmatch(rf'inline; filename="{FILENAMES[kind]}"', preview.headers["Content-Disposition"])
    assert "Sofía O'Connor-Ramírez" in words(preview.data)
    large = as_practitioner.get(f"/documents/{kind}/{source}.pdf?large=1")
    assert large.status_code == 200 and "-large-print.pdf" in large.headers["Content-Disposition"]

    page = f"/patients/{story.patient.public_id}"
    first = post_form(as_practitioner, f"/documents/{kind}/{source}/issue", {}, page=page)
    assert first.status_code == 303
    second = post_form(as_practitioner, f"/documents/{kind}/{source}/issue", {"large_print": "1"}, page=page)
    assert second.status_code == 303
    db.session.expire_all()
    issued = list(db.session.scalars(select(IssuedDocument).where(IssuedDocument.kind == DocumentKind(kind)).order_by(IssuedDocument.version)))
    assert [d.version for d in issued] == [1, 2] and [d.large_print for d in issued] == [False, True]
    assert first.headers["Location"].endswith(f"/issued/{issued[0].public_id}.pdf")
    for doc in issued:
        served = as_practitioner.get(f"/issued/{doc.public_id}.pdf")
        again = as_practitioner.get(f"/issued/{doc.public_id}.pdf")
        assert served.mimetype == "application/pdf" and served.headers["Cache-Control"] == "no-store"
        assert hashlib.sha256(served.data).hexdigest() == doc.pdf_sha256 and served.data == again.data
        assert doc.number in words(served.data)
        as_json = as_practitioner.get(f"/issued/{doc.public_id}.json")
        if kind == "patient-export":
            assert as_json.status_code == 200 and as_json.mimetype == "application/json"
            assert hashlib.sha256(as_json.data).hexdigest() == doc.json_sha256
            assert json.loads(as_json.data)["patient"]["public_id"] == str(story.patient.public_id)
        else:
            assert as_json.status_code == 404
    assert issued[0].number != issued[1].number and issued[0].pdf_sha256 != issued[1].pdf_sha256


def test_preview_of_an_unknown_record_is_404(as_practitioner):
    for kind in FILENAMES:
        assert as_practitioner.get(f"/documents/{kind}/{uuid.uuid4()}.pdf").status_code == 404
