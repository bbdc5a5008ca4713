"""The photo comparison and the patient's photo timeline (practitioners only; each page view is audited)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, render_template, request, url_for
from flask_login import current_user

from practitioner import audit
from practitioner.auth.access import client_ip, require
from practitioner.auth.models import Permission
from practitioner.extensions import db
from practitioner.patients.models import Patient
from practitioner.photos import bp, compare, timeline
from practitioner.photos.forms_compare import CompareForm

NO_SUCH_VIEW = "There are no photos of that view yet: choose one of the views below."


def image_url(public_id: uuid.UUID, which: str = "image") -> str:
    """The app's route for a photo's image or thumbnail (practitioners only, audited there)."""
    endpoint = f"photos.{which}"
    if endpoint in current_app.view_functions:
        return url_for(endpoint, public_id=public_id)
    return f"/photos/{public_id}/{which}"


def compare_url(patient: Patient, card: compare.PhotoCard, first: compare.PhotoCard | None = None) -> str:
    """The comparison of a photo's view with this photo on the right (and the baseline, or `first`, on the left)."""
    args: dict[str, Any] = {"view": card.view, "zone": card.zone or "", "b": card.public_id}
    if first is not None and first.public_id != card.public_id:
        args["a"] = first.public_id
    return url_for("photos.compare_photos", public_id=patient.public_id, **args)


def record_shown(patient: Patient, action: str, photos: list[compare.PhotoCard]) -> None:
    """The audit row of a page that shows photos: who saw which of this patient's photos (its own short write)."""
    audit.append(db.session, action, actor=current_user, patient=patient, target=f"patient:{patient.public_id}",
                 detail={"photos": [str(card.public_id) for card in photos]}, ip_address=client_ip())


@bp.get("/patients/<uuid:public_id>/photos")
@require(Permission.VIEW_CLINICAL)
def patient_timeline(public_id: uuid.UUID):
    """Every photo of the patient, a row per view in date order, each a link to the comparison."""
    patient = db.one_or_404(Patient.by_public_id(public_id))
    cards = compare.patient_photos(db.session, patient.id)
    record_shown(patient, "photo.timeline_view", cards)
    return render_template("photos/timeline.html", patient=patient, rows=timeline.rows(cards),
                           image_url=image_url, compare_url=compare_url)


@bp.get("/patients/<uuid:public_id>/photos/compare")
@require(Permission.VIEW_CLINICAL)
def compare_photos(public_id: uuid.UUID):
    """The same view at two moments side by side: baseline and latest, or the two chosen on the form."""
    patient = db.one_or_404(Patient.by_public_id(public_id))
    form = CompareForm(request.args)
    form.validate()
    chosen = compare.comparison(compare.patient_photos(db.session, patient.id), form.view.data, form.zone.data)
    form.view.data, form.zone.data = chosen.view, chosen.zone
    form.a.choices = form.b.choices = [(str(c.public_id), c.choice_label) for c in chosen.photos]
    ok = form.check_choices({str(c.public_id) for c in chosen.photos}) and chosen.found
    left, right = chosen.pair(form.a.data, form.b.data) if ok else (chosen.left, chosen.right)
    if ok:
        form.a.data, form.b.data = (str(left.public_id) if left else ""), (str(right.public_id) if right else "")
    record_shown(patient, "photo.compare_view", [card for card in (left, right) if card is not None])
    page = render_template("photos/compare.html", patient=patient, form=form, chosen=chosen, left=left, right=right,
                           view_missing="" if chosen.found else NO_SUCH_VIEW, image_url=image_url, compare_url=compare_url)
    return page, (200 if ok else 422)
