"""The practitioner's actions to reach a screening result for a healthy patient: without an intake, and with one.

Drives the real pages in headless Chromium (Playwright), from the patient page to the screening result,
and counts what the script does as a person would: clicks (a click, a tick, a radio, a choice in a
list), fields typed into and keys typed. Nothing is counted that the page did by itself. Five paths,
patients alike (skin type on record, so it is filled in on every path):

  without intake, one by one   the ordinary form, each screening question answered by its own click
                               (the form's own instruction: "Ask every question");
  without intake, "No to the rest"  the same form using its explicit per-section shortcut;
  intake, one by one           "Start consultation from intake", each patient No confirmed on its own
                               question, the practitioner's own questions one by one (the old path's
                               floor: every answer a click);
  intake, "Start consultation" "Start consultation from intake": the form's one box "I have gone through
                               all the patient's No answers with them", the questions not asked of the
                               patient with their group's "No to the rest";
  intake, "Confirm the No answers"  the patient page's "Confirm the patient's No answers and start the
                               consultation" (the No answers listed beside it; the click is the
                               confirmation), then the own group's "No to the rest".
The healthy intake's patient chose the concern and the area on their hopes screen, so on the intake
paths both are ticked as the patient's choice (a patient who chose no area costs one click more).

Goal (issue 15): with an intake, under half the actions of answering without one.
Run: .venv/bin/python bench/bench_intake_actions.py   (about a minute)
"""

from __future__ import annotations

import logging
import re
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PASSWORD, build_app, create_bench_user, print_machine  # noqa: E402


@dataclass
class Count:
    """What the script did on the pages, as a person would count it."""

    clicks: int = 0
    fields: int = 0
    keys: int = 0
    log: list[str] = field(default_factory=list)

    @property
    def actions(self) -> int:
        """Clicks + fields typed into + keys typed."""
        return self.clicks + self.fields + self.keys

    def click(self, locator, what: str) -> None:
        """One click (a button, a link, a radio, a tick box)."""
        locator.click()
        self.clicks += 1
        self.log.append(what)

    def check(self, locator, what: str) -> None:
        """One tick or radio choice."""
        locator.check()
        self.clicks += 1
        self.log.append(what)

    def type(self, locator, text: str, what: str) -> None:
        """One field typed into, and its keys."""
        locator.fill(text)
        self.fields += 1
        self.keys += len(text)
        self.log.append(what)


def seed(app) -> dict[str, str]:
    """A practitioner, reception, a patient without an intake and three alike each with a healthy signed intake."""
    from practitioner.extensions import db
    from tests.conftest import make_patient
    from tests.intake.factories import answer_set, make_intake

    with app.app_context():
        practitioner = create_bench_user("practitioner@bench.example", "Dana Practitioner")
        reception = create_bench_user("reception@bench.example", "Robin Reception", role="reception")
        without = make_patient(actor=practitioner, given_name="Nadia", family_name="Without", fitzpatrick=3)
        ids = {"without": str(without.public_id)}
        for path in ("one_by_one", "start", "confirm"):
            patient = make_patient(actor=practitioner, given_name="Asha", family_name=f"Intake {path}", fitzpatrick=3)
            make_intake(patient, reception, submitted=True, answers=answer_set(concerns=("fine_lines_wrinkles",), areas=("cheeks",)))
            ids[path] = str(patient.public_id)
        db.session.remove()
        return ids


def sign_in(page, base: str) -> None:
    """Staff sign-in (not counted: it is the same on every path)."""
    page.goto(base + "/sign-in")
    page.get_by_label("Email", exact=True).fill("practitioner@bench.example")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/patients/$"))


def assessment(page, count: Count, wishes: bool) -> None:
    """The treatment (and the concern and area, unless the patient's intake ticked them as the patient's choice)."""
    count.check(page.get_by_label("Microneedling", exact=True), "treatment: Microneedling")
    if wishes:
        count.check(page.get_by_label("Fine lines and wrinkles", exact=True), "concern")
        count.check(page.get_by_label("Cheeks", exact=True), "area: Cheeks")
    else:
        assert page.get_by_label("Cheeks", exact=True).is_checked(), "the patient's area was not ticked"


