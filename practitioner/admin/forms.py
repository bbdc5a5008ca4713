"""Forms for users, clinic settings and the audit filter."""

from __future__ import annotations

from flask_wtf.file import FileAllowed, FileField
from wtforms import BooleanField, DateField, DecimalField, EmailField, IntegerField, PasswordField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, EqualTo, InputRequired, Length, Optional, ValidationError

from practitioner.admin.models import PaperSize
from practitioner.auth.models import Role
from practitioner.auth.passwords import ADVICE, MIN_PASSWORD_LENGTH
from practitioner.forms import Form, choices
from practitioner.clinical.vocabulary import DEVICE_SETTING_DEPTH, FITZPATRICK_ROMAN, FITZPATRICK_TYPES
from practitioner.clinical.aftercare import SUNSCREEN_DAY0_LABELS
from practitioner.validators import EmailAddress, NoControlCharacters, NumberRange, Phone, depth_within, strip_filter

F = [strip_filter]
ROLE_CHOICES = choices((r.value, r.label) for r in Role)


class UserForm(Form):
    """A user's name, role, licence details and status."""

    name = StringField("Full name", filters=F, validators=[DataRequired("Enter the person's name."), Length(max=120), NoControlCharacters()])
    role = RadioField("Role", choices=ROLE_CHOICES, validators=[DataRequired("Choose a role.")])
    registration = StringField("Professional registration (optional)", filters=F,
                               validators=[Optional(), Length(max=120), NoControlCharacters()],
                               description="Licence or register and number, for the session record.")
    max_depth_mm = DecimalField("Maximum needle depth this person may use, in mm (optional)", places=2,
                                validators=[Optional(), depth_within(DEVICE_SETTING_DEPTH)],
                                description="Some jurisdictions limit depth by licence. Deeper entries will need acknowledging.")
    active = BooleanField("Account active", default=True)
    new_password = PasswordField("New password (leave blank to keep)", validators=[Optional(), Length(min=MIN_PASSWORD_LENGTH, max=1000, message=f"Use at least {MIN_PASSWORD_LENGTH} characters.")],
                                 render_kw={"autocomplete": "new-password"}, description=ADVICE)
    your_password = PasswordField("Your own password, to confirm", validators=[Optional(), Length(max=1000)],
                                  description="Needed to change a role, set a password or add an administrator.",
                                  render_kw={"autocomplete": "current-password"})


class NewUserForm(UserForm):
    """A new user also needs an email and a first password."""

    email = EmailField("Email", filters=F, validators=[DataRequired("Enter an email address."), EmailAddress()])
    new_password = PasswordField("Password", validators=[DataRequired("Set a first password."), Length(min=MIN_PASSWORD_LENGTH, max=1000, message=f"Use at least {MIN_PASSWORD_LENGTH} characters.")],
                                 render_kw={"autocomplete": "new-password"}, description=ADVICE)
    confirm_password = PasswordField("Repeat the password", validators=[EqualTo("new_password", "The two passwords differ.")],
                                     render_kw={"autocomplete": "new-password"})


class ClinicSettingsForm(Form):
    """The clinic's identity, as printed on every document."""

    name = StringField("Clinic name", filters=F, validators=[DataRequired("Enter the clinic's name."), Length(max=120), NoControlCharacters()])
    address = TextAreaField("Address", filters=F, validators=[Optional(), Length(max=500), NoControlCharacters(multiline=True)], render_kw={"rows": 3})
    phone = StringField("Phone", filters=F, validators=[DataRequired("Patients need a number to call."), Length(max=40), Phone()])
    email = EmailField("Email (optional)", filters=F, validators=[Optional(), Email("Enter a valid email address."), Length(max=254)])
    out_of_hours = StringField("Out-of-hours contact", filters=F, validators=[DataRequired("Say who patients call out of hours."), Length(max=300), NoControlCharacters()],
                               description="Printed on aftercare, for example: NHS 111, or Dr Lee on 07700 900461.")
    paper_size = RadioField("Paper size for documents", choices=choices((p.value, p.value) for p in PaperSize), validators=[DataRequired("Choose a paper size.")])
    logo = FileField("Logo (PNG or JPEG, up to 2 MB)", validators=[FileAllowed(["png", "jpg", "jpeg"], "Choose a PNG or JPEG image.")])
    remove_logo = BooleanField("Remove the current logo")
    require_two_factor = BooleanField("Require two-factor sign-in for everyone",
                                      description="After their password, everyone types a code from an authenticator app; "
                                                  "whoever has not set one up is asked to at their next sign-in.")


class ConfirmForm(Form):
    """An admin's own password, to confirm an action on someone's account."""

    your_password = PasswordField("Your own password, to confirm", validators=[DataRequired("Type your own password to confirm."), Length(max=1000)],
                                  render_kw={"autocomplete": "current-password"})


