"""The password rule: long, not common or guessable, and not made of the person's own name or email.

The estimate is zxcvbn's (offline: its word lists ship with the package), so a password set anywhere (the
admin's user form, the command line, the demo) is judged the same way and nothing is sent over the network.
"""

from __future__ import annotations

import re

from zxcvbn import zxcvbn

MIN_PASSWORD_LENGTH = 12
# zxcvbn scores 0 (guessed at once) to 4 (very unguessable); 3 resists an offline attack on a slow hash.
MIN_SCORE = 3
# zxcvbn's time grows with length; what it judges is the start, and the whole is still hashed.
_ESTIMATE_CHARS = 100
# Words anyone attacking this product would try first.
PRODUCT_WORDS = ("practitioner", "clinic", "demo", "microneedling", "patient", "password", "admin", "reception")

# Passwords this product has published (the old demo password was in the README): anyone may try them.
PUBLISHED_PASSWORDS = frozenset({"demo-clinic-2026"})

ADVICE = ("Choose a longer phrase of unrelated words, such as four words that mean nothing together, "
          "and not your name, your email, or a common password.")


def _personal_parts(name: str, email: str) -> list[str]:
    """The pieces of a person's name and email address a password must not contain (three letters or more)."""
    local = email.strip().lower().partition("@")[0]
    parts = [local] + re.split(r"[\W_]+", local) + re.split(r"[\W_]+", name.strip().lower())
    return sorted({part for part in parts if len(part) >= 3}, key=len, reverse=True)


def password_problem(password: str, *, name: str = "", email: str = "") -> str | None:
    """Why this password may not be used, in words that say what to do; None when it is good enough."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters. {ADVICE}"
    folded = password.lower()
    if folded.strip() in PUBLISHED_PASSWORDS:
        return f"This password has been published and anyone may try it. {ADVICE}"
    for part in _personal_parts(name, email):
        if part in folded:
            return f"The password contains your name or email address. {ADVICE}"
    estimate = zxcvbn(password[:_ESTIMATE_CHARS], user_inputs=[*_personal_parts(name, email), *PRODUCT_WORDS])
    if estimate["score"] < MIN_SCORE:
        return f"This password is too common or too easy to guess. {ADVICE}"
    return None
