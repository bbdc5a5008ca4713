"""Consent pages: sign on the screen, read a signed consent, its signature image. No edit route, by design."""

from __future__ import annotations

import uuid

from flask import Response, flash, redirect, render_template, url_for
from flask_login import current_user

from practitioner.auth.access import client_ip, require
from practitioner.auth.models import Permission
from practitioner.consents import bp, services
from practitioner.consents.content import ConsentContent, load_consent_content
from practitioner.consents.forms import ConsentForm, make_consent_form
from practitioner.consents.models import Consent
from practitioner.consents.services import (
    InvalidSignature,
    consent_refusal,
    sign_consent,
)
from practitioner.consultations.models import Consultation
from practitioner.errors import NotAllowed
from practitioner.extensions import db
from practitioner.unit_of_work import commit_request


def _signing_page(consultation: Consultation, content: ConsentContent, form: ConsentForm | None = None,
                  refusal: str | None = None) -> str:
    return render_template("consents/form.html", consultation=consultation, content=content,
                           form=form, refusal=refusal)


@bp.route("/consultations/<uuid:public_id>/consents/new", methods=["GET", "POST"])
@require(Permission.EDIT_CLINICAL)
def new(public_id: uuid.UUID):
    """The patient reads, ticks, types their name and signs; the practitioner confirms and witnesses."""
    consultation = db.one_or_404(Consultation.by_public_id(public_id))
    content = load_consent_content(consultation.modality)
    refusal = consent_refusal(consultation)
    if refusal:
        return _signing_page(consultation, content, refusal=refusal), 409
    patient = consultation.patient
    form = make_consent_form(content, patient.given_name, patient.family_name)
    if form.validate_on_submit():
        try:
            consent = sign_consent(db.session, consultation, content, typed_name=form.patient_typed_name.data,
                                   signature_data_url=form.signature.data, photo_clinical=form.photo_clinical.data,
                                   photo_marketing=form.photo_marketing.data, actor=current_user, ip_address=client_ip())
        except InvalidSignature as exc:
            form.signature.errors.append(str(exc))
        except NotAllowed as exc:
            db.session.rollback()
            return _signing_page(consultation, content, refusal=str(exc)), 409
        else:
            commit_request()
            flash(f"Consent signed by {patient.full_name} and witnessed by you. It is kept as signed.", "success")
            return redirect(url_for("consents.detail", public_id=consent.public_id), 303)
    if form.signature.errors:
        form.signature.data = ""  # a refused drawing is not put back in the box
    return _signing_page(consultation, content, form), 422 if form.is_submitted() else 200


@bp.get("/consents/<uuid:public_id>")
@require(Permission.VIEW_CLINICAL)
def detail(public_id: uuid.UUID):
    """A signed consent as it was signed: the text, the signature, the choices, the witness."""
    consent = db.one_or_404(Consent.by_public_id(public_id))
    altered = services.integrity_problems(db.session, consent)
    return render_template("consents/detail.html", consent=consent, consultation=consent.consultation,
                           integrity_warning=services.tamper_warning(consent) if altered else "")


@bp.get("/consents/<uuid:public_id>/signature.png")
@require(Permission.VIEW_CLINICAL)
def signature(public_id: uuid.UUID):
    """The drawn signature, exactly as stored."""
    consent = db.one_or_404(Consent.by_public_id(public_id))
    return Response(consent.signature_png, mimetype="image/png", headers={"Cache-Control": "no-store"})
