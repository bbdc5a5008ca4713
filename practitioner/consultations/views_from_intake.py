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
from practitioner.errors import DomainError
from practitioner.extensions import db
from practitioner.intake.models import PatientIntake
from practitioner.unit_of_work import commit_request

SCREENING_SECTIONS = [(key, title, in_section(key)) for key, title in SECTIONS.items()]
EXTRA = ("csrf_token", "version")


def _values(form: FromIntakeForm) -> dict:
    return {name: field.data for name, field in form._fields.items()
            if name not in EXTRA and not name.startswith(("confirm_", "reason_"))}


def _render(form: FromIntakeForm, intake: PatientIntake, said: dict, status: int):
    confirmable = {key: [s.question.label for s in said.values() if s.question.section == key and s.is_no] for key in SECTIONS}
    details = intake.answers.get("details") or {}
    return render_template("consultations/form.html", form=form, patient=intake.patient, consultation=None, sections=SCREENING_SECTIONS,
                           record_hints=services.allergy_hints(intake.patient), scar_types=SCAR_TYPES, from_intake=intake,
                           said=said, confirmable=confirmable, intake_details=details), status


@bp.route("/intakes/<uuid:public_id>/consultation", methods=["GET", "POST"])
@require(Permission.EDIT_CLINICAL)
def from_intake_new(public_id: uuid.UUID):
    """Start a consultation from a submitted intake: every patient answer shown as theirs, confirmed or corrected here."""
    intake = db.one_or_404(PatientIntake.by_public_id(public_id))
    if intake.status != "submitted" or intake.reviewed_at is not None:
        flash("This intake is not waiting for review (it was reviewed already, or not submitted): start a new consultation instead.", "warning")
        return redirect(url_for("patients.detail", public_id=intake.patient.public_id), 303)
    said = from_intake.patient_said(intake)
    if request.method == "GET":
        form = FromIntakeForm(data=from_intake.prefill(intake, clinic_today()))
    else:
        form = FromIntakeForm(formdata=from_intake.confirmed_formdata(request.form, said))
    if form.validate_on_submit():
        values = _values(form)
        reasons = {q.name: form[f"reason_{q.name}"].data or "" for q in QUESTIONS}
        missing = from_intake.missing_reasons(values, said, reasons)
        for name, message in missing.items():
            form[f"reason_{name}"].errors = [message]
        if not missing:
            try:
                consultation = from_intake.record_from_intake(db.session, intake, values, reasons, actor=current_user,
                                                              policy=current_policy(db.session), ip_address=client_ip())
            except DomainError as exc:
                db.session.rollback()
                flash(str(exc), "error")
                return redirect(url_for("patients.detail", public_id=intake.patient.public_id), 303)
            commit_request()
            flash(f"Consultation saved from the patient's intake. Screening: {DECISION_LABELS[consultation.decision]}.", "success")
            return redirect(url_for("consultations.detail", public_id=consultation.public_id), 303)
    return _render(form, intake, said, 422 if form.is_submitted() else 200)
