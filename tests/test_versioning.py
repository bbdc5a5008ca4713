"""Every versioned edit form refuses a post without a usable version with its conflict page (409, the typed values
kept), and saves nothing."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

import pytest
from sqlalchemy import select
from practitioner.consultations.models import Consultation
from practitioner.extensions import db
from practitioner.patients.models import Patient
from practitioner.treatments.models import TreatmentSession
from tests.conftest import make_patient, post_form
from tests.factories import complete_session_form, treatable_plan
from tests.security.test_hostile_input import browser_submission, parse, pick


@dataclass
class VersionedForm:
    """A page with a versioned form, what to change on it, and how to read the record back."""

    page: str
    action: str
    changes: dict[str, str]
    read: Callable[[], Any]
    saved: Callable[[Any], bool]


def _fresh(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def _patient_edit(practitioner, client) -> VersionedForm:
    patient = make_patient(actor=practitioner)
    url = f"/patients/{patient.public_id}/edit"
    return VersionedForm(url, url, {"phone": "07700 900555"}, lambda: _fresh(Patient, patient.id), lambda p: p.phone == "07700 900555")


def _consultation_edit(practitioner, client) -> VersionedForm:
    from tests.consultations.test_consultations import HEALTHY

    patient = make_patient(actor=practitioner)
    assert post_form(client, f"/patients/{patient.public_id}/consultations/new", HEALTHY).status_code == 303
    consultation = db.session.scalars(select(Consultation).where(Consultation.patient_id == patient.id)).one()
    url = f"/consultations/{consultation.public_id}/edit"
    return VersionedForm(url, url, {"notes": "Tampered note"}, lambda: _fresh(Consultation, consultation.id),
                         lambda c: c.notes == "Tampered note")


def _start(practitioner) -> TreatmentSession:
    from practitioner.treatments.services import start_session

    plan = treatable_plan(make_patient(actor=practitioner), practitioner)
    record = start_session(db.session, plan, actor=practitioner, on=plan.first_session_on)
    db.session.commit()
    return record


def _session_edit(practitioner, client) -> VersionedForm:
    record = _start(practitioner)
    url = f"/sessions/{record.public_id}/edit"
    return VersionedForm(url, url, complete_session_form(clinical_note="Tampered note"), lambda: _fresh(TreatmentSession, record.id),
                         lambda r: r.clinical_note == "Tampered note")


def _session_sign(practitioner, client) -> VersionedForm:
    from practitioner.admin.services import current_policy
    from practitioner.treatments.services import save_draft
    record = _start(practitioner)
    rescreen = {name: False for name in ("pregnant_now", "breastfeeding_now", "cold_sore_now", "anticoagulant_now", "isotretinoin_now",
                                         "had_sunburn", "had_neurotoxin", "had_filler", "had_resurfacing")}
    values = {**rescreen, "session_date": record.session_date, "history_reviewed": True, "photo_consent": False, "device_make": "Crown",
              "device_model": "SkinPen", "cartridge_lot": "L1", "cartridge_expiry": record.session_date.replace(year=record.session_date.year + 1),
              "sterile_pack_intact": True, "anaesthetic_used": False, "no_products_applied": True, "endpoint": "erythema_uniform",
              "pain_score": 2, "no_adverse_events": True,
              "zones": [{"zone": "cheeks", "depth_mm": Decimal("1.0"), "passes": 2, "technique": "glide"}]}
    save_draft(db.session, record, values, expected_version=None, actor=practitioner, policy=current_policy(db.session), acknowledged=False)
    db.session.commit()
    page = f"/sessions/{record.public_id}"
    return VersionedForm(page, page + "/sign", {}, lambda: _fresh(TreatmentSession, record.id), lambda r: r.is_signed)


def _from_intake(practitioner, client) -> VersionedForm:
    """A consultation started from a signed intake: its version is the intake's review (consultations/from_intake.py)."""
    from types import SimpleNamespace

    from practitioner.auth.models import Role
    from practitioner.consultations import from_intake
    from practitioner.intake.models import PatientIntake
    from tests.conftest import make_user
    from tests.consultations.test_from_intake import OWN
    from tests.intake.factories import make_intake

    intake = make_intake(make_patient(actor=practitioner, fitzpatrick=3), make_user(Role.RECEPTION), submitted=True)
    url = f"/intakes/{intake.public_id}/consultation"

    def read():
        fresh = _fresh(PatientIntake, intake.id)
        return SimpleNamespace(version=from_intake.review_version(fresh), consultation=from_intake.saved_from(db.session, fresh))

    changes = {"modality": "microneedling", "treatment_areas": "cheeks", "confirm_all": "y", **OWN, "notes": "Tampered note"}
    return VersionedForm(url, url, changes, read, lambda r: r.consultation is not None and r.consultation.notes == "Tampered note")


VERSIONED_FORMS = {"patients.edit": _patient_edit, "consultations.edit": _consultation_edit,
                   "treatments.edit": _session_edit, "treatments.sign": _session_sign, "consultations.from_intake_new": _from_intake}


def _submission(client, case: VersionedForm) -> dict[str, list[str]]:
    form = pick(parse(client.get(case.page).get_data(as_text=True)).forms, case.action, case.page)
    data = browser_submission(form)
    data.update({name: [value] for name, value in case.changes.items()})
    return data


@pytest.mark.parametrize("version", [None, "", "abc", "1.0", "-1", "²", "1; DROP TABLE patients"])
@pytest.mark.parametrize("endpoint", sorted(VERSIONED_FORMS))
def test_a_post_without_a_usable_version_is_refused_and_saves_nothing(as_practitioner, practitioner, endpoint, version):
    case = VERSIONED_FORMS[endpoint](practitioner, as_practitioner)
    before = case.read().version
    data = _submission(as_practitioner, case)
    assert "version" in data, "the page carries the version it was opened at"
    if version is None:
        del data["version"]
    else:
        data["version"] = [version]
    response = as_practitioner.post(case.action, data=data)
    assert response.status_code == 409, response.get_data(as_text=True)[:400]
    html = response.get_data(as_text=True)
    assert "did not say which version of the record it was opened at" in html and "Nothing was saved" in html
    for value in case.changes.values():  # what the person typed is still in the form
        assert str(value) in html
    record = case.read()
    assert not case.saved(record) and record.version == before


@pytest.mark.parametrize("endpoint", sorted(VERSIONED_FORMS))
def test_the_same_post_with_its_version_is_saved(as_practitioner, practitioner, endpoint):
    """The control for the test above: only the version makes the difference."""
    case = VERSIONED_FORMS[endpoint](practitioner, as_practitioner)
    response = as_practitioner.post(case.action, data=_submission(as_practitioner, case))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    assert case.saved(case.read())


KNOWN_VERSIONED = {"practitioner.patients.forms.PatientDemographicsForm", "practitioner.patients.forms.PatientForm",
                   "practitioner.consultations.forms.ConsultationForm", "practitioner.treatments.forms.SessionForm",
                   "practitioner.treatments.forms.SignForm", "practitioner.consultations.forms.FromIntakeForm"}


def test_every_form_with_a_version_field_is_covered_here(app):
    """A new versioned form must join the tests above (and its view must read the version with expected_version)."""
    import importlib
    import pkgutil

    import practitioner
    from practitioner.forms import Form

    versioned = set()
    for info in pkgutil.walk_packages(practitioner.__path__, "practitioner."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Form) and hasattr(value, "version"):
                versioned.add(f"{value.__module__}.{value.__qualname__}")
    assert versioned and versioned <= KNOWN_VERSIONED, versioned - KNOWN_VERSIONED
