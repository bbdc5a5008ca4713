"""The consultation form started from an intake carries a version, as every edit form does: the intake's review.

Two practitioners may open the same waiting intake's form. The first save reviews it; the second, opened
before, is refused with the conflict page (409): its answers kept in the form, the saved consultation
linked, nothing of it saved and nothing of the first overwritten. A post without a usable version is
refused the same way (tests/test_versioning.py); losing the review's claim to a save at the same moment
is the same conflict.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from practitioner.audit import AuditEvent
from practitioner.auth.models import Role
from practitioner.consultations.models import Consultation, ConsultationIntakeAnswer
from practitioner.errors import StaleRecord
from practitioner.extensions import db
from practitioner.intake.models import PatientIntake
from tests.conftest import make_patient, make_user, sign_in
from tests.consultations.test_from_intake import OWN
from tests.intake.factories import make_intake
from tests.security.test_hostile_input import browser_submission, parse, pick


@pytest.fixture
def waiting(reception):
    """A signed intake answered calmly throughout, waiting for review."""
    return make_intake(make_patient(fitzpatrick=3), reception, submitted=True)


def _url(intake) -> str:
    return f"/intakes/{intake.public_id}/consultation"


def _opened(client, intake, notes: str) -> dict[str, list[str]]:
    """What the browser will send from the form as it was opened now, every answer confirmed, with these notes."""
    form = pick(parse(client.get(_url(intake)).get_data(as_text=True)).forms, _url(intake), _url(intake))
    data = browser_submission(form)
    data.update({name: [value] for name, value in OWN.items()})
    data.update(modality=["microneedling"], treatment_areas=["cheeks"], confirm_all=["y"], notes=[notes])
    return data


def _consultations() -> list[Consultation]:
    db.session.expire_all()
    return list(db.session.scalars(select(Consultation)))


def test_the_form_carries_the_intakes_review_as_its_version(as_practitioner, waiting):
    page = as_practitioner.get(_url(waiting)).get_data(as_text=True)
    assert re.search(r'<input[^>]*name="version" type="hidden" value="1"', page)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    button = as_practitioner.post(f"{_url(waiting)}/all-no-answers-confirmed", data={"csrf_token": token})
    assert button.status_code == 200 and re.search(r'<input[^>]*name="version" type="hidden" value="1"', button.get_data(as_text=True))


def test_a_form_opened_before_another_practitioners_save_is_refused_and_overwrites_nothing(app, as_practitioner, practitioner, waiting):
    mine = _opened(as_practitioner, waiting, "Mine: opened first, saved second")
    colleague = make_user(Role.PRACTITIONER, email="colleague@clinic.example", name="Dr Colleague")
    theirs = app.test_client()
    assert sign_in(theirs, colleague.email).status_code == 303
    assert theirs.post(_url(waiting), data=_opened(theirs, waiting, "Theirs: saved first")).status_code == 303

    response = as_practitioner.post(_url(waiting), data=mine)
    html = response.get_data(as_text=True)
    assert response.status_code == 409, html[:600]
    assert "A consultation was already saved from this intake" in html and "Nothing was saved" in html
    assert "Dr Colleague saved it" in html and "Mine: opened first, saved second" in html  # the typed answers kept
    saved = _consultations()
    assert len(saved) == 1 and saved[0].notes == "Theirs: saved first" and saved[0].practitioner_id == colleague.id
    assert f'href="/consultations/{saved[0].public_id}"' in html
    intake = db.session.get(PatientIntake, waiting.id)
    assert intake.reviewed_by_id == colleague.id
    assert db.session.scalar(select(sa.func.count()).select_from(ConsultationIntakeAnswer).where(
        ConsultationIntakeAnswer.consultation_id != saved[0].id)) == 0
    assert [e.actor_id for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action == "intake_reviewed"))] == [colleague.id]


def test_a_version_the_intake_is_not_at_is_refused_then_saved_at_its_own(as_practitioner, waiting):
    data = {**_opened(as_practitioner, waiting, "Checked twice"), "version": ["2"]}
    response = as_practitioner.post(_url(waiting), data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and "Nothing was saved" in html and "Checked twice" in html
    assert "A consultation was already saved" not in html and _consultations() == []
    assert re.search(r'<input[^>]*name="version" type="hidden" value="1"', html)  # the form now carries the intake's own
    again = browser_submission(pick(parse(html).forms, _url(waiting), _url(waiting)))
    assert as_practitioner.post(_url(waiting), data=again).status_code == 303
    assert [c.notes for c in _consultations()] == ["Checked twice"]


def test_losing_the_reviews_claim_at_the_same_moment_is_the_same_conflict(practitioner, waiting):
    """The form's version was right when checked; another save claimed the review first (the conditional UPDATE)."""
    from sqlalchemy.orm.attributes import set_committed_value

    from practitioner.admin.services import current_policy
    from practitioner.consultations import from_intake

    db.session.execute(sa.update(PatientIntake).where(PatientIntake.id == waiting.id)
                       .values(reviewed_at=sa.func.now(), reviewed_by_id=practitioner.id))
    db.session.commit()
    intake = db.session.get(PatientIntake, waiting.id)
    set_committed_value(intake, "reviewed_at", None)  # as the request read it, before the other save committed
    with pytest.raises(StaleRecord, match="Another practitioner saved a consultation from this intake"):
        from_intake.record_from_intake(db.session, intake, {}, {}, actor=practitioner, policy=current_policy(db.session),
                                       expected_version=from_intake.WAITING)
    db.session.rollback()
    assert _consultations() == []
