"""Practitioner: a record system for aesthetic skin clinics."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:  # Flask is imported inside create_app so practitioner.clinical stays importable alone.
    from flask import Flask

from practitioner.paths import MIGRATIONS_DIR, PAGE_TEMPLATES_DIR, ROOT  # noqa: F401  (ROOT: the checkout, for importers)


def create_app(test_config: Mapping[str, Any] | None = None) -> "Flask":
    """Build the app: configuration, extensions, blueprints, pages, headers and commands."""
    from flask import Flask

    from practitioner import cli, maintenance, security, templating
    from practitioner.config import build_config
    from practitioner.errors import register_error_pages
    from practitioner.extensions import csrf, db, login_manager, migrate

    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(PAGE_TEMPLATES_DIR),
        static_folder="static",
    )
    # Everything the app creates (the database and its -wal/-shm, instance/, backups, logs) is for
    # the account that runs it only: 0600 files and 0700 folders, never readable by other local users.
    os.umask(0o077)
    app.config.from_mapping(build_config(app.instance_path, test_config))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    maintenance.make_private(Path(app.instance_path), maintenance.sqlite_file(app.config["SQLALCHEMY_DATABASE_URI"]))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Font subsetting narrates every font at INFO; only its warnings matter.
    logging.getLogger("fontTools").setLevel(logging.WARNING)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.session_protection = None  # the server-side session is the protection

    from practitioner import admin, auth, consents, consultations, documents, intake, main, models, patients, photos, plans, treatments  # noqa: F401  (models: full metadata)

    app.register_blueprint(auth.bp)
    app.register_blueprint(main.bp)
    app.register_blueprint(patients.bp)
    app.register_blueprint(intake.bp)
    app.register_blueprint(consultations.bp)
    app.register_blueprint(plans.bp)
    app.register_blueprint(consents.bp)
    app.register_blueprint(treatments.bp)
    app.register_blueprint(photos.bp)
    app.register_blueprint(documents.bp)
    app.register_blueprint(admin.bp)

    # Features higher in the chain plug into lower ones through the signals of practitioner/signals.py:
    # each feature connects its own receivers when its package is imported (above), once per process.
    # Pages send the signals through these template globals (record_documents, content_awaiting_review).
    from practitioner import signals

    app.jinja_env.globals.update(signals.template_globals())

    security.init_app(app)
    templating.init_app(app)
    register_error_pages(app)
    cli.init_app(app)
    return app
