"""Patient pages: list and search, register, view, edit, archive."""

from __future__ import annotations

import uuid
from typing import Callable

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from practitioner import audit
from practitioner.auth.access import client_ip, require
from practitioner.auth.models import Permission
from practitioner.errors import DomainError, DuplicateRecord, StaleRecord
from practitioner.extensions import db
from practitioner.forms import Form
from practitioner.patients import bp, services, timeline
from practitioner.patients.forms import ArchiveForm, PatientDemographicsForm, PatientForm, SearchForm
from practitioner.patients.models import Patient
from practitioner.validators import page_number
from practitioner.versioning import expected_version
from practitioner.unit_of_work import commit_request


def _form_class():
    return PatientForm if current_user.can(Permission.EDIT_CLINICAL) else PatientDemographicsForm


def _form_values(form: PatientDemographicsForm) -> dict:
    values = {name: field.data for name, field in form._fields.items()
              if name not in ("csrf_token", "version", "different_person", "checked_against")}
    return values


def _confirmed_different(form: PatientDemographicsForm) -> set[str]:
    """The patients shown as possible duplicates that the person ticked 'a different person' for."""
    return set((form.checked_against.data or "").split(",")) if form.different_person.data else set()


def _ask_about_duplicates(form: PatientDemographicsForm, exc: services.PossibleDuplicate) -> None:
    """Re-ask the question: the box unticked, with the patients it is now about."""
    form.different_person.data = False
    form.different_person.errors.append("Tick this box if this is not the same person, or open their record instead.")
    form.checked_against.data = ",".join(str(match.public_id) for match in exc.matches)


@bp.get("/")
@require(Permission.VIEW_DEMOGRAPHICS)
def list():  # noqa: A001 - the endpoint is patients.list by convention
    """All patients, or those matching the search, a page at a time."""
    form = SearchForm(request.args)
    form.validate()
    statement, values, understood = services.search_query(form.q.data or "", include_archived=bool(form.archived.data))
    page = services.patient_page(db.session, statement, values=values, per_page=current_app.config["PATIENTS_PER_PAGE"],
                                 page=page_number(request.args))
    return render_template("patients/list.html", form=form, page=page, understood=understood, detail_url=_detail_url())


def _detail_url() -> Callable[[uuid.UUID], str]:
    """A patient's page address, the route built once per list (a url_for per row cost more than the row's own printing)."""
    sample = uuid.UUID(int=0)
    head, tail = url_for("patients.detail", public_id=sample).split(str(sample))
    return lambda public_id: f"{head}{public_id}{tail}"


@bp.route("/new", methods=["GET", "POST"])
@require(Permission.EDIT_DEMOGRAPHICS)
def new():
    """Register a new patient."""
    form = _form_class()()
    duplicates = []
    if form.validate_on_submit():
        try:
            patient = services.register_patient(db.session, _form_values(form), actor=current_user,
                                                clinical=current_user.can(Permission.EDIT_CLINICAL), ip_address=client_ip(),
                                                different_from=_confirmed_different(form))
        except DuplicateRecord as exc:
            getattr(form, exc.field).errors.append(str(exc))
        except services.PossibleDuplicate as exc:
            _ask_about_duplicates(form, exc)
            duplicates = exc.matches
        else:
            commit_request()
            flash(f"{patient.full_name} is registered as {patient.record_number}.", "success")
            return redirect(url_for("patients.detail", public_id=patient.public_id), 303)
    return (render_template("patients/form.html", form=form, patient=None, duplicates=duplicates),
            422 if form.is_submitted() else 200)


@bp.get("/<uuid:public_id>")
@require(Permission.VIEW_DEMOGRAPHICS)
def detail(public_id: uuid.UUID):
    """The patient's page, which grows into their timeline."""
    patient = db.one_or_404(Patient.by_public_id(public_id))
    # The view of the record and the row naming the photos the page shows (photos' section) are written together.
    with audit.one_write_for_page(db.session):
        services.record_view(db.session, patient, actor=current_user, ip_address=client_ip())
        entries = timeline.entries_for(db.session, patient, clinical=current_user.can(Permission.VIEW_CLINICAL))
        return render_template("patients/detail.html", patient=patient, archive_form=ArchiveForm(), timeline=entries)


@bp.route("/<uuid:public_id>/edit", methods=["GET", "POST"])
@require(Permission.EDIT_DEMOGRAPHICS)
def edit(public_id: uuid.UUID):
    """Change a patient's details; a stale form is refused and kept."""
    patient = db.one_or_404(Patient.by_public_id(public_id))
    form = _form_class()(obj=patient)
    if request.method == "GET" and not form.version.data:
        form.version.data = str(patient.version)
    status, duplicates = 422, []
    if form.validate_on_submit():
        try:
            expected = expected_version(form)
            changes = services.update_patient(db.session, patient, _form_values(form), expected_version=expected,
                                              actor=current_user, clinical=current_user.can(Permission.EDIT_CLINICAL),
                                              ip_address=client_ip(), different_from=_confirmed_different(form))
        except DuplicateRecord as exc:
            getattr(form, exc.field).errors.append(str(exc))
        except services.PossibleDuplicate as exc:
            _ask_about_duplicates(form, exc)
            duplicates = exc.matches
        except StaleRecord as exc:
            db.session.rollback()
            db.session.refresh(patient)
            flash(f"{exc} Your changes are still in the form below; the saved version is shown beside it. "
                  "Check them and save again.", "error")
            form.version.data = str(patient.version)
            return render_template("patients/form.html", form=form, patient=patient, conflict=True), 409
        else:
            commit_request()
            flash("Saved." if changes else "No changes to save.", "success")
            return redirect(url_for("patients.detail", public_id=patient.public_id), 303)
    return (render_template("patients/form.html", form=form, patient=patient, duplicates=duplicates),
            status if form.is_submitted() else 200)


@bp.post("/<uuid:public_id>/archive")
@require(Permission.EDIT_DEMOGRAPHICS)
def archive(public_id: uuid.UUID):
    """Archive a patient (never delete)."""
    patient = db.one_or_404(Patient.by_public_id(public_id))
    form = ArchiveForm()
    if not form.validate_on_submit():
        entries = timeline.entries_for(db.session, patient, clinical=current_user.can(Permission.VIEW_CLINICAL))
        return render_template("patients/detail.html", patient=patient, archive_form=form, timeline=entries), 422
    try:
        services.archive_patient(db.session, patient, form.reason.data, actor=current_user, ip_address=client_ip())
    except DomainError as exc:
        flash(str(exc), "error")
        return redirect(url_for("patients.detail", public_id=patient.public_id), 303)
    commit_request()
    flash(f"{patient.full_name} is archived. The record stays readable; restore it from this page if needed.", "success")
    return redirect(url_for("patients.detail", public_id=patient.public_id), 303)


@bp.post("/<uuid:public_id>/restore")
@require(Permission.EDIT_DEMOGRAPHICS)
def restore(public_id: uuid.UUID):
    """Bring an archived patient back to the list."""
    patient = db.one_or_404(Patient.by_public_id(public_id))
    if not Form().validate_on_submit():
        return redirect(url_for("patients.detail", public_id=patient.public_id), 303)
    try:
        services.restore_patient(db.session, patient, actor=current_user, ip_address=client_ip())
    except DomainError as exc:
        flash(str(exc), "error")
    else:
        commit_request()
        flash(f"{patient.full_name} is back in the patient list.", "success")
    return redirect(url_for("patients.detail", public_id=patient.public_id), 303)
