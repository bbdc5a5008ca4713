"""Context builders for the treatment guide, consent form, consultation summary, session record and patient export."""

from __future__ import annotations

import uuid
from typing import Callable

from sqlalchemy.orm import Session

from practitioner.documents.context import DocumentSpec
from practitioner.documents.models import DocumentKind

BUILDERS: dict[DocumentKind, Callable[[Session, uuid.UUID], DocumentSpec]] = {}
