"""Capture pages (a consultation's, a session's, a review visit's photos), review visits and withdrawals of photo consent.

Practitioners only: reception and admin get 403 on every route here. Every form posts with its CSRF token,
works without JavaScript (multipart POST, then Post/Redirect/Get), and on bad input answers 422 with the
ticks kept and a message at each input (a chosen file cannot be put back by any browser: the message says
to choose it again).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import DatabaseError

from practitioner.auth.access import client_ip, require
from practitioner.auth.models import Permission
from practitioner.clinical.screening import MODALITY_LABELS
from practitioner.clinical.vocabulary import VISIT_KIND_LABELS
from practitioner.consultations.models import Consultation
from practitioner.dates import clinic_today, short_date
from practitioner.extensions import db
from practitioner.patients.models import Patient
from practitioner.photos import bp, capture, consent, limits, marketing
from practitioner.photos.capture import PhotoUploadInvalid, TooManyReviewVisits, Visit
from practitioner.photos.consent import PhotoRefused
from practitioner.photos.forms import ReviewVisitForm, WithdrawalForm, capture_form_class, protocol_form_class
from practitioner.photos.models import CAPTURE_CHECKS, ReviewVisit
from practitioner.photos.services import TooManyPhotos
from practitioner.photos.urls import capture_url, thumbnail_url, visit_url
from practitioner.plans.models import TreatmentPlan
from practitioner.treatments.models import TreatmentSession
from practitioner.unit_of_work import commit_request

def _refusal(visit: Visit) -> PhotoRefused | None:
    """Why no photo can be taken at this visit now, or None."""
    if capture.is_closed(visit):
        return PhotoRefused(capture.CLOSED, reason=consent.SIGNED)
    try:
        consent.clinical_consent_for(db.session, visit.patient_id,
                                     today_answer=visit.photo_consent if isinstance(visit, TreatmentSession) else None)
    except PhotoRefused as refusal:
        return refusal
    return None


def _capture_page(visit: Visit, moment: str, form: Any, refusal: PhotoRefused | None, too_many: str = "") -> str:
    sets = capture.photo_sets(db.session, visit)
    photos = [photo for photo_set in sets for photo in photo_set.photos]
    limit = limits.per_visit(capture.visit_kind(visit))
    marketing_state = consent.consent_state(db.session, visit.patient_id, consent.MARKETING)
    plan = visit.plan if isinstance(visit, (TreatmentSession, ReviewVisit)) else None
    return render_template(
        "photos/capture.html", visit=visit, kind=capture.visit_kind(visit), kind_title=VISIT_KIND_LABELS[capture.visit_kind(visit)],
        patient=visit.patient, moment=moment, sets=sets, current=next(s for s in sets if s.moment == moment), form=form,
        refusal=refusal, consultation=capture.consultation_of(db.session, visit), plan=plan, capture_url=capture_url,
        visit_url=visit_url(visit), thumbnail_url=thumbnail_url, marked=marketing.open_marks(db.session, [p.id for p in photos]),
        marketing_given=marketing_state.given, photo_label=capture.photo_label, held=len(photos), limit=limit,
        room=max(0, limit - len(photos)), photos_hint=limits.photos_hint(len(photos), limit), too_many=too_many)


def _capture(visit: Visit):
    """One capture page for every kind of visit: the set's state, the checklist, a file input per open slot."""
    moments = capture.moments_for(visit)
    moment = request.values.get("moment") if request.values.get("moment") in moments else moments[0]
    refusal = _refusal(visit)
    if refusal is not None:
        if request.method == "GET":
            capture.record_view(db.session, visit, actor=current_user, ip_address=client_ip())
        return _capture_page(visit, moment, None, refusal), 409 if request.method == "POST" else 200
    current = next(s for s in capture.photo_sets(db.session, visit) if s.moment == moment)
    slots = {slot.key: slot for slot in current.open_slots}
    form = capture_form_class(tuple((slot.key, slot.label, slot.required) for slot in current.open_slots))(moment=moment)
    if request.method == "GET":
        capture.record_view(db.session, visit, actor=current_user, ip_address=client_ip())
    if form.validate_on_submit():
        files = [(slots[key], upload.read()) for key, upload in form.files()]
        # A POST's transaction holds SQLite's write lock from its first statement: end it before the
        # image work (about half a second a photo), and let take_photos check everything again after.
        db.session.rollback()
        try:
            files = capture.prepare(files)
            taken = capture.take_photos(db.session, visit, moment=moment, files=files, checks={n: form[n].data for n in CAPTURE_CHECKS},
                                        actor=current_user, ip_address=client_ip())
        except PhotoUploadInvalid as exc:
            db.session.rollback()
            form[f"photo-{exc.key}"].errors = [f"{exc} Nothing was saved: choose the photos again."]
        except TooManyPhotos as exc:
            db.session.rollback()
            chosen = next((name for name, key in form.slot_fields if key in dict(form.files())), None)
            if chosen is None or exc.held >= exc.limit:  # a full visit's page shows no inputs: the message stands alone
                return _capture_page(visit, moment, form, None, too_many=str(exc)), 422
            form[chosen].errors = [str(exc)]
        except PhotoRefused as exc:
            db.session.rollback()
            return _capture_page(visit, moment, None, exc), 409
        except DatabaseError:  # the lock triggers: the session was signed while the photos were on their way
            db.session.rollback()
            return _capture_page(visit, moment, None, PhotoRefused(capture.CLOSED, reason=consent.SIGNED)), 409
        else:
            commit_request()
            flash(f"{len(taken)} photo{'' if len(taken) == 1 else 's'} saved: {', '.join(slot.label for slot, _ in files)}.",
                  "success")
            return redirect(capture_url(visit, moment if len(moments) > 1 else None), 303)
    return _capture_page(visit, moment, form, None), 422 if form.is_submitted() else 200


