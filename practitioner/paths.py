"""The repository's folders, each named once: every module takes its paths from here.

Plain pathlib and nothing else, so the PDF worker process (which imports WeasyPrint and not Flask)
can use it as well as the app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
"""The checkout: practitioner/, templates/, reports/, migrations/ sit side by side in it."""

PAGE_TEMPLATES_DIR: Final = ROOT / "templates"
"""The web pages' Jinja templates."""

REPORTS_DIR: Final = ROOT / "reports"
"""Everything a PDF may read: its templates, print CSS, bundled fonts and content; the URL fetcher serves nothing else."""

REPORT_TEMPLATES_DIR: Final = REPORTS_DIR / "templates"
"""The documents' Jinja templates (their own environment, apart from the pages')."""

CONTENT_DIR: Final = REPORTS_DIR / "content"
"""Clinical and consent wording by language (content/<language>/...), versioned and reviewed."""

FONTS_DIR: Final = REPORTS_DIR / "fonts"
"""The fonts bundled into every PDF (no system fonts)."""

MIGRATIONS_DIR: Final = ROOT / "migrations"
"""The Alembic environment and its revisions."""
