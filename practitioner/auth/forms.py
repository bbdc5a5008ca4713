"""The sign-in form."""

from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from practitioner.forms import Form, typed_input
from practitioner.validators import EmailAddress


class SignInForm(Form):
    """Email and password."""

    # The same address rule as `flask create-user` and the admin's user form: whoever can be
    # created can sign in.
    email = EmailField("Email", validators=[DataRequired("Enter your email address."), EmailAddress()])
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), Length(max=1000)])


class CodeForm(Form):
    """The 6-digit code from the authenticator app, or a recovery code."""

    code = StringField("Code from your authenticator app", filters=[lambda v: v.strip() if isinstance(v, str) else v],
                       validators=[DataRequired("Type the code your authenticator app shows."), Length(max=40)],
                       description="6 digits. Lost your phone? Type one of your recovery codes instead.",
                       render_kw=typed_input("text", "one-time-code"))


class EnrolForm(Form):
    """Confirming a new authenticator app with the code it shows."""

    code = StringField("The 6-digit code your app now shows", filters=[lambda v: v.strip() if isinstance(v, str) else v],
                       validators=[DataRequired("Type the 6 digits your app shows."), Length(max=40)],
                       render_kw=typed_input("numeric", "one-time-code"))
