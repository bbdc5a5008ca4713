"""Taking a visit's photos: which views the protocol asks for, which are taken, which are missing; the capture and review visits.

A visit is a consultation (baseline photos), a treatment session (before treatment, immediately after)
or a review visit (review photos). The views a complete set holds come from the clinic's photo
protocol (photo_protocol_views: views per treatment area) for the visit's areas: the consultation's
treatment areas, the session's treated zones (its plan's zones while it has none), the review visit's
plan's zones (without a plan, the patient's latest consultation's areas). A close-up can be taken of
each of those zones; it belongs to the complete set only where the protocol lists `close_up`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Iterable, Union

from sqlalchemy import bindparam, delete, func, or_, select
from sqlalchemy.orm import Session, joinedload, lazyload

from practitioner import audit
from practitioner.clinical.screening import TREATMENT_AREAS
from practitioner.clinical.vocabulary import ZONES, zone_label
from practitioner.consultations.models import Consultation
from practitioner.errors import NotAllowed
from practitioner.photos import imaging, limits, services
from practitioner.photos.compare import protocol_rows
from practitioner.photos.consent import SIGNED, PhotoRefused, clinical_consent_for
from practitioner.photos.services import visit_kind  # one definition, beside the visit columns it names; callers use capture's
from practitioner.photos.models import CAPTURE_CHECKS, MOMENT_LABELS, VIEW_LABELS, VIEWS, Photo, PhotoProtocolView, ReviewVisit
from practitioner.plans.models import TreatmentPlan
from practitioner.treatments.models import TreatmentSession

if TYPE_CHECKING:
    from practitioner.auth.models import User
    from practitioner.patients.models import Patient

Visit = Union[Consultation, TreatmentSession, ReviewVisit]

# A treated zone's photo protocol is its treatment area's. The two plan zones that are not consultation areas
# are finer divisions of the face (the glabella between the brows; scar areas are facial atrophic scars in the
# depth table), so they take the face's views, here through the forehead's and the cheeks' rows.
ZONE_AREA: dict[str, str] = {**{area: area for area in TREATMENT_AREAS}, "glabella": "forehead", "scar_area": "cheeks"}


CLOSED = "This session is signed, so its photo set is closed. Take later photos at a review visit."


class TooManyReviewVisits(NotAllowed):
    """The plan already has the review visits photos.limits allows (a review visit outside a plan has no limit)."""


class PhotoUploadInvalid(Exception):
    """One chosen file is not a photo the product can keep: which input, and the message for it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class Slot:
    """One photo a visit's set can hold: a view (and, for a close-up, its zone), required by the protocol or not."""

    view: str
    zone: str | None = None
    required: bool = True

    @property
    def key(self) -> str:
        """The form input's name part: 'frontal', 'close_up-cheeks'."""
        return self.view if self.zone is None else f"{self.view}-{self.zone}"

    @property
    def label(self) -> str:
        """The view's name, as the file input's label reads ('Front', 'Close-up: Cheeks')."""
        return VIEW_LABELS[self.view] if self.zone is None else f"{VIEW_LABELS[self.view]}: {zone_label(self.zone)}"


@dataclass(frozen=True)
class PhotoSet:
    """The photos of one visit at one moment against the protocol's views."""

    moment: str
    slots: tuple[Slot, ...]
    photos: tuple[Photo, ...]

    @property
    def moment_label(self) -> str:
        """'Before treatment'."""
        return MOMENT_LABELS[self.moment]

    @property
    def taken_keys(self) -> set[str]:
        """The slots that hold a photo."""
        return {photo.view if photo.view != "close_up" else f"close_up-{photo.zone}" for photo in self.photos}

    @property
    def required(self) -> list[Slot]:
        """The views the protocol asks for."""
        return [slot for slot in self.slots if slot.required]

    @property
    def missing(self) -> list[Slot]:
        """The protocol's views not taken yet."""
        taken = self.taken_keys
        return [slot for slot in self.required if slot.key not in taken]

    @property
    def open_slots(self) -> list[Slot]:
        """Everything still to take: the missing views, then the close-ups not taken."""
        taken = self.taken_keys
        return [slot for slot in self.slots if slot.key not in taken]

    @property
    def complete(self) -> bool:
        """Every view of the protocol taken (a visit with no areas has no protocol, so is never complete)."""
        return bool(self.required) and not self.missing

    @property
    def summary(self) -> str:
        """'2 of 3 views: Right oblique (45°) missing', '3 of 3 views: complete'."""
        required = self.required
        if not required:
            return "No protocol views: no treatment area is recorded for this visit"
        done = len(required) - len(self.missing)
        head = f"{done} of {len(required)} view{'' if len(required) == 1 else 's'}"
        if not self.missing:
            return f"{head}: complete"
        return f"{head}: {', '.join(slot.label for slot in self.missing)} missing"


