"""The demo clinic that `make run` loads: only ever reached through the seed-demo command."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from practitioner.admin.services import get_settings
from practitioner.auth.models import Role
from practitioner.auth.services import create_user, find_user_by_email
from practitioner.database import utcnow
from practitioner.patients.models import Patient
from practitioner.patients.services import register_patient

DEMO_PASSWORD = "velvet harbour quartz meadow"

DEMO_USERS = (
    ("admin@demo.clinic", "Morgan Ellis", Role.ADMIN, None, None),
    ("practitioner@demo.clinic", "Dr Priya Raman", Role.PRACTITIONER, "GMC 7012345", Decimal("2.00")),
    ("nurse@demo.clinic", "Sam Okafor RN", Role.PRACTITIONER, "NMC 12A3456E", Decimal("1.50")),
    ("reception@demo.clinic", "Jo Whitfield", Role.RECEPTION, None, None),
)

# Realistic but invented people; phone numbers are from the UK's reserved drama ranges.
DEMO_PATIENTS = (
    dict(record_number="P000101", given_name="Amelia", family_name="Hart", date_of_birth=date(1988, 3, 14), sex="female",
         phone="07700 900101", email="amelia.hart@example.com", address="12 Quay Street\nBristol", postcode="BS1 4DJ",
         emergency_contact_name="Tom Hart", emergency_contact_relationship="Husband", emergency_contact_phone="07700 900102",
         gp_name="Dr Susan Clarke", gp_practice="Harbourside Surgery", gp_phone="0117 496 0101",
         fitzpatrick=2, no_known_allergies=True, allergies="", current_medicines="Combined oral contraceptive"),
    dict(record_number="P000102", given_name="Daniel", family_name="Okoro", date_of_birth=date(1994, 7, 2), sex="male",
         phone="07700 900103", email="d.okoro@example.com", address="4 Mill Lane\nBath", postcode="BA1 2QP",
         emergency_contact_name="Grace Okoro", emergency_contact_relationship="Sister", emergency_contact_phone="07700 900104",
         gp_name="Dr Ian Patel", gp_practice="Walcot Medical Centre", gp_phone="01225 496 010",
         fitzpatrick=5, no_known_allergies=False, allergies="Lidocaine (hives)", current_medicines="None"),
    dict(record_number="P000103", given_name="Zoë", family_name="Lambert", date_of_birth=date(1979, 11, 23), sex="female",
         phone="07700 900105", email="zoe.lambert@example.com", address="Flat 3, 88 Gloucester Road\nBristol", postcode="BS7 8BN",
         emergency_contact_name="Chris Lambert", emergency_contact_relationship="Partner", emergency_contact_phone="07700 900106",
         gp_name="Dr Helen Moss", gp_practice="Bishopston Practice", gp_phone="0117 496 0202",
         fitzpatrick=3, no_known_allergies=True, allergies="", current_medicines="Levothyroxine 75 micrograms daily"),
    dict(record_number="P000104", given_name="Priya", family_name="Shah", date_of_birth=date(1991, 5, 9), sex="female",
         phone="07700 900107", email="priya.shah@example.com", address="27 Cotham Hill\nBristol", postcode="BS6 6LA",
         emergency_contact_name="Ravi Shah", emergency_contact_relationship="Father", emergency_contact_phone="07700 900108",
         gp_name="Dr Owen Price", gp_practice="Cotham Surgery", gp_phone="0117 496 0303",
         fitzpatrick=4, no_known_allergies=True, allergies="", current_medicines="Stopped isotretinoin in August"),
    dict(record_number="P000105", given_name="Margaret", family_name="O'Brien", date_of_birth=date(1961, 1, 30), sex="female",
         phone="07700 900109", email="", address="2 Church Row\nClifton, Bristol", postcode="BS8 3PZ",
         emergency_contact_name="Siobhan O'Brien", emergency_contact_relationship="Daughter", emergency_contact_phone="07700 900110",
         gp_name="Dr Susan Clarke", gp_practice="Harbourside Surgery", gp_phone="0117 496 0101",
         fitzpatrick=1, no_known_allergies=False, allergies="Nickel (contact dermatitis from jewellery)",
         current_medicines="Apixaban 5 mg twice daily; amlodipine 5 mg"),
    dict(record_number="P000106", given_name="Kwame", family_name="Mensah", date_of_birth=date(1985, 9, 17), sex="male",
         phone="07700 900111", email="kwame.m@example.com", address="61 Stokes Croft\nBristol", postcode="BS1 3QY",
         emergency_contact_name="Ama Mensah", emergency_contact_relationship="Wife", emergency_contact_phone="07700 900112",
         gp_name="Dr Ian Patel", gp_practice="Walcot Medical Centre", gp_phone="01225 496 010",
         fitzpatrick=6, no_known_allergies=True, allergies="", current_medicines=""),
    dict(record_number="P000107", given_name="Sophie", family_name="Turner", date_of_birth=date(1999, 12, 5), sex="female",
         phone="07700 900113", email="sophie.t@example.com", address="9 Redland Grove\nBristol", postcode="BS6 6PR",
         emergency_contact_name="Liz Turner", emergency_contact_relationship="Mother", emergency_contact_phone="07700 900114",
         gp_name="Dr Helen Moss", gp_practice="Bishopston Practice", gp_phone="0117 496 0202",
         fitzpatrick=2, no_known_allergies=True, allergies="", current_medicines="Adapalene gel at night"),
    dict(record_number="P000108", given_name="Hannah", family_name="Kowalski", date_of_birth=date(1983, 4, 21), sex="female",
         phone="07700 900115", email="hannah.k@example.com", address="14 Whiteladies Road\nBristol", postcode="BS8 2LG",
         emergency_contact_name="Piotr Kowalski", emergency_contact_relationship="Husband", emergency_contact_phone="07700 900116",
         gp_name="Dr Owen Price", gp_practice="Cotham Surgery", gp_phone="0117 496 0303",
         fitzpatrick=2, no_known_allergies=True, allergies="", current_medicines="Valaciclovir when needed (cold sores)"),
    dict(record_number="P000109", given_name="Luis", family_name="Fernández", date_of_birth=date(1976, 8, 11), sex="male",
         phone="07700 900117", email="luis.fernandez@example.com", address="33 North Street\nBedminster, Bristol", postcode="BS3 1EN",
         emergency_contact_name="Marta Fernández", emergency_contact_relationship="Wife", emergency_contact_phone="07700 900118",
         gp_name="Dr Susan Clarke", gp_practice="Harbourside Surgery", gp_phone="0117 496 0101",
         fitzpatrick=3, no_known_allergies=True, allergies="", current_medicines="Metformin 500 mg twice daily"),
    dict(record_number="P000110", given_name="Aisha", family_name="Rahman", date_of_birth=date(1996, 2, 27), sex="female",
         phone="07700 900119", email="aisha.rahman@example.com", address="5 St Marks Road\nEaston, Bristol", postcode="BS5 6JH",
         emergency_contact_name="Farah Rahman", emergency_contact_relationship="Sister", emergency_contact_phone="07700 900120",
         gp_name="Dr Ian Patel", gp_practice="Walcot Medical Centre", gp_phone="01225 496 010",
         fitzpatrick=5, no_known_allergies=False, allergies="Fragrance mix (rash)", current_medicines=""),
    dict(record_number="P000111", given_name="Oliver", family_name="Bennett", date_of_birth=date(1969, 6, 3), sex="male",
         phone="07700 900121", email="o.bennett@example.com", address="The Old Forge\nLong Ashton", postcode="BS41 9AA",
         emergency_contact_name="Clare Bennett", emergency_contact_relationship="Wife", emergency_contact_phone="07700 900122",
         gp_name="Dr Helen Moss", gp_practice="Bishopston Practice", gp_phone="0117 496 0202",
         fitzpatrick=2, no_known_allergies=True, allergies="", current_medicines="Atorvastatin 20 mg"),
    dict(record_number="P000112", given_name="Mei", family_name="Chen", date_of_birth=date(1990, 10, 19), sex="female",
         phone="07700 900123", email="mei.chen@example.com", address="71 Park Street\nBristol", postcode="BS1 5PB",
         emergency_contact_name="Wei Chen", emergency_contact_relationship="Brother", emergency_contact_phone="07700 900124",
         gp_name="Dr Owen Price", gp_practice="Cotham Surgery", gp_phone="0117 496 0303",
         fitzpatrick=3, no_known_allergies=True, allergies="", current_medicines="Fish oil and vitamin E supplements"),
)


def seed_demo(session: Session) -> dict[str, int]:
    """Add the demo clinic's settings, users and patients that are not there yet."""
    settings = get_settings(session)
    if settings.name == "My clinic":
        settings.name = "Harbour Skin Clinic"
        settings.address = "3 Narrow Quay\nBristol BS1 4QA"
        settings.phone = "0117 496 0000"
        settings.email = "hello@harbourskin.example"
        settings.out_of_hours = "NHS 111, or Dr Priya Raman on 07700 900999"
    created = {"users": 0, "patients": 0}
    for email, name, role, registration, depth in DEMO_USERS:
        if find_user_by_email(session, email) is None:
            create_user(session, email=email, name=name, role=role, password=DEMO_PASSWORD, actor=None,
                        registration=registration, max_depth_mm=depth)
            created["users"] += 1
    author = find_user_by_email(session, "practitioner@demo.clinic")
    assert author is not None
    for index, values in enumerate(DEMO_PATIENTS):
        exists = session.scalar(select(Patient.id).where(Patient.record_number == values["record_number"]))
        if exists is None:
            patient = register_patient(session, dict(values), actor=author, clinical=True)
            # Registered a fortnight apart over the months before the story's consultations (two weeks ago),
            # so every record reads in order: registered, consulted, consented, treated.
            patient.created_at = utcnow() - timedelta(days=30 + 14 * (len(DEMO_PATIENTS) - index))
            created["patients"] += 1
    return created


