"""Admin pages: users, clinic settings, the audit trail, and the logo image."""

from __future__ import annotations

import uuid

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from practitioner import audit
from practitioner.admin import bp, services
from practitioner.admin.forms import AftercareForm, AuditFilterForm, ClinicSettingsForm, ConfirmForm, NewUserForm, PolicyForm, UserForm
from practitioner.auth import services as auth_services
from practitioner.auth import two_factor
from practitioner.auth.passwords import password_problem
from practitioner.auth.access import client_ip, require
from practitioner.auth.models import Permission, Role, User
from practitioner.clinical.aftercare import AFTERCARE_POLICY_SOURCE_RANGES, AftercarePolicy
from practitioner.clinical.screening import POLICY_SETTINGS, POLICY_SOURCE_RANGES, Policy
from practitioner.clinical.vocabulary import fitzpatrick_roman
from practitioner.errors import DomainError, DuplicateRecord
from practitioner.extensions import db
from practitioner.forms import choices
from practitioner.validators import page_number
from practitioner.patients.models import Patient
from practitioner.dates import clinic_zone
from practitioner.unit_of_work import CommitReason, commit_exception, commit_request

DEFAULT_POLICY = Policy().as_dict()
# As the policy page shows the defaults: a skin type in Roman numerals, like everywhere else.
DEFAULT_POLICY_SHOWN = {**DEFAULT_POLICY, "pih_risk_min_fitzpatrick": fitzpatrick_roman(DEFAULT_POLICY["pih_risk_min_fitzpatrick"])}


@bp.get("/users")
@require(Permission.MANAGE_USERS)
def users():
    """Everyone who can sign in, active first."""
    people = db.session.scalars(select(User).order_by(User.is_active_account.desc(), User.name)).all()
    return render_template("admin/users.html", users=people)


@bp.route("/users/new", methods=["GET", "POST"])
@require(Permission.MANAGE_USERS)
def new_user():
    """Add a user."""
    form = NewUserForm()
    if form.validate_on_submit() and (_password_ok(form, form.name.data, form.email.data)
                                      & _confirmed(form, form.role.data == Role.ADMIN.value, "create an administrator")):
        try:
            user = auth_services.create_user(
                db.session, email=form.email.data, name=form.name.data, role=Role(form.role.data),
                password=form.new_password.data, actor=current_user, registration=form.registration.data,
                max_depth_mm=form.max_depth_mm.data, ip_address=client_ip(),
            )
        except DuplicateRecord as exc:
            form.email.errors.append(str(exc))
        except DomainError as exc:
            form.new_password.errors.append(str(exc))
        else:
            if not form.active.data:
                user.is_active_account = False
            commit_request()
            flash(f"{user.name} can now sign in as {user.email}.", "success")
            return redirect(url_for("admin.users"), 303)
    return render_template("admin/user_form.html", form=form, user=None), 422 if form.is_submitted() else 200


@bp.route("/users/<uuid:public_id>", methods=["GET", "POST"])
@require(Permission.MANAGE_USERS)
def edit_user(public_id: uuid.UUID):
    """Change a user's role, details or status; users are never deleted."""
    user = db.one_or_404(User.by_public_id(public_id))
    form = UserForm(obj=user, data=None if request.method == "POST" else {"active": user.is_active_account, "role": user.role.value})
    sensitive = request.method == "POST" and (form.role.data != user.role.value or bool(form.new_password.data))
    if form.validate_on_submit() and (_password_ok(form, form.name.data or user.name, user.email)
                                      & _confirmed(form, sensitive, "change a role or set a password")):
        try:
            changes = auth_services.update_user(
                db.session, user, name=form.name.data, role=Role(form.role.data), active=bool(form.active.data),
                registration=form.registration.data, max_depth_mm=form.max_depth_mm.data,
                new_password=form.new_password.data or None, actor=current_user, ip_address=client_ip(),
            )
        except auth_services.WeakPassword as exc:
            form.new_password.errors.append(str(exc))
        except DomainError as exc:
            form.role.errors.append(str(exc))
        else:
            commit_request()
            flash(f"Saved {user.name}." if changes else "No changes to save.", "success")
            return redirect(url_for("admin.users"), 303)
    return render_template("admin/user_form.html", form=form, user=user, reset_form=ConfirmForm()), 422 if form.is_submitted() else 200


