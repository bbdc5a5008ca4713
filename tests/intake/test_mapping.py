"""Patient answers in the consultation's terms: every question and every "Not sure", the dates (a month is an
estimate read as its last day; a future one is refused), the questions with their own choices, and nothing
answered that the patient did not answer."""

from __future__ import annotations

from datetime import date

import pytest

from practitioner.clinical import questions as clinical
from practitioner.intake import questions as q
from practitioner.intake.mapping import (
    NOT_ANSWERED,
    WhenProblem,
    attention_first,
    consultation_answers,
    parse_when,
    when_words,
)
from tests.intake.factories import answer_set

AS_OF = date(2026, 12, 6)
CASES = [(question, choice) for topic in q.TOPICS for question in topic.questions for choice in question.choices]


def _answers(**overrides):
    answers = answer_set(**overrides)
    answers["as_of"] = AS_OF.isoformat()
    return answers


def _expected(question: q.Question, code: str):
    if code == q.NOT_SURE:
        return None
    if clinical.BY_NAME[question.key].choices is None:
        return {"yes": True, "no": False}[code]
    return code


@pytest.mark.parametrize("question, choice", CASES, ids=[f"{qu.key}={c.code}" for qu, c in CASES])
def test_every_answer_to_every_question_sets_what_it_means(question, choice):
    follow = question.follow_up
    needs_date = follow is not None and choice.code in follow.shown_for
    given = (choice.code, "2026-03-14") if needs_date else choice.code
    mapped = consultation_answers(_answers(**{question.key: given}))
    answer = mapped[question.key]
    assert answer.answer_code == choice.code and answer.label == choice.label
    assert answer.value == _expected(question, choice.code)
    calm = choice.code in ("no", "none", "never")
    assert answer.needs_attention is not calm
    if follow is not None:
        dated = mapped[follow.key]
        assert dated.value == (date(2026, 3, 14) if needs_date else None)
        assert answer.date == dated.value and answer.when_text == ("14 March 2026" if needs_date else "")


@pytest.mark.parametrize("question", q.QUESTIONS, ids=lambda question: question.key)
def test_not_sure_sets_nothing_and_asks_for_attention(question):
    answer = consultation_answers(_answers(**{question.key: "not_sure"}))[question.key]
    assert answer.value is None and answer.needs_attention and answer.label == "Not sure"
    assert attention_first(_answers(**{question.key: "not_sure"}))[0] == answer


def test_no_question_is_answered_for_the_patient():
    for answers in ({}, {"questions": {}}, None, {"questions": "nonsense"}):
        mapped = consultation_answers(answers)
        assert all(answer.value is None for answer in mapped.values())
        assert all(answer.answer_code == "" for answer in mapped.values())
        assert all(answer.needs_attention for answer in mapped.values() if answer.key in q.BY_KEY)
        assert [a.label for a in attention_first(answers)] == [NOT_ANSWERED] * len(q.QUESTIONS)


def test_an_unknown_answer_code_counts_as_unanswered():
    answers = _answers()
    answers["questions"]["pregnant"] = {"answer": "True"}
    answers["questions"]["diabetes"] = {"answer": "yes"}
    mapped = consultation_answers(answers)
    assert mapped["pregnant"].value is None and mapped["pregnant"].answer_code == ""
    assert mapped["diabetes"].value is None and mapped["diabetes"].needs_attention


def test_every_column_a_patient_answers_is_mapped_and_the_calm_answers_leave_only_the_practitioner_s_questions():
    mapped = consultation_answers(_answers())
    columns = {name: answer.value for name, answer in mapped.items()}
    assert set(columns) == (set(clinical.ANSWER_NAMES) | set(clinical.DATE_NAMES)) - set(q.PRACTITIONER_ONLY)
    assert clinical.unanswered(columns) == [clinical.BY_NAME[name].label for name in q.PRACTITIONER_ONLY]


def test_a_month_is_an_estimate_read_as_its_last_day():
    assert parse_when("2026-03", AS_OF) == (date(2026, 3, 31), True)
    assert parse_when("2024-02", AS_OF) == (date(2024, 2, 29), True)
    assert parse_when("2026-03-14", AS_OF) == (date(2026, 3, 14), False)
    mapped = consultation_answers(_answers(had_neurotoxin=("yes", "2026-03")))
    assert mapped["neurotoxin_on"].value == date(2026, 3, 31)
    assert mapped["had_neurotoxin"].estimate and mapped["had_neurotoxin"].when_text == "about March 2026"


def test_this_month_is_read_as_the_day_the_patient_answered_never_a_day_still_to_come():
    assert parse_when("2026-12", AS_OF) == (AS_OF, True)
    assert when_words("2026-12", AS_OF) == "about December 2026"


@pytest.mark.parametrize("text", ["2027-01", "2026-12-07", "2030-05"])
def test_a_date_still_to_come_is_refused(text):
    with pytest.raises(WhenProblem, match="still to come"):
        parse_when(text, AS_OF)


@pytest.mark.parametrize("text", ["", "March", "2026-13", "2026-02-30", "26-03", "2026/03", None])
def test_a_date_that_is_not_one_is_refused_in_words(text):
    with pytest.raises(WhenProblem) as caught:
        parse_when(text, AS_OF)
    assert "example" in str(caught.value) and "'" not in str(caught.value)


def test_a_future_date_in_stored_answers_sets_no_date_and_needs_attention():
    mapped = consultation_answers(_answers(had_filler_in_area=("yes", "2027-02")))
    assert mapped["had_filler_in_area"].value is True and mapped["filler_in_area_on"].value is None
    assert mapped["filler_in_area_on"].label == NOT_ANSWERED and mapped["filler_in_area_on"].needs_attention


@pytest.mark.parametrize("code, value, attention", [("none", "none", False), ("controlled", "controlled", True),
                                                    ("uncontrolled", "uncontrolled", True), ("not_sure", None, True)])
def test_diabetes_has_its_own_choices(code, value, attention):
    answer = consultation_answers(_answers(diabetes=code))["diabetes"]
    assert (answer.value, answer.needs_attention) == (value, attention)


def test_isotretinoin_stopped_asks_when_and_taking_it_now_does_not():
    stopped = consultation_answers(_answers(isotretinoin=("stopped", "2026-08")))
    assert stopped["isotretinoin"].value == "stopped" and stopped["isotretinoin_stopped_on"].value == date(2026, 8, 31)
    assert stopped["isotretinoin_stopped_on"].when_text == "about August 2026"
    current = consultation_answers(_answers(isotretinoin=("current", "2026-08")))
    assert current["isotretinoin"].value == "current" and current["isotretinoin"].needs_attention
    assert current["isotretinoin_stopped_on"].value is None and current["isotretinoin_stopped_on"].label == ""
    never = consultation_answers(_answers(isotretinoin="never"))["isotretinoin"]
    assert never.value == "never" and not never.needs_attention


def test_attention_first_puts_yes_and_not_sure_first_in_question_order():
    ordered = attention_first(_answers(smoker="yes", pregnant="not_sure", had_resurfacing=("yes", "2026-11")))
    assert [a.key for a in ordered[:3]] == ["pregnant", "smoker", "had_resurfacing"]
    assert not any(a.needs_attention for a in ordered[3:])
    assert len(ordered) == len(q.QUESTIONS)
