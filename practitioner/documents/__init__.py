"""Patient documents: the catalogue of kinds (kinds/), rendering to PDF (pdf/), issuing and the archive.

This file imports nothing when the package is imported. The PDF render process imports
practitioner.documents.pdf.worker, and with it this package, and must not import Flask or the
app (about 70 MB more in each render process): the blueprint, its routes and the receivers
(practitioner.documents.blueprint) load when `practitioner.documents.bp` is first asked for,
which create_app does. tests/documents/test_pdf_package.py checks it.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    """`bp`: the documents blueprint, with its routes and receivers, loaded on first use."""
    if name == "bp":
        from practitioner.documents.blueprint import bp

        return bp
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
