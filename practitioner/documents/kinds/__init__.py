"""The catalogue of document kinds: each kind is declared once, in its own module in this folder.

A module here declares `TYPE = DocumentType(...)`: its kind code, label, number prefix, the model
it is made from (loaded by public id), its report template, when it is ready (`missing`: what the
record still lacks), who it is for (the patient, or the clinic's file) and `build`, which turns
the record into plain values. Helpers the kinds share (answers, flags, dates, the record-level
values the export reuses) are in `_common`; the dataclasses in `_types`.

A new kind is one module here plus one template under reports/templates/ (and its code in
DocumentKind, the vocabulary the issued_documents.kind column stores). The registry finds the
modules itself: tests/documents/test_catalogue.py checks that it lists exactly the modules in
this folder, one per DocumentKind, and that every kind's template exists.
"""

from __future__ import annotations

import importlib
import pkgutil

from practitioner.documents.kinds._types import DocumentSpec, DocumentType, NotReady, SourceNotFound
from practitioner.documents.models import DocumentKind

__all__ = ["KINDS", "DocumentSpec", "DocumentType", "NotReady", "SourceNotFound", "get", "module_names"]


def module_names() -> list[str]:
    """The kind modules in this folder (every module whose name does not start with an underscore)."""
    return [info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")]


def _discover() -> dict[DocumentKind, DocumentType]:
    found: dict[DocumentKind, DocumentType] = {}
    for name in module_names():
        declared = importlib.import_module(f"{__name__}.{name}").TYPE
        if declared.kind in found:
            raise RuntimeError(f"Two modules in {__name__} declare the kind {declared.kind.value!r}.")
        found[declared.kind] = declared
    absent = [kind.value for kind in DocumentKind if kind not in found]
    if absent:
        raise RuntimeError(f"No module in {__name__} declares the kind(s) {', '.join(absent)}: add one per kind.")
    return {kind: found[kind] for kind in DocumentKind}  # in DocumentKind's order


KINDS: dict[DocumentKind, DocumentType] = _discover()


def get(kind: DocumentKind | str) -> DocumentType:
    """The declared type of a kind, by DocumentKind or by its code ('aftercare'); ValueError for an unknown code."""
    return KINDS[DocumentKind(kind)]