def photo_label(photo: Photo) -> str:
    """A photo's view as people read it ('Front', 'Close-up: Cheeks')."""
    return Slot(photo.view, photo.zone if photo.view == "close_up" else None).label


def moments_for(visit: Visit) -> tuple[str, ...]:
    """The moments a visit's photos can have."""
    return {"consultation": ("baseline",), "session": ("before", "immediately_after"), "review": ("review",)}[visit_kind(visit)]


def is_closed(visit: Visit) -> bool:
    """A signed session's photo set is closed (the database refuses new photos of it as well)."""
    return isinstance(visit, TreatmentSession) and visit.is_signed


def consultation_of(session: Session, visit: Visit) -> Consultation | None:
    """The consultation whose consent form covers the visit (where consent is recorded)."""
    if isinstance(visit, Consultation):
        return visit
    if isinstance(visit, TreatmentSession):
        return visit.plan.consultation
    if visit.plan is not None:
        return visit.plan.consultation
    return latest_consultation(session, visit.patient_id)


def latest_consultation(session: Session, patient_id: int) -> Consultation | None:
    """The patient's latest consultation."""
    return session.scalars(select(Consultation).where(Consultation.patient_id == patient_id)
                           .order_by(Consultation.consultation_date.desc(), Consultation.id.desc()).limit(1)).first()


def visit_zones(session: Session, visit: Visit, fallback: list[str] | None = None) -> list[str]:
    """The zones the visit's photos are of, in the zones' order (`fallback`: the areas of a review visit without a plan)."""
    if isinstance(visit, Consultation):
        zones: Iterable[str] = visit.area_codes
    elif isinstance(visit, TreatmentSession):
        zones = [z.zone for z in visit.zones] or [z.zone for z in visit.plan.zones]
    elif visit.plan is not None:
        zones = [z.zone for z in visit.plan.zones]
    elif fallback is not None:
        zones = fallback
    else:
        consultation = latest_consultation(session, visit.patient_id)
        zones = consultation.area_codes if consultation is not None else []
    wanted = set(zones)
    return [zone for zone in ZONES if zone in wanted]


def protocol(session: Session) -> dict[str, tuple[str, ...]]:
    """The clinic's photo protocol: the views a complete set holds, per treatment area."""
    views: dict[str, list[str]] = {}
    for area, view in protocol_rows(session):
        views.setdefault(area, []).append(view)
    return {area: tuple(v for v in VIEWS if v in found) for area, found in views.items()}


def set_protocol(session: Session, views_by_area: dict[str, list[str]], *, actor: User, ip_address: str = "") -> dict[str, list[str]]:
    """Replace the clinic's photo protocol for the areas given; audited with what changed. Returns {area: views} changed."""
    current = protocol(session)
    changed = {area: [v for v in VIEWS if v in views] for area, views in views_by_area.items()
               if set(views) != set(current.get(area, ()))}
    for area, views in changed.items():
        if area not in TREATMENT_AREAS or not views or set(views) - set(VIEWS):
            raise ValueError(f"a protocol row needs a treatment area and known views, not {area!r}: {views!r}")
        session.execute(delete(PhotoProtocolView).where(PhotoProtocolView.area == area))
        session.add_all(PhotoProtocolView(area=area, view=view) for view in views)
    if changed:
        session.flush()
        audit.append(session, "photo_protocol.change", actor=actor, target="photo_protocol",
                     detail={area: ", ".join(views) for area, views in changed.items()}, ip_address=ip_address)
    return changed