def _signature_data_url(name: str) -> str:
    """A drawn-looking demo signature as a PNG data URL."""
    import base64
    import io
    import math

    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (600, 200), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    points = [(40 + x * 5, 110 + 35 * math.sin(x / 5 + len(name)) * math.cos(x / 17)) for x in range(100)]
    draw.line(points, fill=(20, 30, 60, 255), width=4, joint="curve")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def seed_clinical_story(session: Session, issue_documents: bool = True) -> int:
    """Consultations, a plan, a signed consent and a signed session with its aftercare, for three demo patients.

    Idempotent: a patient who already has a consultation is left alone. Returns how many stories were added.
    """
    from practitioner.admin.services import current_policy
    from practitioner.dates import clinic_today
    from practitioner.clinical.questions import QUESTIONS
    from practitioner.consents.content import load_consent_content
    from practitioner.consents.services import sign_consent
    from practitioner.consultations.models import Consultation
    from practitioner.plans.services import create_plan
    from practitioner.consultations.services import record_consultation
    from practitioner.treatments import services as sessions
    from practitioner.treatments.models import SessionProduct, SessionZone

    author = find_user_by_email(session, "practitioner@demo.clinic")
    assert author is not None
    policy = current_policy(session)
    today = clinic_today()  # the day the session's date checks use
    base = {"consultation_date": today - timedelta(days=14), "glogau": 2, "goodman_baron_grade": None, "skin_notes": "",
            "device_name": "SkinPen Precision", "needle_material": "stainless_steel", "device_max_depth_mm": Decimal("1.5"),
            "notes": "",
            # Each demo patient was asked every screening question; their answers are explicit (none is a default).
            **{question.name: question.no_answer for question in QUESTIONS}}
    added = 0

    def patient(number: str) -> Patient | None:
        found = session.scalars(select(Patient).where(Patient.record_number == number)).first()
        if found is None or session.scalar(select(Consultation.id).where(Consultation.patient_id == found.id)) is not None:
            return None
        return found

    amelia = patient("P000101")
    if amelia is not None:
        consultation = record_consultation(session, amelia, {
            **base, "modality": "microneedling", "concerns": ["atrophic_acne_scars", "texture_dullness"], "treatment_areas": ["cheeks"],
            "fitzpatrick": 2, "goodman_baron_grade": 3, "scars_rolling": 12, "scars_boxcar": 6, "requested_depth_mm": Decimal("1.5"),
            "notes": "Rolling and boxcar scars on both cheeks since her twenties. Realistic expectations discussed."}, actor=author, policy=policy)
        plan = create_plan(session, consultation, {
            "modality": "microneedling", "sessions_planned": 4, "interval_weeks": 4, "first_session_on": today,
            "zones": [{"zone": "cheeks", "depth_min_mm": "1.0", "depth_max_mm": "1.5", "note": ""}]}, actor=author)
        consent = sign_consent(session, consultation, load_consent_content("microneedling"), typed_name=amelia.full_name,
                               signature_data_url=_signature_data_url(amelia.full_name), photo_clinical=True, photo_marketing=False,
                               actor=author)
        session.flush()
        _demo_photos(session, amelia, consultation, "baseline", consent, author)
        # Today: a session cannot be dated before the consent that covers it, and the demo consent is signed now.
        record = sessions.start_session(session, plan, actor=author, on=today)
        # Today's re-screen asked and answered No to each question (nothing is answered by default).
        for name, value in dict(history_reviewed=True, pregnant_now=False, breastfeeding_now=False, cold_sore_now=False,
                                anticoagulant_now=False, isotretinoin_now=False, had_sunburn=False, had_neurotoxin=False,
                                had_filler=False, had_resurfacing=False, photo_consent=True, device_make="Crown Aesthetics", device_model="SkinPen Precision",
                                device_serial="SP-2291-0457", cartridge_product="SkinPen 14-pin cartridge", needle_count=14,
                                cartridge_lot="SPC-24-1187", cartridge_expiry=today + timedelta(days=300), sterile_pack_intact=True,
                                cleanser="Gentle foaming cleanser", antiseptic="Chlorhexidine 0.05%", anaesthetic_used=True,
                                anaesthetic_product="LMX4", anaesthetic_concentration="4% lidocaine", endpoint="erythema_uniform",
                                pain_score=3, no_adverse_events=True, post_care_products="Hyaluronic acid serum, mineral SPF 30",
                                next_appointment_on=today + timedelta(weeks=4),  # the plan's interval
                                clinical_note="Cross-hatched both cheeks at 1.5 mm over the scars. Even erythema, tolerated well.").items():
            setattr(record, name, value)
        record.zones = [SessionZone(position=0, zone="cheeks", depth_mm=Decimal("1.5"), passes=3, technique="cross_hatch")]
        record.products = [SessionProduct(position=0, name="SkinPen SkinFuse Lift HA (glide)", lot="SF-7731", labelled_for_needled_skin=True)]
        sessions.rescreen(record, policy)
        session.flush()
        for moment in ("before", "immediately_after"):  # taken before signing: a signed session's photo set is closed
            _demo_photos(session, amelia, record, moment, consent, author)
        sessions.sign_session(session, record, actor=author, expected_version=None)
        added += 1

    priya = patient("P000104")
    if priya is not None:
        record_consultation(session, priya, {
            **base, "modality": "microneedling", "concerns": ["atrophic_acne_scars"], "treatment_areas": ["cheeks", "chin_jaw"],
            "fitzpatrick": 4, "goodman_baron_grade": 2, "isotretinoin": "stopped", "isotretinoin_stopped_on": today - timedelta(days=75),
            "requested_depth_mm": Decimal("1.0"), "notes": "Finished isotretinoin this summer; keen to start."}, actor=author, policy=policy)
        added += 1

    margaret = patient("P000105")
    if margaret is not None:
        record_consultation(session, margaret, {
            **base, "modality": "prp_microneedling", "concerns": ["fine_lines_wrinkles", "texture_dullness"], "treatment_areas": ["cheeks", "perioral"],
            "fitzpatrick": 1, "glogau": 3, "anticoagulant_prescribed": True, "allergy_nickel": True, "requested_depth_mm": Decimal("0.75"),
            "notes": "On apixaban for atrial fibrillation: GP letter requested before any PRP."}, actor=author, policy=policy)
        added += 1
    added += _demo_intake(session, today)
    if added:
        session.flush()
        if issue_documents and amelia is not None:
            _issue_demo_aftercare(session, author)
    return added


