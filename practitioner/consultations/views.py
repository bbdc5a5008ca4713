"""Consultation pages: record one for a patient, see the screening result, edit, override."""

from __future__ import annotations

import uuid

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from practitioner.admin.services import current_policy
from practitioner.auth.access import client_ip, require
from practitioner.auth.models import Permission
from practitioner.clinical.screening import DECISION_LABELS, FLAG_TITLES, POLICY_LABELS
from practitioner.consultations import bp, from_intake, services
from practitioner.clinical.questions import SECTIONS, in_section
from practitioner.consultations.forms import ConsultationForm, OverrideForm
from practitioner.consultations.models import SCAR_TYPES, Consultation
from practitioner.errors import DomainError, StaleRecord
from practitioner.extensions import db
from practitioner.patients.models import Patient
from practitioner.dates import clinic_today
from practitioner.versioning import expected_version
from practitioner.unit_of_work import commit_request

SCREENING_SECTIONS = [(key, title, in_section(key)) for key, title in SECTIONS.items()]


def _values(form: ConsultationForm) -> dict:
    return {name: field.data for name, field in form._fields.items() if name not in ("csrf_token", "version")}


def _render_form(form: ConsultationForm, patient, consultation=None, status: int = 200, **extra):
    return render_template("consultations/form.html", form=form, patient=patient, consultation=consultation,
                           sections=SCREENING_SECTIONS, record_hints=services.allergy_hints(patient), scar_types=SCAR_TYPES,
                           **extra), status


def _detail_page(consultation: Consultation, override_form: OverrideForm | None = None) -> str:
    return render_template("consultations/detail.html", consultation=consultation, patient=consultation.patient,
                           override_form=override_form or OverrideForm(), decision_labels=DECISION_LABELS, flag_titles=FLAG_TITLES,
                           policy_labels=POLICY_LABELS, answer_changes=services.answer_changes(db.session, consultation),
                           rescreens=services.rescreens_of(db.session, consultation), answers=services.answer_summary(consultation),
                           intake_answers=from_intake.intake_answers(db.session, consultation),
                           **services.related_records(db.session, consultation))


def _locked(consultation: Consultation):
    flash(services.LOCKED_MESSAGE, "error")
    return redirect(url_for("consultations.detail", public_id=consultation.public_id), 303)


@bp.route("/patients/<uuid:public_id>/consultations/new", methods=["GET", "POST"])
@require(Permission.EDIT_CLINICAL)
def new(public_id: uuid.UUID):
    """Record a consultation: assessment and screening, with answers the record already gives filled in."""
    patient = db.one_or_404(Patient.by_public_id(public_id))
    if request.method == "GET":
        form = ConsultationForm(data=services.prefill_from_patient(patient, clinic_today()))
    else:
        form = ConsultationForm()
    if form.validate_on_submit():
        consultation = services.record_consultation(db.session, patient, _values(form), actor=current_user,
                                                    policy=current_policy(db.session), ip_address=client_ip())
        commit_request()
        flash(f"Consultation saved. Screening: {DECISION_LABELS[consultation.decision]}.", "success")
        return redirect(url_for("consultations.detail", public_id=consultation.public_id), 303)
    return _render_form(form, patient, status=422 if form.is_submitted() else 200)


@bp.get("/consultations/<uuid:public_id>")
@require(Permission.VIEW_CLINICAL)
def detail(public_id: uuid.UUID):
    """The consultation with its screening result, override, plans and consents."""
    consultation = db.one_or_404(Consultation.by_public_id(public_id))
    services.record_view(db.session, consultation, actor=current_user, ip_address=client_ip())
    return _detail_page(consultation)


@bp.route("/consultations/<uuid:public_id>/edit", methods=["GET", "POST"])
@require(Permission.EDIT_CLINICAL)
def edit(public_id: uuid.UUID):
    """Change the answers; the screening is re-computed, never edited by hand. Refused once locked."""
    consultation = db.one_or_404(Consultation.by_public_id(public_id))
    if consultation.is_locked:
        return _locked(consultation)
    if request.method == "GET":
        form = ConsultationForm(data=services.form_data(consultation))
    else:
        form = ConsultationForm()
    if form.validate_on_submit():
        try:
            changed = services.update_consultation(db.session, consultation, _values(form), expected_version=expected_version(form),
                                                   actor=current_user, policy=current_policy(db.session), ip_address=client_ip())
        except services.ConsultationLocked:
            db.session.rollback()
            return _locked(db.one_or_404(Consultation.by_public_id(public_id)))
        except StaleRecord as exc:
            db.session.rollback()
            consultation = db.one_or_404(Consultation.by_public_id(public_id))
            flash(f"{exc} Your answers are still in the form; the saved result is shown above it. Check and save again.", "error")
            form.version.data = str(consultation.version)
            return _render_form(form, consultation.patient, consultation, status=409, conflict=True)
        commit_request()
        flash(f"Saved. Screening: {DECISION_LABELS[consultation.decision]}." if changed else "No changes to save.", "success")
        return redirect(url_for("consultations.detail", public_id=consultation.public_id), 303)
    return _render_form(form, consultation.patient, consultation, status=422 if form.is_submitted() else 200)


@bp.post("/consultations/<uuid:public_id>/override")
@require(Permission.EDIT_CLINICAL)
def override(public_id: uuid.UUID):
    """Record a documented override beside the computed decision."""
    consultation = db.one_or_404(Consultation.by_public_id(public_id))
    form = OverrideForm()
    if not form.validate_on_submit():
        return _detail_page(consultation, form), 422
    try:
        services.record_override(db.session, consultation, form.reason.data, actor=current_user, ip_address=client_ip())
    except DomainError as exc:
        flash(str(exc), "error")
        return redirect(url_for("consultations.detail", public_id=consultation.public_id), 303)
    commit_request()
    flash("Override recorded beside the screening result.", "success")
    return redirect(url_for("consultations.detail", public_id=consultation.public_id), 303)


@bp.route("/consultations/<uuid:public_id>/rescreen", methods=["GET", "POST"])
@require(Permission.EDIT_CLINICAL)
def rescreen(public_id: uuid.UUID):
    """A new consultation beside a locked one: its assessment copied, every screening question asked again."""
    original = db.one_or_404(Consultation.by_public_id(public_id))
    if not original.is_locked:
        flash("No signed session relies on this consultation yet: change its answers here instead.", "warning")
        return redirect(url_for("consultations.edit", public_id=original.public_id), 303)
    form = ConsultationForm(data=services.rescreen_prefill(original, clinic_today())) if request.method == "GET" else ConsultationForm()
    if form.validate_on_submit():
        consultation = services.record_consultation(db.session, original.patient, _values(form), actor=current_user,
                                                    policy=current_policy(db.session), ip_address=client_ip(), supersedes=original)
        commit_request()
        flash(f"New consultation saved beside the original. Screening: {DECISION_LABELS[consultation.decision]}.", "success")
        return redirect(url_for("consultations.detail", public_id=consultation.public_id), 303)
    return _render_form(form, original.patient, status=422 if form.is_submitted() else 200, supersedes=original)