def slots_for(zones: list[str], rules: dict[str, tuple[str, ...]]) -> tuple[Slot, ...]:
    """The slots of a set for these zones: the protocol's views (once each), then a close-up per zone."""
    areas = [ZONE_AREA[zone] for zone in zones if zone in ZONE_AREA]
    asked = {view for area in areas for view in rules.get(area, ())}
    slots = [Slot(view) for view in VIEWS if view != "close_up" and view in asked]
    slots += [Slot("close_up", zone, required="close_up" in rules.get(ZONE_AREA.get(zone, ""), ())) for zone in zones]
    return tuple(slots)


def photos_of(session: Session, visit: Visit) -> list[Photo]:
    """The visit's photos, oldest first."""
    column = {"consultation": Photo.consultation_id, "session": Photo.session_id, "review": Photo.review_visit_id}[visit_kind(visit)]
    return list(session.scalars(select(Photo).where(column == visit.id).order_by(Photo.captured_at, Photo.id)))


def photo_sets(session: Session, visit: Visit, rules: dict[str, tuple[str, ...]] | None = None) -> list[PhotoSet]:
    """The visit's sets, one per moment, each against the protocol."""
    slots = slots_for(visit_zones(session, visit), protocol(session) if rules is None else rules)
    photos = photos_of(session, visit)
    return [PhotoSet(moment, slots, tuple(p for p in photos if p.moment == moment)) for moment in moments_for(visit)]


_VISIT_COLUMNS = {"consultation": Photo.consultation_id, "session": Photo.session_id, "review": Photo.review_visit_id}


def sets_of(session: Session, visits: list[Visit]) -> list[list[PhotoSet]]:
    """The photo sets of several visits, in a fixed number of statements however many visits and photos there are."""
    if not visits:
        return []
    rules = protocol(session)
    ids: dict[str, list[int]] = {}
    for visit in visits:
        ids.setdefault(visit_kind(visit), []).append(visit.id)
    found: dict[tuple[str, int], list[Photo]] = {}
    query = (select(Photo).where(or_(*(_VISIT_COLUMNS[kind].in_(values) for kind, values in ids.items())))
             .options(lazyload("*")).order_by(Photo.captured_at, Photo.id))
    for photo in session.scalars(query):
        kind = "consultation" if photo.consultation_id else "session" if photo.session_id else "review"
        found.setdefault((kind, photo.consultation_id or photo.session_id or photo.review_visit_id), []).append(photo)
    fallback = None
    if any(isinstance(v, ReviewVisit) and v.plan_id is None for v in visits):
        consultation = latest_consultation(session, visits[0].patient_id)
        fallback = consultation.area_codes if consultation is not None else []
    result = []
    for visit in visits:
        slots = slots_for(visit_zones(session, visit, fallback), rules)
        photos = found.get((visit_kind(visit), visit.id), [])
        result.append([PhotoSet(moment, slots, tuple(p for p in photos if p.moment == moment)) for moment in moments_for(visit)])
    return result


def prepare(files: list[tuple[Slot, bytes]]) -> list[tuple[Slot, imaging.Processed]]:
    """Check and re-encode each chosen file (imaging.process), outside any transaction: about half a second a photo.

    The view calls this after ending its transaction, so SQLite's write lock is not held while the
    images are worked on; a file that is no photo raises PhotoUploadInvalid naming its slot.
    """
    prepared = []
    for slot, data in files:
        try:
            prepared.append((slot, imaging.process(data)))
        except imaging.InvalidPhoto as exc:
            raise PhotoUploadInvalid(slot.key, str(exc)) from exc
    return prepared


def take_photos(session: Session, visit: Visit, *, moment: str, files: list[tuple[Slot, bytes | imaging.Processed]], checks: dict[str, bool],
                actor: User, ip_address: str = "") -> list[Photo]:
    """Store the chosen photos of one visit's set, with the capture checks ticked: all of them, or none.

    Refused (PhotoRefused) when the session is signed, or when the patient's clinical photography consent
    does not stand, or the session's answer for today is No; a file that is no photo raises PhotoUploadInvalid;
    photos that would take the visit past its limit (photos.limits) raise services.TooManyPhotos, none of them saved.
    """
    if moment not in moments_for(visit):
        raise ValueError(f"moment {moment!r} does not belong to a {visit_kind(visit)}")
    if is_closed(visit):
        raise PhotoRefused(CLOSED, reason=SIGNED)
    consent = clinical_consent_for(session, visit.patient_id,
                                   today_answer=visit.photo_consent if isinstance(visit, TreatmentSession) else None)
    services.check_room(session, visit, len(files))
    patient = visit.patient
    ticked = {name: bool(checks.get(name)) for name in CAPTURE_CHECKS}
    stored = []
    for slot, data in files:
        try:
            stored.append(services.store_photo(session, patient=patient, visit=visit, view=slot.view, zone=slot.zone, moment=moment,
                                               consent=consent, checks=ticked, data=data, actor=actor, ip_address=ip_address))
        except imaging.InvalidPhoto as exc:
            raise PhotoUploadInvalid(slot.key, str(exc)) from exc
        except services.PhotoOfSignedSession as exc:
            raise PhotoRefused(CLOSED, reason=SIGNED) from exc
    return stored


