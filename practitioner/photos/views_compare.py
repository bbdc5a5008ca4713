"""The photo comparison and the patient's photo timeline (practitioners only; each page view is audited)."""

from __future__ import annotations

import uuid
from flask import current_app, render_template, request, url_for
from flask_login import current_user

from practitioner import audit
from practitioner.auth.access import client_ip, require
from practitioner.auth.models import Permission
from practitioner.extensions import db
from practitioner.patients.models import Patient
from practitioner.photos import bp, compare, shown, timeline
from practitioner.photos.forms_compare import CompareForm

NO_SUCH_VIEW = "There are no photos of that view yet: choose one of the views below."


class PhotoLinks:
    """The links of one patient's photos, each route built once per page (a url_for per photo cost more than its row).

    Images go through the photo core's routes (practitioners only, each view audited there). A thumbnail of a
    photo in `shown` (the photos the page's own audit row names, `record_shown`) carries the proof that its
    fetch is covered by that row (photos/shown.py), so fetching it writes no row of its own.
    """

    _SAMPLE = uuid.UUID(int=0)

    def __init__(self, patient: Patient, shown: frozenset[str] = frozenset()) -> None:
        self.compare_base = url_for("photos.compare_photos", public_id=patient.public_id)
        self._routes = {which: (url_for(f"photos.{which}", public_id=self._SAMPLE) if f"photos.{which}" in current_app.view_functions
                                else f"/photos/{self._SAMPLE}/{which}") for which in ("image", "thumbnail")}
        self._shown = shown
        self._user_id = current_user.id if shown else None

    def image(self, card: compare.PhotoCard, which: str = "image") -> str:
        """The photo's image ('image') or thumbnail ('thumbnail'; with its proof when the page's audit row names it)."""
        url = self._routes[which].replace(str(self._SAMPLE), card.key)
        if which == "thumbnail" and card.key in self._shown:
            url += "?shown=" + shown.proof(self._user_id, card.key)
        return url

    def compare(self, card: compare.PhotoCard, first: compare.PhotoCard | None = None) -> str:
        """The comparison of the photo's view with this photo on the right (and `first`, else the baseline, on the left)."""
        # Codes ([a-z_]) and public ids ([0-9a-f-]) need no quoting.
        url = f"{self.compare_base}?view={card.view}&zone={card.zone or ''}&b={card.key}"
        return url + (f"&a={first.key}" if first is not None and first.key != card.key else "")


def record_shown(patient: Patient, action: str, photos: list[compare.PhotoCard]) -> frozenset[str]:
    """The audit row of a page that shows photos: who saw which of this patient's photos (its own short write).

    Returns the photos it names (their keys), whose thumbnails the page may link with a proof (PhotoLinks).
    """
    audit.append(db.session, action, actor=current_user, patient=patient, target=f"patient:{patient.public_id}",
                 detail={"photos": [card.key for card in photos]}, ip_address=client_ip())
    return frozenset(card.key for card in photos)


@bp.get("/patients/<uuid:public_id>/photos")
@require(Permission.VIEW_CLINICAL)
def patient_timeline(public_id: uuid.UUID):
    """Every photo of the patient, a row per view in date order, each a link to the comparison."""
    patient = db.one_or_404(Patient.by_public_id(public_id))
    cards = compare.patient_photos(db.session, patient.id, parameters=False)
    named = record_shown(patient, "photo.timeline_view", cards)
    return render_template("photos/timeline.html", patient=patient, rows=timeline.rows(cards), links=PhotoLinks(patient, named))


@bp.get("/patients/<uuid:public_id>/photos/compare")
@require(Permission.VIEW_CLINICAL)
def compare_photos(public_id: uuid.UUID):
    """The same view at two moments side by side: baseline and latest, or the two chosen on the form."""
    patient = db.one_or_404(Patient.by_public_id(public_id))
    form = CompareForm(request.args)
    form.validate()
    chosen = compare.comparison(compare.patient_photos(db.session, patient.id), form.view.data, form.zone.data)
    form.view.data, form.zone.data = chosen.view, chosen.zone
    form.a.choices = form.b.choices = [(c.key, c.choice_label) for c in chosen.photos]
    ok = form.check_choices({c.key for c in chosen.photos}) and chosen.found
    left, right = chosen.pair(form.a.data, form.b.data) if ok else (chosen.left, chosen.right)
    if ok:
        form.a.data, form.b.data = (str(left.public_id) if left else ""), (str(right.public_id) if right else "")
    record_shown(patient, "photo.compare_view", [card for card in (left, right) if card is not None])
    page = render_template("photos/compare.html", patient=patient, form=form, chosen=chosen, left=left, right=right,
                           view_missing="" if chosen.found else NO_SUCH_VIEW, links=PhotoLinks(patient))
    return page, (200 if ok else 422)