def _demo_intake(session: Session, today: date) -> int:
    """Hannah answered the health questions on the clinic's tablet and signed: an intake waiting for review.

    Every question answered by her (none by default): No to each, except a Not sure and a Yes with a month
    estimate, so the review shows both kinds first. Added once: a patient with an intake is left alone.
    """
    import json

    from practitioner.intake import questions, services as intake_services
    from practitioner.intake.models import PatientIntake

    hannah = session.scalars(select(Patient).where(Patient.record_number == "P000108")).first()
    reception = find_user_by_email(session, "reception@demo.clinic")
    if hannah is None or reception is None or session.scalar(
            select(PatientIntake.id).where(PatientIntake.patient_id == hannah.id)) is not None:
        return 0
    calm = {"diabetes": "none", "isotretinoin": "never"}
    answers = {q.key: {"answer": calm.get(q.key, questions.NO), "when": None, "estimate": False} for q in questions.QUESTIONS}
    last_month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    answers["took_nsaid_or_supplement"] = {"answer": questions.YES, "when": last_month, "estimate": True}
    answers["cold_sore_history"] = {"answer": questions.NOT_SURE, "when": None, "estimate": False}
    intake = intake_services.start_tablet(hannah, reception)
    intake.draft = json.dumps({"questions": answers,
                               "details": {"phone": "07700 900418", "gp_name": "Dr Ellis", "gp_practice": "Riverside Surgery",
                                           "medicines": "Fish oil capsules most days"},
                               "hopes": {"concerns": ["fine_lines_wrinkles", "texture_dullness"], "areas": ["forehead", "cheeks"],
                                         "words": "Smoother skin on my forehead before my sister's wedding."}},
                              sort_keys=True, ensure_ascii=False)
    session.flush()
    intake_services.submit(intake, _signature_data_url(hannah.full_name))
    return 1


