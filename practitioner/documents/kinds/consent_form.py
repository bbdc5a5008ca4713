"""The consent form: for the patient (and the clinic's file), the signed consent exactly as it was signed."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from practitioner.clinical.vocabulary import CONSENT_CONFIRMATION
from practitioner.consents.models import Consent
from practitioner.documents.kinds._common import _local, _patient_head, consent_values, slug
from practitioner.documents.kinds._types import DocumentSpec, DocumentType


def build(session: Session, consent: Consent, issued_on: date | None = None) -> DocumentSpec:
    """The signed consent as the patient signed it: the stored text, the photo choices, the signature."""
    patient = consent.consultation.patient
    values = {**consent_values(consent, with_signature=True), "practitioner_confirmation": CONSENT_CONFIRMATION}
    context = {
        "patient": _patient_head(patient),
        "consent": values,
        "summary": f"Consent form signed by {patient.full_name} on {consent.signed_at:%-d %B %Y}",
    }
    return DocumentSpec(TYPE.kind, str(consent.public_id), patient.id, TYPE.template, TYPE.label, context,
                        f"consent-{consent.modality.replace('_', '-')}-{consent.content_version}",
                        f"consent-{slug(patient.full_name)}-{_local(consent.signed_at).date().isoformat()}")


TYPE = DocumentType(
    code="consent-form",
    label="Consent form",
    number_prefix="CF",
    source=Consent,
    source_name="consent",
    template="consent_form.html",
    for_patient=True,
    build=build,
)
