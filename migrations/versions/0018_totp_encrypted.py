"""authenticator secrets encrypted at rest; a sign-in asked to enrol in two-factor at once

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 08:00:00

`users.totp_secret` held the authenticator app's base32 secret as it is, so anyone reading the
database could compute a person's codes. It becomes `users.totp_secret_encrypted`: AES-256-GCM under a
key derived with HKDF-SHA256 from the audit key (kept outside the database), the user's id bound in as
associated data ("v1:" + base64url(nonce + ciphertext + tag), practitioner/auth/totp_secret.py). The
secrets stored before are encrypted here; the downgrade decrypts them back into the plain column.

`user_sessions.must_enrol_two_factor`: set on the open sign-ins of people without two-factor when the
clinic starts to require it, so their next request goes to enrolment (read with the sign-in session
every request already loads: no extra statement).

The derivation is written out here rather than imported, so this migration keeps doing what it did
whatever the app's module becomes; tests/auth/test_totp_encrypted.py checks the two agree.
"""
import base64
import os

from alembic import op
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

PREFIX = "v1:"
PURPOSE = b"practitioner/users.totp_secret_encrypted/v1"


def _key() -> bytes:
    from practitioner import audit  # the audit key as the app reads it (environment, else the key file)

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(audit.audit_key())


def _seal(secret: str, user_id: int, key: bytes) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, secret.encode("ascii"), f"users:{user_id}".encode())
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def _unseal(stored: str, user_id: int, key: bytes) -> str:
    raw = base64.urlsafe_b64decode(stored[len(PREFIX):].encode("ascii"))
    return AESGCM(key).decrypt(raw[:12], raw[12:], f"users:{user_id}".encode()).decode("ascii")


def upgrade():
    op.add_column('users', sa.Column('totp_secret_encrypted', sa.String(length=255), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, totp_secret FROM users WHERE totp_secret IS NOT NULL")).all()
    if rows:
        key = _key()
        for user_id, secret in rows:
            connection.execute(sa.text("UPDATE users SET totp_secret_encrypted = :sealed WHERE id = :id"),
                               {"sealed": _seal(secret, user_id, key), "id": user_id})
    # Plain ALTER TABLE ... DROP COLUMN on both databases (a batch rebuild of users fails on SQLite: see 0017).
    op.drop_column('users', 'totp_secret')
    op.add_column('user_sessions', sa.Column('must_enrol_two_factor', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    op.drop_column('user_sessions', 'must_enrol_two_factor')
    op.add_column('users', sa.Column('totp_secret', sa.String(length=64), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, totp_secret_encrypted FROM users WHERE totp_secret_encrypted IS NOT NULL")).all()
    if rows:
        key = _key()
        for user_id, stored in rows:
            connection.execute(sa.text("UPDATE users SET totp_secret = :secret WHERE id = :id"),
                               {"secret": _unseal(stored, user_id, key), "id": user_id})
    op.drop_column('users', 'totp_secret_encrypted')
