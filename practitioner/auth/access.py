"""Route guards: every view states the permission it needs."""

from __future__ import annotations

import uuid
from functools import wraps
from typing import Any, Callable, TypeVar

from flask import abort, request
from flask_login import current_user, login_required
from sqlalchemy import select

from practitioner import audit
from practitioner.auth.models import Permission
from practitioner.database import Base
from practitioner.extensions import db
from practitioner.unit_of_work import commit_audit_of_read

F = TypeVar("F", bound=Callable[..., Any])


def client_ip() -> str:
    """The client address (behind a trusted proxy, ProxyFix has already set it)."""
    return (request.remote_addr or "")[:45]


def url_tried() -> str:
    """The path and query string of this request, as the audit keeps it (never a form body)."""
    query = request.query_string.decode("utf-8", "replace")
    return (request.path + (f"?{query}" if query else ""))[:2000]


def patient_named_in_url() -> int | None:
    """The id of the patient this request's URL names: by the patient's public id, or a record of theirs that has one.

    Every model with a ``public_id`` and a ``patient_id`` counts (consultations, plans, consents, sessions,
    documents), found through the ORM registry so this module needs none of the features that define them.
    """
    ids = [value for value in (request.view_args or {}).values() if isinstance(value, uuid.UUID)]
    for value in request.args.values():
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            continue
    if not ids:
        return None
    models = sorted((m.class_ for m in Base.registry.mappers), key=lambda model: (model.__tablename__ != "patients", model.__tablename__))
    for model in models:
        public_id = getattr(model, "public_id", None)
        column = model.id if model.__tablename__ == "patients" else getattr(model, "patient_id", None)
        if public_id is None or column is None:
            continue
        found = db.session.scalars(select(column).where(public_id.in_(ids)).limit(1)).first()
        if found is not None:
            return found
    return None


def require(*permissions: Permission) -> Callable[[F], F]:
    """Sign-in plus every listed permission, or 403 (and an audit row saying so)."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            missing = [p for p in permissions if not current_user.can(p)]
            if missing:
                audit.append(db.session, "access.denied", actor=current_user, outcome=audit.OUTCOME_DENIED,
                             patient=patient_named_in_url(), target=request.path[:120],
                             detail={"needs": [p.value for p in missing], "method": request.method, "url": url_tried()},
                             ip_address=client_ip())
                commit_audit_of_read()
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_permissions = permissions  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def has(permission: Permission) -> bool:
    """For templates: whether the signed-in user holds a permission."""
    user = current_user._get_current_object()  # one look-up of the proxy (a page asks several times)
    return bool(user.is_authenticated and user.can(permission))
