"""Suggested needle depth per zone and the usual course of sessions, from the clinical reference.

Every range here is a value of the clinical reference's section 3.1 (needle depth by area) and every
course a line of section 3.2 (number of sessions and intervals), each with its source tags. The
Fitzpatrick IV-VI narrowing is a policy of this software, not a clinical fact, and says so wherever it
is shown. Nothing here is medical advice: the practitioner decides, within the device's instructions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Final

from practitioner.clinical.screening import CONCERNS, MODALITIES, TREATMENT_AREAS
from practitioner.clinical.vocabulary import FITZPATRICK_ROMAN, ZONE_LABELS, ZONES

# Consultation treatment areas (screening.TREATMENT_AREAS) have a plan zone of the same name; the
# glabella and a scar area are finer divisions the practitioner adds to a plan by hand.
AREA_ZONES: Final[dict[str, str]] = {area: area for area in TREATMENT_AREAS}

# From section 3.2: "MN, acne scars: 3-6 sessions, 4-6 weeks apart" [S89][S71]; the aftercare table
# (4.2, week 2 onward) also says "book the next session 4-6 weeks on".
TYPICAL_SESSIONS: Final[tuple[int, int]] = (3, 6)
TYPICAL_INTERVAL_WEEKS: Final[tuple[int, int]] = (4, 6)

ORBITAL_RIM_CAUTION: Final = "Never inside the orbital rim (eyelids): SkinPen labelling [S50]."
DEVICE_IFU_CAUTION: Final = "Use the device's instructions for use."
# The top of the reference's professional periorbital range (0.25-0.5 mm [S54]): no plan goes deeper.
PERIORBITAL_CEILING_MM: Final = Decimal("0.5")
# SkinPen: "safety and effectiveness above 1.5 mm have not been evaluated" [S50].
SKINPEN_EVALUATED_MM: Final = Decimal("1.5")

_ROMAN: Final = FITZPATRICK_ROMAN
_STEP: Final = Decimal("0.05")


@dataclass(frozen=True)
class DepthSuggestion:
    """A suggested depth range for one zone, why, what to watch, and whether a source backs it."""

    zone: str
    min_mm: Decimal | None
    max_mm: Decimal | None
    basis: str
    cautions: tuple[str, ...]
    verified: bool

    @property
    def has_range(self) -> bool:
        """Whether the reference gives numbers at all (décolletage has none)."""
        return self.min_mm is not None and self.max_mm is not None

    @property
    def range_text(self) -> str:
        """'0.25–0.5 mm', or a plain statement that there is no sourced range."""
        if self.min_mm is None or self.max_mm is None:
            return "No sourced range"
        if self.min_mm == self.max_mm:
            return f"{mm(self.min_mm)} mm"
        return f"{mm(self.min_mm)}–{mm(self.max_mm)} mm"


@dataclass(frozen=True)
class _Row:
    """One row of the section 3.1 table as this module uses it."""

    area: str  # the row's name in the reference
    min_mm: str | None
    max_mm: str | None
    values: str  # which column, with its sources
    verified: bool
    notes: tuple[str, ...] = ()


_THIN = "Thin-skinned zone: the conservative (thin-skin) values of the reference"
_PRO = "Professional values of the reference"

# Clinical reference 3.1. Thin-skinned zones (forehead, periorbital, nose, perioral) take the
# "consumer/home charts [S88][S54 thin skin]" column; the others the "professional [S54]" column.
_TABLE: Final[dict[str, _Row]] = {
    "forehead": _Row("Forehead", "0.25", "0.5", f"{_THIN} [S88][S54]; the professional chart gives 0.5–0.75 mm [S54]", True,
                     ("Thin skin over bone: light pressure.",)),
    "glabella": _Row("Glabella", "0.5", "1.0", f"{_PRO} [S54]", True),
    "periorbital": _Row("Periorbital", "0.2", "0.3", f"{_THIN} [S88][S54]; the professional chart gives 0.25–0.5 mm [S54]", True,
                        (ORBITAL_RIM_CAUTION,)),
    "nose": _Row("Nose", "0.25", "0.5", f"{_THIN} [S88][S54]; the professional chart gives 0.5 mm [S54]", True,
                 ("Be careful over the bridge.",)),
    "perioral": _Row("Perioral / upper lip", "0.25", "0.5", f"{_THIN} [S88][S54]; the professional chart gives 0.25–0.75 mm [S54]", True,
                     ("Cold sore (HSV) risk zone.",)),
    "cheeks": _Row("Cheeks / chin / jaw", "1.0", "2.0", f"{_PRO} [S54]", True,
                   ("Over the cheekbones the professional chart gives 0.5–1.0 mm [S54].",)),
    "chin_jaw": _Row("Cheeks / chin / jaw", "1.0", "2.0", f"{_PRO} [S54]", True),
    "neck": _Row("Neck", "0.5", "1.0", "No good source found: 0.5–1.0 mm is often quoted but unverified", False,
                 ("Neck skin is thinner than most body skin [S54-hbsp].",
                  "SkinPen is cleared for neck wrinkles in Fitzpatrick II–IV (a tier D summary) [S50-grokipedia].",
                  DEVICE_IFU_CAUTION)),
    "decolletage": _Row("Décolletage", None, None, "No good source found: the reference gives no range", False,
                        ("A narrative review covers microneedling of the neck and cleavage [S39-MDPI].", DEVICE_IFU_CAUTION)),
    "scar_area": _Row("Atrophic facial scars", "1.5", "2.0", f"{_PRO} [S54]", True,
                      ("Median 1.5 mm across acne scar studies [S24].",)),
}


def mm(value: Decimal) -> str:
    """A depth without trailing zeros but with one decimal: 0.25, 0.5, 1.0."""
    text = f"{value:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _check(zone: str, fitzpatrick: int | None, modality: str) -> None:
    if zone not in _TABLE:
        raise ValueError(f"unknown zone {zone!r}; expected one of {', '.join(ZONES)}")
    if fitzpatrick is not None and fitzpatrick not in _ROMAN:
        raise ValueError(f"Fitzpatrick type must be 1 to 6 or None, not {fitzpatrick!r}")
    if modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}; expected one of {', '.join(MODALITIES)}")


def _narrowed(low: Decimal, high: Decimal) -> Decimal:
    """The middle of the range, rounded down to 0.05 mm so it is never deeper than the middle."""
    middle = (low + high) / 2
    return max(low, (middle / _STEP).to_integral_value(rounding=ROUND_DOWN) * _STEP)


def suggest_depth(zone: str, fitzpatrick: int | None, modality: str) -> DepthSuggestion:
    """The reference's depth range for a zone, narrowed for Fitzpatrick IV-VI, with its cautions."""
    _check(zone, fitzpatrick, modality)
    row = _TABLE[zone]
    low = Decimal(row.min_mm) if row.min_mm is not None else None
    high = Decimal(row.max_mm) if row.max_mm is not None else None
    basis = [f"{row.values} (clinical reference §3.1, “{row.area}”)."]
    cautions = list(row.notes)

    if fitzpatrick is None:
        cautions.append("Skin type not recorded: the Fitzpatrick IV–VI narrowing was not applied. Record the Fitzpatrick type.")
    elif fitzpatrick >= 4:
        if low is not None and high is not None:
            high = _narrowed(low, high)
            basis.append("Fitzpatrick IV–VI: upper limit lowered to the middle of the range, rounded down to 0.05 mm. "
                         "This is a policy of this software, not a clinical fact.")
        cautions.append(f"Fitzpatrick {_ROMAN[fitzpatrick]}: higher risk of post-inflammatory hyperpigmentation (PIH); "
                        "types IV–VI are a relative precaution [S60][S22].")
    elif fitzpatrick == 3:
        cautions.append("Fitzpatrick III: some sources already flag a raised PIH risk [S84][S85].")

    if high is not None and high > SKINPEN_EVALUATED_MM:
        cautions.append(f"SkinPen: safety and effectiveness above {mm(SKINPEN_EVALUATED_MM)} mm have not been evaluated [S50]. "
                        "Check your device's limits.")
    if modality == "rf_microneedling":
        basis.append("These are microneedling values, shown for reference: RF microneedling depth is set by the device.")
        cautions.append("RF microneedling: depth is set by the device; follow its instructions for use. "
                        "Record the energy in the device's own units (for example mJ per pin) [S40-Eubanks].")
    elif modality == "prp_microneedling":
        basis.append("The reference has no separate PRP depth chart; these are the microneedling values.")

    return DepthSuggestion(zone, low, high, " ".join(basis), tuple(cautions), row.verified)


