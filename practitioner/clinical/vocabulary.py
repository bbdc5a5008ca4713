"""The clinic's words for its codes, defined once: treatment zones, Fitzpatrick skin types, depth limits.

Every form, page and document takes its labels from here, so a zone has one name wherever it is
shown and a skin type is always written in Roman numerals (I to VI), as the Fitzpatrick scale is
(clinical reference section 2.1). The depth limits are input bounds per context, not clinical
advice: they catch a slipped decimal point before it is saved, with the same message on every form.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal, get_args

Zone = Literal[
    "forehead", "glabella", "periorbital", "nose", "perioral", "cheeks", "chin_jaw", "neck", "decolletage", "scar_area"
]
ZONES: Final[tuple[Zone, ...]] = get_args(Zone)

# Plain words a patient would use, which a practitioner reads just as well; the same words are the
# English aftercare content's [zones] (reports/content/en/aftercare/language.toml), checked by a test.
ZONE_LABELS: Final[dict[str, str]] = {
    "forehead": "Forehead",
    "glabella": "Between the eyebrows",
    "periorbital": "Around the eyes",
    "nose": "Nose",
    "perioral": "Around the mouth and upper lip",
    "cheeks": "Cheeks",
    "chin_jaw": "Chin and jaw",
    "neck": "Neck",
    "decolletage": "Upper chest (décolletage)",
    "scar_area": "Scarred areas",
}

FITZPATRICK_TYPES: Final[tuple[int, ...]] = (1, 2, 3, 4, 5, 6)
FITZPATRICK_ROMAN: Final[dict[int, str]] = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI"}
# Clinical-reference section 2.1 (the NCBI/StatPearls table), shortened to the sun reaction.
FITZPATRICK_LABELS: Final[dict[int, str]] = {
    1: "I: always burns, never tans",
    2: "II: always burns, tans with difficulty",
    3: "III: sometimes mild burn, tans about average",
    4: "IV: rarely burns, tans easily",
    5: "V: never burns, tans very easily",
    6: "VI: never burns, heavily pigmented",
}

# The assessment scales a consultation records (clinical reference section 2): Glogau photoageing
# type, Goodman and Baron acne scar grade, and the acne scar types counted.
GLOGAU_LABELS: Final[dict[int, str]] = {
    1: "I: mild, no wrinkles",
    2: "II: moderate, wrinkles in motion",
    3: "III: advanced, wrinkles at rest",
    4: "IV: severe, only wrinkles",
}
GOODMAN_BARON_LABELS: Final[dict[int, str]] = {
    1: "1: macular (colour, not contour)",
    2: "2: mild",
    3: "3: moderate (flattens when stretched)",
    4: "4: severe (does not flatten)",
}
SCAR_LABELS: Final[dict[str, str]] = {
    "icepick": "Icepick", "rolling": "Rolling", "boxcar": "Boxcar", "hypertrophic": "Hypertrophic", "keloid": "Keloid",
}

# What a session records about how the skin responded and what went wrong (docs/session-record.md).
ENDPOINT_LABELS: Final[dict[str, str]] = {
    "erythema_mild": "Mild redness", "erythema_uniform": "Even redness", "pinpoint_bleeding": "Pinpoint bleeding",
    "petechiae": "Petechiae", "other": "Other",
}
ADVERSE_EVENT_LABELS: Final[dict[str, str]] = {
    "excessive_bleeding": "Excessive bleeding", "bruising": "Bruising", "vasovagal": "Vasovagal episode (fainting)",
    "severe_pain_stopped": "Severe pain, treatment stopped", "burn_or_blister": "Burn or blister",
    "allergic_reaction": "Allergic reaction", "other": "Other",
}
# The lists a session record keeps, as their headings read.
SESSION_LIST_TITLES: Final[dict[str, str]] = {
    "zones": "Zones treated", "products": "Products on needled skin", "adverse_events": "Adverse events",
}

# Clinical photography (docs/photography.md): the standard views (natural head position; obliques at 45 degrees,
# sides at 90), when in the course of care a photo was taken, what the practitioner ticks at capture, the two
# scopes of photo consent, and the kinds of visit photos are taken at. The codes are practitioner/photos/models.py's.
VIEW_LABELS: Final[dict[str, str]] = {
    "frontal": "Front", "oblique_left": "Left oblique (45°)", "oblique_right": "Right oblique (45°)",
    "lateral_left": "Left side (90°)", "lateral_right": "Right side (90°)", "close_up": "Close-up",
}
MOMENT_LABELS: Final[dict[str, str]] = {"baseline": "Baseline (consultation)", "before": "Before treatment",
                                        "immediately_after": "Immediately after treatment", "review": "Review visit"}
CAPTURE_CHECK_LABELS: Final[dict[str, str]] = {
    "makeup_removed": "Make-up removed", "jewellery_off": "Jewellery and glasses off", "hair_back": "Hair back from the face",
    "same_background": "Same background as before", "same_lighting": "Same lighting as before",
}
CONSENT_SCOPE_LABELS: Final[dict[str, str]] = {"clinical": "Clinical photography", "marketing": "Marketing use"}
VISIT_KIND_LABELS: Final[dict[str, str]] = {"consultation": "Consultation", "session": "Session", "review": "Review visit"}

# The practitioner's own declaration on a consent, printed on the signed form as it was ticked.
CONSENT_CONFIRMATION: Final = "I explained the treatment, its risks and alternatives, and answered the patient's questions"


def zone_label(code: str) -> str:
    """The one name of a zone (an unknown code is shown readably rather than refused)."""
    return ZONE_LABELS.get(code) or code.replace("_", " ").capitalize()


def fitzpatrick_roman(value: int | None) -> str:
    """A Fitzpatrick type as its Roman numeral ('IV'), or '' when none is recorded."""
    if value is None:
        return ""
    return FITZPATRICK_ROMAN.get(value, str(value))


def _mm(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


@dataclass(frozen=True)
class DepthLimit:
    """Input bounds for a needle depth in one context, with the one message every form shows."""

    low: Decimal
    high: Decimal

    @property
    def message(self) -> str:
        """'Enter a depth between 0.1 and 5 mm.'"""
        return f"Enter a depth between {_mm(self.low)} and {_mm(self.high)} mm."


# A depth a device is set to or was evaluated to, or a practitioner may use: the consultation's and
# the session's device depth, each session zone's depth, a user's licence limit.
DEVICE_SETTING_DEPTH: Final = DepthLimit(Decimal("0.1"), Decimal("5"))
# A depth planned ahead: a plan zone's shallowest and deepest, the consultation's deepest planned.
PLAN_RANGE_DEPTH: Final = DepthLimit(Decimal("0.1"), Decimal("3.5"))


Technique = Literal["glide", "stamp", "cross_hatch"]
TECHNIQUES: Final[tuple[Technique, ...]] = get_args(Technique)
# How the needles move over a zone (docs/session-record.md, zones treated): a plan may name one per zone.
TECHNIQUE_LABELS: Final[dict[str, str]] = {"glide": "Glide", "stamp": "Stamp", "cross_hatch": "Cross-hatch"}
# How a patient intake reaches the patient (practitioner/intake/models.py CHANNELS), as the patient page lists open ones.
INTAKE_CHANNEL_LABELS: Final[dict[str, str]] = {"tablet": "On the clinic's tablet", "link": "By link"}
