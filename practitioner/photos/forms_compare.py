"""The comparison's choice of two photos (a GET form: nothing changes, so no CSRF token)."""

from __future__ import annotations

from wtforms import HiddenField, SelectField
from wtforms.validators import Optional

from practitioner.forms import Form

NOT_IN_LIST = "Choose a photo of this view from the list."


class CompareForm(Form):
    """Which view, and which two of its photos side by side; blank photos mean baseline and latest."""

    class Meta:
        csrf = False

    view = HiddenField("View")
    zone = HiddenField("Zone")
    a = SelectField("Left photo", validators=[Optional()], validate_choice=False)
    b = SelectField("Right photo", validators=[Optional()], validate_choice=False)

    def check_choices(self, allowed: set[str]) -> bool:
        """True when each photo given is one of the view's (the choices); else a message on that field."""
        ok = True
        for field in (self.a, self.b):
            if field.data and field.data not in allowed:
                field.errors = [NOT_IN_LIST]
                ok = False
        return ok
