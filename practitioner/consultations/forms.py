"""The consultation form (assessment and screening questions, grouped as the intake is) and the override."""

from __future__ import annotations

from datetime import date

from wtforms import BooleanField, DateField, DecimalField, HiddenField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from practitioner.clinical.screening import (
    CONCERN_LABELS,
    MODALITY_LABELS,
    NEEDLE_MATERIAL_LABELS,
    TREATMENT_AREA_LABELS,
)
from practitioner.consultations.models import SCAR_TYPES
from practitioner.clinical.questions import QUESTIONS
from practitioner.forms import Form, MultiCheckboxField, choices, yes_no
from practitioner.clinical.vocabulary import (
    DEVICE_SETTING_DEPTH,
    FITZPATRICK_LABELS,
    GLOGAU_LABELS,
    GOODMAN_BARON_LABELS,
    PLAN_RANGE_DEPTH,
    SCAR_LABELS,
)
from practitioner.validators import NoControlCharacters, NumberRange, depth_within, strip_filter

F = [strip_filter]


def _not_after_consultation(form: "ConsultationForm", field) -> None:
    if field.data and form.consultation_date.data and field.data > form.consultation_date.data:
        raise ValidationError("This date is after the consultation date: check it, or answer No if it has not happened.")


NOT_ANSWERED = "Not answered. Choose Yes or No."
NOT_CHOSEN = "Not answered. Choose one."
MISSING_DATE = {"isotretinoin": "Enter the date isotretinoin was stopped (an estimate is fine), so the washout can be counted."}


class ConsultationForm(Form):
    """Everything a practitioner records at a consultation; the screening answers feed the engine."""

    version = HiddenField()
    consultation_date = DateField("Consultation date", validators=[InputRequired("Enter the consultation date.")])
    modality = RadioField("Treatment", choices=choices(MODALITY_LABELS.items()), validators=[InputRequired("Choose the treatment.")])
    concerns = MultiCheckboxField("Concerns", choices=choices(CONCERN_LABELS.items()), validators=[DataRequired("Tick at least one concern.")])
    treatment_areas = MultiCheckboxField("Treatment areas", choices=choices(TREATMENT_AREA_LABELS.items()),
                                         validators=[DataRequired("Tick at least one area.")])

    fitzpatrick = SelectField("Fitzpatrick skin type", choices=choices([("", "Not assessed"), *FITZPATRICK_LABELS.items()]),
                              validators=[InputRequired("Choose the skin type: it changes the risk of dark patches.")],
                              coerce=lambda v: int(v) if v not in (None, "", "None") else None)
    glogau = SelectField("Glogau photoageing type", choices=choices([("", "Not assessed"), *GLOGAU_LABELS.items()]), validators=[Optional()],
                         coerce=lambda v: int(v) if v not in (None, "", "None") else None)
    goodman_baron_grade = SelectField("Goodman and Baron acne scar grade", choices=choices([("", "Not assessed / no acne scars"), *GOODMAN_BARON_LABELS.items()]),
                                      validators=[Optional()], coerce=lambda v: int(v) if v not in (None, "", "None") else None)
    skin_notes = TextAreaField("Skin assessment notes", filters=F, validators=[Optional(), Length(max=4000), NoControlCharacters(multiline=True)], render_kw={"rows": 3})

    device_name = StringField("Device (make and model)", filters=F, validators=[Optional(), Length(max=120), NoControlCharacters()])
    needle_material = RadioField("Needle material", choices=choices(NEEDLE_MATERIAL_LABELS.items()), validators=[Optional()])
    device_max_depth_mm = DecimalField("Deepest setting the device was evaluated to (mm)", places=2,
                                       validators=[Optional(), depth_within(DEVICE_SETTING_DEPTH)],
                                       description="From the device's instructions for use (SkinPen, for example: 1.5 mm).")
    requested_depth_mm = DecimalField("Deepest depth planned (mm)", places=2,
                                      validators=[Optional(), depth_within(PLAN_RANGE_DEPTH)])

    notes = TextAreaField("Consultation notes", filters=F, validators=[Optional(), Length(max=8000), NoControlCharacters(multiline=True)], render_kw={"rows": 4})

    def validate(self, extra_validators=None) -> bool:
        """Field checks, then each dated question: a Yes needs its date (windows count from it), a No has none."""
        valid = super().validate(extra_validators)
        for question in QUESTIONS:
            if question.date_name is None:
                continue
            answer, day = self[question.name].data, self[question.date_name]
            if day.errors:
                continue
            if answer == question.date_when and day.data is None:
                day.errors = [MISSING_DATE.get(question.name, "Enter the date (an estimate is fine), so the interval can be counted.")]
                valid = False
            elif answer is not None and answer != question.date_when and day.data is not None:
                day.errors = ["This date only goes with a Yes: clear it, or change the answer." if question.choices is None
                              else "This date only goes with “Stopped”: clear it, or change the answer."]
                valid = False
        return valid

    def validate_consultation_date(self, field) -> None:
        """Not in the future."""
        if field.data and field.data > date.today():
            raise ValidationError("The consultation date cannot be in the future.")


# Every screening question, in the order asked, with no default answer; a dated one is followed by its date.
for _question in QUESTIONS:
    if _question.choices is None:
        setattr(ConsultationForm, _question.name, yes_no(_question.label, NOT_ANSWERED))
    else:
        setattr(ConsultationForm, _question.name, RadioField(_question.label, choices=choices(_question.choices.items()),
                                                             validators=[InputRequired(NOT_CHOSEN)]))
    if _question.date_name:
        setattr(ConsultationForm, _question.date_name, DateField(_question.date_label, validators=[Optional(), _not_after_consultation]))
for _type in SCAR_TYPES:
    setattr(ConsultationForm, f"scars_{_type}", IntegerField(f"{SCAR_LABELS[_type]} scars (rough count)",
            validators=[Optional(), NumberRange(min=0, max=999, message="Enter a count from 0 to 999.")]))


class OverrideForm(Form):
    """A documented reason to treat despite the screening result."""

    reason = TextAreaField("Reason for going ahead", filters=F, validators=[
        DataRequired("Give the reason: who advised or cleared treatment, and why it is safe."), Length(min=10, max=2000,
        message="Write at least a sentence (10 characters or more)."), NoControlCharacters(multiline=True)], render_kw={"rows": 3})


class FromIntakeForm(ConsultationForm):
    """The consultation form started from a patient's intake: one explicit confirmation of all the patient's
    No answers; per question, the reason for a correction (consultations/from_intake.py)."""

    confirm_all = BooleanField("I have gone through all the patient’s “No” answers with them: confirm them")


for _question in QUESTIONS:
    setattr(FromIntakeForm, f"reason_{_question.name}", StringField(
        f"Why your answer differs from the patient's ({_question.label})", filters=F,
        validators=[Optional(), Length(max=300), NoControlCharacters()]))
