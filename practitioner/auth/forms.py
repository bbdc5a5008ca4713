"""The sign-in form."""

from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Email, Length

from practitioner.forms import Form


class SignInForm(Form):
    """Email and password."""

    email = EmailField("Email", validators=[DataRequired("Enter your email address."), Email("Enter a valid email address."), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), Length(max=1000)])
