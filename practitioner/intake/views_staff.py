"""The staff side of the intake: start one on the tablet or by link, withdraw a link, see the signed intake, accept details."""

from __future__ import annotations

import base64
import uuid

import segno
from flask import flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from practitioner.auth.access import client_ip, require
from practitioner.auth.models import Permission
from practitioner.clinical.screening import CONCERN_LABELS
from practitioner.database import utcnow
from practitioner.errors import DomainError
from practitioner.extensions import db
from practitioner.intake import bp, sections, services, tablet
from practitioner.intake.forms_staff import AcceptDetailsForm
from practitioner.intake.models import PatientIntake
from practitioner.patients import services as patient_services
from practitioner.patients.models import Patient
from practitioner.unit_of_work import commit_audit_of_read, commit_request

from practitioner import audit


def _lines(text: str | None) -> str | None:
    """A posted value as stored: browsers send every line break as CRLF."""
    return None if text is None else text.replace("\r\n", "\n")


def _patient_page(patient: Patient):
    return redirect(url_for("patients.detail", public_id=patient.public_id) + "#intake-title", 303)


def qr_svg(url: str) -> Markup:
    """The link as a QR code, drawn here as inline SVG (nothing is fetched from anywhere)."""
    svg = segno.make(url, error="m").svg_inline(scale=4, border=4, dark="#000", light="#fff", omitsize=False)
    return Markup(svg)  # nosec B704  # segno's SVG holds only drawn modules, no text from the URL


@bp.post("/patients/<uuid:public_id>/intake/tablet")
@require(Permission.START_INTAKE)
def start_tablet(public_id: uuid.UUID):
    """Start an intake on this tablet and hand it to the patient: the staff member is signed out, the tablet locked to it."""
    patient = db.one_or_404(Patient.by_public_id(public_id))
    intake = services.start_tablet(patient, current_user, client_ip())
    commit_request()
    return redirect(tablet.hand_over(intake), 303)


@bp.post("/intakes/<uuid:public_id>/tablet")
@require(Permission.START_INTAKE)
def resume_tablet(public_id: uuid.UUID):
    """Hand the tablet back for an open tablet intake (staff signed in meanwhile): the answers so far are still there."""
    intake = db.one_or_404(PatientIntake.by_public_id(public_id))
    if intake.channel != "tablet" or not intake.is_open(utcnow()):
        flash("This intake can no longer be answered on the tablet. Start a new one if the patient still needs it.", "warning")
        return _patient_page(intake.patient)
    return redirect(tablet.hand_over(intake), 303)


@bp.post("/patients/<uuid:public_id>/intake/link")
@require(Permission.START_INTAKE)
def create_link(public_id: uuid.UUID):
    """Make a one-time link for the patient, shown once (with its QR code): the token is stored only as a hash."""
    patient = db.one_or_404(Patient.by_public_id(public_id))
    intake, token = services.create_link(patient, current_user, client_ip())
    commit_request()
    link = url_for("intake.open_link", token=token, _external=True)
    response = make_response(render_template("intake/staff/link.html", patient=patient, intake=intake, link=link, svg=qr_svg(link)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/intakes/<uuid:public_id>/withdraw")
@require(Permission.START_INTAKE)
def withdraw(public_id: uuid.UUID):
    """Withdraw an open intake (a link that should no longer work, a tablet intake not finished)."""
    intake = db.one_or_404(PatientIntake.by_public_id(public_id))
    try:
        services.abandon(intake, current_user, client_ip())
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _patient_page(intake.patient)
    commit_request()
    flash("Intake withdrawn: it can no longer be answered (a link to it no longer works).", "success")
    return _patient_page(intake.patient)


@bp.get("/intakes/<uuid:public_id>")
@require(Permission.VIEW_CLINICAL)
def signed(public_id: uuid.UUID):
    """The signed intake in full: every answer as given, when, the signature, and the SHA-256 that seals it."""
    intake = db.one_or_404(PatientIntake.by_public_id(public_id))
    if intake.status != "submitted":
        flash("This intake has not been signed by the patient yet.", "warning")
        return _patient_page(intake.patient)
    audit.append(db.session, "intake_viewed", actor=current_user, patient=intake.patient, target=f"intake:{intake.public_id}",
                 ip_address=client_ip())
    commit_audit_of_read()
    signature = base64.b64encode(intake.signature_png or b"").decode("ascii")
    return render_template("intake/staff/signed.html", intake=intake, patient=intake.patient, signature=signature,
                           answers=sections.answers_in_words(intake), details=intake.answers.get("details") or {},
                           hopes=intake.answers.get("hopes") or {}, reviewed_by=intake.reviewed_by,
                           concerns=[CONCERN_LABELS.get(code, code) for code in (intake.answers.get("hopes") or {}).get("concerns") or []])


@bp.post("/intakes/<uuid:public_id>/details")
@require(Permission.EDIT_DEMOGRAPHICS, Permission.START_INTAKE)
def accept_details(public_id: uuid.UUID):
    """Copy the ticked details the patient typed into the record, through the patients' own service (audited there)."""
    intake = db.one_or_404(PatientIntake.by_public_id(public_id))
    patient = intake.patient
    offered = sections.detail_changes(intake, patient) if intake.status == "submitted" else []
    changes = {change.field: change for change in offered if change.fits}
    form = AcceptDetailsForm()
    form.accept.choices = [(name, change.label) for name, change in changes.items()]
    if not form.validate_on_submit() or not form.accept.data:
        flash("Nothing was copied: tick each detail that should replace the one on record.", "warning")
        return _patient_page(patient)
    # No silent overwrite: each ticked detail replaces only the value the page showed as on record. If someone
    # changed it since (another tab, the Edit details form), nothing is copied and the page shows the new state.
    moved = [changes[name].label for name in form.accept.data
             if _lines(request.form.get(f"seen-{name}")) != _lines(changes[name].old)]
    if moved:
        flash("Nothing was copied: the record's " + ", ".join(moved).lower() + " changed after this page was opened. "
              "Check the details again and tick the ones to copy.", "warning")
        return _patient_page(patient)
    values = {name: changes[name].new for name in form.accept.data}
    patient_services.update_patient(db.session, patient, values, expected_version=None, actor=current_user, clinical=False,
                                    ip_address=client_ip())
    audit.append(db.session, "intake_details_accepted", actor=current_user, patient=patient, target=f"intake:{intake.public_id}",
                 detail={"fields": sorted(values)}, ip_address=client_ip())
    commit_request()
    flash("Copied into the record: " + ", ".join(changes[name].label for name in form.accept.data) + ".", "success")
    return _patient_page(patient)