def create_review_visit(session: Session, patient: Patient, *, visit_date: date, plan: TreatmentPlan | None, notes: str,
                        actor: User, ip_address: str = "") -> ReviewVisit:
    """Record a review visit (a follow-up without treatment, where review photos are taken).

    Refused (TooManyReviewVisits) when the plan already has the review visits photos.limits allows; on PostgreSQL the
    plan's row is locked first, so two at once cannot both pass. A review visit outside a plan has no limit (the export
    packs them into its record-wide parts by their cost).
    """
    if plan is not None and plan.patient_id != patient.id:
        raise ValueError("the plan belongs to another patient")
    if plan is not None:
        session.execute(select(TreatmentPlan.id).where(TreatmentPlan.id == plan.id).with_for_update())
        held = review_visit_counts(session, patient.id).get(plan.id, 0)
        if held >= limits.REVIEW_VISITS_PER_PLAN:
            raise TooManyReviewVisits(limits.too_many_reviews(limits.REVIEW_VISITS_PER_PLAN))
    visit = ReviewVisit(patient_id=patient.id, plan_id=plan.id if plan is not None else None, visit_date=visit_date,
                        notes=notes.strip(), created_by_id=actor.id)
    session.add(visit)
    session.flush()
    audit.append(session, "review_visit.create", actor=actor, patient=patient, target=f"review_visit:{visit.public_id}",
                 detail={"date": visit_date.isoformat(), "plan": str(plan.public_id) if plan is not None else ""},
                 ip_address=ip_address)
    return visit


def review_visit_counts(session: Session, patient_id: int) -> dict[int | None, int]:
    """The patient's review visits counted by plan id (None: outside a plan), in one statement."""
    rows = session.execute(select(ReviewVisit.plan_id, func.count()).where(ReviewVisit.patient_id == patient_id)
                           .group_by(ReviewVisit.plan_id))
    return {plan_id: count for plan_id, count in rows}


def review_visits_of(session: Session, patient_id: int) -> list[ReviewVisit]:
    """The patient's review visits, newest first, with their plans' zones (and nothing else loaded): one statement."""
    return list(session.scalars(_REVIEW_VISITS, {"patient_id": patient_id}).unique())


# Built once (every patient page asks it). The plan and its zones are joined in; the plan's own eager loads (its
# consultation, that consultation's findings, its sessions and all theirs) were 18 more statements on a patient's page.
_REVIEW_VISITS = (select(ReviewVisit).where(ReviewVisit.patient_id == bindparam("patient_id"))
                  .options(lazyload("*"), joinedload(ReviewVisit.plan).lazyload("*"),
                           joinedload(ReviewVisit.plan).joinedload(TreatmentPlan.zones))
                  .order_by(ReviewVisit.visit_date.desc(), ReviewVisit.id.desc()))


def record_view(session: Session, visit: Visit, *, actor: User, ip_address: str = "") -> None:
    """Note in the audit trail that someone opened a visit's photo page."""
    audit.append(session, "photo_set.view", actor=actor, patient=visit.patient_id,
                 target=f"{visit_kind(visit)}:{visit.public_id}", ip_address=ip_address)


def visit_of(session: Session, photo: Photo) -> Visit:
    """The visit a photo was taken at."""
    if photo.consultation_id is not None:
        return session.get_one(Consultation, photo.consultation_id)
    if photo.session_id is not None:
        return session.get_one(TreatmentSession, photo.session_id)
    return session.get_one(ReviewVisit, photo.review_visit_id)
