"""What other features do when a session is signed (documents issue the aftercare).

Documents sit above sessions in the feature chain, so sessions cannot call them; documents
register here in create_app, and the sign view calls every hook after the signature is saved.
"""

from __future__ import annotations

from typing import Callable

from practitioner.auth.models import User
from practitioner.treatments.models import TreatmentSession

AfterSign = Callable[[TreatmentSession, User, str], str]

_after_sign: list[AfterSign] = []


def register_after_sign(hook: AfterSign) -> None:
    """Add a hook (idempotent); it returns a message for the practitioner."""
    if hook not in _after_sign:
        _after_sign.append(hook)


def after_sign_hooks() -> tuple[AfterSign, ...]:
    """The registered hooks, in order."""
    return tuple(_after_sign)
