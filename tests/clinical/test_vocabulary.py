"""One vocabulary: a zone has one name from every source, Fitzpatrick is Roman everywhere, depth limits are shared.

The unit tests read every place that names a zone or checks a depth (forms, pages, documents, the
English aftercare content); the view tests read the patient page, the consultation page and a
document's context for a type IV patient.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from wtforms.fields.core import UnboundField

from practitioner.clinical import depth, screening, vocabulary
from practitioner.clinical.vocabulary import (
    DEVICE_SETTING_DEPTH, FITZPATRICK_LABELS, FITZPATRICK_ROMAN, PLAN_RANGE_DEPTH, ZONE_LABELS, ZONES, DepthLimit,
)
from practitioner.validators import NumberRange

CONTENT = Path(__file__).resolve().parents[2] / "reports" / "content"


def _choice_labels(unbound: UnboundField) -> dict[str, str]:
    return {str(c[0] if isinstance(c, tuple) else c.value): (c[1] if isinstance(c, tuple) else c.label)
            for c in unbound.kwargs["choices"] if (c[0] if isinstance(c, tuple) else c.value) != ""}


def zone_sources() -> dict[str, dict[str, str]]:
    """Every table or list of options that names zones (or treatment areas, which are zones)."""
    from practitioner.clinical.aftercare import load_content
    from practitioner.consultations.forms import ConsultationForm
    from practitioner.plans.forms import ZoneRowForm
    from practitioner.documents.kinds import _common as builders
    from practitioner.templating import LABELS
    from practitioner.treatments import forms as session_forms
    from practitioner.treatments.views import LABELS as SESSION_PAGE_LABELS

    return {
        "clinical.depth.ZONE_LABELS": dict(depth.ZONE_LABELS),
        "clinical.screening.TREATMENT_AREA_LABELS": dict(screening.TREATMENT_AREA_LABELS),
        "consultation form, treatment areas": _choice_labels(ConsultationForm.treatment_areas),
        "plan form, zone choices": _choice_labels(ZoneRowForm.zone),
        "session form, zone choices": _choice_labels(session_forms.ZoneRow.zone),
        "treatments.forms.ZONE_LABELS": dict(session_forms.ZONE_LABELS),
        "session pages (labels.zone)": dict(SESSION_PAGE_LABELS["zone"]),
        "pages (labels.area)": dict(LABELS["area"]),
        "pages (labels.zone)": dict(LABELS["zone"]),
        "documents (builders.ZONE_LABELS)": dict(builders.ZONE_LABELS),
        "aftercare content, English [zones]": dict(load_content(CONTENT, "en").zone_labels),
    }


def test_every_zone_has_one_label_from_every_source() -> None:
    different = {}
    for source, labels in zone_sources().items():
        for code, label in labels.items():
            if ZONE_LABELS.get(code) != label:
                different[f"{source}: {code}"] = (label, ZONE_LABELS.get(code))
    assert not different, f"(label there, label in the vocabulary): {different}"


def test_every_source_names_only_known_zones_and_the_full_lists_name_them_all() -> None:
    from practitioner.plans.models import PLAN_ZONES

    sources = zone_sources()
    assert tuple(PLAN_ZONES) == ZONES == depth.ZONES
    for source, labels in sources.items():
        assert set(labels) <= set(ZONES), source
    for source in ("plan form, zone choices", "session form, zone choices", "aftercare content, English [zones]", "pages (labels.zone)"):
        assert set(sources[source]) == set(ZONES), source
    assert set(sources["clinical.screening.TREATMENT_AREA_LABELS"]) == set(screening.TREATMENT_AREAS)


def test_fitzpatrick_labels_are_roman_everywhere_a_type_is_chosen() -> None:
    from practitioner.admin.forms import PolicyForm
    from practitioner.consultations.forms import ConsultationForm
    from practitioner.patients.forms import PatientForm

    assert [FITZPATRICK_ROMAN[n] for n in vocabulary.FITZPATRICK_TYPES] == ["I", "II", "III", "IV", "V", "VI"]
    for n, label in FITZPATRICK_LABELS.items():
        assert label.startswith(FITZPATRICK_ROMAN[n] + ": "), label
    for where, unbound in {"patient form": PatientForm.fitzpatrick, "consultation form": ConsultationForm.fitzpatrick,
                           "screening policy form": PolicyForm.pih_risk_min_fitzpatrick}.items():
        labels = _choice_labels(unbound)
        assert sorted(labels) == ["1", "2", "3", "4", "5", "6"], where
        for value, label in labels.items():
            assert re.match(rf"{FITZPATRICK_ROMAN[int(value)]}\b", label) and not re.search(r"\d", label), (where, label)
    assert vocabulary.fitzpatrick_roman(4) == "IV" and vocabulary.fitzpatrick_roman(None) == ""
    from tests.clinical.test_screening import intake_with, run

    pih = next(f for f in run(intake_with(fitzpatrick=5)).flags if f.code == "fitzpatrick_high_pih_risk")
    assert "Fitzpatrick type V " in pih.reason and "from type IV" in pih.reason, pih.reason


def _depth_ranges(unbound: UnboundField) -> list[tuple]:
    """(low, high, message) of every range check on a depth field, whatever its class."""
    found = []
    for validator in unbound.kwargs.get("validators", ()):
        if isinstance(validator, NumberRange):
            found.append((validator.min, validator.max, validator.message))
        elif hasattr(validator, "low") and hasattr(validator, "high"):
            found.append((validator.low, validator.high, validator.message))
    return found


def depth_fields() -> dict[str, tuple[UnboundField, DepthLimit]]:
    """Every form field that takes a needle depth, with the context it belongs to."""
    from practitioner.admin.forms import UserForm
    from practitioner.consultations.forms import ConsultationForm
    from practitioner.plans.forms import ZoneRowForm
    from practitioner.treatments.forms import SessionForm, ZoneRow

    return {
        "consultation: device evaluated to": (ConsultationForm.device_max_depth_mm, DEVICE_SETTING_DEPTH),
        "session: device evaluated to": (SessionForm.device_max_depth_mm, DEVICE_SETTING_DEPTH),
        "session zone: depth": (ZoneRow.depth_mm, DEVICE_SETTING_DEPTH),
        "user: licence limit": (UserForm.max_depth_mm, DEVICE_SETTING_DEPTH),
        "consultation: deepest planned": (ConsultationForm.requested_depth_mm, PLAN_RANGE_DEPTH),
        "plan zone: shallowest": (ZoneRowForm.depth_min_mm, PLAN_RANGE_DEPTH),
        "plan zone: deepest": (ZoneRowForm.depth_max_mm, PLAN_RANGE_DEPTH),
    }


@pytest.mark.parametrize("name", sorted(depth_fields()))
def test_every_depth_field_uses_its_contexts_one_limit_and_message(name: str) -> None:
    unbound, limit = depth_fields()[name]
    assert _depth_ranges(unbound) == [(limit.low, limit.high, limit.message)], name


def test_the_two_depth_contexts_and_their_messages() -> None:
    assert DEVICE_SETTING_DEPTH.message == "Enter a depth between 0.1 and 5 mm."
    assert PLAN_RANGE_DEPTH.message == "Enter a depth between 0.1 and 3.5 mm."
    assert PLAN_RANGE_DEPTH.high <= DEVICE_SETTING_DEPTH.high and PLAN_RANGE_DEPTH.low == DEVICE_SETTING_DEPTH.low


# -- pages and documents -------------------------------------------------------------------------------------------


def _dd(html: str, term: str) -> str:
    match = re.search(rf"<dt>{re.escape(term)}</dt>\s*<dd>(.*?)</dd>", html, re.S)
    assert match, f"no {term!r} on the page"
    return match.group(1).strip()


def test_patient_page_shows_the_skin_type_in_roman(as_practitioner, practitioner) -> None:
    from tests.conftest import make_patient

    patient = make_patient(actor=practitioner, fitzpatrick=4)
    html = as_practitioner.get(f"/patients/{patient.public_id}").get_data(as_text=True)
    assert _dd(html, "Fitzpatrick skin type") == "IV: rarely burns, tans easily"


def test_consultation_page_shows_the_skin_type_in_roman(as_practitioner, practitioner) -> None:
    from tests.conftest import make_patient
    from tests.factories import make_consultation

    consultation = make_consultation(make_patient(actor=practitioner), practitioner, fitzpatrick=4)
    html = as_practitioner.get(f"/consultations/{consultation.public_id}").get_data(as_text=True)
    assert _dd(html, "Fitzpatrick") == "IV"


def test_documents_context_gives_the_skin_type_in_roman(app, practitioner) -> None:
    from practitioner.documents.kinds import get
    from practitioner.documents.models import DocumentKind
    from practitioner.extensions import db
    from tests.conftest import make_patient
    from tests.factories import make_consultation, make_plan

    patient = make_patient(actor=practitioner, fitzpatrick=5)
    consultation = make_consultation(patient, practitioner, fitzpatrick=4)
    make_plan(consultation, zones=(("glabella", "0.5", "0.75"), ("scar_area", "1.0", "1.5")))
    summary = get(DocumentKind.CONSULTATION_SUMMARY).spec(db.session, consultation.public_id).context
    assert summary["consultation"]["scales"]["fitzpatrick"]["roman"] == "IV"
    assert summary["consultation"]["scales"]["fitzpatrick"]["label"] == FITZPATRICK_LABELS[4]
    plan_zones = [z["zone"]["label"] for z in summary["consultation"]["plans"][0]["zones"]]
    assert plan_zones == [ZONE_LABELS["glabella"], ZONE_LABELS["scar_area"]]
    export = get(DocumentKind.PATIENT_EXPORT).spec(db.session, patient.public_id).context
    assert export["record"]["patient"]["fitzpatrick"]["label"] == "V: never burns, tans very easily"


def test_vocabulary_imports_nothing_of_the_app() -> None:
    import ast

    tree = ast.parse(Path(vocabulary.__file__).read_text(encoding="utf-8"))
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert modules <= {"__future__", "dataclasses", "decimal", "typing"}, modules
