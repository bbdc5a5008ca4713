"""A patient's photos as the comparison and the timeline read them: each with its visit, date and that day's parameters.

One function loads every photo of a patient in a fixed number of statements, whatever the count
(docs/photography.md, "Comparison and progress sheet"): the photos with their visit (consultation,
session with its plan, or review visit) and consent in one joined select, the zones of the patient's
sessions in a second, the photo protocol in a third. No ORM object is loaded per photo, so nothing
lazy-loads; the image bytes (photo_images) are never read here.

The parameters beside a photo of a session: the device (make and model) and the deepest depth used
in the photo's zones. For a close-up that is its own zone; for a face view, the zones whose
treatment area the photo protocol lists for that view (front: the face areas and the upper chest;
sides: the jaw and neck), so a front photo is not labelled with a depth used only on the neck.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from practitioner.clinical.vocabulary import zone_label
from practitioner.consents.models import Consent
from practitioner.consultations.models import Consultation
from practitioner.dates import day_month_year, short_date
from practitioner.per_request import remembered
from practitioner.photos.models import MOMENT_LABELS, VIEW_LABELS, VIEWS, Photo, PhotoProtocolView, ReviewVisit
from practitioner.plans.models import TreatmentPlan
from practitioner.treatments.models import SessionZone, TreatmentSession

# How an image's alt text says when it was taken ("Front view, 3 March 2026, before treatment").
MOMENT_PHRASES = {"baseline": "at the consultation, before treatment began", "before": "before treatment",
                  "immediately_after": "immediately after treatment", "review": "at a review visit"}


@dataclass(slots=True)
class PhotoCard:
    """One photo as pages and documents label it: plain values, no image bytes."""

    public_id: uuid.UUID
    key: str  # the public id as text (pages write it many times)
    view: str
    zone: str | None
    moment: str
    day: date  # the visit's date
    visit_kind: str  # "consultation", "session" or "review"
    visit: str  # "Consultation", "Session 3 of 6", "Review visit"
    sequence: int | None  # the session's number in its plan
    sessions_planned: int | None
    plan_id: int | None  # the plan of the session or review visit
    session_id: int | None
    consultation_id: int | None  # the consultation of a baseline photo
    depth_mm: Decimal | None  # the deepest depth used that day in the photo's zones (sessions only)
    depth_zones: tuple[str, ...]  # the zone(s) where that deepest depth was used, as labels
    device: str | None  # make and model, sessions only
    width: int
    height: int
    thumb_width: int
    thumb_height: int
    sha256: str
    captured_at: datetime
    clinical_consent: bool  # taken under a signed consent that agreed to clinical photography

    @property
    def series(self) -> tuple[str, str]:
        """The comparison this photo belongs to: its view, and its zone for a close-up ('' otherwise)."""
        return (self.view, self.zone or "")

    @property
    def view_label(self) -> str:
        """'Front', or 'Close-up: Cheeks'."""
        return series_title(self.view, self.zone)

    @property
    def moment_label(self) -> str:
        """'Before treatment'."""
        return MOMENT_LABELS.get(self.moment, self.moment)

    @property
    def alt(self) -> str:
        """The image's text alternative: 'Front view, 3 March 2026, before treatment'."""
        if self.view == "close_up":
            what = f"Close-up of the {zone_label(self.zone or '').lower()}"
        else:
            what = f"{VIEW_LABELS.get(self.view, self.view)} view"
        return f"{what}, {_day_month_year(self.day)}, {MOMENT_PHRASES.get(self.moment, self.moment)}"

    @property
    def depth_text(self) -> str:
        """'1.5 mm (cheeks)', or '' when no treatment that day touched the photo's zones."""
        if self.depth_mm is None:
            return ""
        mm = f"{self.depth_mm.normalize():f}"
        zones = ", ".join(z[:1].lower() + z[1:] for z in self.depth_zones)
        return f"{mm} mm ({zones})" if zones else f"{mm} mm"

    @property
    def day_text(self) -> str:
        """The visit's date as lists write it: '3 Mar 2026'."""
        return _short_date(self.day)

    @property
    def choice_label(self) -> str:
        """How the comparison's lists name it: '3 Mar 2026 · Session 1 of 6 · Before treatment'."""
        return f"{self.day_text} · {self.visit} · {self.moment_label}"

    @property
    def sort_key(self) -> tuple[date, datetime]:
        """Date order: the visit's day, then the moment it was taken."""
        return (self.day, self.captured_at)


