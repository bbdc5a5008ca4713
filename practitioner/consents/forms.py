"""The consent form: one tick per risk and declaration, photo choices, typed name, drawn signature."""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any

from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from practitioner.consents.content import ConsentContent
from practitioner.clinical.vocabulary import CONSENT_CONFIRMATION
from practitioner.forms import Form
from practitioner.validators import NoControlCharacters, strip_filter


def _loose(name: str) -> str:
    # Case, spaces and accents differ between how a name was registered and how it is typed on a tablet.
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch) and not ch.isspace())


class ConsentForm(Form):
    """A signed consent's form; its fields are made per content version by `consent_form_class`."""

    risk_names: tuple[str, ...] = ()
    declaration_names: tuple[str, ...] = ()

    def __init__(self, *args: Any, patient_names: tuple[str, str] = ("", ""), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.patient_names = patient_names

    @property
    def risk_fields(self) -> list[BooleanField]:
        """The risk ticks, in the order of the content."""
        return [self[name] for name in self.risk_names]

    @property
    def declaration_fields(self) -> list[BooleanField]:
        """The declaration ticks, in the order of the content."""
        return [self[name] for name in self.declaration_names]

    def validate_patient_typed_name(self, field: StringField) -> None:
        """The typed name must be the patient's given and family name (case, spaces and accents aside)."""
        given, family = self.patient_names
        typed = _loose(field.data or "")
        if typed and typed not in (_loose(given + family), _loose(family + given)):
            raise ValidationError(f"The typed name does not match the patient's record ({given} {family}). "
                                  "Ask the patient to type their full name as registered.")


@lru_cache(maxsize=16)
def consent_form_class(content: ConsentContent) -> type[ConsentForm]:
    """A ConsentForm with a required tick for each risk and declaration of this content, in page order."""
    # Fields are made here, in the order of the page, because WTForms orders fields (and so the
    # error summary) by when they were created.
    risk_names = tuple(f"risk_{n}" for n in range(len(content.risks)))
    declaration_names = tuple(f"declaration_{n}" for n in range(len(content.declarations)))
    fields: dict[str, Any] = {"risk_names": risk_names, "declaration_names": declaration_names}
    for name, text in zip(risk_names, content.risks):
        fields[name] = BooleanField(text, validators=[DataRequired("Tick this once the patient has read and understood this risk.")])
    for name, text in zip(declaration_names, content.declarations):
        fields[name] = BooleanField(text, validators=[DataRequired("Tick this once the patient confirms this statement.")])
    fields["photo_clinical"] = BooleanField(content.photo_clinical)
    fields["photo_marketing"] = BooleanField(content.photo_marketing)
    fields["patient_typed_name"] = StringField(
        "Patient: type your full name", filters=[strip_filter],
        validators=[DataRequired("Ask the patient to type their full name."), Length(max=200), NoControlCharacters()],
        render_kw={"autocomplete": "off", "autocapitalize": "words", "spellcheck": "false"},
    )
    fields["signature"] = HiddenField("Signature", validators=[DataRequired("Ask the patient to sign in the box.")])
    fields["practitioner_confirms"] = BooleanField(
        CONSENT_CONFIRMATION, validators=[DataRequired("Confirm that you explained the treatment and answered the patient's questions.")],
    )
    return type("ConsentForm", (ConsentForm,), fields)


def make_consent_form(content: ConsentContent, given_name: str, family_name: str, **kwargs: Any) -> ConsentForm:
    """The consent form for this content and this patient's name."""
    return consent_form_class(content)(patient_names=(given_name, family_name), **kwargs)
