"""The foundation, as a person at the clinic uses it: sign in, register, find, edit, sign out.

Fields are found by their visible labels and buttons by their names, so a renamed label, a
broken label-for link or a missing button fails these tests just as it would confuse a person.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from practitioner.extensions import db
from tests.browser.conftest import TABLET, LiveServer, shot, sign_in
from tests.conftest import make_patient

pytestmark = pytest.mark.browser

FITZPATRICK_III = "III: sometimes mild burn, tans about average"


def fact(page: Page, term: str):
    """The <dd> shown beside a <dt> on the patient page."""
    return page.locator("dl.facts > div").filter(has=page.locator("dt", has_text=re.compile(rf"^{re.escape(term)}$"))).locator("dd")


def search(page: Page, text: str) -> None:
    """Type in the patient search box and press the Search button."""
    box = page.get_by_label("Search patients")
    box.fill(text)
    page.get_by_role("button", name="Search", exact=True).click()
    expect(box).to_have_value(text)


def result_rows(page: Page):
    return page.locator("table.table tbody tr")


def assert_no_horizontal_scroll(page: Page, what: str) -> None:
    widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"{what}: the document scrolls sideways (scrollWidth {widths[0]} > clientWidth {widths[1]})"


def test_register_find_edit_and_sign_out(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server("/sign-in"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    shot(page, "01-sign-in")
    sign_in(page, live_server)
    expect(page.get_by_role("status").filter(has_text="patient")).to_contain_text("0 patients")

    # Register a patient, filling the form as the practitioner would.
    page.get_by_role("link", name="Add a patient").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a patient")
    page.get_by_label("Given name", exact=True).fill("Giulia")
    page.get_by_label("Family name", exact=True).fill("Marchetti")
    page.get_by_label("Preferred name (optional)").fill("Jules")
    page.get_by_label("Date of birth", exact=True).fill("1988-03-14")
    page.get_by_role("group", name="Sex").get_by_label("Female", exact=True).check()
    page.get_by_label("Clinic record number", exact=True).fill("CL-40217")
    page.get_by_label("Phone", exact=True).fill("07700 900123")
    page.get_by_label("Email", exact=True).fill("giulia.marchetti@example.com")
    page.get_by_label("Address", exact=True).fill("12 Orchard Lane\nBristol")
    page.get_by_label("Postcode or ZIP").fill("BS1 4DJ")
    page.get_by_label("Emergency contact name").fill("Marco Marchetti")
    page.get_by_label("Relationship to the patient").fill("Brother")
    page.get_by_label("Emergency contact phone").fill("07700 900456")
    page.get_by_label("GP or physician", exact=True).fill("Dr Amina Shah")
    page.get_by_label("Practice or surgery").fill("Harbourside Surgery")
    page.get_by_label("Practice phone").fill("0117 496 0000")
    page.get_by_label("Fitzpatrick skin type").select_option(label=FITZPATRICK_III)
    expect(page.get_by_label("No known allergies")).not_to_be_checked()
    page.get_by_label("Allergies", exact=True).fill("Lidocaine (hives)")
    page.get_by_label("Current medicines and supplements").fill("Vitamin D 1000 IU daily")
    page.get_by_role("button", name="Add patient").click()

    # The patient's page: name as heading, a success message, the details as typed.
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("Giulia Marchetti")
    expect(heading).to_contain_text("Jules")
    expect(page).to_have_url(re.compile(r"/patients/[0-9a-f-]{36}$"))
    expect(page.locator(".flash--success")).to_have_text("Giulia Marchetti is registered as CL-40217.")
    expect(page.locator(".patient-head__meta")).to_contain_text("CL-40217")
    expect(page.locator(".patient-head__meta")).to_contain_text("Born 14 Mar 1988")
    expect(page.locator(".patient-head__meta")).to_contain_text("Female")
    expect(fact(page, "Phone")).to_have_text("07700 900123")
    expect(fact(page, "Email")).to_have_text("giulia.marchetti@example.com")
    expect(fact(page, "Address")).to_contain_text("12 Orchard Lane")
    expect(fact(page, "Address")).to_contain_text("BS1 4DJ")
    expect(fact(page, "Emergency contact")).to_have_text("Marco Marchetti (Brother), 07700 900456")
    expect(fact(page, "GP or physician")).to_have_text("Dr Amina Shah, Harbourside Surgery, 0117 496 0000")
    expect(fact(page, "Allergies")).to_have_text("Lidocaine (hives)")
    expect(fact(page, "Current medicines")).to_have_text("Vitamin D 1000 IU daily")
    expect(fact(page, "Fitzpatrick skin type")).to_have_text(FITZPATRICK_III)
    shot(page, "04-patient-page")
    patient_url = page.url

    # Find them again from the list, every way the search box says it understands.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    expect(result_rows(page)).to_have_count(1)
    shot(page, "02-patient-list")
    for query, kind in [("marchetti", "(name)"), ("14/03/1988", "(date of birth)"), ("1988-03-14", "(date of birth)"),
                        ("07700900123", "(phone or record number)"), ("07700 900", "(phone or record number)"),
                        ("CL-40217", "(phone or record number)"), ("cl-40217", "(phone or record number)")]:
        search(page, query)
        expect(page.locator(".result-count")).to_contain_text(f"1 match for “{query}”")
        expect(page.locator(".result-count")).to_contain_text(kind)
        expect(result_rows(page)).to_have_count(1)
        expect(result_rows(page).first).to_contain_text("Marchetti, Giulia")
        expect(result_rows(page).first).to_contain_text("14 Mar 1988")
        expect(result_rows(page).first).to_contain_text("CL-40217")
    # A search that should not find them, so the ones above are not matching everything.
    search(page, "Okonkwo")
    expect(page.locator(".result-count")).to_contain_text("0 matches")
    expect(page.get_by_text("No patients found.")).to_be_visible()
    search(page, "15/03/1988")
    expect(page.get_by_text("No patients found.")).to_be_visible()

    # Open them from the results and change the phone number.
    search(page, "Marchetti")
    page.get_by_role("link", name="Marchetti, Giulia").click()
    expect(page).to_have_url(patient_url)
    page.get_by_role("link", name="Edit details").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit Giulia Marchetti")
    phone = page.get_by_label("Phone", exact=True)
    expect(phone).to_have_value("07700 900123")
    expect(page.get_by_label("Date of birth", exact=True)).to_have_value("1988-03-14")
    expect(page.get_by_label("Fitzpatrick skin type")).to_have_value("3")
    phone.fill("+44 7700 900999")
    page.get_by_role("button", name="Save changes").click()
    expect(page).to_have_url(patient_url)
    expect(page.locator(".flash--success")).to_have_text("Saved.")
    expect(fact(page, "Phone")).to_have_text("+44 7700 900999")
    expect(fact(page, "Email")).to_have_text("giulia.marchetti@example.com")  # untouched fields kept
    expect(fact(page, "Allergies")).to_have_text("Lidocaine (hives)")

    # The new number finds them, the old one no longer does.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    search(page, "07700 900999")
    expect(result_rows(page)).to_have_count(1)
    search(page, "07700 900123")
    expect(page.get_by_text("No patients found.")).to_be_visible()

    # Sign out; the list is then out of reach.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    expect(page.get_by_role("status")).to_have_text("You have signed out.")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    page.goto(live_server("/patients/"))
    expect(page).to_have_url(re.compile(r"/sign-in\?next=(/|%2F)patients(/|%2F)$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.get_by_text("Marchetti")).to_have_count(0)
    page.goto(patient_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


def test_bad_new_patient_form_is_explained_and_kept(page: Page, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    page.goto(live_server("/patients/new"))
    future = date.today() + timedelta(days=400)
    page.get_by_label("Given name", exact=True).fill("")
    page.get_by_label("Family name", exact=True).fill("Okonkwo")
    page.get_by_label("Date of birth", exact=True).fill(future.isoformat())
    page.get_by_role("group", name="Sex").get_by_label("Not stated").check()
    page.get_by_label("Phone", exact=True).fill("020 7946 0018")
    page.get_by_label("Email", exact=True).fill("c.okonkwo@example.org")
    page.get_by_label("Address", exact=True).fill("Flat 3\n88 Canal Street")
    page.get_by_label("Fitzpatrick skin type").select_option(label="V: never burns, tans very easily")
    page.get_by_label("No known allergies").check()
    page.get_by_label("Current medicines and supplements").fill("Isotretinoin stopped in 2024")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/patients/new")) as posted:
        page.get_by_role("button", name="Add patient").click()
    assert posted.value.status == 422

    # Still on the form, with a summary at the top that has focus and links to each problem.
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a patient")
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_have_attribute("role", "alert")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("heading")).to_have_text("Please correct 2 things below")
    expect(summary.get_by_role("link")).to_have_text([
        "Given name: Enter the patient's given name.",
        "Date of birth: The date of birth cannot be in the future.",
    ])
    expect(summary.get_by_role("link", name=re.compile("^Given name"))).to_have_attribute("href", "#given_name")

    # Each message sits in the field's own box and is announced with the input.
    for label, message in [("Given name", "Enter the patient's given name."),
                           ("Date of birth", "The date of birth cannot be in the future.")]:
        box = page.get_by_label(label, exact=True)
        expect(box).to_have_attribute("aria-invalid", "true")
        expect(box).to_have_accessible_description(re.compile(re.escape(message)))
        field = page.locator(".field--error").filter(has=box)
        expect(field).to_have_count(1)
        expect(field.locator(".error")).to_have_text(message)
    expect(page.locator(".field--error")).to_have_count(2)
    expect(page.locator("p.error")).to_have_count(2)
    expect(page.get_by_label("Family name", exact=True)).not_to_have_attribute("aria-invalid", "true")

    # What was typed elsewhere is still there.
    expect(page.get_by_label("Given name", exact=True)).to_have_value("")
    expect(page.get_by_label("Family name", exact=True)).to_have_value("Okonkwo")
    expect(page.get_by_label("Date of birth", exact=True)).to_have_value(future.isoformat())
    expect(page.get_by_role("group", name="Sex").get_by_label("Not stated")).to_be_checked()
    expect(page.get_by_label("Phone", exact=True)).to_have_value("020 7946 0018")
    expect(page.get_by_label("Email", exact=True)).to_have_value("c.okonkwo@example.org")
    expect(page.get_by_label("Address", exact=True)).to_have_value("Flat 3\n88 Canal Street")
    expect(page.get_by_label("Fitzpatrick skin type")).to_have_value("5")
    expect(page.get_by_label("No known allergies")).to_be_checked()
    expect(page.get_by_label("Current medicines and supplements")).to_have_value("Isotretinoin stopped in 2024")
    shot(page, "03-new-patient-errors")

    # Correcting the two fields registers the patient with the kept values.
    page.get_by_label("Given name", exact=True).fill("Chiamaka")
    page.get_by_label("Date of birth", exact=True).fill("1979-11-02")
    page.get_by_role("button", name="Add patient").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Chiamaka Okonkwo")
    expect(page.locator(".flash--success")).to_contain_text("Chiamaka Okonkwo is registered as P")
    expect(fact(page, "Phone")).to_have_text("020 7946 0018")
    expect(fact(page, "Allergies")).to_have_text("No known allergies")


def test_a_possible_duplicate_is_shown_and_needs_ticking_to_register(page: Page, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        existing = make_patient(given_name="José", family_name="García", date_of_birth=date(1987, 6, 5), record_number="CL-1001")
        existing_url = live_server(f"/patients/{existing.public_id}")
    sign_in(page, live_server)
    page.goto(live_server("/patients/new"))
    page.get_by_label("Given name", exact=True).fill("jose")
    page.get_by_label("Family name", exact=True).fill("GARCIA")
    page.get_by_label("Date of birth", exact=True).fill("1987-06-05")
    page.get_by_role("group", name="Sex").get_by_label("Male", exact=True).check()
    page.get_by_label("Phone", exact=True).fill("07700 900321")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/patients/new")) as posted:
        page.get_by_role("button", name="Add patient").click()
    assert posted.value.status == 422

    # The existing record is named and linked; the form asks the question and keeps what was typed.
    panel = page.locator("section").filter(has=page.get_by_role("heading", name="Already registered?"))
    link = panel.get_by_role("link", name=re.compile(r"^CL-1001: José García, born 5 Jun 1987"))
    expect(link).to_have_attribute("href", existing_url.removeprefix(live_server.url))
    tick = page.get_by_label("This is a different person")
    expect(tick).not_to_be_checked()
    expect(tick).to_have_attribute("aria-invalid", "true")
    expect(tick).to_have_accessible_description(re.compile("Tick this box if this is not the same person"))
    expect(page.locator(".error-summary").get_by_role("link")).to_have_text(
        ["This is a different person: Tick this box if this is not the same person, or open their record instead."])
    expect(page.get_by_label("Phone", exact=True)).to_have_value("07700 900321")
    shot(page, "07-possible-duplicate")

    # Without the tick it is asked again; with it the new person is registered.
    page.get_by_role("button", name="Add patient").click()
    expect(page.get_by_label("This is a different person")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("This is a different person").check()
    page.get_by_role("button", name="Add patient").click()
    expect(page.locator(".flash--success")).to_contain_text("jose GARCIA is registered as P")
    expect(fact(page, "Phone")).to_have_text("07700 900321")


def test_sign_in_by_keyboard(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server("/sign-in"))
    email = page.get_by_label("Email", exact=True)
    password = page.get_by_label("Password", exact=True)
    button = page.get_by_role("button", name="Sign in")

    # Tab from the top of the page: only the skip link and the clinic name may come before Email.
    stops = []
    for _ in range(4):
        page.keyboard.press("Tab")
        if email.evaluate("el => el === document.activeElement"):
            break
        stops.append(page.evaluate("() => document.activeElement.textContent.trim()"))
    else:
        pytest.fail(f"Tab never reached the Email field; focus went to {stops!r}")
    assert len(stops) <= 2, f"too many tab stops before Email: {stops!r}"
    expect(email).to_be_focused()
    page.keyboard.type(live_server.email)
    page.keyboard.press("Tab")
    expect(password).to_be_focused()
    page.keyboard.type(live_server.password)
    page.keyboard.press("Tab")
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/patients/$"))
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_enter_in_password_field_submits(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server("/sign-in"))
    page.get_by_label("Email", exact=True).fill(live_server.email)
    password = page.get_by_label("Password", exact=True)
    password.fill("not the password")
    password.press("Enter")
    # The form was submitted (and refused): the error is shown and focus moves to the summary.
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    expect(page.get_by_label("Email", exact=True)).to_have_value(live_server.email)
    page.get_by_label("Password", exact=True).fill(live_server.password)
    page.get_by_label("Password", exact=True).press("Enter")
    expect(page).to_have_url(re.compile(r"/patients/$"))


@pytest.mark.parametrize("viewport", [TABLET], ids=["tablet-820x1180"])
def test_tablet_list_and_patient_page_fit_the_screen(page: Page, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        make_patient(given_name="Maximiliana", family_name="Featherstonehaugh-Wolfeschlegel", preferred_name="Max",
                     phone="+44 7700 900321", email="maximiliana.featherstonehaugh-wolfeschlegel@longdomain-example.co.uk",
                     address="Flat 12B, The Old Rope Works\n145 Harbourside Promenade\nWeston-super-Mare",
                     postcode="BS23 1AA", record_number="CL-99001", allergies="Chlorhexidine (contact dermatitis); "
                     "latex (urticaria)", no_known_allergies=False, current_medicines="Warfarin 5 mg daily; "
                     "isotretinoin stopped March 2025; fish oil", emergency_contact_name="Bartholomew Featherstonehaugh",
                     emergency_contact_relationship="Husband", emergency_contact_phone="07700 900654",
                     gp_name="Dr Oluwaseun Adeyemi-Richardson", gp_practice="Weston Bay Medical Partnership",
                     gp_phone="01934 496 000")
        for n in range(3):
            make_patient(given_name=f"Sam{n}", family_name=f"Lee{n}")
        db.session.remove()
    assert page.viewport_size == TABLET
    sign_in(page, live_server)
    expect(result_rows(page)).to_have_count(4)
    assert_no_horizontal_scroll(page, "patient list")
    shot(page, "05-tablet-patient-list")

    page.get_by_role("link", name=re.compile("^Featherstonehaugh-Wolfeschlegel, Maximiliana")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Maximiliana Featherstonehaugh-Wolfeschlegel")
    expect(fact(page, "Allergies")).to_contain_text("Chlorhexidine")
    assert_no_horizontal_scroll(page, "patient page")
    # The Sign out button and the Edit details button stay on screen, not pushed off the right edge.
    for name in ("Sign out", "Edit details"):
        box = page.get_by_role("button" if name == "Sign out" else "link", name=name).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= TABLET["width"], f"{name} is off screen: {box}"
    shot(page, "06-tablet-patient-page")


# Regression checks for two layout bugs found by these tests.

def test_postcode_is_on_its_own_line_under_the_address(page: Page, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        public_id = make_patient(given_name="Giulia", family_name="Marchetti", address="12 Orchard Lane\nBristol",
                                 postcode="BS1 4DJ").public_id
        db.session.remove()
    sign_in(page, live_server)
    page.goto(live_server(f"/patients/{public_id}"))
    assert fact(page, "Address").inner_text().splitlines() == ["12 Orchard Lane", "Bristol", "BS1 4DJ"]


def test_desktop_patient_page_with_a_long_email_fits_the_screen(page: Page, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        public_id = make_patient(given_name="Alexandra", family_name="Papadopoulou",
                                 email="alexandrapapadopoulou.aesthetics@outlook.com").public_id
        db.session.remove()
    sign_in(page, live_server)
    page.goto(live_server(f"/patients/{public_id}"))
    expect(fact(page, "Email")).to_have_text("alexandrapapadopoulou.aesthetics@outlook.com")
    assert_no_horizontal_scroll(page, "desktop patient page")
