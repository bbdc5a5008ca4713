"""What a session record may hold (practitioner/treatments/limits.py), so its documents render in time: told where
the practitioner types (hint, maxlength), refused with a message on each field (422, typing kept), and refused by the
services whoever calls them."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from sqlalchemy import func, select

from practitioner.extensions import db
from practitioner.treatments import limits, services
from practitioner.treatments.models import Addendum, TreatmentSession
from tests.conftest import make_patient, post_form
from tests.factories import complete_session_form, signed_session, treatable_plan


@pytest.fixture
def plan(practitioner):
    return treatable_plan(make_patient(actor=practitioner, given_name="Ola", family_name="Nowak"), practitioner)


def _draft(client, plan) -> str:
    return post_form(client, f"/plans/{plan.public_id}/sessions/new", {}).headers["Location"].removesuffix("/edit")


def _version(client, url: str) -> str:
    return re.search(r'name="version" type="hidden" value="(\d+)"', client.get(url).get_data(as_text=True)).group(1)


def _error_of(page: str, field_id: str) -> str:
    found = re.search(rf'<p class="error" id="{field_id}-error">(.*?)</p>', page, re.S)
    return html_lib.unescape(found.group(1)).strip() if found else ""


def test_the_session_form_says_each_limit_where_it_is_typed(as_practitioner, plan):
    page = as_practitioner.get(_draft(as_practitioner, plan) + "/edit").get_data(as_text=True)
    for name, most in limits.SESSION_TEXT.items():
        textarea = re.search(rf'<textarea[^>]*id="{name}"[^>]*>', page).group(0)
        assert f'maxlength="{most}"' in textarea, name
        assert f'<p class="hint" id="{name}-hint">Up to {most:,} characters.</p>' in page, name
        assert f'aria-describedby="{name}-hint"' in textarea, name


def test_notes_over_their_limits_are_refused_with_a_message_on_each_field_and_the_typing_kept(as_practitioner, plan):
    record_url = _draft(as_practitioner, plan)
    edit = record_url + "/edit"
    long_note = "Redness settled. " * 200  # 3,400 characters
    long_medicines = "m" * (limits.SESSION_TEXT["new_medicines"] + 1)
    form = {**complete_session_form(), "clinical_note": long_note, "new_medicines": long_medicines, "version": _version(as_practitioner, edit)}
    response = post_form(as_practitioner, edit, form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert _error_of(page, "clinical_note") == f"This is {len(long_note.strip()):,} characters long: shorten it to 2,000 characters or fewer."
    assert _error_of(page, "new_medicines") == "This is 1,001 characters long: shorten it to 1,000 characters or fewer."
    assert long_note.strip() in html_lib.unescape(page) and long_medicines in page, "what was typed is kept"
    assert "{" not in _error_of(page, "clinical_note") and "%(" not in page
    db.session.remove()
    assert db.session.scalars(select(TreatmentSession)).one().clinical_note in (None, "")


def test_line_breaks_count_once_as_the_browser_counts_them(as_practitioner, plan):
    record_url = _draft(as_practitioner, plan)
    edit = record_url + "/edit"
    note = "\r\n".join(["x" * 99] * 20)  # 1,999 characters as the browser counts them (each CRLF one), 2,018 sent
    form = {**complete_session_form(), "clinical_note": note, "version": _version(as_practitioner, edit)}
    assert post_form(as_practitioner, edit, form).status_code == 303
    db.session.remove()
    assert db.session.scalars(select(TreatmentSession)).one().clinical_note == note, "stored exactly as sent, CRLF and all"


def test_the_service_refuses_a_note_over_its_limit_whoever_calls_it(app, plan, practitioner):
    from practitioner.admin.services import current_policy

    record = services.start_session(db.session, plan, actor=practitioner, on=plan.first_session_on)
    db.session.commit()
    with pytest.raises(services.TextTooLong) as refused:
        services.save_draft(db.session, record, {"clinical_note": "x" * 2001}, expected_version=None, actor=practitioner,
                            policy=current_policy(db.session), acknowledged=False)
    assert refused.value.field == "clinical_note" and "2,001 characters" in str(refused.value)


def test_an_addendum_over_its_limits_is_refused_on_each_field_with_the_typing_kept(as_practitioner, plan, practitioner):
    record = signed_session(plan, practitioner)
    page = f"/sessions/{record.public_id}"
    shown = as_practitioner.get(page).get_data(as_text=True)
    assert 'maxlength="200"' in re.search(r'<input[^>]*id="reason"[^>]*>', shown).group(0)
    assert 'maxlength="1000"' in re.search(r'<textarea[^>]*id="text"[^>]*>', shown).group(0)
    assert "Up to 1,000 characters. A session holds up to 5 addenda." in shown and "Up to 200 characters." in shown
    reason, text = "r" * 201, "Patient phoned. " * 70
    response = post_form(as_practitioner, f"{page}/addenda", {"reason": reason, "text": text}, page=page)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert _error_of(body, "reason") == "This is 201 characters long: shorten it to 200 characters or fewer."
    assert _error_of(body, "text") == f"This is {len(text.strip()):,} characters long: shorten it to 1,000 characters or fewer."
    assert reason in body and text.strip() in body
    assert db.session.scalar(select(func.count()).select_from(Addendum)) == 0


def test_a_session_holds_at_most_five_addenda(as_practitioner, plan, practitioner):
    record = signed_session(plan, practitioner)
    page = f"/sessions/{record.public_id}"
    for n in range(limits.ADDENDA_PER_SESSION):
        assert post_form(as_practitioner, f"{page}/addenda", {"reason": "Follow-up", "text": f"Call {n + 1}: settling."}, page=page).status_code == 303
    shown = as_practitioner.get(page).get_data(as_text=True)
    assert "This session holds 5 addenda, the most one session may hold" in shown and "Add addendum" not in shown
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', shown)
    response = as_practitioner.post(f"{page}/addenda", data={"reason": "Follow-up", "text": "Call 6.",
                                                             "csrf_token": token.group(1) or token.group(2)})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert _error_of(body, "text").startswith("This session already holds 5 addenda") and "Call 6." in body
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Addendum)) == limits.ADDENDA_PER_SESSION


def test_the_service_refuses_a_sixth_addendum_and_a_long_one_whoever_calls_it(app, plan, practitioner):
    record = signed_session(plan, practitioner)
    with pytest.raises(services.TextTooLong):
        services.add_addendum(db.session, record, "Late entry", "x" * 1001, actor=practitioner)
    db.session.rollback()
    for _ in range(limits.ADDENDA_PER_SESSION):
        services.add_addendum(db.session, record, "Late entry", "Settling.", actor=practitioner)
    with pytest.raises(services.TooManyAddenda, match="already holds 5 addenda"):
        services.add_addendum(db.session, record, "Late entry", "One more.", actor=practitioner)