def no_answer(page, q, count: Count) -> None:
    """Answer one screening question with its calm answer ("No", "No diabetes", "Never taken")."""
    group = page.get_by_role("group", name=q.label, exact=True)
    label = "No" if q.choices is None else q.choices[q.no_answer]
    count.check(group.get_by_label(label, exact=True), f"{q.name}: {label}")


def saved(page, count: Count) -> str:
    """Save and read the screening result."""
    count.click(page.get_by_role("button", name="Save and screen"), "save")
    page.wait_for_url(re.compile(r"/consultations/[0-9a-f-]+$"))
    return page.locator(".verdict__decision").inner_text().strip()


def without_intake(page, base: str, patient_id: str, shortcut: bool) -> tuple[Count, str]:
    """The ordinary form from the patient page: every question answered (one by one, or with "No to the rest")."""
    from practitioner.clinical.questions import QUESTIONS, SECTIONS

    count = Count()
    page.goto(f"{base}/patients/{patient_id}")
    count.click(page.get_by_role("link", name="New consultation"), "New consultation")
    assessment(page, count, wishes=True)
    if shortcut:
        for title in SECTIONS.values():
            count.click(page.get_by_role("button", name=f"Answer “No” to the rest of {title.lower()}"), f"No to the rest of {title}")
    else:
        for q in QUESTIONS:
            no_answer(page, q, count)
    return count, saved(page, count)


OWN_GROUP_BUTTON = "Answer “No” to the rest of your questions (not asked of the patient)"


def with_intake(page, base: str, patient_id: str, path: str) -> tuple[Count, str]:
    """From the waiting intake, by one of three paths: one by one, the form's one box, or the patient page's button."""
    from practitioner.clinical.questions import QUESTIONS

    count = Count()
    page.goto(f"{base}/patients/{patient_id}")
    if path == "confirm":
        count.click(page.get_by_role("button", name="Confirm the patient’s No answers and start the consultation"),
                    "Confirm the patient's No answers and start the consultation")
    else:
        count.click(page.get_by_role("link", name="Start consultation from intake"), "Start consultation from intake")
    assessment(page, count, wishes=False)
    if path == "one_by_one":
        for q in QUESTIONS:
            no_answer(page, q, count)
    else:
        if path == "start":
            count.check(page.get_by_label("I have gone through all the patient’s “No” answers with them: confirm them"), "confirm all No")
        count.click(page.get_by_role("button", name=OWN_GROUP_BUTTON), "No to the rest of your own questions")
    return count, saved(page, count)


def main() -> int:
    """Run the three paths and print the counts and the goal."""
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    print_machine()
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(Path(tmp) / "bench.db")
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        ids = seed(app)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.server_port}"
        results: dict[str, tuple[Count, str]] = {}
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
                for name, run in (("without intake, one by one", lambda p: without_intake(p, base, ids["without"], False)),
                                  ("without intake, \"No to the rest\"", lambda p: without_intake(p, base, ids["without"], True)),
                                  ("intake, one by one", lambda p: with_intake(p, base, ids["one_by_one"], "one_by_one")),
                                  ("intake, \"Start consultation\"", lambda p: with_intake(p, base, ids["start"], "start")),
                                  ("intake, \"Confirm the No answers\"", lambda p: with_intake(p, base, ids["confirm"], "confirm"))):
                    context = browser.new_context(viewport={"width": 820, "height": 1180}, locale="en-GB")
                    context.set_default_timeout(30_000)
                    page = context.new_page()
                    sign_in(page, base)
                    results[name] = run(page)
                    context.close()
                browser.close()
        finally:
            server.shutdown()
    print("\nPractitioner's actions from the patient page to a screening result (healthy patient, 820x1180):")
    print(f"{'path':36} {'clicks':>6} {'fields':>6} {'keys':>5} {'actions':>7}  result")
    for name, (count, result) in results.items():
        print(f"{name:36} {count.clicks:6} {count.fields:6} {count.keys:5} {count.actions:7}  {result}")
    for with_name in ("intake, \"Start consultation\"", "intake, \"Confirm the No answers\""):
        with_count = results[with_name][0].actions
        for name in ("without intake, one by one", "without intake, \"No to the rest\""):
            base_count = results[name][0].actions
            verdict = "MET" if with_count < base_count / 2 else "NOT MET"
            print(f"goal: {with_name} under half of {name}: {with_count} vs {base_count} "
                  f"({with_count / base_count:.2f}) {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
