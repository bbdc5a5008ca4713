"""The sign-in form."""

from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from practitioner.forms import Form
from practitioner.validators import EmailAddress


class SignInForm(Form):
    """Email and password."""

    # The same address rule as `flask create-user` and the admin's user form: whoever can be
    # created can sign in.
    email = EmailField("Email", validators=[DataRequired("Enter your email address."), EmailAddress()])
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), Length(max=1000)])