def depth_ceiling(zone: str) -> Decimal | None:
    """The depth a plan may never exceed in this zone, or None where the reference sets no hard limit."""
    if zone not in _TABLE:
        raise ValueError(f"unknown zone {zone!r}")
    return PERIORBITAL_CEILING_MM if zone == "periorbital" else None


def ceiling_refusal(zone: str, depth_mm: Decimal) -> str | None:
    """Why a planned depth is refused for this zone, or None when it is within the zone's hard limit."""
    ceiling = depth_ceiling(zone)
    if ceiling is None or depth_mm <= ceiling:
        return None
    return (f"{ZONE_LABELS[zone]}: no deeper than {mm(ceiling)} mm (the top of the reference's range), and never inside "
            f"the orbital rim (eyelids). Enter {mm(ceiling)} mm or less.")


def area_to_zones(treatment_areas: Iterable[str]) -> tuple[str, ...]:
    """The plan zones for a consultation's treatment areas, in plan order, each once."""
    wanted = set()
    for area in treatment_areas:
        if area not in AREA_ZONES:
            raise ValueError(f"unknown treatment area {area!r}; expected one of {', '.join(TREATMENT_AREAS)}")
        wanted.add(AREA_ZONES[area])
    return tuple(zone for zone in ZONES if zone in wanted)


