"""The catalogue of document kinds: each kind is declared once, in its own module in this folder.

A module here declares `TYPE = DocumentType(...)`: its code, label, number prefix, the model it is
made from (loaded by public id), its report template, when it is ready (`missing`: what the record
still lacks), who it is for (the patient, or the clinic's file) and `build`, which turns the record
into plain values. Helpers the kinds share (answers, flags, dates, the record-level values the
export reuses) are in `_common`; the dataclasses in `_types`.

A new kind is one module here plus one template under reports/templates/. The registry finds the
modules itself, and builds DocumentKind (the codes the issued_documents.kind column holds) from
their codes: tests/documents/test_catalogue.py checks that it lists exactly the modules in this
folder and that every kind's template exists. A code is stored with every issued copy, so it never
changes once a copy was issued, and a kind with issued copies is never removed.
"""

from __future__ import annotations

import importlib
import pkgutil

from practitioner.documents.kinds._types import DocumentSpec, DocumentType, KindCode, NotReady, SourceNotFound

__all__ = ["KINDS", "DocumentKind", "DocumentSpec", "DocumentType", "NotReady", "SourceNotFound", "get", "module_names"]


def module_names() -> list[str]:
    """The kind modules in this folder (every module whose name does not start with an underscore), by name."""
    return sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))


def _discover() -> dict[str, DocumentType]:
    found: dict[str, DocumentType] = {}
    for name in module_names():
        declared = importlib.import_module(f"{__name__}.{name}").TYPE
        if declared.code in found:
            raise RuntimeError(f"Two modules in {__name__} declare the kind {declared.code!r}.")
        found[declared.code] = declared
    return found


_DECLARED = _discover()

DocumentKind = KindCode(  # type: ignore[call-overload]
    "DocumentKind", [(code.upper().replace("-", "_"), code) for code in _DECLARED], module=__name__, qualname="DocumentKind")
DocumentKind.__doc__ = "The code of each document kind, one per module in practitioner/documents/kinds/ (issued_documents.kind)."

KINDS: dict[KindCode, DocumentType] = {DocumentKind(code): declared for code, declared in _DECLARED.items()}


def get(kind: KindCode | str) -> DocumentType:
    """The declared type of a kind, by DocumentKind or by its code ('aftercare'); ValueError for an unknown code."""
    return KINDS[DocumentKind(kind)]
