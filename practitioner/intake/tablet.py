"""The tablet lock: after staff hand the clinic's tablet to a patient, the browser reaches that one intake and nothing else.

How it holds (docs/intake.md, "On the clinic's tablet"):

- `hand_over(intake)` ends the staff member's sign-in session (on the server and in the cookie) and writes into the
  cookie session, which Flask signs so the browser cannot alter it, that this browser is locked to the intake.
- `keep_tablet_locked`, a hook run before every request of the app, answers anything other than the intake's own
  patient pages, static files and the staff sign-in page with a redirect to the intake's current screen. The app
  sends every page with `Cache-Control: no-store`, so Back asks the server again and meets the same hook.
- The lock ends when the patient submits (the thank-you page leads only to the sign-in page) or when a staff member
  signs in: the sign-in clears the cookie session. Signing in abandons nothing: the intake stays open, so staff can
  hand the tablet back to the same patient (`hand_over` again) and the answers saved so far are still there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import redirect, request, session, url_for
from flask_login import current_user, logout_user

from practitioner.auth import services as auth_services
from practitioner.auth.access import client_ip
from practitioner.extensions import db
from practitioner.intake import bp

if TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from practitioner.intake.models import PatientIntake

# The cookie session's keys for the patient's pages (one place, so the views and the lock agree).
ACCESS = "intake_access"  # the public id of the one intake this browser may answer (tablet, or link after the date of birth)
LOCK = "intake_lock"  # present while the browser is locked to that intake (tablet mode)
SCREEN = "intake_screen"  # where the patient is: "welcome", a topic's slug, or "summary"
DONE = "intake_done"  # after submitting: "tablet" or "link", for the thank-you page's words
OPENED = "intake_opened"  # the intake whose opening on the tablet is audited already (once per hand-over)

# The patient's own pages, which a locked tablet may show. The link's entry page is not one of them: a locked
# tablet is for its own intake only.
PATIENT_PAGES = frozenset({"intake.welcome", "intake.screen", "intake.summary", "intake.done"})
# Always reachable while locked: the static files (CSS, scripts, the signature pad) and staff sign-in, which ends the lock.
ALWAYS_OPEN = frozenset({"static", "auth.sign_in"})

# The end reason stored on the staff member's sign-in session (auth's user_sessions.end_reason, 20 characters).
HANDED_OVER = "tablet_handed_over"


def hand_over(intake: PatientIntake) -> str:
    """Lock this browser to `intake` for the patient and sign the staff member out; return the patient's first page.

    Call it in the view that started (or resumes) a tablet intake, after that view's `commit_request()`:
    it writes nothing to the database but the end of the staff member's sign-in session, committed here as the
    sign-in session's own exception to the commit rule. Then `return redirect(hand_over(intake), 303)`.
    """
    from practitioner.unit_of_work import CommitReason, commit_exception

    if current_user.is_authenticated and current_user.current_session is not None:
        auth_services.end_session(db.session, current_user.current_session, HANDED_OVER, ip_address=client_ip())
        commit_exception(CommitReason.SIGN_IN_SESSION)
    logout_user()
    # Nothing of the staff member's cookie session survives (their draft, a pending two-factor step).
    session.clear()
    session[ACCESS] = str(intake.public_id)
    session[LOCK] = True
    session[SCREEN] = "welcome"
    return url_for("intake.welcome")


def is_locked() -> bool:
    """True while this browser is locked to a patient's intake."""
    return bool(session.get(LOCK))


def current_screen_url() -> str:
    """The address of the screen the patient was last on (the welcome page before any)."""
    if session.get(DONE) and not session.get(ACCESS):
        return url_for("intake.done")
    where = session.get(SCREEN) or "welcome"
    if where == "welcome":
        return url_for("intake.welcome")
    if where == "summary":
        return url_for("intake.summary")
    return url_for("intake.screen", slug=where)


def end_lock(channel: str) -> None:
    """After submitting: the browser holds no access to the intake any more and is no longer locked."""
    for key in (ACCESS, LOCK, SCREEN, OPENED):
        session.pop(key, None)
    session[DONE] = channel


@bp.before_app_request
def keep_tablet_locked() -> Response | None:
    """While the tablet is locked, every address but the intake's own pages, static files and sign-in leads back to it."""
    if not session.get(LOCK) or request.endpoint in PATIENT_PAGES or request.endpoint in ALWAYS_OPEN:
        return None
    return redirect(current_screen_url(), 303)
