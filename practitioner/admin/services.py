"""Clinic settings, the logo check, and reading the audit trail."""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any

from PIL import Image, UnidentifiedImageError
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from practitioner import audit
from practitioner.admin.models import AftercareSettings, ClinicalPolicy, ClinicSettings, PaperSize
from practitioner.auth.models import User
from practitioner.auth.services import apply_two_factor_requirement
from practitioner.clinical.aftercare import AftercarePolicy
from practitioner.clinical.screening import POLICY_SETTINGS, Policy
from practitioner.errors import DomainError
from practitioner.patients.models import Patient
from practitioner.patients.services import fold

LOGO_MAX_PIXELS = 16_000_000
LOGO_MIN_SIDE = 16
LOGO_MAX_SIDE = 8000
LOGO_STORED_MAX_SIDE = 1200


class InvalidLogo(DomainError):
    """The upload is not a usable PNG or JPEG logo."""


@dataclass(frozen=True)
class CheckedLogo:
    """A logo re-encoded as a clean PNG (no metadata), with its size and hash."""

    png: bytes
    width: int
    height: int
    sha256: str


def check_logo(data: bytes, max_bytes: int) -> CheckedLogo:
    """Accept only a real PNG or JPEG of sane size; re-encode it so no metadata or payload survives."""
    if not data:
        raise InvalidLogo("The file is empty. Choose a PNG or JPEG image.")
    if len(data) > max_bytes:
        raise InvalidLogo(f"The file is {len(data) / 1_048_576:.1f} MB; the limit is {max_bytes / 1_048_576:.0f} MB. Choose a smaller image.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format
                width, height = probe.size
                if kind not in ("PNG", "JPEG"):
                    raise InvalidLogo("This is not a PNG or JPEG image. Choose a PNG or JPEG file.")
                # Judge the size from the header before decoding a single pixel (image bombs).
                if width * height > LOGO_MAX_PIXELS or max(width, height) > LOGO_MAX_SIDE:
                    raise InvalidLogo(f"The image is {width}×{height} pixels, too large for a logo. Use one under {LOGO_MAX_SIDE} pixels a side.")
                if min(width, height) < LOGO_MIN_SIDE:
                    raise InvalidLogo(f"The image is only {width}×{height} pixels. Use one at least {LOGO_MIN_SIDE} pixels a side.")
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                image = image.convert("RGBA")
                image.thumbnail((LOGO_STORED_MAX_SIDE, LOGO_STORED_MAX_SIDE))
                out = io.BytesIO()
                image.save(out, format="PNG", optimize=True)
    except InvalidLogo:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidLogo("The image has far too many pixels for a logo. Use one under 4000 pixels a side.") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidLogo("The file is not a readable PNG or JPEG image. Choose another file.") from exc
    png = out.getvalue()
    return CheckedLogo(png, image.width, image.height, hashlib.sha256(png).hexdigest())


class SettingsRowMissing(RuntimeError):
    """A one-row settings table has no row: the database was not migrated (the migrations seed every one)."""


def _single_row(session: Session, model: Any) -> Any:
    """A one-row settings table's row (id 1), seeded by migration 0010: reading it never writes."""
    row = session.get(model, 1)
    if row is None:
        raise SettingsRowMissing(f"The {model.__tablename__} row is missing. Run 'flask db upgrade' to bring the database "
                                 "up to date; it seeds the clinic's settings with their defaults.")
    return row


def get_settings(session: Session) -> ClinicSettings:
    """The clinic's settings row (seeded by migration, so a read never writes)."""
    return _single_row(session, ClinicSettings)


SETTINGS_FIELDS = ("name", "address", "phone", "email", "out_of_hours", "paper_size", "require_two_factor")


def update_settings(
    session: Session, values: dict[str, Any], *, logo: CheckedLogo | None, remove_logo: bool, actor: User, ip_address: str = ""
) -> dict[str, list[str]]:
    """Save the clinic's settings and audit what changed."""
    settings = get_settings(session)
    changes: dict[str, list[str]] = {}
    for name in SETTINGS_FIELDS:
        new = values[name]
        if name == "paper_size":
            new = PaperSize(new)
        old = getattr(settings, name)
        if old != new:
            changes[name] = [str(old), str(new)]
            setattr(settings, name, new)
    if logo is not None:
        changes["logo"] = [settings.logo_sha256 or "(none)", logo.sha256]
        settings.logo_png, settings.logo_width, settings.logo_height, settings.logo_sha256 = logo.png, logo.width, logo.height, logo.sha256
    elif remove_logo and settings.logo_sha256:
        changes["logo"] = [settings.logo_sha256, "(removed)"]
        settings.logo_png, settings.logo_width, settings.logo_height, settings.logo_sha256 = None, None, None, ""
    if "require_two_factor" in changes:
        # At once, not at each person's next sign-in (docs/security.md).
        apply_two_factor_requirement(session, settings.require_two_factor)
    if changes:
        settings.updated_by_id = actor.id
        audit.append(session, "settings.update", actor=actor, target="clinic_settings", detail={"changes": changes}, ip_address=ip_address)
    return changes


def audit_statement(
    *, patient_ids: Iterable[int] | None = None, actor_id: int | None = None, action: str | None = None,
    outcome: str | None = None, date_from: date | None = None, date_to: date | None = None, zone: tzinfo = timezone.utc,
) -> Select[tuple[audit.AuditEvent]]:
    """Audit rows, newest first, narrowed by the filters given; the dates are whole days in `zone` (the clinic's)."""
    query = select(audit.AuditEvent)
    if patient_ids is not None:
        query = query.where(audit.AuditEvent.patient_id.in_(list(patient_ids)))
    if actor_id is not None:
        query = query.where(audit.AuditEvent.actor_id == actor_id)
    if action:
        query = query.where(audit.AuditEvent.action == action)
    if outcome:
        query = query.where(audit.AuditEvent.outcome == outcome)
    if date_from:
        query = query.where(audit.AuditEvent.at >= datetime.combine(date_from, time.min, zone).astimezone(timezone.utc))
    if date_to:
        query = query.where(audit.AuditEvent.at < datetime.combine(date_to + timedelta(days=1), time.min, zone).astimezone(timezone.utc))
    return query.order_by(audit.AuditEvent.id.desc())


AUDIT_PATIENT_MATCHES = 50


# What the audit trail shows of a patient's event to someone who may not see clinical data (the administrator):
# what happened and to whom, by record and document numbers, never a clinical detail (a screening decision or
# flag, an override's or addendum's reason, a photo's view, the fields of a consultation that changed).
NON_CLINICAL_DETAIL = frozenset({"record_number", "number", "kind", "sequence", "needs", "method", "url", "email", "role"})
CLINICAL_DETAIL_HIDDEN = "clinical, shown to practitioners only"


def audit_detail(event: audit.AuditEvent, *, clinical: bool) -> dict[str, str]:
    """An audit row's detail in words; for a patient's event, without its clinical details unless `clinical`."""
    shown = event.detail_text
    if clinical or event.patient_id is None:
        return shown
    kept = {key: value for key, value in shown.items() if key in NON_CLINICAL_DETAIL}
    if len(kept) < len(shown):
        kept["details"] = CLINICAL_DETAIL_HIDDEN
    return kept


def audit_patients(session: Session, text: str) -> list[Patient]:
    """The patients an audit filter names: the one with that record number, else those whose names start with each word.

    Archived patients are included (their trail is still asked for); at most AUDIT_PATIENT_MATCHES.
    """
    text = text.strip()
    if not text:
        return []
    by_number = session.scalars(select(Patient).where(Patient.record_number == text)).first()
    if by_number is not None:
        return [by_number]
    words = [word for word in re.split(r"[\s,]+", fold(text)) if word]
    if not words:
        return []
    query = select(Patient)
    for word in words:
        prefix = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(Patient.given_name_search.like(prefix, escape="\\"),
                                Patient.family_name_search.like(prefix, escape="\\")))
    query = query.order_by(Patient.family_name_search, Patient.given_name_search, Patient.id).limit(AUDIT_PATIENT_MATCHES)
    return list(session.scalars(query))


