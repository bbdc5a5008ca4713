"""Patient forms: demographics for everyone at the desk, clinical basics for practitioners."""

from __future__ import annotations

from wtforms import BooleanField, DateField, EmailField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, ValidationError

from practitioner.forms import Form, choices
from practitioner.clinical.vocabulary import FITZPATRICK_LABELS
from practitioner.patients.models import Sex
from practitioner.validators import NoControlCharacters, PastDate, Phone, name_filter, strip_filter

TEXT = [NoControlCharacters()]
LONG_TEXT = [NoControlCharacters(multiline=True)]
F = [strip_filter]
NAME = [name_filter]  # names lose bidi override characters, so one cannot display as another


class PatientDemographicsForm(Form):
    """Who the patient is and how to reach them."""

    version = HiddenField()
    given_name = StringField("Given name", filters=NAME, validators=[DataRequired("Enter the patient's given name."), Length(max=100), *TEXT])
    family_name = StringField("Family name", filters=NAME, validators=[DataRequired("Enter the patient's family name."), Length(max=100), *TEXT])
    preferred_name = StringField("Preferred name (optional)", filters=NAME, validators=[Optional(), Length(max=100), *TEXT])
    date_of_birth = DateField(
        "Date of birth", validators=[InputRequired("Enter the date of birth."), PastDate(message="The date of birth cannot be in the future.")],
        render_kw={"autocomplete": "off"},
    )
    sex = RadioField("Sex", choices=choices((s.value, s.label) for s in Sex), validators=[InputRequired("Choose one.")])
    record_number = StringField("Clinic record number", filters=F, validators=[Optional(), Length(max=30), *TEXT],
                                description="Leave blank to have the next number assigned.")
    phone = StringField("Phone", filters=F, validators=[Optional(), Length(max=40), Phone()], render_kw={"autocomplete": "off", "inputmode": "tel"})
    email = EmailField("Email", filters=F, validators=[Optional(), Email("Enter a valid email address, like name@example.com."), Length(max=254)])
    address = TextAreaField("Address", filters=F, validators=[Optional(), Length(max=500), *LONG_TEXT], render_kw={"rows": 3})
    postcode = StringField("Postcode or ZIP", filters=F, validators=[Optional(), Length(max=20), *TEXT])
    emergency_contact_name = StringField("Emergency contact name", filters=F, validators=[Optional(), Length(max=120), *TEXT])
    emergency_contact_relationship = StringField("Relationship to the patient", filters=F, validators=[Optional(), Length(max=60), *TEXT])
    emergency_contact_phone = StringField("Emergency contact phone", filters=F, validators=[Optional(), Length(max=40), Phone()], render_kw={"inputmode": "tel"})
    gp_name = StringField("GP or physician", filters=F, validators=[Optional(), Length(max=120), *TEXT])
    gp_practice = StringField("Practice or surgery", filters=F, validators=[Optional(), Length(max=200), *TEXT])
    gp_phone = StringField("Practice phone", filters=F, validators=[Optional(), Length(max=40), Phone()], render_kw={"inputmode": "tel"})
    # Shown only when the service found someone with the same name and date of birth.
    different_person = BooleanField("This is a different person",
                                    description="Tick only after checking the record(s) above are someone else.")
    checked_against = HiddenField()

    def validate(self, extra_validators=None) -> bool:
        """Field checks, then: a named emergency contact needs a number to be any use."""
        valid = super().validate(extra_validators)
        if self.emergency_contact_name.data and not self.emergency_contact_phone.data:
            self.emergency_contact_phone.errors = [*self.emergency_contact_phone.errors,
                                                   "Add a phone number for the emergency contact, or clear the name."]
            valid = False
        return valid


class PatientForm(PatientDemographicsForm):
    """Demographics plus the clinical basics (skin type, allergies, medicines)."""

    fitzpatrick = SelectField(
        "Fitzpatrick skin type",
        choices=choices([("", "Not assessed yet"), *FITZPATRICK_LABELS.items()]),
        validators=[Optional()],
        coerce=lambda v: int(v) if v not in (None, "", "None") else None,
    )
    no_known_allergies = BooleanField("No known allergies")
    allergies = TextAreaField("Allergies", filters=F, validators=[Optional(), Length(max=2000), *LONG_TEXT], render_kw={"rows": 2},
                              description="Substance and reaction, for example: lidocaine (hives).")
    current_medicines = TextAreaField("Current medicines and supplements", filters=F, validators=[Optional(), Length(max=2000), *LONG_TEXT],
                                      render_kw={"rows": 3}, description="Include anticoagulants, isotretinoin, retinoids and supplements.")

    def validate_allergies(self, field):
        """'No known allergies' and a listed allergy contradict each other."""
        if self.no_known_allergies.data and field.data:
            raise ValidationError("Either list the allergies or tick 'No known allergies', not both.")


class ArchiveForm(Form):
    """Why a patient is being archived."""

    reason = StringField("Reason for archiving", filters=F, validators=[DataRequired("Say why the record is being archived."), Length(max=500), *TEXT])


class SearchForm(Form):
    """The patient search box (GET, so no CSRF)."""

    class Meta:
        csrf = False

    q = StringField("Search patients", filters=F, validators=[Optional(), Length(max=100)])
    archived = BooleanField("Include archived")
