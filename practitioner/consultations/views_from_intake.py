"""The consultation started from a patient's intake: the patient's answers beside the questions, confirmed or corrected."""

from __future__ import annotations

import uuid

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from practitioner.admin.services import current_policy
from practitioner.auth.access import client_ip, require
from practitioner.auth.models import Permission
from practitioner.clinical.questions import QUESTIONS, SECTIONS, in_section
from practitioner.clinical.screening import DECISION_LABELS
from practitioner.consultations import bp, from_intake, services
from practitioner.consultations.forms import FromIntakeForm
from practitioner.consultations.models import SCAR_TYPES
from practitioner.dates import clinic_today
from practitioner.errors import DomainError, StaleRecord
from practitioner.extensions import db
from practitioner.intake.models import PatientIntake
from practitioner.intake.questions import PRACTITIONER_ONLY
from practitioner.unit_of_work import commit_request
from practitioner.versioning import expected_version

# The patient's questions by section; the ones not asked of the patient in a group of their own, with its own
# explicit "No to the rest" button (it can never answer one of the patient's questions).
OWN_GROUP = "practitioner_only"
SCREENING_SECTIONS = [*((key, title, tuple(q for q in in_section(key) if q.name not in PRACTITIONER_ONLY)) for key, title in SECTIONS.items()),
                      (OWN_GROUP, "Your questions (not asked of the patient)", tuple(q for q in QUESTIONS if q.name in PRACTITIONER_ONLY))]
EXTRA = ("csrf_token", "version")


def _values(form: FromIntakeForm) -> dict:
    return {name: field.data for name, field in form._fields.items()
            if name not in EXTRA and name != "confirm_all" and not name.startswith("reason_")}


def _conflict(form: FromIntakeForm, intake: PatientIntake, said: dict, exc: StaleRecord):
    """The form again (409) with what was typed, when the post could not be checked against the intake's review, or lost it."""
    taken = intake.reviewed_at is not None
    flash(f"{exc} Your answers are still in the form" + ("; the consultation already saved is linked below, to compare."
                                                          if taken else ": check them and save again."), "error")
    form.version.data = str(from_intake.review_version(intake))
    return _render(form, intake, said, 409, conflict=True, review_taken=taken,
                   saved_from_intake=from_intake.saved_from(db.session, intake) if taken else None)


def _render(form: FromIntakeForm, intake: PatientIntake, said: dict, status: int, **extra):
    details = intake.answers.get("details") or {}
    # "Patient answered No; confirmed by you": a No the one box confirms and the form still holds unchanged.
    confirmed = {name for name, s in said.items() if form.confirm_all.data and s.is_no and form[name].data in (s.value, s.form_value)}
    return render_template("consultations/form.html", form=form, patient=intake.patient, consultation=None, sections=SCREENING_SECTIONS,
                           record_hints=services.allergy_hints(intake.patient), scar_types=SCAR_TYPES, from_intake=intake,
                           said=said, any_no=any(s.is_no for s in said.values()), confirmed_nos=confirmed, own_group=OWN_GROUP,
                           wishes=from_intake.patient_wishes(intake),
                           intake_details=details, **extra), status


def _waiting(intake: PatientIntake):
    """None when the intake is waiting for review; otherwise the redirect to the patient page, with the reason flashed."""
    if intake.status != "submitted" or intake.reviewed_at is not None:
        flash("This intake is not waiting for review (it was reviewed already, or not submitted): start a new consultation instead.", "warning")
        return redirect(url_for("patients.detail", public_id=intake.patient.public_id), 303)
    return None


@bp.route("/intakes/<uuid:public_id>/consultation/all-no-answers-confirmed", methods=["POST"])
@require(Permission.EDIT_CLINICAL)
def from_intake_all_nos(public_id: uuid.UUID):
    """The patient page's "Confirm the patient's No answers and start the consultation": the form, each No confirmed.

    The click (a POST, CSRF-checked) is the practitioner's confirmation; it is recorded with who and when
    in the answers' rows when the consultation is saved. Each No stays changeable; Yes, Not sure and the
    questions not asked of the patient stay empty.
    """
    intake = db.one_or_404(PatientIntake.by_public_id(public_id))
    if (away := _waiting(intake)) is not None:
        return away
    form = FromIntakeForm(formdata=None, data={**from_intake.all_nos_confirmed(intake, clinic_today()),
                                               "version": str(from_intake.review_version(intake))})
    return _render(form, intake, from_intake.patient_said(intake), 200)


@bp.route("/intakes/<uuid:public_id>/consultation", methods=["GET", "POST"])
@require(Permission.EDIT_CLINICAL)
def from_intake_new(public_id: uuid.UUID):
    """Start a consultation from a submitted intake: every patient answer shown as theirs, confirmed or corrected here."""
    intake = db.one_or_404(PatientIntake.by_public_id(public_id))
    # A post to an intake reviewed since its form was opened gets the conflict page below, its answers kept.
    if (request.method == "GET" or not intake.is_submitted) and (away := _waiting(intake)) is not None:
        return away
    said = from_intake.patient_said(intake)
    if request.method == "GET":
        form = FromIntakeForm(data={**from_intake.prefill(intake, clinic_today()), "version": str(from_intake.review_version(intake))})
    else:
        form = FromIntakeForm(formdata=from_intake.confirmed_formdata(request.form, said))
    if request.method == "POST" and intake.reviewed_at is not None:  # reviewed since this form was opened
        return _conflict(form, intake, said, from_intake.ReviewTaken(from_intake.REVIEW_TAKEN))
    if form.validate_on_submit():
        values = _values(form)
        reasons = {q.name: form[f"reason_{q.name}"].data or "" for q in QUESTIONS}
        missing = from_intake.missing_reasons(values, said, reasons)
        for name, message in missing.items():
            form[f"reason_{name}"].errors = [message]
        if not missing:
            try:
                consultation = from_intake.record_from_intake(db.session, intake, values, reasons, actor=current_user,
                                                              policy=current_policy(db.session), ip_address=client_ip(),
                                                              all_nos=bool(form.confirm_all.data), expected_version=expected_version(form))
            except StaleRecord as exc:  # no usable version, or another practitioner's review first: nothing saved
                db.session.rollback()
                return _conflict(form, db.one_or_404(PatientIntake.by_public_id(public_id)), said, exc)
            except DomainError as exc:
                db.session.rollback()
                flash(str(exc), "error")
                return redirect(url_for("patients.detail", public_id=intake.patient.public_id), 303)
            commit_request()
            flash(f"Consultation saved from the patient's intake. Screening: {DECISION_LABELS[consultation.decision]}.", "success")
            return redirect(url_for("consultations.detail", public_id=consultation.public_id), 303)
    return _render(form, intake, said, 422 if form.is_submitted() else 200)
