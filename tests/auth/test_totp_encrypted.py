"""The authenticator secret is stored encrypted (AES-256-GCM, key derived from the audit key outside the database),
and migration 0018 encrypts the secrets stored before it, and decrypts them again on the way down."""

from __future__ import annotations

import importlib
import re

import pyotp
import pytest
from sqlalchemy import text

from practitioner import create_app
from practitioner.auth import totp_secret, two_factor
from practitioner.auth.models import User
from practitioner.extensions import db
from tests.conftest import make_config, make_user, post_form

MIGRATION = importlib.import_module("migrations.versions.0018_totp_encrypted")
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _stored_columns() -> dict:
    return dict(db.session.execute(text("SELECT * FROM users WHERE totp_enabled_at IS NOT NULL")).mappings().one())


def test_the_column_never_holds_the_plain_secret(as_practitioner, practitioner):
    html = as_practitioner.get("/account/two-factor").get_data(as_text=True)
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', html).group(1).replace(" ", "")
    assert post_form(as_practitioner, "/account/two-factor", {"code": pyotp.TOTP(secret).now()}).status_code == 200
    stored = _stored_columns()
    assert "totp_secret" not in stored, "the plain column is gone"
    assert stored["totp_secret_encrypted"].startswith("v1:")
    assert not any(secret in str(value) or secret.lower() in str(value) for value in stored.values())
    assert totp_secret.unseal(stored["totp_secret_encrypted"], practitioner.id) == secret


def test_a_secret_sealed_for_one_user_does_not_open_for_another(app):
    sealed = totp_secret.seal(SECRET, 1)
    assert totp_secret.unseal(sealed, 1) == SECRET
    assert sealed != totp_secret.seal(SECRET, 1), "a fresh nonce each time"
    with pytest.raises(totp_secret.SecretUnreadable):
        totp_secret.unseal(sealed, 2)
    with pytest.raises(totp_secret.SecretUnreadable):
        totp_secret.unseal(sealed, 1, totp_secret.derive_key(b"another installation's key"))
    with pytest.raises(totp_secret.SecretUnreadable):
        totp_secret.unseal(SECRET, 1)


def test_the_key_is_derived_from_the_audit_key_as_the_migration_derives_it(app):
    from practitioner import audit

    assert totp_secret.key() == MIGRATION._key() == totp_secret.derive_key(audit.audit_key())
    assert totp_secret.key() != audit.audit_key()
    assert MIGRATION._unseal(totp_secret.seal(SECRET, 7), 7, totp_secret.key()) == SECRET
    assert totp_secret.unseal(MIGRATION._seal(SECRET, 7, MIGRATION._key()), 7) == SECRET


def test_a_code_still_works_after_the_migration_and_the_downgrade_gives_the_secret_back(empty_database_url):
    from flask_migrate import downgrade, upgrade

    app = create_app(make_config(empty_database_url))
    with app.app_context():
        try:
            upgrade()
            user = make_user(email="enrolled@clinic.example")
            user_id = user.id
            db.session.remove()
            downgrade(revision="0017")  # the plain column, as 0017 made it
            with db.engine.begin() as connection:
                connection.execute(text("UPDATE users SET totp_secret = :s, totp_enabled_at = CURRENT_TIMESTAMP WHERE id = :id"),
                                   {"s": SECRET, "id": user_id})
            upgrade()
            stored = _stored_columns()
            assert "totp_secret" not in stored and SECRET not in stored["totp_secret_encrypted"]
            user = db.session.get(User, user_id)
            assert two_factor.verify(db.session, user, pyotp.TOTP(SECRET).now()) == "totp"
            db.session.rollback()
            db.session.remove()
            downgrade(revision="0017")
            with db.engine.connect() as connection:
                assert connection.execute(text("SELECT totp_secret FROM users WHERE id = :id"), {"id": user_id}).scalar_one() == SECRET
            upgrade()
        finally:
            db.session.remove()
            db.engine.dispose()
