"""Registering, changing, archiving and finding patients."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, lru_cache
from typing import Any, NamedTuple

from flask_sqlalchemy.pagination import SelectPagination
from sqlalchemy import Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from practitioner import audit
from practitioner.auth.models import User
from practitioner.database import serialize_writers, utcnow
from practitioner.errors import DomainError, DuplicateRecord, NotAllowed, StaleRecord
from practitioner.patients.models import Patient, Sex

DEMOGRAPHIC_FIELDS = (
    "given_name", "family_name", "preferred_name", "date_of_birth", "sex", "record_number", "phone", "email",
    "address", "postcode", "emergency_contact_name", "emergency_contact_relationship", "emergency_contact_phone",
    "gp_name", "gp_practice", "gp_phone",
)
CLINICAL_FIELDS = ("fitzpatrick", "no_known_allergies", "allergies", "current_medicines")


def fold(text: str) -> str:
    """Lower case without accents, so 'Zoë' is found by 'zoe'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).strip()


def _without_marks(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def fold_name(text: str) -> str:
    """A name as the duplicate check compares it: 'José  GARCÍA' and 'jose garcia' fold alike.

    NFKD with the combining marks dropped, case folded, runs of spaces made one. Marks are
    dropped again after case folding, which can decompose a letter ('İ' folds to 'i' + a dot).
    """
    return " ".join(_without_marks(_without_marks(text).casefold()).split())


def digits(text: str) -> str:
    """Only the digits of a phone number."""
    return re.sub(r"\D", "", text)


def _refresh_search_columns(patient: Patient) -> None:
    patient.given_name_search = fold(patient.given_name)[:100]
    patient.family_name_search = fold(patient.family_name)[:100]
    patient.phone_digits = digits(patient.phone)[:40]
    patient.phone_reversed = patient.phone_digits[::-1]


RECORD_NUMBER_LOCK = "patients.record_number"


def next_record_number(session: Session) -> str:
    """The next free number of the form P000123."""
    highest = session.scalar(select(func.max(Patient.id))) or 0
    candidate = highest + 1
    while session.scalar(select(Patient.id).where(Patient.record_number == f"P{candidate:06d}")) is not None:
        candidate += 1
    return f"P{candidate:06d}"


def _check_record_number_free(session: Session, number: str, patient: Patient | None = None) -> None:
    query = select(Patient.id).where(Patient.record_number == number)
    if patient is not None:
        query = query.where(Patient.id != patient.id)
    if session.scalar(query) is not None:
        raise DuplicateRecord("record_number", f"Record number {number} is already used by another patient.")


def _apply(patient: Patient, values: dict[str, Any], fields: tuple[str, ...]) -> dict[str, list[str]]:
    changes: dict[str, list[str]] = {}
    for name in fields:
        if name not in values:
            continue
        new = values[name]
        if name == "sex" and new is not None:
            new = Sex(new)
        if isinstance(new, str) and name not in ("sex",):
            new = new.strip()
        old = getattr(patient, name)
        if old != new:
            changes[name] = [_show(old), _show(new)]
            setattr(patient, name, new)
    return changes


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


class PossibleDuplicate(DomainError):
    """A patient with the same name and date of birth is already registered, and nobody said this is someone else."""

    def __init__(self, matches: list[Patient]) -> None:
        super().__init__("A patient with the same name and date of birth is already registered. Open their record to check, "
                         "or tick 'This is a different person' to go on.")
        self.matches = matches


def possible_duplicates(
    session: Session, *, given_name: str, family_name: str, date_of_birth: date | None, exclude: Patient | None = None,
) -> list[Patient]:
    """Patients, archived ones included, born the same day whose folded full name is the same.

    The date of birth is indexed and few people share one, so the query selects by it and the
    names are folded here: no stored folded column to keep in step.
    """
    if date_of_birth is None:
        return []
    wanted = fold_name(f"{given_name} {family_name}")
    query = select(Patient).where(Patient.date_of_birth == date_of_birth)
    if exclude is not None and exclude.id is not None:
        query = query.where(Patient.id != exclude.id)
    return [p for p in session.scalars(query.order_by(Patient.id)) if fold_name(f"{p.given_name} {p.family_name}") == wanted]


def _refuse_unconfirmed_duplicates(
    session: Session, values: dict[str, Any], different_from: Collection[str], exclude: Patient | None = None,
) -> list[Patient]:
    """The possible duplicates, once the person at the desk has said each one is someone else; else PossibleDuplicate."""
    matches = possible_duplicates(session, given_name=values.get("given_name") or "", family_name=values.get("family_name") or "",
                                  date_of_birth=values.get("date_of_birth"), exclude=exclude)
    if any(str(match.public_id) not in different_from for match in matches):
        raise PossibleDuplicate(matches)
    return matches


def _override_note(verb: str, matches: list[Patient]) -> dict[str, str]:
    if not matches:
        return {}
    return {"override": f"{verb} despite possible duplicate of {', '.join(m.record_number for m in matches)}"}


def register_patient(
    session: Session, values: dict[str, Any], *, actor: User, clinical: bool, ip_address: str = "",
    different_from: Collection[str] = (),
) -> Patient:
    """Create a patient; a blank record number gets the next free one.

    Someone already registered with the same name and date of birth stops it (PossibleDuplicate)
    unless their public id is in `different_from`: the person at the desk said this is someone else.
    """
    serialize_writers(session, RECORD_NUMBER_LOCK)  # two registrations at once must not pick the same number
    matches = _refuse_unconfirmed_duplicates(session, values, different_from)
    number = (values.get("record_number") or "").strip()
    if number:
        _check_record_number_free(session, number)
    else:
        values = {**values, "record_number": next_record_number(session)}
    patient = Patient(created_by_id=actor.id, updated_by_id=actor.id)
    _apply(patient, values, DEMOGRAPHIC_FIELDS + (CLINICAL_FIELDS if clinical else ()))
    _refresh_search_columns(patient)
    session.add(patient)
    session.flush()
    audit.append(session, "patient.create", actor=actor, patient=patient, target=f"patient:{patient.public_id}",
                 detail={"record_number": patient.record_number, **_override_note("registered", matches)}, ip_address=ip_address)
    return patient


def update_patient(
    session: Session, patient: Patient, values: dict[str, Any], *, expected_version: int | None, actor: User,
    clinical: bool, ip_address: str = "", different_from: Collection[str] = (),
) -> dict[str, list[str]]:
    """Change a patient's details; refuse if someone saved it since the form was opened.

    A new name or date of birth that makes them look like another patient is refused as in
    register_patient, unless that patient's public id is in `different_from`.
    """
    if expected_version is not None and expected_version != patient.version:
        raise StaleRecord("Someone else saved this patient's record after you opened it.")
    matches: list[Patient] = []
    identity = {name: values.get(name, getattr(patient, name)) for name in ("given_name", "family_name", "date_of_birth")}
    if (fold_name(f"{identity['given_name']} {identity['family_name']}") != fold_name(patient.full_name)
            or identity["date_of_birth"] != patient.date_of_birth):
        matches = _refuse_unconfirmed_duplicates(session, identity, different_from, exclude=patient)
    number = (values.get("record_number") or "").strip()
    if not number:
        values = {**values, "record_number": patient.record_number}
    elif number != patient.record_number:
        serialize_writers(session, RECORD_NUMBER_LOCK)
        _check_record_number_free(session, number, patient)
    changes = _apply(patient, values, DEMOGRAPHIC_FIELDS + (CLINICAL_FIELDS if clinical else ()))
    if not changes:
        return changes
    _refresh_search_columns(patient)
    patient.updated_by_id = actor.id
    try:
        session.flush()
    except StaleDataError as exc:
        raise StaleRecord("Someone else saved this patient's record after you opened it.") from exc
    # Field names only: the audit trail says what changed, the record holds the values.
    audit.append(session, "patient.update", actor=actor, patient=patient, target=f"patient:{patient.public_id}",
                 detail={"fields": sorted(changes), **_override_note("changed", matches)}, ip_address=ip_address)
    return changes


def archive_patient(session: Session, patient: Patient, reason: str, *, actor: User, ip_address: str = "") -> None:
    """Take a patient out of the everyday list; nothing is deleted."""
    if patient.is_archived:
        raise NotAllowed("This patient is already archived.")
    patient.archived_at = utcnow()
    patient.archived_by_id = actor.id
    patient.archive_reason = reason.strip()
    patient.updated_by_id = actor.id
    audit.append(session, "patient.archive", actor=actor, patient=patient, target=f"patient:{patient.public_id}",
                 detail={"reason": patient.archive_reason}, ip_address=ip_address)


def restore_patient(session: Session, patient: Patient, *, actor: User, ip_address: str = "") -> None:
    """Bring an archived patient back into the list."""
    if not patient.is_archived:
        raise NotAllowed("This patient is not archived.")
    patient.archived_at = None
    patient.archived_by_id = None
    patient.archive_reason = ""
    patient.updated_by_id = actor.id
    audit.append(session, "patient.restore", actor=actor, patient=patient, target=f"patient:{patient.public_id}",
                 ip_address=ip_address)


def record_view(session: Session, patient: Patient, *, actor: User, ip_address: str = "") -> None:
    """Note in the audit trail that someone opened this patient's record."""
    audit.append(session, "patient.view", actor=actor, patient=patient, target=f"patient:{patient.public_id}",
                 ip_address=ip_address)


_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DMY_DATE = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")


def _parse_date(text: str) -> date | None:
    for pattern, order in ((_ISO_DATE, "ymd"), (_DMY_DATE, "dmy")):
        match = pattern.match(text)
        if match:
            a, b, c = (int(x) for x in match.groups())
            y, m, d = (a, b, c) if order == "ymd" else (c, b, a)
            try:
                return date(y, m, d)
            except ValueError:
                return None
    return None


@dataclass(frozen=True)
class PatientQuery:
    """What the list was asked for, as understood."""

    text: str
    kind: str  # "all", "date", "number", "name"


def search_query(text: str, include_archived: bool = False) -> tuple[Select[tuple[Patient]], dict[str, Any], PatientQuery]:
    """The list query, by date of birth, phone or record number, or by name prefixes: a statement and its values.

    The statement is one of a few shapes (all, a date, a number with or without the phone columns, one to
    four name terms), each built once per process with named parameters; the values fill them in. Building
    a statement and its cache key cost more than running it, on the page most requests ask for.
    """
    text = (text or "").strip()
    if not text:
        return _search_shape("all", include_archived), {}, PatientQuery(text, "all")
    as_date = _parse_date(text)
    number_digits = digits(text)
    if as_date is not None:
        return _search_shape("date", include_archived), {"born": as_date}, PatientQuery(text, "date")
    if number_digits and len(number_digits) >= max(3, len(re.sub(r"\s", "", text)) - 3):
        values = {**_bounds("record", text), **_bounds("record_upper", text.upper())}
        phone = reverse = False
        if not re.search(r"[A-Za-z]", text) and len(number_digits) >= 4:
            phone = True
            values.update(_bounds("phone", number_digits))
            national = number_digits.lstrip("0")
            if len(national) >= 6:
                # The last digits, or a number typed without the country code that was
                # stored with it ("07700 900123" vs "+44 7700 900123"): a prefix of the
                # reversed digits, so an index serves it (a LIKE '%...' scanned every patient:
                # 25 ms at 20,000 patients and growing with them).
                reverse = True
                values.update(_bounds("reversed", national[::-1]))
        return _search_shape("number", include_archived, phone, reverse), values, PatientQuery(text, "number")
    terms = [fold(term) for term in re.split(r"[\s,]+", text) if term.strip()][:4]
    values = {}
    for n, term in enumerate(terms):
        values.update(_bounds(f"term{n}", term))
    return _search_shape("name", include_archived, terms=len(terms)), values, PatientQuery(text, "name")


def search_statement(text: str, include_archived: bool = False) -> tuple[Select[tuple[Patient]], PatientQuery]:
    """Build the list query with its values in it: by date of birth, phone or record number, or by name prefixes."""
    statement, values, understood = search_query(text, include_archived)
    return (statement.params(values) if values else statement), understood


def _bounds(name: str, text: str) -> dict[str, str]:
    """The values of a `_prefix_of` condition: from the text to the text followed by the last code point."""
    return {f"{name}_from": text, f"{name}_to": text + "\U0010ffff"}


def _prefix_of(column: Any, name: str) -> Any:
    """A prefix match that uses the column's index on every database (no LIKE collation rules), its bounds named (`_bounds`)."""
    return and_(column >= bindparam(f"{name}_from"), column < bindparam(f"{name}_to"))


@cache
def _search_shape(kind: str, include_archived: bool, phone: bool = False, reverse: bool = False, terms: int = 0) -> Select[tuple[Patient]]:
    query = select(Patient)
    if not include_archived:
        query = query.where(Patient.archived_at.is_(None))
    if kind == "date":
        query = query.where(Patient.date_of_birth == bindparam("born"))
    elif kind == "number":
        conditions = [_prefix_of(Patient.record_number, "record"), _prefix_of(Patient.record_number, "record_upper")]
        if phone:
            conditions.append(_prefix_of(Patient.phone_digits, "phone"))
        if reverse:
            conditions.append(_prefix_of(Patient.phone_reversed, "reversed"))
        query = query.where(or_(*conditions))
    elif kind == "name":
        for n in range(terms):
            query = query.where(or_(_prefix_of(Patient.family_name_search, f"term{n}"), _prefix_of(Patient.given_name_search, f"term{n}")))
    return query.order_by(Patient.family_name_search, Patient.given_name_search, Patient.id)


class PatientListRow(NamedTuple):
    """What the patient list prints of one patient: plain values, not a mapped object (a list page reads 25).

    A named tuple: made from the row's values in one step (a frozen dataclass sets each field apart, which cost
    more than the list's own printing of the row).
    """

    public_id: uuid.UUID
    given_name: str
    family_name: str
    preferred_name: str
    date_of_birth: date
    record_number: str
    phone: str
    archived_at: datetime | None

    # The model's own wording, so the list names a patient as their record does.
    sort_name = property(Patient.sort_name.fget)
    is_archived = property(Patient.is_archived.fget)


_LIST_COLUMNS = (Patient.public_id, Patient.given_name, Patient.family_name, Patient.preferred_name, Patient.date_of_birth,
                 Patient.record_number, Patient.phone, Patient.archived_at)


class PatientPage(SelectPagination):
    """One page of the patient list (what `db.paginate` returns), its total read by the same statement.

    The total is a scalar subquery beside the page's rows (``SELECT patients..., (SELECT count(*) FROM
    patients WHERE <the same conditions>) ...``): one statement instead of the page and a count, the
    same number for every page. Only a page past the end, which has no row to carry it, counts apart.
    """

    _total: int | None = None

    def _query_items(self) -> list[PatientListRow]:
        values = {**self._query_args["values"], "page_size": self.per_page, "page_start": self._query_offset}
        rows = self._query_args["session"].execute(_page_of(self._query_args["select"]), values).all()
        self._total = rows[0].total if rows else None
        return [PatientListRow(*row[:-1]) for row in rows]

    def _query_count(self) -> int:
        if self._total is not None:
            return self._total
        if self.page == 1:
            return 0
        return self._query_args["session"].scalar(_count_of(self._query_args["select"]), self._query_args["values"]) or 0


def _count_of(statement: Select[tuple[Patient]]) -> Select[tuple[int]]:
    return statement.with_only_columns(func.count()).select_from(Patient).order_by(None)


@lru_cache(maxsize=64)
def _page_of(statement: Select[tuple[Patient]]) -> Select[Any]:
    # Built once per shape of search (`_search_shape` hands out the same statement objects).
    # Only the columns the list prints, as plain rows: a patient row has some thirty columns, and
    # turning each into a Python value and each row into a mapped object was most of the page's loading.
    total = _count_of(statement).correlate(None).scalar_subquery().label("total")
    return (statement.with_only_columns(*_LIST_COLUMNS, total)
            .limit(bindparam("page_size")).offset(bindparam("page_start")))


def patient_page(session: Session, statement: Select[tuple[Patient]], *, per_page: int, page: int | None = None,
                 values: dict[str, Any] | None = None) -> PatientPage:
    """A page of `search_query`'s patients, with its values (the page number from the request's ?page= when not given; 1 if unreadable)."""
    return PatientPage(select=statement, values=values or {}, session=session, page=page, per_page=per_page, max_per_page=100,
                       error_out=False)
