"""The authenticator (TOTP) secret, encrypted at rest.

Someone who reads the database (a copied file, a backup) must not be able to compute a person's codes.
The secret is stored as AES-256-GCM ciphertext under a key derived (HKDF-SHA256) from the audit key,
which is kept outside the database (PRACTITIONER_AUDIT_KEY, or instance/audit.key: docs/integrity.md).
The user's id is bound in as associated data, so one person's ciphertext copied onto another's row does
not open. Stored as text: "v1:" + base64url(12-byte nonce + ciphertext + 16-byte tag). Migration
0018 encrypted the secrets stored before (docs/security.md).
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from practitioner import audit

PREFIX = "v1:"
# The HKDF "info": this key is for authenticator secrets and nothing else (the audit chain keeps the material itself).
PURPOSE = b"practitioner/users.totp_secret_encrypted/v1"
NONCE_BYTES = 12


class SecretUnreadable(Exception):
    """The stored secret does not open with this installation's key (another key, or the row was changed)."""


def derive_key(material: bytes) -> bytes:
    """The 256-bit AES key for authenticator secrets, derived from the audit key material."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(material)


def key() -> bytes:
    """This installation's key for authenticator secrets (derived once per process)."""
    app = current_app._get_current_object()
    derived = app.extensions.get("practitioner.totp_key")
    if derived is None:
        derived = app.extensions["practitioner.totp_key"] = derive_key(audit.audit_key())
    return derived


def _associated(user_id: int) -> bytes:
    return f"users:{user_id}".encode()


def seal(secret: str, user_id: int, aes_key: bytes | None = None) -> str:
    """The text stored for a user's secret: encrypted, bound to the user, a fresh nonce each time."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(aes_key or key()).encrypt(nonce, secret.encode("ascii"), _associated(user_id))
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(stored: str, user_id: int, aes_key: bytes | None = None) -> str:
    """The secret back from its stored text; SecretUnreadable if it does not open with this key for this user."""
    if not stored.startswith(PREFIX):
        raise SecretUnreadable("The stored authenticator secret is not in the encrypted form.")
    try:
        raw = base64.urlsafe_b64decode(stored[len(PREFIX):].encode("ascii"))
        return AESGCM(aes_key or key()).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated(user_id)).decode("ascii")
    except (InvalidTag, ValueError) as exc:
        raise SecretUnreadable("The stored authenticator secret does not open with this installation's audit key.") from exc
