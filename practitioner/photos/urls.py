"""Where photo pages live: a visit's capture page, a visit's own page, a photo's thumbnail."""

from __future__ import annotations

from flask import url_for
from werkzeug.routing import BuildError

from practitioner.photos import capture
from practitioner.photos.capture import Visit
from practitioner.photos.models import Photo


def thumbnail_url(photo: Photo) -> str:
    """The photo's thumbnail, served (and audited) by the photo core's route."""
    try:
        return url_for("photos.thumbnail", public_id=photo.public_id)
    except BuildError:  # the image routes not registered (the photo core serves /photos/<id>/thumbnail)
        return f"/photos/{photo.public_id}/thumbnail"


def capture_url(visit: Visit, moment: str | None = None) -> str:
    """The capture page of a visit (at one moment, for a session)."""
    endpoint = {"consultation": "photos.capture_consultation", "session": "photos.capture_session",
                "review": "photos.capture_review"}[capture.visit_kind(visit)]
    return url_for(endpoint, public_id=visit.public_id, **({"moment": moment} if moment else {}))


def visit_url(visit: Visit) -> str:
    """The visit's own page."""
    kind = capture.visit_kind(visit)
    if kind == "consultation":
        return url_for("consultations.detail", public_id=visit.public_id)
    if kind == "session":
        return url_for("treatments.detail", public_id=visit.public_id)
    return url_for("photos.review_visit", public_id=visit.public_id)