@bp.post("/users/<uuid:public_id>/two-factor/reset")
@require(Permission.MANAGE_USERS)
def reset_two_factor(public_id: uuid.UUID):
    """Turn off someone's two-factor sign-in (a lost phone), confirmed with the admin's own password; they set it up again."""
    user = db.one_or_404(User.by_public_id(public_id))
    form = ConfirmForm()
    if form.validate_on_submit() and _confirmed(form, True, "reset two-factor sign-in"):
        two_factor.reset(db.session, user, actor=current_user, ip_address=client_ip())
        commit_request()
        flash(f"Two-factor sign-in is off for {user.name}. They set it up again at their next sign-in.", "success")
        return redirect(url_for("admin.edit_user", public_id=user.public_id), 303)
    edit = UserForm(obj=user, data={"active": user.is_active_account, "role": user.role.value})
    return render_template("admin/user_form.html", form=edit, user=user, reset_form=form), 422


def _password_ok(form: UserForm, name: str, email: str) -> bool:
    """A new password passes the password rule, or its field says what to do (beside any other message on the form)."""
    problem = password_problem(form.new_password.data, name=name or "", email=email or "") if form.new_password.data else None
    if problem:
        form.new_password.errors = [*form.new_password.errors, problem]
    return problem is None


def _confirmed(form: UserForm | ConfirmForm, needed: bool, purpose: str) -> bool:
    """An admin's change to a role or password (or a new admin) needs their own password; a wrong one is said on the field and audited."""
    if not needed:
        return True
    if auth_services.confirm_own_password(db.session, current_user, form.your_password.data or "", purpose=purpose, ip_address=client_ip()):
        return True
    commit_exception(CommitReason.PASSWORD_CONFIRM_REFUSED)
    form.your_password.errors = [*form.your_password.errors, "Type your own password (the one you signed in with) to confirm this change."]
    return False


@bp.route("/settings", methods=["GET", "POST"])
@require(Permission.MANAGE_SETTINGS)
def settings():
    """The clinic's name, contacts, logo and paper size."""
    current = services.get_settings(db.session)
    form = ClinicSettingsForm(obj=current, data=None if request.method == "POST" else {"paper_size": current.paper_size.value})
    if form.validate_on_submit():
        logo = None
        upload = form.logo.data
        try:
            if upload and getattr(upload, "filename", ""):
                limit = int(current_app.config["LOGO_MAX_BYTES"])
                logo = services.check_logo(upload.read(limit + 1), limit)
            changes = services.update_settings(
                db.session, {name: getattr(form, name).data for name in services.SETTINGS_FIELDS},
                logo=logo, remove_logo=bool(form.remove_logo.data), actor=current_user, ip_address=client_ip(),
            )
        except services.InvalidLogo as exc:
            form.logo.errors = list(form.logo.errors) + [str(exc)]
        else:
            commit_request()
            flash("Clinic settings saved." if changes else "No changes to save.", "success")
            return redirect(url_for("admin.settings"), 303)
    return render_template("admin/settings.html", form=form, settings=current), 422 if form.is_submitted() else 200