# A page writes the same few visit dates hundreds of times; Babel takes tens of microseconds a date.
_short_date = lru_cache(maxsize=2048)(short_date)
_day_month_year = lru_cache(maxsize=2048)(day_month_year)


def series_title(view: str, zone: str | None) -> str:
    """A view as a heading: 'Front', 'Left oblique (45°)', 'Close-up: Cheeks'."""
    if view == "close_up" and zone:
        return f"{VIEW_LABELS['close_up']}: {zone_label(zone)}"
    return VIEW_LABELS.get(view, view)


def series_order(key: tuple[str, str]) -> tuple[int, str]:
    """Views in the protocol's order (front first), close-ups after, by zone."""
    view, zone = key
    return (VIEWS.index(view) if view in VIEWS else len(VIEWS), zone)


# Built once: the patient is a bound parameter (building the select for each page cost more than running it).
_PHOTO_ROWS = (
    select(Photo.public_id, Photo.view, Photo.zone, Photo.moment, Photo.session_id, Photo.consultation_id, Photo.width, Photo.height,
           Photo.thumb_width, Photo.thumb_height, Photo.sha256, Photo.captured_at,
           Consultation.consultation_date, ReviewVisit.visit_date, ReviewVisit.plan_id.label("review_plan_id"),
           TreatmentSession.session_date, TreatmentSession.sequence, TreatmentSession.device_make,
           TreatmentSession.device_model, TreatmentSession.plan_id, TreatmentPlan.sessions_planned,
           Consent.photo_clinical)
    .outerjoin(Consultation, Consultation.id == Photo.consultation_id)
    .outerjoin(TreatmentSession, TreatmentSession.id == Photo.session_id)
    .outerjoin(TreatmentPlan, TreatmentPlan.id == TreatmentSession.plan_id)
    .outerjoin(ReviewVisit, ReviewVisit.id == Photo.review_visit_id)
    .join(Consent, Consent.id == Photo.consent_id)
    .where(Photo.patient_id == bindparam("patient_id"))
)
_ZONE_ROWS = (
    select(SessionZone.session_id, SessionZone.zone, SessionZone.depth_mm)
    .join(TreatmentSession, TreatmentSession.id == SessionZone.session_id)
    .where(TreatmentSession.patient_id == bindparam("patient_id"))
)
_PROTOCOL_ROWS = select(PhotoProtocolView.area, PhotoProtocolView.view)


def protocol_rows(session: Session) -> list[tuple[str, str]]:
    """The clinic's photo protocol as (treatment area, view) rows: one statement, read once per page."""
    return remembered("photo_protocol_rows", lambda: [(area, view) for area, view in session.execute(_PROTOCOL_ROWS)])


def view_areas(session: Session) -> dict[str, frozenset[str]]:
    """For each view, the treatment areas whose protocol lists it (one statement)."""
    areas: dict[str, set[str]] = defaultdict(set)
    for area, view in protocol_rows(session):
        areas[view].add(area)
    return {view: frozenset(found) for view, found in areas.items()}


def _deepest(zones: list[tuple[str, Decimal]], wanted: frozenset[str]) -> tuple[Decimal | None, tuple[str, ...]]:
    depths = [(zone, depth) for zone, depth in zones if zone in wanted and depth is not None]
    if not depths:
        return None, ()
    deepest = max(depth for _, depth in depths)
    return deepest, tuple(dict.fromkeys(zone_label(zone) for zone, depth in depths if depth == deepest))


