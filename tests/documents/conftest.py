"""Documents tests run in a clinic with a phone number: patient documents are not issued without one."""

from __future__ import annotations

import pytest

CLINIC_PHONE = "0117 496 0123"


@pytest.fixture(autouse=True)
def clinic_phone(request: pytest.FixtureRequest) -> None:
    """Give the test clinic a phone number whenever the test has a database (tests about no phone clear it)."""
    if "app" not in request.fixturenames:
        return
    request.getfixturevalue("app")
    from practitioner.admin.services import get_settings
    from practitioner.extensions import db

    get_settings(db.session).phone = CLINIC_PHONE
    db.session.commit()
