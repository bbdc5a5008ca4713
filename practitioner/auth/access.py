"""Route guards: every view states the permission it needs."""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable, TypeVar

from flask import abort, request
from flask_login import current_user, login_required

from practitioner import audit
from practitioner.auth.models import Permission
from practitioner.extensions import db

F = TypeVar("F", bound=Callable[..., Any])


def client_ip() -> str:
    """The client address (behind a trusted proxy, ProxyFix has already set it)."""
    return (request.remote_addr or "")[:45]


def require(*permissions: Permission) -> Callable[[F], F]:
    """Sign-in plus every listed permission, or 403 (and an audit row saying so)."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            missing = [p for p in permissions if not current_user.can(p)]
            if missing:
                audit.append(db.session, "access.denied", actor=current_user, outcome=audit.OUTCOME_DENIED,
                             target=request.path[:120], detail={"needs": [p.value for p in missing]},
                             ip_address=client_ip())
                db.session.commit()
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_permissions = permissions  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def has(permission: Permission) -> bool:
    """For templates: whether the signed-in user holds a permission."""
    return bool(current_user.is_authenticated and current_user.can(permission))