def patient_photos(session: Session, patient_id: int, *, parameters: bool = True) -> list[PhotoCard]:
    """Every photo of a patient, labelled, in date order: three statements whatever the number of photos.

    `parameters=False`: without the deepest depth beside each session's photo (pages that do not print it, such
    as the photo timeline): one statement.
    """
    rows = session.execute(_PHOTO_ROWS, {"patient_id": patient_id}).all()
    zones: dict[int, list[tuple[str, Decimal]]] = defaultdict(list)
    areas: dict[str, frozenset[str]] = {}
    if parameters and any(row.session_id is not None for row in rows):
        for session_id, zone, depth in session.execute(_ZONE_ROWS, {"patient_id": patient_id}):
            zones[session_id].append((zone, depth))
        areas = view_areas(session)
    # A session's parameters for one view (or close-up zone), worked out once for all the photos that share them.
    worked_out: dict[tuple[int, str, str | None], tuple[Decimal | None, tuple[str, ...]]] = {}
    cards = []
    for (public_id, view, zone, moment, session_id, consultation_id, width, height, thumb_width, thumb_height, sha256,
         captured_at, consultation_date, visit_date, review_plan_id, session_date, sequence, device_make, device_model,
         plan_id, sessions_planned, photo_clinical) in rows:
        if session_id is not None:
            kind, day, visit = "session", session_date, f"Session {sequence} of {sessions_planned}"
            key = (session_id, view, zone)
            if key not in worked_out:
                wanted = frozenset({zone}) if view == "close_up" else areas.get(view, frozenset())
                worked_out[key] = _deepest(zones.get(session_id, []), wanted) if parameters else (None, ())
            depth, depth_zones = worked_out[key]
            device = " ".join(part for part in (device_make, device_model) if part) or None
        elif visit_date is not None:
            kind, day, visit, depth, depth_zones, device, plan_id = "review", visit_date, "Review visit", None, (), None, review_plan_id
        else:
            kind, day, visit, depth, depth_zones, device, plan_id = "consultation", consultation_date, "Consultation", None, (), None, None
        cards.append(PhotoCard(public_id, str(public_id), view, zone, moment, day, kind, visit, sequence, sessions_planned, plan_id,
                               session_id, consultation_id, depth, depth_zones, device, width, height, thumb_width, thumb_height,
                               sha256, captured_at, bool(photo_clinical)))
    return sorted(cards, key=lambda card: card.sort_key)


def by_series(cards: list[PhotoCard]) -> dict[tuple[str, str], list[PhotoCard]]:
    """Photos grouped by view (and zone, for close-ups), views in the protocol's order, each in date order."""
    groups: dict[tuple[str, str], list[PhotoCard]] = defaultdict(list)
    for card in cards:
        groups[card.series].append(card)
    return {key: groups[key] for key in sorted(groups, key=series_order)}


def default_pair(series: list[PhotoCard]) -> tuple[PhotoCard | None, PhotoCard | None]:
    """Baseline and latest: the first baseline photo (else the first photo) and the last photo, in date order."""
    if not series:
        return None, None
    first = next((card for card in series if card.moment == "baseline"), series[0])
    last = series[-1]
    return first, (last if last.public_id != first.public_id else None)


@dataclass(frozen=True)
class Comparison:
    """What the compare page shows: the series (views) there are, the chosen one's photos, and the pair."""

    series: dict[tuple[str, str], list[PhotoCard]]
    view: str
    zone: str
    photos: list[PhotoCard]
    left: PhotoCard | None
    right: PhotoCard | None
    found: bool = True  # False: the view asked for has no photos (the first view is shown instead)

    @property
    def title(self) -> str:
        """The chosen view as a heading."""
        return series_title(self.view, self.zone)

    def find(self, public_id: str | None) -> PhotoCard | None:
        """The photo of the chosen series with this public id (a string from the form), or None."""
        for card in self.photos:
            if card.key == public_id:
                return card
        return None


    def pair(self, a: str | None, b: str | None) -> tuple[PhotoCard | None, PhotoCard | None]:
        """The chosen two (each blank one as the default pair has it); a default right side equal to the left is dropped."""
        left = self.find(a) or self.left
        right = self.find(b) or self.right
        if right is not None and left is not None and right.public_id == left.public_id and not b:
            right = None
        return left, right


def comparison(cards: list[PhotoCard], view: str | None, zone: str | None) -> Comparison:
    """The chosen series (the first in protocol order when none or an unknown one is asked for) and its default pair."""
    series = by_series(cards)
    key = (view or "", zone or "")
    found = not view or key in series
    if key not in series and view and not zone:
        # A close-up asked for without its zone: the first zone photographed.
        key = next((k for k in series if k[0] == view), key)
        found = key in series
    if key not in series:
        key = next(iter(series), (view or "frontal", zone or ""))
    photos = series.get(key, [])
    left, right = default_pair(photos)
    return Comparison(series=series, view=key[0], zone=key[1], photos=photos, left=left, right=right, found=found)