class AuditFilterForm(Form):
    """Narrow the audit trail (GET, so no CSRF)."""

    class Meta:
        csrf = False

    patient = StringField("Patient name or record number", filters=F, validators=[Optional(), Length(max=120, message="Use at most 120 characters.")])
    user = SelectField("User", choices=[], validators=[Optional()])
    action = SelectField("Action", choices=[], validators=[Optional()])
    outcome = SelectField("Outcome", choices=choices([("", "Any"), ("success", "Success"), ("failure", "Failure"), ("denied", "Denied")]), validators=[Optional()])
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])

    def validate_date_from(self, field: DateField) -> None:
        """A 'from' after the 'to' is a mistake to point out, not a filter that finds nothing."""
        if field.data and self.date_to.data and field.data > self.date_to.data:
            raise ValidationError("The 'From' date is after the 'To' date: choose a 'From' date on or before it.")


class PolicyForm(Form):
    """The clinic's screening windows and thresholds."""

    min_age = IntegerField("Minimum age (years)", validators=[InputRequired("Enter a number."), NumberRange(min=16, max=30, message="Enter 16 to 30 years.")])
    isotretinoin_washout_days = IntegerField("Isotretinoin washout (days)", validators=[InputRequired("Enter a number."), NumberRange(min=0, max=730, message="Enter 0 to 730 days.")])
    neurotoxin_interval_days = IntegerField("Since botulinum toxin (days)", validators=[InputRequired("Enter a number."), NumberRange(min=0, max=365, message="Enter 0 to 365 days.")])
    filler_interval_days = IntegerField("Since filler in the area (days)", validators=[InputRequired("Enter a number."), NumberRange(min=0, max=365, message="Enter 0 to 365 days.")])
    retinoid_window_days = IntegerField("Since topical retinoids or acids (days)", validators=[InputRequired("Enter a number."), NumberRange(min=0, max=60, message="Enter 0 to 60 days.")])
    resurfacing_interval_days = IntegerField("Since peel, laser or resurfacing (days)", validators=[InputRequired("Enter a number."), NumberRange(min=0, max=365, message="Enter 0 to 365 days.")])
    sunburn_window_days = IntegerField("Since sunburn or heavy tan (days)", validators=[InputRequired("Enter a number."), NumberRange(min=0, max=90, message="Enter 0 to 90 days.")])
    prp_nsaid_window_days = IntegerField("PRP: since NSAIDs or blood-thinning supplements (days)", validators=[InputRequired("Enter a number."), NumberRange(min=0, max=30, message="Enter 0 to 30 days.")])
    pih_risk_min_fitzpatrick = SelectField("Flag pigmentation (PIH) risk from Fitzpatrick type",
                                           choices=choices((n, FITZPATRICK_ROMAN[n]) for n in FITZPATRICK_TYPES),
                                           coerce=lambda v: int(v) if v not in (None, "", "None") else None,
                                           validators=[InputRequired("Choose a skin type, I to VI.")])


class AftercareForm(Form):
    """The numbers the aftercare leaflet prints (docs/aftercare.md defaults)."""

    makeup_hours = IntegerField("No make-up for (hours)", validators=[InputRequired("Enter a number."), NumberRange(min=0, max=168, message="Enter 0 to 168 hours.")])
    makeup_hours_rf = IntegerField("RF: no make-up for (hours)", validators=[InputRequired("Enter a number."), NumberRange(min=0, max=168, message="Enter 0 to 168 hours.")])
    actives_days = IntegerField("No retinoids, acids or vitamin C for (days)", validators=[InputRequired("Enter a number."), NumberRange(min=0, max=30, message="Enter 0 to 30 days.")])
    actives_days_rf = IntegerField("RF: no actives for (days)", validators=[InputRequired("Enter a number."), NumberRange(min=0, max=30, message="Enter 0 to 30 days.")])
    actives_days_prp = IntegerField("PRP: no actives for (days)", validators=[InputRequired("Enter a number."), NumberRange(min=0, max=30, message="Enter 0 to 30 days.")])
    exercise_hours = IntegerField("No exercise, sauna or swimming for (hours)", validators=[InputRequired("Enter a number."), NumberRange(min=0, max=336, message="Enter 0 to 336 hours.")])
    prp_no_wash_hours = IntegerField("PRP: do not wash for (hours)", validators=[InputRequired("Enter a number."), NumberRange(min=0, max=48, message="Enter 0 to 48 hours.")])
    sun_strict_days = IntegerField("Strict sun protection for (days)", validators=[InputRequired("Enter a number."), NumberRange(min=0, max=90, message="Enter 0 to 90 days.")])
    sunscreen_day0 = RadioField("Sunscreen on the day of treatment", choices=choices(SUNSCREEN_DAY0_LABELS.items()),
        validators=[DataRequired("Choose one.")])