def _demo_photos(session: Session, patient: Patient, visit, moment: str, consent, author) -> None:
    """The protocol's face views of a demo visit: drawn stand-ins made with Pillow now (no photo is kept in the repository)."""
    import io

    from PIL import Image, ImageDraw

    from practitioner.photos.models import VIEW_LABELS
    from practitioner.photos.services import store_photo

    # Where the face sits in the frame for each view (front centred, obliques turned), and a redder skin just after treatment.
    shift = {"frontal": 0, "oblique_left": -90, "oblique_right": 90}
    skin = (222, 170, 150) if moment == "immediately_after" else (214, 176, 156)
    for view, dx in shift.items():
        image = Image.new("RGB", (960, 1200), (222, 222, 218))
        draw = ImageDraw.Draw(image)
        draw.ellipse((300 + dx, 220, 660 + dx, 760), fill=skin)
        draw.rectangle((400 + dx, 740, 560 + dx, 1000), fill=skin)
        draw.text((24, 24), f"Demo stand-in: {VIEW_LABELS[view]}, {moment.replace('_', ' ')}", fill=(60, 60, 60))
        data = io.BytesIO()
        image.save(data, "JPEG", quality=85)
        store_photo(session, patient=patient, visit=visit, view=view, zone=None, moment=moment, consent=consent,
                    checks={"makeup_removed": True, "jewellery_off": True, "hair_back": True, "same_background": True,
                            "same_lighting": True}, data=data.getvalue(), actor=author)


def _issue_demo_aftercare(session: Session, author) -> None:
    """Issue the aftercare of the demo's signed session, as signing it in the app would."""
    from practitioner.documents import services as documents
    from practitioner.documents.models import DocumentKind
    from practitioner.treatments.models import TreatmentSession

    record = session.scalars(select(TreatmentSession).where(TreatmentSession.signed_at.is_not(None))).first()
    if record is not None:
        documents.issue_now(session, DocumentKind.AFTERCARE, record.public_id, actor=author, issued_on=record.session_date)
