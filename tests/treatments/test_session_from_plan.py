"""Session 1 starts from the plan's passes and technique per zone (when the plan names them); session 2 copies session 1."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select

from practitioner.extensions import db
from practitioner.treatments.models import TreatmentSession
from tests.conftest import make_patient, post_form
from tests.factories import complete_session_form, make_consent, make_consultation, make_plan


def _plan(practitioner, **per_zone):
    """Cheeks 1.0-1.5 and forehead 0.25-0.5; per_zone gives a zone its planned (passes, technique)."""
    consultation = make_consultation(make_patient(actor=practitioner), practitioner)
    make_consent(consultation, practitioner)
    plan = make_plan(consultation, zones=(("cheeks", "1.0", "1.5"), ("forehead", "0.25", "0.5")))
    for zone in plan.zones:
        zone.passes, zone.technique = per_zone.get(zone.zone, (None, None))
    db.session.commit()
    return plan


def _start(client, plan) -> TreatmentSession:
    assert post_form(client, f"/plans/{plan.public_id}/sessions/new", {}).status_code == 303
    db.session.expire_all()
    return db.session.scalars(select(TreatmentSession).order_by(TreatmentSession.id.desc())).first()


def _offered(client, record) -> dict[str, list[str]]:
    from tests.security.test_hostile_input import browser_submission, parse, pick

    page = f"/sessions/{record.public_id}/edit"
    return browser_submission(pick(parse(client.get(page).get_data(as_text=True)).forms, page, page))


def _rest_of_a_complete_session() -> dict[str, str]:
    """Everything of a signable session but its zones (those come from the form as offered)."""
    return {k: v for k, v in complete_session_form().items() if not k.startswith("zones-")}


def _zones(record) -> list[tuple]:
    db.session.expire_all()
    return [(z.zone, z.depth_mm, z.passes, z.technique) for z in db.session.get(TreatmentSession, record.id).zones]


def test_session_1_opens_with_the_plans_passes_and_technique_and_saves_them_as_offered(as_practitioner, practitioner):
    record = _start(as_practitioner, _plan(practitioner, cheeks=(3, "cross_hatch"), forehead=(2, "glide")))
    offered = _offered(as_practitioner, record)
    assert (offered["zones-0-zone"], offered["zones-0-depth_mm"], offered["zones-0-passes"], offered["zones-0-technique"]) == (
        ["cheeks"], ["1.00"], ["3"], ["cross_hatch"])
    assert (offered["zones-1-zone"], offered["zones-1-depth_mm"], offered["zones-1-passes"], offered["zones-1-technique"]) == (
        ["forehead"], ["0.25"], ["2"], ["glide"])
    assert offered.get("zones-0-suggested") in (None, [""]), "a zone the plan fully describes is a zone to treat, not a suggestion"
    for question in ("history_reviewed", "photo_consent", "sterile_pack_intact", "anaesthetic_used", "no_products_applied",
                     "no_adverse_events"):
        assert question not in offered, f"{question} must stay an explicit answer"
    response = post_form(as_practitioner, f"/sessions/{record.public_id}/edit", {**offered, **_rest_of_a_complete_session()})
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    assert _zones(record) == [("cheeks", Decimal("1.00"), 3, "cross_hatch"), ("forehead", Decimal("0.25"), 2, "glide")]


def test_a_plan_zone_with_only_a_technique_offers_it_and_is_left_out_if_untouched(as_practitioner, practitioner):
    record = _start(as_practitioner, _plan(practitioner, cheeks=(3, "stamp"), forehead=(None, "glide")))
    offered = _offered(as_practitioner, record)
    assert offered["zones-1-technique"] == ["glide"] and offered["zones-1-passes"] == [""] and offered["zones-1-suggested"] == ["1"]
    page = f"/sessions/{record.public_id}/edit"
    assert post_form(as_practitioner, page, {**offered, **_rest_of_a_complete_session()}).status_code == 303
    assert _zones(record) == [("cheeks", Decimal("1.00"), 3, "stamp")], "forehead, left as the plan offered it, was not treated"


def test_a_plan_zone_with_only_a_technique_is_saved_once_its_passes_are_entered(as_practitioner, practitioner):
    record = _start(as_practitioner, _plan(practitioner, forehead=(None, "glide")))
    offered = _offered(as_practitioner, record)
    response = post_form(as_practitioner, f"/sessions/{record.public_id}/edit",
                         {**offered, **_rest_of_a_complete_session(), "zones-1-passes": "4"})
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    assert _zones(record) == [("forehead", Decimal("0.25"), 4, "glide")], "cheeks had nothing planned and nothing typed: left out"


def test_passes_that_do_not_parse_on_a_plan_row_are_an_error_not_a_dropped_zone(as_practitioner, practitioner):
    record = _start(as_practitioner, _plan(practitioner, forehead=(None, "glide")))
    offered = _offered(as_practitioner, record)
    response = post_form(as_practitioner, f"/sessions/{record.public_id}/edit",
                         {**offered, **_rest_of_a_complete_session(), "zones-1-passes": "four"})
    assert response.status_code == 422
    assert 'value="four"' in response.get_data(as_text=True) and _zones(record) == []


def test_session_2_copies_session_1_not_the_plan(as_practitioner, practitioner):
    plan = _plan(practitioner, cheeks=(3, "cross_hatch"), forehead=(2, "glide"))
    first = _start(as_practitioner, plan)
    offered = _offered(as_practitioner, first)
    changed = {**offered, **_rest_of_a_complete_session(), "zones-0-passes": "5", "zones-0-technique": "stamp", "zones-0-depth_mm": "1.25"}
    assert post_form(as_practitioner, f"/sessions/{first.public_id}/edit", changed).status_code == 303
    page = f"/sessions/{first.public_id}"
    html = as_practitioner.get(page).get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', html).group(1)
    assert post_form(as_practitioner, f"{page}/sign", {"version": version}, page=page).status_code == 303
    second = _offered(as_practitioner, _start(as_practitioner, plan))
    assert (second["zones-0-depth_mm"], second["zones-0-passes"], second["zones-0-technique"]) == (["1.25"], ["5"], ["stamp"])
    assert (second["zones-1-passes"], second["zones-1-technique"]) == (["2"], ["glide"])
