"""The patient's intake pages: the one-time link and its date of birth, one screen per topic, the summary and signature.

These are the only pages of the app open without an account. Each one answers only to a browser that holds
access to one intake in its (signed) cookie session: a tablet handed over by staff (practitioner/intake/tablet.py),
or a link whose date of birth was right. Without it, or when the intake is no longer open, every page is the same
calm page, whatever the reason, so the pages say nothing about which intakes exist. No patient address holds an
intake's id: the link holds only its token, compared by hash (services.find_by_token).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from flask import Response, current_app, redirect, render_template, request, session, url_for
from werkzeug.exceptions import NotFound

from practitioner.auth.access import client_ip
from practitioner.database import utcnow
from practitioner.extensions import db
from practitioner.intake import bp, mapping, questions, services, tablet
from practitioner.intake.forms import BACK, NEXT, DateOfBirthForm, SignForm, topic_form
from practitioner.intake.models import PatientIntake
from practitioner.unit_of_work import commit_audit_of_read, commit_request

TOPICS = questions.TOPICS
SCREENS = len(TOPICS) + 1  # every topic, then the summary
LINK_PAGES = frozenset({"intake.open_link"}) | tablet.PATIENT_PAGES


def _calm(status: int = 404, *, reason: str = "link", **context: Any) -> tuple[str, int]:
    """The one calm page: a link that no longer works (unknown, expired, used, withdrawn all alike), a closed
    intake on the tablet, or too many tries; it names no intake and no patient."""
    if reason == "link" and tablet.is_locked():
        reason = "closed"
    return render_template("intake/patient/calm.html", reason=reason, **context), status


def _intake() -> PatientIntake | None:
    """The one intake this browser may answer, while it is open; None otherwise."""
    held = session.get(tablet.ACCESS)
    try:
        public_id = uuid.UUID(str(held)) if held else None
    except ValueError:
        return None
    if public_id is None:
        return None
    intake = db.session.scalars(PatientIntake.by_public_id(public_id)).first()
    if intake is None or not intake.is_open(utcnow()):
        return None
    return intake


def _progress(number: int) -> dict[str, int]:
    return {"number": number, "of": SCREENS}


@bp.after_app_request
def patient_page_headers(response: Response) -> Response:
    """The patient's pages are never indexed, never cached, and never framed (the app's own headers are kept)."""
    if request.endpoint in LINK_PAGES:
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/intake/<token>", methods=["GET", "POST"])
def open_link(token: str):
    """A one-time link: the date of birth first; then the browser holds this intake and nothing else."""
    # Unknown, used, expired, withdrawn and closed links are all None here, after the same lookup by hash.
    intake = services.usable_by_token(token)
    if intake is None:
        return _calm()
    form = DateOfBirthForm()
    if not form.is_submitted():
        return render_template("intake/patient/date_of_birth.html", form=form), 200
    if not form.validate():
        return render_template("intake/patient/date_of_birth.html", form=form), 422
    result = services.check_dob(intake, form.date_of_birth, client_ip())
    commit_request()  # the one service call: a wrong date is counted, a right one audited, either way kept
    if result.outcome == "throttled":
        if intake.dob_failures >= services.DOB_MAX_FAILURES:
            return _calm(429, reason="closed_link")
        return _calm(429, reason="throttled", minutes=_address_wait_minutes())
    if not result.ok:
        form.wrong = True
        return render_template("intake/patient/date_of_birth.html", form=form), 422
    session[tablet.ACCESS] = str(intake.public_id)
    session[tablet.SCREEN] = "welcome"
    session.pop(tablet.DONE, None)
    return redirect(url_for("intake.welcome"), 303)


def _address_wait_minutes() -> int:
    """How long an address waits after too many wrong dates of birth (the sign-in window the count lives in)."""
    window = current_app.config.get("SIGN_IN_WINDOW", timedelta(minutes=15))
    return max(1, int(window.total_seconds() // 60))


@bp.get("/intake/welcome")
def welcome():
    """Hello, by first name only, and what the questions are for."""
    intake = _intake()
    if intake is None:
        return _calm()
    session[tablet.SCREEN] = "welcome"
    if intake.channel == "tablet" and session.get(tablet.OPENED) != str(intake.public_id):
        services.opened_on_tablet(intake, client_ip())  # the link's opening is audited at its date of birth
        commit_audit_of_read()
        session[tablet.OPENED] = str(intake.public_id)
    return render_template("intake/patient/welcome.html", first_name=intake.patient.given_name, topics=TOPICS,
                           first=TOPICS[0], screens=SCREENS)


@bp.route("/intake/questions/<slug>", methods=["GET", "POST"])
def screen(slug: str):
    """One topic's questions; Next asks for every answer, Back keeps what was given; both save the screen."""
    intake = _intake()
    if intake is None:
        return _calm()
    topic = questions.topic(slug)
    if topic is None:
        raise NotFound()
    index = TOPICS.index(topic)
    form = topic_form(topic, intake.draft_answers)
    if form.is_submitted():
        action = BACK if form.action.data == BACK else NEXT
        if form.validate_answers(action):
            try:
                services.save_topic(intake, slug, form.answers())
            except services.InvalidAnswers as exc:
                db.session.rollback()
                form.show_problems(exc.problems)
            else:
                commit_request()
                return redirect(_after(index, action, form.return_to.data == "summary"), 303)
    elif request.args.get("from") == "summary":
        form.return_to.data = "summary"
    session[tablet.SCREEN] = slug
    return render_template("intake/patient/screen.html", form=form, topic=topic, progress=_progress(index + 1),
                           month_year_hint=questions.MONTH_YEAR_HINT), 422 if form.is_submitted() else 200


