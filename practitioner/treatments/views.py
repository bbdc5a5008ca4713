"""Session pages: start, fill in, sign, amend; the lot recall and the outstanding notes."""

from __future__ import annotations

import csv
import io
import json
import logging
import uuid

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from practitioner.admin.services import current_policy
from practitioner.auth.access import client_ip, require
from practitioner.auth.models import Permission
from practitioner.clinical.screening import DECISION_LABELS, FLAG_TITLES, MODALITY_LABELS
from practitioner.consultations.plan_services import get_plan
from practitioner.errors import DomainError, NotAllowed, StaleRecord
from practitioner.extensions import db
from practitioner.templating import clinic_today
from practitioner.treatments import bp, hooks, services
from practitioner.treatments.forms import (
    ADVERSE_EVENT_LABELS,
    ENDPOINT_LABELS,
    TECHNIQUE_LABELS,
    ZONE_LABELS,
    AddendumForm,
    LotSearchForm,
    OverrideForm,
    SessionForm,
    SignForm,
)
from practitioner.treatments.models import TreatmentSession

LABELS = {"modality": MODALITY_LABELS, "zone": ZONE_LABELS, "technique": TECHNIQUE_LABELS, "endpoint": ENDPOINT_LABELS, "adverse": ADVERSE_EVENT_LABELS,
          "decision": DECISION_LABELS, "flag": FLAG_TITLES}
ROW_LISTS = ("zones", "products", "adverse_events")
log = logging.getLogger(__name__)


def _record_or_404(public_id: uuid.UUID) -> TreatmentSession:
    record = services.get_session_record(db.session, public_id)
    if record is None:
        abort(404)
    return record


@bp.route("/plans/<uuid:public_id>/sessions/new", methods=["GET", "POST"])
@require(Permission.EDIT_CLINICAL)
def start(public_id: uuid.UUID):
    """Start the next session of a plan, or say exactly what is missing first."""
    plan = get_plan(db.session, public_id) or abort(404)
    reasons = services.why_cannot_start(db.session, plan)
    if request.method == "GET" or reasons:
        return render_template("treatments/start.html", plan=plan, reasons=reasons, form=SignForm(), labels=LABELS,
                               consent=services.covering_consent(db.session, plan)), 409 if reasons else 200
    if not SignForm().validate_on_submit():
        abort(400)
    record = services.start_session(db.session, plan, actor=current_user, on=clinic_today(), ip_address=client_ip())
    db.session.commit()
    return redirect(url_for("treatments.edit", public_id=record.public_id), 303)


def _values(form: SessionForm) -> dict:
    values = {name: field.data for name, field in form._fields.items()
              if name not in ("csrf_token", "version", "acknowledge_warnings", *ROW_LISTS)}
    for name in ROW_LISTS:
        values[name] = [row.form.data for row in getattr(form, name).entries]
    return values


def _render_form(form: SessionForm, record: TreatmentSession, status: int = 200, **extra):
    warnings = services.depth_warnings(record, current_user)
    acknowledged = json.loads(record.warnings_acknowledged or "[]")
    return render_template("treatments/form.html", form=form, record=record, labels=LABELS, warnings=warnings,
                           unacknowledged=[w for w in warnings if w not in acknowledged],
                           blocking=services.new_blocking_flags(record), **extra), status


def _rows_changed(form: SessionForm) -> bool:
    """'Add a row' and 'Remove' buttons re-show the form with one row more or less; nothing is saved."""
    for name in ROW_LISTS:
        if f"add_{name}" in request.form:
            getattr(form, name).append_entry()
            return True
        remove = request.form.get(f"remove_{name}")
        if remove is not None and remove.isdigit():
            entries = getattr(form, name).entries
            index = int(remove)
            if 0 <= index < len(entries):
                entries.pop(index)
            return True
    return False


