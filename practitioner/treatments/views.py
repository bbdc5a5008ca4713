"""Session pages: start, fill in, sign, amend; the lot recall and the outstanding notes."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, time
from decimal import Decimal

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from practitioner.admin.services import current_policy
from practitioner.auth.access import client_ip, require
from practitioner.auth.models import Permission
from practitioner import signals
from practitioner.templating import LABELS
from practitioner.plans.models import TreatmentPlan
from practitioner.errors import DomainError, NotAllowed, StaleRecord
from practitioner.extensions import db
from practitioner.dates import clinic_today, clock, short_date
from practitioner.treatments import bp, services
from practitioner.clinical.vocabulary import ADVERSE_EVENT_LABELS, SESSION_LIST_TITLES, TECHNIQUE_LABELS, ZONE_LABELS
from practitioner.treatments.forms import (
    AddendumForm,
    LotSearchForm,
    OverrideForm,
    SessionForm,
    SignForm,
)
from practitioner.treatments.limits import ADDENDA_PER_SESSION
from practitioner.treatments.models import RESCREEN_DATED, RESCREEN_YES_NO, TreatmentSession
from practitioner.versioning import expected_version
from practitioner.unit_of_work import commit_request

ROW_LISTS = ("zones", "products", "adverse_events")
SIGNED_BUT_FOLLOW_ON_FAILED = ("Signed and locked, but a step that follows signing did not finish, so a document may not have "
                               "been issued. Check the Documents box on this page and issue what is missing from there.")


@bp.route("/plans/<uuid:public_id>/sessions/new", methods=["GET", "POST"])
@require(Permission.EDIT_CLINICAL)
def start(public_id: uuid.UUID):
    """Start the next session of a plan, or say exactly what is missing first."""
    plan = db.one_or_404(TreatmentPlan.by_public_id(public_id))
    reasons = services.why_cannot_start(db.session, plan)
    if request.method == "GET" or reasons:
        return render_template("treatments/start.html", plan=plan, reasons=reasons, form=SignForm(), labels=LABELS,
                               consent=services.covering_consent(db.session, plan)), 409 if reasons else 200
    if not SignForm().validate_on_submit():
        abort(400)
    record = services.start_session(db.session, plan, actor=current_user, on=clinic_today(), ip_address=client_ip())
    commit_request()
    return redirect(url_for("treatments.edit", public_id=record.public_id), 303)


def _values(form: SessionForm) -> dict:
    values = {name: field.data for name, field in form._fields.items()
              if name not in ("csrf_token", "version", "acknowledge_warnings", *ROW_LISTS)}
    for name in ROW_LISTS:
        values[name] = [row.form.data for row in getattr(form, name).entries]
    return values


def _mm(value) -> str:
    """1.00 -> '1.0', 1.25 -> '1.25' (the depth range hint)."""
    text = f"{value:.2f}"
    return text[:-1] if text.endswith("0") else text


def _render_form(form: SessionForm, record: TreatmentSession, status: int = 200, **extra):
    warnings = services.depth_warnings(record, current_user)
    acknowledged = record.warnings_acknowledged
    ranges = {zone: f"Plan: {_mm(low)} to {_mm(high)} mm" for zone, (low, high) in services.plan_ranges(record).items()}
    return render_template("treatments/form.html", form=form, record=record, labels=LABELS, warnings=warnings,
                           unacknowledged=[w for w in warnings if w not in acknowledged], ranges=ranges,
                           blocking=services.new_blocking_flags(record), rescreen_yes_no=RESCREEN_YES_NO,
                           rescreen_dated=RESCREEN_DATED, **extra), status


def _rows_changed(form: SessionForm) -> str | None:
    """'Add a row' and 'Remove' buttons re-show the form with one row more or less; nothing is saved.

    Returns the id of the place to come back to (the new row, or the add button below the rows), None for any other button.
    """
    for name in ROW_LISTS:
        rows = getattr(form, name)
        if f"add_{name}" in request.form:
            if len(rows.entries) < rows.max_entries:
                rows.append_entry()
            return f"{name}-row-{len(rows.entries) - 1}"
        remove = request.form.get(f"remove_{name}")
        if remove is not None and remove.isdigit():
            index = int(remove)
            if 0 <= index < len(rows.entries):
                rows.entries.pop(index)
            return f"{name}-add"
    return None


def _suggested_rows(record: TreatmentSession) -> list[dict]:
    """The zone rows a draft with no zone recorded opens with (services.planned_rows).

    Complete rows (copied from the previous session, or a plan zone that names its passes and technique) are
    offered on the first opening only, and saved as they stand; rows the plan leaves passes or technique open
    on are offered whenever no zone is recorded, since they are never saved until those are filled in.
    """
    rows = [row if _complete(row) else {**row, "suggested": "1"} for row in services.planned_rows(db.session, record)]
    return [row for row in rows if record.version == 1 or "suggested" in row]


def _complete(row: dict) -> bool:
    return row.get("passes") is not None and bool(row.get("technique"))


def _unused_suggestion(row, record: TreatmentSession) -> bool:
    """A plan row left as the form offered it (same zone, depth, passes and technique as the plan's): not a zone treated."""
    data = row.form
    planned = next((z for z in record.plan.zones if z.zone == data.zone.data), None)
    if data.suggested.data != "1" or planned is None:
        return False
    typed_passes = "".join(data.passes.raw_data or ()).strip()
    same_passes = data.passes.data is not None and data.passes.data == planned.passes if typed_passes else planned.passes is None
    return data.depth_mm.data == planned.depth_min_mm and (data.technique.data or None) == planned.technique and same_passes


def _validated_values(form: SessionForm, record: TreatmentSession) -> tuple[bool, dict]:
    """Validate and read the form without the plan rows left unused; the form keeps them for showing again."""
    shown = list(form.zones.entries)
    form.zones.entries = [row for row in shown if not _unused_suggestion(row, record)]
    valid = form.validate_on_submit()
    values = _values(form)
    form.zones.entries = shown
    return valid, values


def _shown(field, value) -> str:
    """A value as the person reads it: choice labels, Yes/No, dates, plain numbers; '—' for nothing."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, time):
        return clock(value)
    if isinstance(value, date):
        return short_date(value)
    labels = {choice.value: choice.label for choice in getattr(field, "choices", None) or ()}
    return labels.get(str(value), str(value))


def _row_text(name: str, row: dict) -> str:
    """One zone, product or adverse-event row in words."""
    if name == "zones":
        text = (f"{ZONE_LABELS.get(row['zone'], row['zone'] or '—')} {_shown(None, row['depth_mm'])} mm × {_shown(None, row['passes'])}, "
                f"{TECHNIQUE_LABELS.get(row['technique'], '—')}")
        if row.get("rf_energy") is not None:
            text += f", {_shown(None, row['rf_energy'])} {row.get('rf_energy_unit') or ''}".rstrip()
        return text
    if name == "products":
        labelled = {True: "labelled for needled skin", False: "not labelled for needled skin"}.get(row["labelled_for_needled_skin"], "")
        return ", ".join(part for part in (row["name"] or "—", f"lot {row['lot'] or '—'}", labelled) if part)
    return f"{ADVERSE_EVENT_LABELS.get(row['kind'], '—')}{' (' + row['detail'] + ')' if row.get('detail') else ''}: {row['action_taken'] or '—'}"


ROW_COLUMNS = {"zones": ("zone", "depth_mm", "passes", "technique", "rf_energy", "rf_energy_unit", "rf_pulse_ms", "rf_rows"),
               "products": ("name", "lot", "labelled_for_needled_skin"), "adverse_events": ("kind", "detail", "action_taken")}


def _differences(form: SessionForm, saved: TreatmentSession) -> list[tuple[str, str, str]]:
    """Every field where the saved session and the typed form differ, in form order: (label, saved, yours)."""
    found = []
    for name, field in form._fields.items():
        if name in services.EDITABLE_FIELDS:
            theirs, yours = _shown(field, getattr(saved, name)), _shown(field, field.data)
        elif name in ROW_LISTS:
            theirs = "; ".join(_row_text(name, {c: getattr(r, c) for c in ROW_COLUMNS[name]}) for r in getattr(saved, name)) or "—"
            yours = "; ".join(_row_text(name, row.form.data) for row in field.entries) or "—"
        else:
            continue
        if theirs != yours:
            found.append((SESSION_LIST_TITLES.get(name, field.label.text), theirs, yours))
    return found


@bp.route("/sessions/<uuid:public_id>/edit", methods=["GET", "POST"])
@require(Permission.EDIT_CLINICAL)
def edit(public_id: uuid.UUID):
    """Fill in the session record; it saves as a draft until signed."""
    record = db.one_or_404(TreatmentSession.by_public_id(public_id))
    if record.is_signed:
        if request.method == "POST":
            flash("This session is signed and locked: nothing was changed. Add an addendum to correct it.", "error")
            return render_template("treatments/detail.html", **_detail_context(record)), 409
        return redirect(url_for("treatments.detail", public_id=record.public_id), 303)
    form = SessionForm(obj=record) if request.method == "GET" else SessionForm()
    if request.method == "GET":
        form.version.data = str(record.version)
        if not record.zones and not form.restored_from_draft:
            for row in _suggested_rows(record):
                form.zones.append_entry(row)
        return _render_form(form, record)
    focus = _rows_changed(form)
    if focus:
        return _render_form(form, record, focus=focus)
    valid, values = _validated_values(form, record)
    if not valid:
        return _render_form(form, record, 422)
    try:
        _, unacknowledged = services.save_draft(db.session, record, values, expected_version=expected_version(form), actor=current_user,
                                                policy=current_policy(db.session), acknowledged=bool(form.acknowledge_warnings.data),
                                                ip_address=client_ip())
    except StaleRecord as exc:
        db.session.rollback()
        saved = db.one_or_404(TreatmentSession.by_public_id(public_id))
        form.version.data = str(saved.version)
        flash(f"{exc} Both versions are shown: yours is in the form, still unsaved. Check it and save again.", "error")
        return _render_form(form, saved, 409, conflict=True, differences=_differences(form, saved))
    except (services.ExpiredLot, services.SessionDateRefused, services.TextTooLong) as exc:
        db.session.rollback()
        field = (form.cartridge_expiry if isinstance(exc, services.ExpiredLot) else
                 form[exc.field] if isinstance(exc, services.TextTooLong) else form.session_date)
        field.errors = [*field.errors, str(exc)]
        return _render_form(form, db.one_or_404(TreatmentSession.by_public_id(public_id)), 422)
    commit_request()
    if unacknowledged:
        flash("Saved as a draft. Some depths need your acknowledgement before the session can be signed: see the warnings.", "warning")
        return redirect(url_for("treatments.edit", public_id=record.public_id) + "#warnings", 303)
    flash("Saved as a draft.", "success")
    return redirect(url_for("treatments.detail", public_id=record.public_id), 303)


def _detail_context(record: TreatmentSession, **forms) -> dict:
    missing = [] if record.is_signed else services.missing_for_signing(record, record.practitioner)
    return {"record": record, "labels": LABELS, "missing": missing, "sign_form": forms.get("sign_form") or SignForm(version=record.version),
            "addendum_form": forms.get("addendum_form") or AddendumForm(), "override_form": forms.get("override_form") or OverrideForm(),
            "blocking": services.new_blocking_flags(record), "flags": record.rescreen_flags, "addenda_limit": ADDENDA_PER_SESSION,
            "warnings": record.warnings_acknowledged,
            "integrity_warning": services.tamper_warning(record) if services.integrity_problems(db.session, record) else ""}


@bp.get("/sessions/<uuid:public_id>")
@require(Permission.VIEW_CLINICAL)
def detail(public_id: uuid.UUID):
    """The session record: signed and locked with its addenda, or a draft with what is missing."""
    record = db.one_or_404(TreatmentSession.by_public_id(public_id))
    services.record_view(db.session, record, actor=current_user, ip_address=client_ip())
    return render_template("treatments/detail.html", **_detail_context(record))


@bp.post("/sessions/<uuid:public_id>/sign")
@require(Permission.EDIT_CLINICAL)
def sign(public_id: uuid.UUID):
    """Sign and lock; refused with every missing item listed."""
    record = db.one_or_404(TreatmentSession.by_public_id(public_id))
    form = SignForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.sign_session(db.session, record, actor=current_user, expected_version=expected_version(form), ip_address=client_ip())
    except services.IncompleteRecord:
        db.session.rollback()
        flash("Not signed yet: complete the items listed below first.", "error")
        return render_template("treatments/detail.html", **_detail_context(db.one_or_404(TreatmentSession.by_public_id(public_id)))), 422
    except (StaleRecord, NotAllowed, DomainError) as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return render_template("treatments/detail.html", **_detail_context(db.one_or_404(TreatmentSession.by_public_id(public_id)))), 409
    commit_request()
    flash("Signed. The record is now locked; corrections are added as addenda.", "success")
    # What the features above do once a session is signed (documents: issue the aftercare); see practitioner/signals.py.
    notices, failed = signals.send_guarded(signals.session_signed, record, on_failure=db.session.rollback,
                                           actor=current_user, ip_address=client_ip())
    for notice in notices:
        flash(notice.message, notice.category)
    if failed:  # the signature is committed and stands
        flash(SIGNED_BUT_FOLLOW_ON_FAILED, "warning")
    return redirect(url_for("treatments.detail", public_id=record.public_id), 303)


@bp.post("/sessions/<uuid:public_id>/override")
@require(Permission.EDIT_CLINICAL)
def override(public_id: uuid.UUID):
    """Record why treatment goes ahead despite a new blocking flag today."""
    record = db.one_or_404(TreatmentSession.by_public_id(public_id))
    form = OverrideForm()
    if not form.validate_on_submit():
        return render_template("treatments/detail.html", **_detail_context(record, override_form=form)), 422
    try:
        services.record_session_override(db.session, record, form.reason.data, actor=current_user, ip_address=client_ip())
    except DomainError as exc:
        flash(str(exc), "error")
        return redirect(url_for("treatments.detail", public_id=record.public_id), 303)
    commit_request()
    flash("Override recorded.", "success")
    return redirect(url_for("treatments.detail", public_id=record.public_id), 303)


@bp.post("/sessions/<uuid:public_id>/addenda")
@require(Permission.EDIT_CLINICAL)
def add_addendum(public_id: uuid.UUID):
    """Add a correction or late entry beneath the signed original."""
    record = db.one_or_404(TreatmentSession.by_public_id(public_id))
    form = AddendumForm()
    if not form.validate_on_submit():
        return render_template("treatments/detail.html", **_detail_context(record, addendum_form=form)), 422
    try:
        services.add_addendum(db.session, record, form.reason.data, form.text.data, actor=current_user, ip_address=client_ip())
    except (services.TextTooLong, services.TooManyAddenda) as exc:
        db.session.rollback()
        field = form[exc.field] if isinstance(exc, services.TextTooLong) else form.text
        field.errors = [*field.errors, str(exc)]
        record = db.one_or_404(TreatmentSession.by_public_id(public_id))
        return render_template("treatments/detail.html", **_detail_context(record, addendum_form=form)), 422
    except DomainError as exc:
        flash(str(exc), "error")
        return redirect(url_for("treatments.detail", public_id=record.public_id), 303)
    commit_request()
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
