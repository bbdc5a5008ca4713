"""The treatment guide's clinical choices: which benefits apply, and preparation steps with real dates.

Sources (the clinical reference, see docs/aftercare.md): section 4.1 (before treatment) and the
product's document rules ("What the seed says"). The wording lives in reports/content/<language>/guide.toml; this module only decides
which steps apply and on which dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from practitioner.clinical.aftercare import depth_band
from practitioner.clinical.screening import Policy

# The seed's four benefits, and the concern each answers (laxity and pigmentation have none).
BENEFIT_FOR_CONCERN: Final[dict[str, str]] = {
    "fine_lines_wrinkles": "fine_lines",
    "atrophic_acne_scars": "acne_scars",
    "enlarged_pores": "pores",
    "texture_dullness": "exfoliation",
}
BENEFIT_ORDER: Final[tuple[str, ...]] = ("fine_lines", "acne_scars", "pores", "exfoliation")

# Section 4.1: waxing, depilatory cream, electrolysis or threading stop a week before [S77];
# NSAIDs and blood-thinning supplements up to a week before when not medically needed [S63][S75-77].
WAXING_DAYS_BEFORE: Final[int] = 7
NSAID_DAYS_BEFORE: Final[int] = 7


@dataclass(frozen=True)
class PrepStep:
    """One preparation step: a content key and the date it starts (None: on the day or general)."""

    key: str
    starts: date | None


def benefits_for(concerns: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The seed's benefits that match this patient's concerns, in the seed's order."""
    wanted = {BENEFIT_FOR_CONCERN[c] for c in concerns if c in BENEFIT_FOR_CONCERN}
    return tuple(b for b in BENEFIT_ORDER if b in wanted)


def raised_scar_caveat(concerns: tuple[str, ...] | list[str]) -> bool:
    """Raised scars come from too much collagen and may not respond: say so, and advise a referral."""
    return "raised_scars" in concerns


def preparation_steps(first_session: date, modality: str, cold_sore_history: bool, policy: Policy,
                      deepest_planned_mm: float | None = None) -> tuple[PrepStep, ...]:
    """Section 4.1 as dated steps counted back from the first booked session, earliest first.

    The last step says how long the skin may look pink: by the depth band of the deepest planned
    depth (section 3.1, as the aftercare chooses it), or without a number when none is planned.
    """
    toxin_filler = max(policy.neurotoxin_interval_days, policy.filler_interval_days)
    nsaid_days = policy.prp_nsaid_window_days if modality == "prp_microneedling" else NSAID_DAYS_BEFORE
    steps = [
        PrepStep("no_toxin_filler", first_session - timedelta(days=toxin_filler)),
        PrepStep("no_sun", first_session - timedelta(days=policy.sunburn_window_days)),
        PrepStep("no_waxing", first_session - timedelta(days=WAXING_DAYS_BEFORE)),
        PrepStep("no_nsaids", first_session - timedelta(days=nsaid_days)),
        PrepStep("stop_retinoids", first_session - timedelta(days=policy.retinoid_window_days)),
    ]
    if modality == "prp_microneedling":
        steps.append(PrepStep("prp_water", first_session - timedelta(days=1)))
    if cold_sore_history:
        steps.append(PrepStep("antiviral", first_session - timedelta(days=1)))
    steps.sort(key=lambda s: (s.starts, s.key))
    if modality == "prp_microneedling":
        # "A few days before" [S75][S76] has no exact number, so this step has no date: it goes just
        # before the first step of the day before.
        day_before = next(i for i, step in enumerate(steps) if step.starts == first_session - timedelta(days=1))
        steps.insert(day_before, PrepStep("prp_no_alcohol", None))
    steps.append(PrepStep("day_of", first_session))
    downtime = "downtime_rf" if modality == "rf_microneedling" else "downtime"
    if deepest_planned_mm is not None and deepest_planned_mm > 0:
        downtime = f"{downtime}_{depth_band(deepest_planned_mm)}"
    steps.append(PrepStep(downtime, None))
    return tuple(steps)
