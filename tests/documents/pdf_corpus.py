"""Every document kind, built from three patients' records, for the PDF/UA-1 and PDF/A-3u checks.

- realistic: the RF patient of tests/documents/test_documents.py (scars, overrides, a drawn
  consent signature, a signed session with an addendum), with a clinic logo;
- hostile: every field filled, at its longest, with right-to-left text (Arabic, Hebrew), combining
  characters, markup-looking text, the most addenda a session may hold and a long clinic letterhead;
- sparse: a plain microneedling patient with every optional field empty and no logo.

The realistic and hostile patients also have a course with clinical photographs (the progress sheet,
the export's photographs). Each patient has a signed intake (the health questionnaire): realistic answers;
hostile ones with every answer that asks for a date, every free text at its limit in every script with
bidi controls; sparse ones with every calm answer and nothing written.

Each spec is rendered in normal and large print, on A4 and on Letter (the clinic's paper setting).
Used by tests/documents/test_pdf_validity.py (pikepdf checks) and bench/verapdf_all.py (veraPDF).
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from datetime import date, time, timedelta
from decimal import Decimal
from typing import Any

from practitioner.admin.services import get_settings
from practitioner.auth.models import User
from practitioner.consents.content import load_consent_content
from practitioner.consents.services import sign_consent
from practitioner.consultations.services import record_consultation, record_override
from practitioner.documents import services
from practitioner.documents.kinds import KINDS, DocumentSpec, NotReady
from practitioner.documents.models import DocumentKind
from practitioner.extensions import db
from practitioner.plans.services import create_plan
from practitioner.treatments import limits
from practitioner.treatments.services import add_addendum
from tests.conftest import make_patient
from tests.documents.test_documents import Story, consultation_answers, drawn_signature, rf_story
from tests.documents.test_rendering import make_logo
from tests.documents.test_scripts import SAMPLES
from tests.factories import signed_session

DATA_SETS = ("realistic", "hostile", "sparse", "volumes")  # volumes: the export of a record in volumes (VOLUMES)
PHOTOGRAPHED = ("realistic", "hostile")  # these patients also have a course of clinical photographs (for the progress sheet)
PAPERS = ("A4", "Letter")
PRINTS = (False, True)  # large print off, on

# Right to left, combining marks (decomposed accents, a stacked Vietnamese vowel), markup-looking text.
BIDI = "مريم الحداد · שרה כהן"
COMBINING = "Zoe\u0308 Ngo\u0302\u0303 Thi\u0323 Ha\u0300 Ren\u0301e"
MARKUP = '<b>bold</b> & <img src="http://127.0.0.1:9/x.png"> </td></tr></table>'
LONG_WORD = "Abcdefghijklmnopqrstuvwxyz" * 3
PARAGRAPH = (f"Long free text written over several lines by a thorough practitioner. {BIDI}. {COMBINING}. {MARKUP}. "
             "The skin was checked across every zone before and after the treatment, and the patient was told what to "
             f"expect over the next days. {LONG_WORD}. ")


def _fill(text: str, length: int) -> str:
    """`text` repeated and cut to exactly `length` characters (the column's limit)."""
    return (text * (length // max(len(text), 1) + 1))[:length].strip()


def hostile_story(author: User) -> Story:
    """One patient whose every field is filled at length with bidi, combining and markup-looking text."""
    today = date.today()
    settings = get_settings(db.session)
    settings.name = _fill(f"Clinic {BIDI} {COMBINING} Skin & Laser ", 120)
    settings.address = "\n".join(_fill(f"{n} {BIDI} Street {COMBINING} ", 90) for n in range(1, 6))
    settings.email = "reception.and.enquiries@" + "very-long-clinic-domain-" * 4 + "example.org"
    settings.out_of_hours = _fill(f"NHS 111, or Dr {COMBINING} on 07700 900999. {BIDI}. ", 300)
    db.session.commit()
    patient = make_patient(
        actor=author, given_name=_fill(f"{COMBINING} {BIDI} ", 100), family_name=_fill(f"{LONG_WORD}{BIDI}", 100),
        preferred_name=_fill(f"{BIDI} {COMBINING}", 100), date_of_birth=date(1931, 2, 28), sex="female",
        phone="+44 (0)117 496 0000 ext. 12345 67", email="a." + "x" * 60 + "@" + "long-domain-" * 8 + "example.org",
        address="\n".join(_fill(f"Flat {n}, {BIDI} {COMBINING} {MARKUP} ", 120) for n in range(1, 6)), postcode="BS1 5TT 0000 XXXX",
        emergency_contact_name=_fill(f"{BIDI} {COMBINING} ", 120), emergency_contact_relationship=_fill(f"Brother-in-law {BIDI} ", 60),
        emergency_contact_phone="+44 7700 900123 ext 4567890", gp_name=_fill(f"Dr {COMBINING} {BIDI} ", 120),
        gp_practice=_fill(f"The {BIDI} Quayside Surgery {COMBINING} {MARKUP} ", 200), gp_phone="+44 117 496 0999 ext 1234567",
        fitzpatrick=6, no_known_allergies=False, allergies=_fill(PARAGRAPH, 1000), current_medicines=_fill(PARAGRAPH, 1000))
    consultation = record_consultation(db.session, patient, consultation_answers(
        consultation_date=today - timedelta(days=40), modality="rf_microneedling", fitzpatrick=6, glogau=4, goodman_baron_grade=4,
        concerns=["atrophic_acne_scars", "raised_scars", "enlarged_pores", "fine_lines_wrinkles"],
        treatment_areas=["cheeks", "forehead", "periorbital"], scars_rolling=40, scars_boxcar=30, scars_hypertrophic=9,
        cold_sore_history=True, had_sunburn=True, sunburn_on=today - timedelta(days=44), device_name=_fill(f"Morpheus8 {COMBINING} ", 100),
        needle_material="gold_plated", device_max_depth_mm="3.0", requested_depth_mm="2.0",
        skin_notes=_fill(PARAGRAPH, 2000), notes=_fill(PARAGRAPH + "\n", 2000)), actor=author, policy=_policy())
    db.session.commit()
    if not consultation.allows_treatment:
        record_override(db.session, consultation, _fill(f"Checked in person. {BIDI}. {COMBINING}. {MARKUP}. ", 500), actor=author)
        db.session.commit()
    plan = create_plan(db.session, consultation, {
        "modality": "rf_microneedling", "sessions_planned": 6, "interval_weeks": 6, "first_session_on": today - timedelta(days=14),
        "notes": _fill(PARAGRAPH, 1000),
        "zones": [{"zone": zone, "depth_min_mm": Decimal("0.25"), "depth_max_mm": Decimal(deepest), "note": _fill(f"{BIDI} {COMBINING} {MARKUP} ", 200)}
                  for zone, deepest in (("cheeks", "2.0"), ("forehead", "1.0"), ("periorbital", "0.5"), ("scar_area", "1.5"))],
    }, actor=author)
    db.session.commit()
    consent = sign_consent(db.session, consultation, load_consent_content("rf_microneedling"), typed_name=_fill(f"{COMBINING} {BIDI} ", 120),
                           signature_data_url="data:image/png;base64," + base64.b64encode(drawn_signature()).decode(),
                           photo_clinical=True, photo_marketing=True, actor=author)
    db.session.commit()
    text = _fill(f"{BIDI} {COMBINING} {MARKUP} ", 120)
    signed = signed_session(plan, author, session_date=today, zones=(("cheeks", "1.5"), ("forehead", "0.75"), ("periorbital", "0.5"), ("scar_area", "1.5")),
                            products=tuple((_fill(f"Serum {BIDI} {COMBINING} ", 160), _fill(f"LOT-{n}-{LONG_WORD}", 80)) for n in range(6)),
                            adverse_events=("bruising",), start_time=time(10, 30), device_make=text, device_model=text,
                            device_serial=_fill(LONG_WORD, 120), device_max_depth_mm=Decimal("3.0"), cartridge_product=text, needle_count=49,
                            cartridge_lot=_fill(LONG_WORD, 80), rf_handpiece=text, rf_tip_insulated=True, rf_tip_gold_plated=True,
                            anaesthetic_used=True, anaesthetic_product=text, anaesthetic_concentration=_fill(f"4% {BIDI}", 60),
                            cleanser=text, antiseptic=text, next_appointment_on=today + timedelta(days=28),
                            **{field: _fill(PARAGRAPH + "\n", most) for field, most in limits.SESSION_TEXT.items()})
    for kind, source in ((DocumentKind.AFTERCARE, signed), (DocumentKind.TREATMENT_GUIDE, plan), (DocumentKind.CONSENT_FORM, consent)):
        services.issue_now(db.session, kind, source.public_id, actor=author, issued_on=today, large_print=kind == DocumentKind.CONSENT_FORM)
    for n in range(limits.ADDENDA_PER_SESSION):  # the most a session may hold, each at its longest
        add_addendum(db.session, signed, _fill(f"Late entry {n + 1} {BIDI} ", limits.ADDENDUM_REASON), _fill(PARAGRAPH, limits.ADDENDUM_TEXT),
                     actor=author)
    db.session.commit()
    db.session.expire_all()
    return Story(patient, consultation, plan, consent, signed)


def sparse_story(author: User) -> Story:
    """Plain microneedling, every optional field left empty: no email, address, GP, notes, products or addenda."""
    today = date.today()
    patient = make_patient(actor=author, given_name="Ann", family_name="Lee", email="", address="", postcode="")
    consultation = record_consultation(db.session, patient, consultation_answers(
        consultation_date=today - timedelta(days=10), concerns=["fine_lines_wrinkles"], treatment_areas=["forehead"]),
        actor=author, policy=_policy())
    db.session.commit()
    plan = create_plan(db.session, consultation, {
        "modality": "microneedling", "sessions_planned": 1, "interval_weeks": 4, "first_session_on": today, "notes": "",
        "zones": [{"zone": "forehead", "depth_min_mm": Decimal("0.5"), "depth_max_mm": Decimal("0.5"), "note": ""}],
    }, actor=author)
    db.session.commit()
    consent = sign_consent(db.session, consultation, load_consent_content("microneedling"), typed_name="Ann Lee",
                           signature_data_url="data:image/png;base64," + base64.b64encode(drawn_signature()).decode(),
                           photo_clinical=False, photo_marketing=False, actor=author)
    db.session.commit()
    signed = signed_session(plan, author, session_date=today, zones=(("forehead", "0.5"),), clinical_note="")
    db.session.expire_all()
    return Story(patient, consultation, plan, consent, signed)


# Every script the documents promise, and the bidi controls a patient's keyboard or a paste can bring.
EVERY_SCRIPT = " ".join(SAMPLES.values())
BIDI_CONTROLS = "\u202eevil\u202c \u2067rli\u2069 \u2066lri\u2069 \u2068fsi\u2069 \u200fRLM\u200e \u202bemb\u202c"


def signed_intake(name: str, patient: Any, author: User) -> Any:
    """The patient's signed health questionnaire, for the data set `name` (made through the intake's own services)."""
    from practitioner.intake import questions
    from tests.intake.factories import answer_set, make_intake

    today = date.today()
    month = f"{today.year}-{today.month:02d}"
    if name == "sparse":
        return make_intake(patient, author, answers=answer_set(concerns=()), submitted=True)
    if name == "realistic":
        return make_intake(patient, author, submitted=True, answers=answer_set(
            cold_sore_history="yes", had_neurotoxin=("yes", month), smoker="not_sure", isotretinoin=("stopped", "2024-03-14"),
            details={"phone": "07700 900123", "email": "sofia@example.org", "address": "Flat 2, 14 Harbour Row\nBristol BS1 5TT",
                     "gp_name": "Dr Helen Marsh", "gp_practice": "Quayside Surgery", "allergies_other": "Penicillin (rash)",
                     "medicines": "Cetirizine 10 mg most days in summer"},
            concerns=("atrophic_acne_scars", "raised_scars", "enlarged_pores"), areas=("cheeks", "forehead"),
            words="I would like the scars on my cheeks to be less noticeable before a family wedding in the spring."))
    # Hostile: the answer that asks for more (a date wherever one is asked), every text at its limit.
    overrides: dict[str, Any] = {}
    for question in questions.QUESTIONS:
        follow = question.follow_up
        code = follow.shown_for[0] if follow else next(c.code for c in question.choices if c.code not in ("no", "none", "never"))
        overrides[question.key] = (code, month) if follow else code
    text = f"{EVERY_SCRIPT} {BIDI_CONTROLS} {BIDI} {COMBINING} {MARKUP} {LONG_WORD} "
    fields = {field.key: field for topic in questions.TOPICS for field in topic.fields}
    details = {key: _fill(text if field.multiline else f"{BIDI_CONTROLS} {SAMPLES['Arabic']} {LONG_WORD}", field.max_length)
               for key, field in fields.items() if key != "words"}
    details["phone"] = _fill("+44 (0)117 496 0000 ext. ", fields["phone"].max_length)
    return make_intake(patient, author, submitted=True, answers=answer_set(
        details=details, concerns=questions.CONCERN_CODES, areas=questions.AREA_CODES, words=_fill(text, fields["words"].max_length),
        **overrides))


def _policy() -> Any:
    from practitioner.clinical.screening import Policy

    return Policy()


def source_of(story: Story, kind: DocumentKind) -> Any:
    """The public id of the story's record a kind is made from (None when the story has no such record)."""
    model = KINDS[kind].source
    for record in (story.patient, story.consultation, story.plan, story.consent, story.signed):
        if isinstance(record, model):
            return record.public_id
    return None


def photo_course(story: Story, author: User) -> list[Any]:
    """A second course for the story's patient, with clinical photographs at the consultation and two sessions.

    Its records (plan first) make the kinds that need photographs (the progress sheet), and the
    patient export then prints photographs too. Empty when the photo features are not there.
    """
    try:
        from tests.photos.factories import course_with_photos
    except ImportError:  # pragma: no cover - before the photos feature
        return []
    made = course_with_photos(story.patient, author, sessions=2, planned=4, views=("frontal", "oblique_left"))
    db.session.expire_all()
    return [made["plan"], made["consent"], made["consultation"], *made["sessions"]]


# The patient record export of a record in volumes (patient_export.volumes): the record-wide parts (volume 1 with the
# details), then each plan's volume.
VOLUMES = ("volume1", "volume2", "volume3", "volume4", "volume5")


def volume_specs(author: User) -> dict[tuple[str, str], DocumentSpec]:
    """{("patient-export", "volume<n>"): spec}: a patient (a Devanagari name with a reph) with two plans and 13 sessions.

    One plan holds a plan's most (12 sessions, each with a note in several scripts), the other one session. The
    record-wide part is cut at the smallest budget, so each of its records (the signed intake, then each plan's
    consultation with its consent) has a part of its own: volumes 1 to 3, then the plans' volumes 4 and 5.
    """
    from unittest import mock

    from practitioner.documents.kinds import patient_export
    from tests.factories import treatable_plan

    patient = make_patient(actor=author, given_name="प्रिया", family_name="शर्मा", preferred_name="Priya Sharma")
    plans = [treatable_plan(patient, author), treatable_plan(patient, author, modality="rf_microneedling")]
    for plan, count in zip(plans, (12, 1), strict=True):
        plan.sessions_planned = 12
        db.session.commit()
        for number in range(1, count + 1):
            signed_session(plan, author, sequence=number, clinical_note=f"Session {number}: {BIDI} {COMBINING}. Tolerated well.")
    signed_intake("realistic", patient, author)  # printed in volume 1 only
    db.session.commit()
    made = {}
    with mock.patch.object(patient_export, "VOLUME_BUDGET_MS", 1):
        for volume in patient_export.volumes(db.session, patient):
            spec = services.build(db.session, DocumentKind("patient-export"), volume.source_id or patient.public_id, date.today())
            db.session.commit()
            made[("patient-export", f"volume{volume.number}")] = dataclasses.replace(spec, logo_png=make_logo())
    assert len(made) == len(VOLUMES), "the volumes patient's export comes in five volumes"
    return made


def specs(author: User, data_sets: tuple[str, ...] = DATA_SETS) -> dict[tuple[str, str], DocumentSpec]:
    """{(kind code, data set): spec} for every kind and data set; the letterhead is the one the set was built with.

    A kind the story's own record cannot make (NotReady) is made from the photo course's record of
    its source type, in the photographed data sets; otherwise it is left out of that data set.
    """
    made: dict[tuple[str, str], DocumentSpec] = volume_specs(author) if "volumes" in data_sets else {}
    for name in sorted((n for n in data_sets if n != "volumes"), key=lambda name: name == "hostile"):  # hostile last: it rewrites the letterhead
        story = (rf_story(author, with_draft=False) if name == "realistic" else
                 sparse_story(author) if name == "sparse" else hostile_story(author))
        course = photo_course(story, author) if name in PHOTOGRAPHED else []
        course.append(signed_intake(name, story.patient, author))
        for kind in DocumentKind:
            sources = [source_of(story, kind), *(r.public_id for r in course if isinstance(r, KINDS[kind].source))]
            spec = None
            for source in (s for s in sources if s is not None):
                try:
                    spec = services.build(db.session, kind, source, date.today())
                    break
                except NotReady:
                    db.session.rollback()
            if spec is None:
                continue
            db.session.commit()
            made[(kind.value, name)] = dataclasses.replace(spec, logo_png=None if name == "sparse" else make_logo())
    return made


def renders(made: dict[tuple[str, str], DocumentSpec]) -> Iterator[tuple[str, bytes]]:
    """(file name, PDF) for every spec x paper x print: 'aftercare-realistic-a4-large.pdf'."""
    for (kind, name), spec in sorted(made.items()):
        for paper in PAPERS:
            for large in PRINTS:
                pdf = services.render(dataclasses.replace(spec, paper=paper), large_print=large)
                yield f"{kind}-{name}-{paper.lower()}-{'large' if large else 'normal'}.pdf", pdf