@bp.get("/settings/logo.png")
@require(Permission.VIEW_DEMOGRAPHICS)
def logo():
    """The stored clinic logo (already re-encoded as PNG when uploaded)."""
    current = services.get_settings(db.session)
    if not current.logo_png:
        abort(404)
    response = Response(current.logo_png, mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=300"
    response.set_etag(current.logo_sha256)
    return response


@bp.get("/audit")
@require(Permission.VIEW_AUDIT)
def audit_trail():
    """Browse the audit trail, filtered by patient (name or record number), user, action, outcome and dates."""
    form = AuditFilterForm(request.args)
    people = db.session.scalars(select(User).order_by(User.name)).all()
    form.user.choices = choices([("", "Anyone")] + [(u.public_id, f"{u.name} ({u.email})") for u in people])
    actions = db.session.scalars(select(audit.AuditEvent.action).distinct().order_by(audit.AuditEvent.action)).all()
    form.action.choices = choices([("", "Any")] + [(a, a) for a in actions])
    if not form.validate():
        return render_template("admin/audit.html", form=form, page=None, people={}, patients={}, patient=None), 422
    matches = _audit_patients(form)
    actor = next((u for u in people if str(u.public_id) == form.user.data), None)
    statement = services.audit_statement(
        patient_ids=None if matches is None else [p.id for p in matches],
        actor_id=actor.id if actor else None, action=form.action.data or None, outcome=form.outcome.data or None,
        date_from=form.date_from.data, date_to=form.date_to.data, zone=clinic_zone(),
    )
    page = db.paginate(statement, page=page_number(request.args), per_page=50, error_out=False)
    patient_ids = {row.patient_id for row in page.items if row.patient_id}
    patients = {p.id: p for p in db.session.scalars(select(Patient).where(Patient.id.in_(patient_ids)))} if patient_ids else {}
    clinical = current_user.can(Permission.VIEW_CLINICAL)
    details = {event.id: services.audit_detail(event, clinical=clinical) for event in page.items}
    return render_template("admin/audit.html", form=form, page=page, people={u.id: u for u in people}, patients=patients,
                           patient=matches[0] if matches and len(matches) == 1 else None, matches=matches, details=details)


def _audit_patients(form: AuditFilterForm) -> list[Patient] | None:
    """The patients the filter names (None: any patient); an unknown name or number is said on the field."""
    if form.patient.data:
        matches = services.audit_patients(db.session, form.patient.data)
        if not matches:
            form.patient.errors = [*form.patient.errors, "No patient has this name or record number. Check the spelling, "
                                                         "or find the patient in the patient list."]
        return matches
    if request.args.get("patient_id"):
        try:
            patient = db.session.scalars(select(Patient).where(Patient.public_id == uuid.UUID(request.args["patient_id"]))).first()
        except ValueError:
            patient = None
        return [patient] if patient else []
    return None


@bp.route("/policy", methods=["GET", "POST"])
@require(Permission.MANAGE_SETTINGS)
def policy():
    """The clinic's screening policy: each window and threshold beside its default and the source range."""
    row = services.get_policy_row(db.session)
    form = PolicyForm(obj=row)
    if form.validate_on_submit():
        values = {name: getattr(form, name).data for name in POLICY_SETTINGS}
        changes = services.update_policy(db.session, values, actor=current_user, ip_address=client_ip())
        commit_request()
        flash("Screening policy saved. New and re-screened consultations use it; saved results keep the policy they were computed with."
              if changes else "No changes to save.", "success")
        return redirect(url_for("admin.policy"), 303)
    rows = [(getattr(form, name), DEFAULT_POLICY_SHOWN[name], POLICY_SOURCE_RANGES.get(name, "")) for name in POLICY_SETTINGS]
    return render_template("admin/policy.html", form=form, rows=rows, row=row, heading="Screening policy",
                           lead="The windows and thresholds the screening uses. They are clinic policy, set by your medical lead: "
                                "sources disagree on most of them, so each shows the default and the range found in the sources."), \
        422 if form.is_submitted() else 200


@bp.route("/aftercare", methods=["GET", "POST"])
@require(Permission.MANAGE_SETTINGS)
def aftercare():
    """The numbers on every aftercare leaflet, beside their defaults and what the sources say."""
    row = services.get_aftercare_row(db.session)
    form = AftercareForm(obj=row)
    names = list(AftercarePolicy().as_dict())
    if form.validate_on_submit():
        changes = services.update_aftercare(db.session, {n: getattr(form, n).data for n in names}, actor=current_user, ip_address=client_ip())
        commit_request()
        flash("Aftercare settings saved. Leaflets issued from now on use them." if changes else "No changes to save.", "success")
        return redirect(url_for("admin.aftercare"), 303)
    defaults = AftercarePolicy().as_dict()
    rows = [(getattr(form, n), defaults[n], AFTERCARE_POLICY_SOURCE_RANGES.get(n, "")) for n in names]
    return render_template("admin/policy.html", form=form, rows=rows, row=row, heading="Aftercare settings",
                           lead="The numbers every aftercare leaflet prints. Sources disagree on several; each shows the default "
                                "and what the sources say."), 422 if form.is_submitted() else 200