_MN_SCARS: Final = ("Microneedling for acne scars: 3–6 sessions, 4–6 weeks apart; mild scars 3–4, moderate 4–6, severe 6–8 or more "
                    "[S89][S71]. A review of studies found a median of 3 treatments at a median 4-week interval [S24].")
_MN_WRINKLES: Final = ("Microneedling for wrinkles and rejuvenation: 3–4 sessions about 30 days apart, then maintenance every "
                       "6–12 months [S26][S50-graham][S84].")
_MN_GENERAL: Final = ("The reference gives no specific course for the other concerns; gaps of 4–12 weeks are quoted for "
                      "microneedling in general [S70].")
_RF_SCARS: Final = ("RF microneedling for acne scars: 3 sessions at monthly intervals; other protocols use 4 sessions 6 weeks apart, "
                    "or 2–6 sessions monthly [S40].")
_RF_OTHER: Final = "The reference gives no RF microneedling course for the other concerns: follow the device's protocol."
_PRP: Final = "PRP microneedling usually follows the microneedling schedule, about 4 weeks apart [S75][S87]."
_RESULTS: Final = "Results build over weeks to months; visible improvement may take up to 3 months [S50-medica]."


def course_guidance_lines(concerns: Iterable[str], modality: str) -> tuple[str, ...]:
    """The lines of section 3.2 that apply to these concerns and this modality, with their sources."""
    if modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}")
    wanted = set(concerns)
    unknown = wanted - set(CONCERNS)
    if unknown:
        raise ValueError(f"unknown concerns: {', '.join(sorted(unknown))}")
    scars = "atrophic_acne_scars" in wanted
    others = wanted - {"atrophic_acne_scars"}
    lines: list[str] = []
    if modality == "rf_microneedling":
        if scars:
            lines.append(_RF_SCARS)
        if others or not scars:
            lines.append(_RF_OTHER)
    else:
        if modality == "prp_microneedling":
            lines.append(_PRP)
        if scars:
            lines.append(_MN_SCARS)
        if "fine_lines_wrinkles" in wanted:
            lines.append(_MN_WRINKLES)
        if others - {"fine_lines_wrinkles"} or not wanted:
            lines.append(_MN_GENERAL)
    lines.append(_RESULTS)
    return tuple(lines)


def course_guidance(concerns: Iterable[str], modality: str) -> str:
    """The usual course for these concerns and this modality (section 3.2), one line per source row."""
    return "\n".join(course_guidance_lines(concerns, modality))
