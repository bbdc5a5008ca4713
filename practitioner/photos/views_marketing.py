"""Marketing use of photos: mark and unmark a photo (each checks the patient's marketing consent), the list, the export.

Practitioners only; every action is a POST with its CSRF token, and audited.
"""

from __future__ import annotations

import uuid

from flask import Response, flash, redirect, render_template
from flask_login import current_user

from practitioner.auth.access import client_ip, require
from practitioner.auth.models import Permission
from practitioner.extensions import db
from practitioner.photos import bp, capture, marketing
from practitioner.photos.consent import PhotoRefused
from practitioner.photos.forms import ActionForm
from practitioner.photos.models import Photo
from practitioner.photos.urls import capture_url, thumbnail_url
from practitioner.unit_of_work import commit_request


def _back_to(photo: Photo) -> Response:
    visit = capture.visit_of(db.session, photo)
    return redirect(capture_url(visit, photo.moment if capture.visit_kind(visit) == "session" else None), 303)


@bp.post("/photos/<uuid:public_id>/marketing")
@require(Permission.EDIT_CLINICAL)
def mark_marketing(public_id: uuid.UUID):
    """Mark a photo for marketing use: only while the patient's marketing consent stands (checked now)."""
    photo = db.one_or_404(Photo.by_public_id(public_id))
    if not ActionForm().validate_on_submit():
        flash("The form's security token was out of date. Nothing changed: try again.", "warning")
        return _back_to(photo)
    try:
        marketing.mark(db.session, photo, actor=current_user, ip_address=client_ip())
    except PhotoRefused as exc:
        db.session.rollback()
        flash(f"Not marked for marketing. {exc}", "warning")
    else:
        commit_request()
        flash("Marked for marketing use.", "success")
    return _back_to(photo)


@bp.post("/photos/<uuid:public_id>/marketing/end")
@require(Permission.EDIT_CLINICAL)
def unmark_marketing(public_id: uuid.UUID):
    """End a photo's marketing use."""
    photo = db.one_or_404(Photo.by_public_id(public_id))
    if not ActionForm().validate_on_submit():
        flash("The form's security token was out of date. Nothing changed: try again.", "warning")
        return _back_to(photo)
    try:
        marketing.unmark(db.session, photo, actor=current_user, ip_address=client_ip())
    except marketing.NotMarked as exc:
        db.session.rollback()
        flash(str(exc), "warning")
    else:
        commit_request()
        flash("No longer marked for marketing use.", "success")
    return _back_to(photo)


@bp.get("/photos/marketing")
@require(Permission.VIEW_CLINICAL)
def marketing_list():
    """The photos marked for marketing now, and the export of those whose consent stands."""
    photos = marketing.marked_photos(db.session)
    return render_template("photos/marketing.html", photos=photos, thumbnail_url=thumbnail_url, form=ActionForm(),
                           lapsed=marketing.lapsed(db.session, photos),
                           capture_url=capture_url, visit_of=lambda p: capture.visit_of(db.session, p), photo_label=capture.photo_label)


@bp.post("/photos/marketing/export")
@require(Permission.EDIT_CLINICAL)
def marketing_export():
    """A ZIP of the marked photos whose patient's marketing consent stands now, identifiers removed; audited."""
    form = ActionForm()
    if not form.validate_on_submit():
        photos = marketing.marked_photos(db.session)
        return render_template("photos/marketing.html", photos=photos, thumbnail_url=thumbnail_url, form=form,
                               lapsed=marketing.lapsed(db.session, photos),
                               capture_url=capture_url, visit_of=lambda p: capture.visit_of(db.session, p), photo_label=capture.photo_label), 422
    result = marketing.export(db.session, actor=current_user, ip_address=client_ip())
    commit_request()
    return Response(result.data, mimetype="application/zip", headers={
        "Content-Disposition": 'attachment; filename="marketing-photos.zip"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff"})