AUDIT_ACTIONS = (
    "auth.sign_in", "auth.sign_out", "auth.session_ended", "access.denied",
    "patient.create", "patient.view", "patient.update", "patient.archive", "patient.restore",
    "user.create", "user.update", "settings.update",
)


def _update_row(session: Session, row: Any, values: dict[str, Any], *, action: str, actor: User, ip_address: str) -> dict[str, list[Any]]:
    """Set the changed values on a settings row and audit exactly what changed."""
    changes = {name: [getattr(row, name), value] for name, value in values.items() if getattr(row, name) != value}
    for name, (_, new) in changes.items():
        setattr(row, name, new)
    if changes:
        row.updated_by_id = actor.id
        audit.append(session, action, actor=actor, target=row.__tablename__, detail={"changes": changes}, ip_address=ip_address)
    return changes


def get_policy_row(session: Session) -> ClinicalPolicy:
    """The clinic's policy row (seeded by migration with the defaults of docs/screening.md)."""
    return _single_row(session, ClinicalPolicy)


def current_policy(session: Session) -> Policy:
    """The clinic's policy as the pure engine takes it."""
    row = get_policy_row(session)
    return Policy.from_mapping({name: getattr(row, name) for name in POLICY_SETTINGS})


def update_policy(session: Session, values: dict[str, int], *, actor: User, ip_address: str = "") -> dict[str, list[int]]:
    """Change the clinic's screening policy (validated by the engine) and audit every change."""
    Policy.from_mapping(values)
    return _update_row(session, get_policy_row(session), {name: values[name] for name in POLICY_SETTINGS},
                       action="policy.update", actor=actor, ip_address=ip_address)


def get_aftercare_row(session: Session) -> AftercareSettings:
    """The clinic's aftercare settings row (seeded by migration with the defaults of docs/aftercare.md)."""
    return _single_row(session, AftercareSettings)


def current_aftercare_policy(session: Session) -> AftercarePolicy:
    """The clinic's aftercare settings as the pure assembler takes them."""
    row = get_aftercare_row(session)
    return AftercarePolicy.from_mapping({name: getattr(row, name) for name in AftercarePolicy().as_dict()})


def update_aftercare(session: Session, values: dict[str, Any], *, actor: User, ip_address: str = "") -> dict[str, list[Any]]:
    """Change the aftercare settings (validated by the assembler) and audit every change."""
    AftercarePolicy.from_mapping(values)
    return _update_row(session, get_aftercare_row(session), values, action="aftercare_settings.update", actor=actor, ip_address=ip_address)