def _after(index: int, action: str, to_summary: bool) -> str:
    """Where a saved screen goes: back one, on one, or to the summary (after Change, or after the last topic)."""
    if action == BACK:
        return url_for("intake.screen", slug=TOPICS[index - 1].slug) if index > 0 else url_for("intake.welcome")
    if to_summary or index + 1 >= len(TOPICS):
        return url_for("intake.summary")
    return url_for("intake.screen", slug=TOPICS[index + 1].slug)


@bp.route("/intake/check", methods=["GET", "POST"], endpoint="summary")
def summary_page():
    """Every answer to check, with a way back to each screen; once all are answered, the declaration and signature."""
    intake = _intake()
    if intake is None:
        return _calm()
    session[tablet.SCREEN] = "summary"
    missing = services.missing(intake)
    form = SignForm()
    status = 200
    if form.is_submitted():
        status = 422
        if not missing and form.validate():
            try:
                services.submit(intake, form.signature.data, client_ip())
            except services.SignatureProblem as exc:
                db.session.rollback()
                form.signature.errors = [str(exc)]
            except services.IntakeIncomplete as exc:
                db.session.rollback()
                missing = exc.missing
            else:
                channel = intake.channel
                commit_request()
                tablet.end_lock(channel)
                return redirect(url_for("intake.done"), 303)
        form.signature.data = ""  # a refused drawing is not put back in the box
    return render_template("intake/patient/summary.html", form=form, rows=_summary_rows(intake.draft_answers), missing=_where(missing),
                           progress=_progress(SCREENS), title=questions.SUMMARY_TITLE), status


def _where(missing: list[str]) -> list[tuple[str, str | None]]:
    """Each unanswered question's words with the screen that asks it."""
    screen_of = {question.wording: topic.slug for topic in TOPICS for question in topic.questions}
    return [(wording, screen_of.get(wording)) for wording in missing]


@bp.get("/intake/thank-you")
def done():
    """After submitting: thanks, and (on the tablet) please hand it back; the only way on is staff sign-in."""
    channel = session.get(tablet.DONE)
    if channel not in ("tablet", "link"):
        return _calm()
    return render_template("intake/patient/done.html", channel=channel)


def _summary_rows(draft: dict[str, Any]) -> list[dict[str, Any]]:
    """Each topic with its answers as the patient will read them: the question, the answer, and "about March 2026"."""
    mapped = mapping.consultation_answers(draft)
    texts = {**(draft.get("details") or {}), **(draft.get("hopes") or {})}
    rows = []
    for topic in TOPICS:
        items = []
        for question in topic.questions:
            answer = mapped[question.key]
            shown = answer.label + (f", {answer.when_text}" if answer.when_text else "")
            items.append({"label": question.wording, "answer": shown, "missing": not answer.answer_code, "text": False})
        if topic.kind == "hopes":
            chosen = [questions.concern_label(code) for code in texts.get("concerns") or []]
            items.append({"label": questions.CONCERNS_WORDING, "answer": ", ".join(chosen) or "None chosen",
                          "missing": False, "text": False})
            areas = [questions.area_label(code) for code in texts.get("areas") or []]
            items.append({"label": questions.AREAS_WORDING, "answer": ", ".join(areas) or "None chosen",
                          "missing": False, "text": False})
        for field in topic.fields:
            items.append({"label": field.label, "answer": texts.get(field.key) or "Not given", "missing": False,
                          "text": field.multiline and bool(texts.get(field.key))})
        rows.append({"topic": topic, "items": items})
    return rows