@bp.route("/sessions/<uuid:public_id>/edit", methods=["GET", "POST"])
@require(Permission.EDIT_CLINICAL)
def edit(public_id: uuid.UUID):
    """Fill in the session record; it saves as a draft until signed."""
    record = _record_or_404(public_id)
    if record.is_signed:
        if request.method == "POST":
            flash("This session is signed and locked: nothing was changed. Add an addendum to correct it.", "error")
            return render_template("treatments/detail.html", **_detail_context(record)), 409
        return redirect(url_for("treatments.detail", public_id=record.public_id), 303)
    form = SessionForm(obj=record) if request.method == "GET" else SessionForm()
    if request.method == "GET":
        form.version.data = str(record.version)
        return _render_form(form, record)
    if _rows_changed(form):
        return _render_form(form, record)
    if not form.validate_on_submit():
        return _render_form(form, record, 422)
    expected = int(form.version.data) if (form.version.data or "").isdigit() else None
    try:
        _, unacknowledged = services.save_draft(db.session, record, _values(form), expected_version=expected, actor=current_user,
                                                policy=current_policy(db.session), acknowledged=bool(form.acknowledge_warnings.data),
                                                ip_address=client_ip())
    except StaleRecord as exc:
        db.session.rollback()
        saved = _record_or_404(public_id)
        form.version.data = str(saved.version)
        flash(f"{exc} Both versions are shown: yours is in the form, still unsaved. Check it and save again.", "error")
        return _render_form(form, saved, 409, conflict=True)
    except services.ExpiredLot as exc:
        db.session.rollback()
        form.cartridge_expiry.errors = [*form.cartridge_expiry.errors, str(exc)]
        return _render_form(form, _record_or_404(public_id), 422)
    db.session.commit()
    if unacknowledged:
        flash("Saved as a draft. Some depths need your acknowledgement before the session can be signed: see the warnings.", "warning")
        return redirect(url_for("treatments.edit", public_id=record.public_id) + "#warnings", 303)
    flash("Saved as a draft.", "success")
    return redirect(url_for("treatments.detail", public_id=record.public_id), 303)


def _detail_context(record: TreatmentSession, **forms) -> dict:
    missing = [] if record.is_signed else services.missing_for_signing(record, record.practitioner)
    return {"record": record, "labels": LABELS, "missing": missing, "sign_form": forms.get("sign_form") or SignForm(version=record.version),
            "addendum_form": forms.get("addendum_form") or AddendumForm(), "override_form": forms.get("override_form") or OverrideForm(),
            "blocking": services.new_blocking_flags(record), "flags": json.loads(record.rescreen_flags or "[]"),
            "warnings": json.loads(record.warnings_acknowledged or "[]")}


@bp.get("/sessions/<uuid:public_id>")
@require(Permission.VIEW_CLINICAL)
def detail(public_id: uuid.UUID):
    """The session record: signed and locked with its addenda, or a draft with what is missing."""
    record = _record_or_404(public_id)
    services.record_view(db.session, record, actor=current_user, ip_address=client_ip())
    return render_template("treatments/detail.html", **_detail_context(record))


@bp.post("/sessions/<uuid:public_id>/sign")
@require(Permission.EDIT_CLINICAL)
def sign(public_id: uuid.UUID):
    """Sign and lock; refused with every missing item listed."""
    record = _record_or_404(public_id)
    form = SignForm()
    if not form.validate_on_submit():
        abort(400)
    expected = int(form.version.data) if (form.version.data or "").isdigit() else None
    try:
        services.sign_session(db.session, record, actor=current_user, expected_version=expected, ip_address=client_ip())
    except services.IncompleteRecord:
        db.session.rollback()
        flash("Not signed yet: complete the items listed below first.", "error")
        return render_template("treatments/detail.html", **_detail_context(_record_or_404(public_id))), 422
    except (StaleRecord, NotAllowed, DomainError) as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return render_template("treatments/detail.html", **_detail_context(_record_or_404(public_id))), 409
    db.session.commit()
    flash("Signed. The record is now locked; corrections are added as addenda.", "success")
    for hook in hooks.after_sign_hooks():
        try:
            flash(hook(record, current_user, client_ip()), "success")
        except Exception:  # the signature stands whatever happens to a follow-on document
            db.session.rollback()
            log.exception("after-sign hook failed for session %s", record.public_id)
            flash("The aftercare could not be issued automatically. Issue it from this page.", "warning")
    return redirect(url_for("treatments.detail", public_id=record.public_id), 303)