@bp.route("/consultations/<uuid:public_id>/photos", methods=["GET", "POST"])
@require(Permission.EDIT_CLINICAL)
def capture_consultation(public_id: uuid.UUID):
    """Baseline photos at a consultation."""
    return _capture(db.one_or_404(Consultation.by_public_id(public_id)))


@bp.route("/sessions/<uuid:public_id>/photos", methods=["GET", "POST"])
@require(Permission.EDIT_CLINICAL)
def capture_session(public_id: uuid.UUID):
    """A session's photos, before treatment and immediately after (closed once the session is signed)."""
    return _capture(db.one_or_404(TreatmentSession.by_public_id(public_id)))


@bp.route("/review-visits/<uuid:public_id>/photos", methods=["GET", "POST"])
@require(Permission.EDIT_CLINICAL)
def capture_review(public_id: uuid.UUID):
    """A review visit's photos."""
    return _capture(db.one_or_404(ReviewVisit.by_public_id(public_id)))


@bp.get("/review-visits/<uuid:public_id>")
@require(Permission.VIEW_CLINICAL)
def review_visit(public_id: uuid.UUID):
    """A review visit: its date, plan and note, its photos against the protocol, and the capture link."""
    visit = db.one_or_404(ReviewVisit.by_public_id(public_id))
    capture.record_view(db.session, visit, actor=current_user, ip_address=client_ip())
    sets = capture.photo_sets(db.session, visit)
    return render_template("photos/review_visit.html", visit=visit, patient=visit.patient, sets=sets,
                           capture_url=capture_url(visit), thumbnail_url=thumbnail_url, photo_label=capture.photo_label)


def _patient_plans(patient: Patient) -> list[TreatmentPlan]:
    return list(db.session.scalars(select(TreatmentPlan).where(TreatmentPlan.patient_id == patient.id)
                                   .order_by(TreatmentPlan.first_session_on.desc(), TreatmentPlan.id.desc())))


