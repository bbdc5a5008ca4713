"""Treatment plan pages: make a plan from a consultation, and see a plan's course."""

from __future__ import annotations

import uuid

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from practitioner.auth.access import client_ip, require
from practitioner.auth.models import Permission
from practitioner.clinical.depth import (
    TYPICAL_INTERVAL_WEEKS, TYPICAL_SESSIONS, ZONE_LABELS, ZONES, course_guidance_lines, suggest_depth,
)
from practitioner.clinical.screening import MODALITIES
from practitioner.consultations.models import Consultation
from practitioner.errors import NotAllowed
from practitioner.extensions import db
from practitioner.clinical.vocabulary import FITZPATRICK_ROMAN as ROMAN
from practitioner.plans import bp
from practitioner.plans import services
from practitioner.plans.forms import PlanForm, suggested_values
from practitioner.plans.models import TreatmentPlan
from practitioner.dates import clinic_today
from practitioner.unit_of_work import commit_request


def _render_form(consultation: Consultation, form: PlanForm | None, refusal: str | None = None):
    # Suggestions follow the modality chosen on the form, so a switch to RF shows the RF cautions on the next render.
    modality = form.modality.data if form is not None and form.modality.data in MODALITIES else consultation.modality
    fitzpatrick = services.plan_fitzpatrick(consultation)
    return render_template(
        "plans/form.html", consultation=consultation, patient=consultation.patient, form=form,
        refusal=refusal, modality=modality, skin_type=ROMAN.get(fitzpatrick or 0), zone_labels=ZONE_LABELS,
        suggestions={zone: suggest_depth(zone, fitzpatrick, modality) for zone in ZONES},
        guidance=course_guidance_lines(consultation.concern_codes, modality),
        consultation_url=url_for("consultations.detail", public_id=consultation.public_id),
    )


@bp.route("/consultations/<uuid:public_id>/plans/new", methods=["GET", "POST"])
@require(Permission.EDIT_CLINICAL)
def new(public_id: uuid.UUID):
    """Make a treatment plan from a consultation whose result allows treatment."""
    consultation = db.one_or_404(Consultation.by_public_id(public_id))
    refusal = services.treatment_refusal(consultation)
    if refusal:
        return _render_form(consultation, None, refusal), 409
    if request.method == "POST":
        form = PlanForm(today=clinic_today())
    else:
        form = PlanForm(today=clinic_today(), data=suggested_values(
            modality=consultation.modality, fitzpatrick=services.plan_fitzpatrick(consultation), areas=consultation.area_codes))
    if form.apply_row_buttons():
        return _render_form(consultation, form), 200
    if form.validate_on_submit():
        try:
            plan = services.create_plan(db.session, consultation, form.values(), actor=current_user, ip_address=client_ip())
        except services.ZonesRefused as exc:
            db.session.rollback()
            form.add_zone_error(exc.position, exc.field, str(exc))
        except NotAllowed as exc:
            db.session.rollback()
            return _render_form(consultation, None, str(exc)), 409
        else:
            commit_request()
            flash(f"Treatment plan saved: {plan.sessions_planned} sessions, every {plan.interval_weeks} weeks.", "success")
            return redirect(url_for("plans.detail", public_id=plan.public_id), 303)
    return _render_form(consultation, form), 422 if form.is_submitted() else 200


@bp.get("/plans/<uuid:public_id>")
@require(Permission.VIEW_CLINICAL)
def detail(public_id: uuid.UUID):
    """A plan's course: sessions done and remaining, projected dates, zones with depths and cautions."""
    plan = db.one_or_404(TreatmentPlan.by_public_id(public_id))
    services.record_plan_view(db.session, plan, actor=current_user, ip_address=client_ip())
    consultation = plan.consultation
    return render_template(
        "plans/detail.html", plan=plan, consultation=consultation, patient=consultation.patient,
        zones=services.plan_zone_rows(plan), schedule=services.session_schedule(plan),
        skin_type=ROMAN.get(services.plan_fitzpatrick(consultation) or 0),
        typical_sessions=TYPICAL_SESSIONS, typical_interval=TYPICAL_INTERVAL_WEEKS,
        consultation_url=url_for("consultations.detail", public_id=consultation.public_id),
    )
