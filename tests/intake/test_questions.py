"""The intake's questions: every screening question a patient can answer is asked, in the consultation's terms,
with the consultation's choices plus Not sure, follow-ups only where a date is needed, and no default anywhere."""

from __future__ import annotations

import re

import pytest

from practitioner.clinical import questions as clinical
from practitioner.clinical.screening import CONCERNS, Policy
from practitioner.intake import questions as q

PLAIN_PATIENT_WORDS = re.compile(r"^[A-Z][^<>{}\[\]_=]*\?$")
# The clinic policy setting whose window each "in the last ..." question must reach back over.
WINDOW_OF = {
    "had_sunburn": "sunburn_window_days",
    "took_nsaid_or_supplement": "prp_nsaid_window_days",
    "used_topical_retinoid_or_acid": "retinoid_window_days",
    "had_neurotoxin": "neurotoxin_interval_days",
    "had_filler_in_area": "filler_interval_days",
    "had_resurfacing": "resurfacing_interval_days",
}


def test_every_screening_column_a_patient_can_answer_is_asked_and_only_those():
    asked = set(q.BY_KEY)
    assert asked | set(q.PRACTITIONER_ONLY) == set(clinical.ANSWER_NAMES)
    assert not asked & set(q.PRACTITIONER_ONLY)
    assert q.PRACTITIONER_ONLY == ("suspicious_lesion", "expectations_concern")
    assert len(q.QUESTIONS) == len(asked), "a question is asked twice"


@pytest.mark.parametrize("question", q.QUESTIONS, ids=lambda question: question.key)
def test_each_question_offers_the_consultation_s_answers_plus_not_sure(question):
    consultation = clinical.BY_NAME[question.key]
    codes = question.codes
    assert codes[-1] == q.NOT_SURE and q.NOT_SURE_CHOICE in question.choices
    if consultation.choices is None:
        assert question.choices == q.YES_NO_NOT_SURE
    else:
        assert codes[:-1] == tuple(consultation.choices)
    assert len(set(codes)) == len(codes)
    assert PLAIN_PATIENT_WORDS.match(question.wording), question.wording
    assert all(choice.label and "_" not in choice.label for choice in question.choices)


@pytest.mark.parametrize("question", q.QUESTIONS, ids=lambda question: question.key)
def test_a_follow_up_asks_exactly_the_consultation_s_date_and_only_after_the_answer_that_needs_it(question):
    consultation = clinical.BY_NAME[question.key]
    if consultation.date_name is None:
        assert question.follow_up is None
        return
    follow = question.follow_up
    assert follow is not None and follow.key == consultation.date_name and follow.month_year_ok
    needs = "yes" if consultation.date_when is True else consultation.date_when
    assert follow.shown_for == (needs,)
    assert q.NOT_SURE not in follow.shown_for and "no" not in follow.shown_for


@pytest.mark.parametrize("key, setting", sorted(WINDOW_OF.items()))
def test_a_question_about_a_recent_time_reaches_back_over_the_policy_window(key, setting):
    question = q.BY_KEY[key]
    assert question.covers_days is not None
    assert question.covers_days >= getattr(Policy(), setting)
    assert question.covers_days >= 2 * getattr(Policy(), setting), "room for a clinic that lengthens its window"


def test_isotretinoin_asks_ever_so_every_stop_date_is_heard():
    question = q.BY_KEY["isotretinoin"]
    assert question.covers_days is None and "ever" in question.wording
    assert question.follow_up.wording == "When did you stop?"


def test_topics_are_one_screen_each_in_order_with_details_and_hopes_last():
    slugs = [t.slug for t in q.TOPICS]
    assert slugs == ["today", "skin", "health", "allergies", "medicines", "recent", "details", "hopes"]
    assert [t.kind for t in q.TOPICS][-2:] == ["details", "hopes"]
    assert all(t.title and t.intro for t in q.TOPICS)
    assert q.topic("medicines") is q.MEDICINES and q.topic("nope") is None
    assert q.next_topic("today") is q.SKIN_HISTORY and q.next_topic("hopes") is None


def test_details_are_the_contract_s_and_never_required():
    assert set(q.DETAIL_KEYS) == {"phone", "email", "address", "gp_name", "gp_practice", "allergies_other", "medicines"}


def test_concerns_are_the_screening_concerns_in_patient_words():
    assert q.CONCERN_CODES == tuple(CONCERNS)
    assert all(q.concern_label(code) != code for code in CONCERNS)



def test_the_areas_the_patient_may_choose_are_the_consultations_treatment_areas():
    from practitioner.clinical.screening import TREATMENT_AREAS

    assert q.AREA_CODES == TREATMENT_AREAS
    assert len({c.label for c in q.AREA_CHOICES}) == len(q.AREA_CHOICES)