@bp.post("/sessions/<uuid:public_id>/override")
@require(Permission.EDIT_CLINICAL)
def override(public_id: uuid.UUID):
    """Record why treatment goes ahead despite a new blocking flag today."""
    record = _record_or_404(public_id)
    form = OverrideForm()
    if not form.validate_on_submit():
        return render_template("treatments/detail.html", **_detail_context(record, override_form=form)), 422
    try:
        services.record_session_override(db.session, record, form.reason.data, actor=current_user, ip_address=client_ip())
    except DomainError as exc:
        flash(str(exc), "error")
        return redirect(url_for("treatments.detail", public_id=record.public_id), 303)
    db.session.commit()
    flash("Override recorded.", "success")
    return redirect(url_for("treatments.detail", public_id=record.public_id), 303)


@bp.post("/sessions/<uuid:public_id>/addenda")
@require(Permission.EDIT_CLINICAL)
def add_addendum(public_id: uuid.UUID):
    """Add a correction or late entry beneath the signed original."""
    record = _record_or_404(public_id)
    form = AddendumForm()
    if not form.validate_on_submit():
        return render_template("treatments/detail.html", **_detail_context(record, addendum_form=form)), 422
    try:
        services.add_addendum(db.session, record, form.reason.data, form.text.data, actor=current_user, ip_address=client_ip())
    except DomainError as exc:
        flash(str(exc), "error")
        return redirect(url_for("treatments.detail", public_id=record.public_id), 303)
    db.session.commit()
    flash("Addendum added beneath the signed record.", "success")
    return redirect(url_for("treatments.detail", public_id=record.public_id) + "#addenda", 303)


@bp.get("/sessions/unsigned")
@require(Permission.VIEW_CLINICAL)
def unsigned():
    """The practitioner's outstanding notes: sessions not yet signed."""
    return render_template("treatments/unsigned.html", records=services.unsigned_sessions(db.session, current_user), labels=LABELS)


@bp.get("/lots")
@require(Permission.VIEW_CLINICAL)
def lots():
    """Find every session and patient that used a cartridge, product or PRP kit lot."""
    form = LotSearchForm(request.args)
    form.validate()
    hits = services.find_lot(db.session, form.lot.data or "")
    if form.lot.data:
        services.record_lot_search(db.session, form.lot.data, len(hits), actor=current_user, ip_address=client_ip())
    return render_template("treatments/lots.html", form=form, hits=hits, labels=LABELS)


@bp.get("/lots.csv")
@require(Permission.VIEW_CLINICAL)
def lots_csv():
    """The lot search as CSV, for a recall list."""
    lot = (request.args.get("lot") or "").strip()
    if not lot:
        abort(404)
    hits = services.find_lot(db.session, lot)
    services.record_lot_search(db.session, lot, len(hits), actor=current_user, ip_address=client_ip(), export=True)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["lot", "used_as", "product", "session_date", "session", "signed", "patient_record_number", "patient_name",
                     "date_of_birth", "phone", "email", "practitioner"])
    for hit in hits:
        r, p = hit.record, hit.record.patient
        writer.writerow([_cell(lot), hit.matched, _cell(hit.product), r.session_date.isoformat(), str(r.public_id), "yes" if r.is_signed else "no",
                         _cell(p.record_number), _cell(p.full_name), p.date_of_birth.isoformat(), _cell(p.phone), _cell(p.email), _cell(r.practitioner.name)])
    filename = "lot-" + "".join(ch for ch in lot if ch.isalnum() or ch in "-_")[:40] + ".csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


def _cell(value: str) -> str:
    """Neutralise spreadsheet formulas in text a user typed (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
