"""Command-line tasks: create the first user, verify the audit trail and signed records, load the demo clinic."""

from __future__ import annotations

import sys

import click
from flask import Flask
from sqlalchemy.orm import Session

from practitioner.extensions import db
from practitioner.unit_of_work import CommitReason, commit_exception


def init_app(app: Flask) -> None:
    """Register the commands on `flask --app wsgi ...`."""
    app.cli.add_command(create_user_command)
    app.cli.add_command(audit_verify_command)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(screen_command)
    app.cli.add_command(render_document_command)
    app.cli.add_command(verify_photos_command)
    from practitioner import maintenance

    maintenance.init_app(app)  # backup, restore


@click.command("create-user")
@click.option("--email", required=True, help="Sign-in email address.")
@click.option("--name", required=True, help="Full name as shown on records.")
@click.option("--role", required=True, type=click.Choice(["admin", "practitioner", "reception"]), help="What the user may do.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (required).")
def create_user_command(email: str, name: str, role: str, password_stdin: bool) -> None:
    """Create a user, for example a real clinic's first administrator."""
    from practitioner.auth.models import Role
    from practitioner.auth.services import create_user
    from practitioner.errors import DomainError

    if not password_stdin:
        raise click.UsageError("Pass --password-stdin and give the password on standard input, so it stays out of the shell history.")
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = create_user(db.session, email=email, name=name, role=Role(role), password=password, actor=None)
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    commit_exception(CommitReason.CLI)
    click.echo(f"Created {user.role.value} {user.email}.")


@click.command("audit-verify")
def audit_verify_command() -> None:
    """Check the keyed audit chain, its head, and every signed record, issued document and photo; exit 1 naming each change."""
    from practitioner.integrity import verify_all

    with Session(db.engine) as session:
        summary = verify_all(session)
    if summary.intact:
        click.echo(f"Audit chain intact: {summary.audit_rows} rows checked.")
        click.echo(f"Signed records intact: {summary.sessions} sessions, {summary.consents} consents, "
                   f"{summary.intakes} patient intakes; "
                   f"{summary.documents} issued documents and {summary.photos} photos match their SHA-256.")
        return
    for finding in summary.findings:
        click.echo(f"CHANGED {finding}.", err=True)
    chain = [f for f in summary.findings if f.what.startswith("audit row")]
    if chain:
        click.echo(f"Audit chain BROKEN at {chain[0].what.removeprefix('audit ')}.", err=True)
    click.echo(f"{len(summary.findings)} problem(s) found: the database may have been changed outside Practitioner.", err=True)
    sys.exit(1)


@click.command("seed-demo")
def seed_demo_command() -> None:
    """Load the demo clinic, users and patients (idempotent). Never run this on a real clinic's database."""
    from practitioner.demo import DEMO_PASSWORD, seed_clinical_story, seed_demo

    created = seed_demo(db.session)
    commit_exception(CommitReason.CLI)
    stories = seed_clinical_story(db.session)
    commit_exception(CommitReason.CLI)
    click.echo(f"Demo data: {created['users']} users, {created['patients']} patients and {stories} clinical records added "
               "(existing ones kept).")
    click.echo("Demo sign-in (all three share the password below):")
    for email, role in (("practitioner@demo.clinic", "practitioner"), ("reception@demo.clinic", "reception"), ("admin@demo.clinic", "admin")):
        click.echo(f"  {role:<13} {email}")
    click.echo(f"  password      {DEMO_PASSWORD}")


@click.command("screen")
@click.argument("intake_file", type=click.File("r", encoding="utf-8"))
@click.option("--on", "on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Consultation date the 'days ago' count from (default: today).")
@click.option("--default-policy", is_flag=True, help="Use the defaults of docs/screening.md instead of the clinic's policy.")
def screen_command(intake_file, on, default_policy: bool) -> None:
    """Screen one intake or a list of intakes (JSON; '-' reads standard input) and print the result as JSON."""
    from datetime import date

    from practitioner.clinical.screening import Policy, run_cli

    policy = Policy() if default_policy else _clinic_policy_or_default()
    code, output = run_cli(intake_file.read(), policy, on.date() if on else date.today())
    if code != 0:
        click.echo(output, err=True)
        sys.exit(code)
    click.echo(output)


def _clinic_policy_or_default():
    """The clinic's screening policy; on a database that cannot give it (not migrated yet), the defaults, saying so on stderr."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from practitioner.admin.services import current_policy
    from practitioner.clinical.screening import Policy

    try:
        policy = current_policy(db.session)
    except (OperationalError, ProgrammingError):  # no such table (SQLite) / undefined table (PostgreSQL)
        db.session.rollback()
        click.echo("Note: the clinic's screening policy could not be read from the database, so the default policy was used "
                   "(as with --default-policy). If this database is new, run `flask db upgrade` to set it up.", err=True)
        return Policy()
    db.session.rollback()
    return policy


@click.command("render-document")
@click.argument("kind", type=click.Choice(["treatment-guide", "aftercare", "consent-form", "consultation-summary", "session-record", "patient-export"]))
@click.argument("public_id", type=click.UUID)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True), help="Where to write the PDF.")
@click.option("--large-print", is_flag=True, help="The large-print variant (16 pt and up).")
def render_document_command(kind: str, public_id, out: str, large_print: bool) -> None:
    """Render any document to a file without issuing it (for designing the print CSS)."""
    from datetime import date
    from pathlib import Path

    from practitioner.documents import services
    from practitioner.documents.kinds import NotReady, SourceNotFound
    from practitioner.documents.models import DocumentKind

    try:
        spec = services.build_to_print(db.session, DocumentKind(kind), public_id, date.today())
    except (SourceNotFound, NotReady) as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.rollback()
    pdf = services.render(spec, large_print=large_print)
    Path(out).write_bytes(pdf)
    click.echo(f"Wrote {out} ({len(pdf):,} bytes, {spec.title}, {spec.number}).")


@click.command("verify-photos")
def verify_photos_command() -> None:
    """Recompute every photo's image and thumbnail SHA-256; name each changed or missing one and exit 1 if any."""
    from practitioner.photos.services import verify_images

    checked, problems = 0, 0
    with Session(db.engine) as session:
        for checked, problem in verify_images(session):
            if problem is not None:
                problems += 1
                click.echo(f"Photo {problem.photo_public_id} of patient {problem.record_number}: {problem.problem}.", err=True)
    if problems:
        click.echo(f"{problems} of {checked} photos FAILED verification.", err=True)
        sys.exit(1)
    click.echo(f"Photos intact: {checked} photos checked, every image and thumbnail matches its SHA-256.")
