"""Consent text per modality and language: versioned TOML content, its canonical text and hash."""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from practitioner.clinical.screening import MODALITIES
from practitioner.paths import CONTENT_DIR

_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")
_TEXT_FIELDS = ("version", "title", "no_guarantee", "photo_clinical", "photo_marketing")
_LIST_FIELDS = ("what_it_is", "expected_effects", "risks", "alternatives", "declarations")
_HEADING_FIELDS = (
    "version_line", "what_it_is", "expected_effects", "risks", "risks_instruction", "alternatives", "no_guarantee",
    "declarations", "declarations_instruction", "photographs", "photographs_instruction", "photo_clinical", "photo_marketing",
)


class ConsentContentError(RuntimeError):
    """The consent text for a modality is missing or malformed; the message names the file and the fix."""


@dataclass(frozen=True)
class ConsentHeadings:
    """The headings and instructions around the content, in the content's language."""

    version_line: str
    what_it_is: str
    expected_effects: str
    risks: str
    risks_instruction: str
    alternatives: str
    no_guarantee: str
    declarations: str
    declarations_instruction: str
    photographs: str
    photographs_instruction: str
    photo_clinical: str
    photo_marketing: str


@dataclass(frozen=True)
class ConsentContent:
    """One version of the consent text for one modality, in one language."""

    modality: str
    language: str
    version: str
    title: str
    what_it_is: tuple[str, ...]
    expected_effects: tuple[str, ...]
    risks: tuple[str, ...]
    alternatives: tuple[str, ...]
    no_guarantee: str
    declarations: tuple[str, ...]
    photo_clinical: str
    photo_marketing: str
    headings: ConsentHeadings

    @property
    def version_line(self) -> str:
        """'Consent text version 2026.11-1', in the content's language."""
        return self.headings.version_line.replace("{version}", self.version)

    @property
    def text(self) -> str:
        """The canonical text: what the patient is shown and what is stored with the signature."""
        return canonical_text(self)

    @property
    def sha256(self) -> str:
        """SHA-256 of the canonical text."""
        return sha256(self.text)


def content_path(modality: str, language: str = "en") -> Path:
    """Where the consent text for a modality lives: reports/content/<language>/consent/<modality>.toml."""
    if modality not in MODALITIES:
        raise ConsentContentError(f"Unknown modality {modality!r}; expected one of {', '.join(MODALITIES)}.")
    if not _LANGUAGE.match(language):
        raise ConsentContentError(f"Unknown language code {language!r}; use a code such as 'en' or 'pt-BR'.")
    return CONTENT_DIR / language / "consent" / f"{modality}.toml"


def _one_line(value: str) -> str:
    # TOML strings are wrapped for the editor; the wrapping must never change the text or its hash.
    return " ".join(value.split())


def _strings(data: dict[str, Any], names: tuple[str, ...], prefix: str, problems: list[str]) -> dict[str, str]:
    values = {}
    for name in names:
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"'{prefix}{name}' must be a non-empty string")
        else:
            values[name] = _one_line(value)
    return values


def _parse(modality: str, language: str, path: Path, data: dict[str, Any]) -> ConsentContent:
    problems: list[str] = []
    texts = _strings(data, _TEXT_FIELDS, "", problems)
    lists: dict[str, tuple[str, ...]] = {}
    for name in _LIST_FIELDS:
        value = data.get(name)
        if not isinstance(value, list) or not value or not all(isinstance(item, str) and item.strip() for item in value):
            problems.append(f"'{name}' must be a non-empty list of non-empty strings")
        else:
            lists[name] = tuple(_one_line(item) for item in value)
    table = data.get("headings")
    headings: dict[str, str] = {}
    if not isinstance(table, dict):
        problems.append("the [headings] table is missing")
    else:
        headings = _strings(table, _HEADING_FIELDS, "headings.", problems)
        if extra := sorted(set(table) - set(_HEADING_FIELDS)):
            problems.append(f"unknown keys in [headings]: {', '.join(extra)}")
    # A misspelt key would silently drop text from a consent, so anything unexpected is refused.
    if extra := sorted(set(data) - set(_TEXT_FIELDS) - set(_LIST_FIELDS) - {"headings"}):
        problems.append(f"unknown keys: {', '.join(extra)}")
    if problems:
        raise ConsentContentError(f"The consent text in {path} is not usable: {'; '.join(problems)}.")
    return ConsentContent(modality=modality, language=language, headings=ConsentHeadings(**headings), **texts, **lists)


@lru_cache(maxsize=32)
def load_consent_content(modality: str, language: str = "en") -> ConsentContent:
    """The consent text for a modality, read once per process and checked field by field."""
    path = content_path(modality, language)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConsentContentError(
            f"There is no consent text for {modality} in language '{language}': add {path} "
            f"(copy the file of another language and translate it)."
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConsentContentError(f"The consent text in {path} is not valid TOML: {exc}.") from exc
    return _parse(modality, language, path, data)


def _bullets(items: tuple[str, ...]) -> list[str]:
    return [f"- {item}" for item in items]


def canonical_text(content: ConsentContent) -> str:
    """The consent as plain text, built the same way every time: the text that is signed and hashed."""
    h = content.headings
    paragraphs = [line for paragraph in content.what_it_is for line in ("", paragraph)][1:]
    lines = [
        content.title,
        content.version_line,
        "",
        h.what_it_is, *paragraphs,
        "",
        h.expected_effects, *_bullets(content.expected_effects),
        "",
        h.risks, h.risks_instruction, *_bullets(content.risks),
        "",
        h.alternatives, *_bullets(content.alternatives),
        "",
        h.no_guarantee, content.no_guarantee,
        "",
        h.declarations, h.declarations_instruction, *_bullets(content.declarations),
        "",
        h.photographs, h.photographs_instruction,
        f"- {h.photo_clinical}: {content.photo_clinical}",
        f"- {h.photo_marketing}: {content.photo_marketing}",
    ]
    return "\n".join(lines) + "\n"


def sha256(text: str | bytes) -> str:
    """Hex SHA-256 of a text (as UTF-8) or of bytes."""
    return hashlib.sha256(text.encode("utf-8") if isinstance(text, str) else text).hexdigest()