@bp.route("/patients/<uuid:public_id>/review-visits/new", methods=["GET", "POST"])
@require(Permission.EDIT_CLINICAL)
def new_review_visit(public_id: uuid.UUID):
    """Record a review visit (date, plan optional, note), then take its photos."""
    patient = db.one_or_404(Patient.by_public_id(public_id))
    plans = {str(plan.public_id): plan for plan in _patient_plans(patient)}
    held = capture.review_visit_counts(db.session, patient.id)
    form = ReviewVisitForm()
    form.set_plans([(key, f"{MODALITY_LABELS[plan.modality]}, from {short_date(plan.first_session_on)} "
                          f"({limits.review_visits_left(held.get(plan.id, 0), limits.REVIEW_VISITS_PER_PLAN)})")
                    for key, plan in plans.items()])
    if request.method == "GET":
        form.visit_date.data = form.visit_date.data or clinic_today()
        if request.args.get("plan") in plans:
            form.plan.data = request.args["plan"]
    if form.validate_on_submit():
        try:
            visit = capture.create_review_visit(db.session, patient, visit_date=form.visit_date.data, plan=plans.get(form.plan.data or ""),
                                                notes=form.notes.data or "", actor=current_user, ip_address=client_ip())
        except TooManyReviewVisits as exc:
            db.session.rollback()
            form.plan.errors = [str(exc)]
        else:
            commit_request()
            flash("Review visit recorded. Take its photos below.", "success")
            return redirect(capture_url(visit), 303)
    return render_template("photos/review_new.html", patient=patient, form=form), 422 if form.is_submitted() else 200


@bp.route("/patients/<uuid:public_id>/photo-consent/withdraw", methods=["GET", "POST"])
@require(Permission.EDIT_CLINICAL)
def withdraw_consent(public_id: uuid.UUID):
    """Record that the patient withdrew photo consent (clinical photography, or marketing use), with the reason."""
    patient = db.one_or_404(Patient.by_public_id(public_id))
    form = WithdrawalForm()
    if request.method == "GET" and request.args.get("scope") in (consent.CLINICAL, consent.MARKETING):
        form.scope.data = request.args["scope"]
    if form.validate_on_submit():
        try:
            withdrawal = consent.record_withdrawal(db.session, patient, scope=form.scope.data, reason=form.reason.data,
                                                   actor=current_user, ip_address=client_ip())
        except consent.NothingToWithdraw as exc:
            db.session.rollback()
            form.scope.errors = [str(exc)]
        else:
            commit_request()
            flash(_withdrawn_message(withdrawal.scope), "success")
            return redirect(url_for("patients.detail", public_id=patient.public_id), 303)
    found = consent.overview(db.session, patient.id)
    states = (found.clinical, found.marketing)
    return (render_template("photos/withdraw.html", patient=patient, form=form, states=states),
            422 if form.is_submitted() else 200)


def _withdrawn_message(scope: str) -> str:
    if scope == consent.MARKETING:
        return "Marketing consent withdrawn: every photo of this patient is out of marketing use from now."
    return ("Clinical photography consent withdrawn: no new photos can be taken. Photos already taken stay in the "
            "record, because they are part of the clinical record.")


@bp.route("/admin/photo-protocol", methods=["GET", "POST"])
@require(Permission.MANAGE_SETTINGS)
def protocol_settings():
    """The clinic's photo protocol: which views a complete set holds for each treatment area (an administrator's setting)."""
    current = capture.protocol(db.session)
    form = protocol_form_class()()
    if request.method == "GET":
        for name, area in form.area_fields:
            form[name].data = list(current.get(area, ()))
    if form.validate_on_submit():
        changed = capture.set_protocol(db.session, {area: form[name].data for name, area in form.area_fields},
                                       actor=current_user, ip_address=client_ip())
        commit_request()
        flash(f"Photo protocol saved: {len(changed)} area{'' if len(changed) == 1 else 's'} changed." if changed
              else "Photo protocol unchanged.", "success")
        return redirect(url_for("photos.protocol_settings"), 303)
    return render_template("photos/protocol.html", form=form), 422 if form.is_submitted() else 200
