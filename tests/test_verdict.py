"""Verdicts from probe records, with a fake kernel: partial credit and clear reasons."""

import json

import pytest

from course_lib.errors import AssignmentError
from course_lib.judge import Check, Equal, Question, Tensor, judge
from course_lib.judge.kernel_side import encode
from course_lib.judge.spec import Grader, Property, declaration_problems
from course_lib.models import CellError, ExecutionResult


def probe_a(student):
    pass


def probe_b(student):
    pass


GRADER = Grader(path=None, digest="x", questions=(
    Question("qa", probe_a, [Check("a_value", 2, Equal(), key="a"),
                             Property("a_untouched", 1, Equal(), key="untouched", requires=("a_value",))]),
    Question("qb", probe_b, [Check("b_value", 3, Equal(), key="b", hint="think again")]),
))
REFS = {"qa": {"question": "qa", "values": {"a": encode(5), "untouched": encode(True)}, "error": None},
        "qb": {"question": "qb", "values": {"b": encode((1, 2))}, "error": None}}


def result(probes, status="completed", problem="", errors=()):
    return ExecutionResult("s1", "01-x", "nb", status=status, probes=probes, cell_errors=tuple(errors),
                           problem=problem)


def record(question, **values):
    return {"question": question, "values": {k: json.loads(json.dumps(encode(v))) for k, v in values.items()},
            "error": None}


def test_all_correct_scores_full():
    g = judge(GRADER, result({"qa": record("qa", a=5, untouched=True), "qb": record("qb", b=[1, 2])}), REFS)
    assert (g.score, g.max_score) == (6, 6)
    assert g.question_scores() == {"qa": (3, 3), "qb": (3, 3)}


def test_wrong_value_loses_that_check_with_hint():
    g = judge(GRADER, result({"qa": record("qa", a=4, untouched=True), "qb": record("qb", b=(1, 2))}), REFS)
    assert g.question_scores() == {"qa": (0, 3), "qb": (3, 3)}  # the property counts only with a right value
    g = judge(GRADER, result({"qa": record("qa", a=5, untouched=True), "qb": record("qb", b=(2, 1))}), REFS)
    [b] = [c for c in g.checks if c.name == "b_value"]
    assert not b.passed and b.message.endswith("Hint: think again")


def test_stopped_notebook_keeps_earlier_points_and_says_why():
    g = judge(GRADER, result({"qa": record("qa", a=5, untouched=True)}, status="kernel-died",
                             problem="the Python kernel died"), REFS)
    assert g.score == 3
    [b] = [c for c in g.checks if c.name == "b_value"]
    assert b.message == "not graded: the Python kernel died"


def test_required_value_that_raised_voids_dependent_check():
    rec = {"question": "qa", "values": {"a": {"kind": "raised", "ename": "TypeError", "evalue": "x"},
                                        "untouched": encode(True)}, "error": None}
    g = judge(GRADER, result({"qa": rec, "qb": record("qb", b=(1, 2))}), REFS)
    untouched = next(c for c in g.checks if c.name == "a_untouched")
    assert not untouched.passed and "counts only once the main result is right" in untouched.message


def test_property_pays_only_when_its_main_check_passes():
    g = judge(GRADER, result({"qa": record("qa", a=None, untouched=True), "qb": record("qb", b=(1, 2))}), REFS)
    assert g.question_scores()["qa"] == (0, 3)


def test_property_without_a_main_check_is_refused_by_name():
    lonely = [Question("qa", probe_a, [Property("a_untouched", 1, Equal(), key="untouched")])]
    assert any("'a_untouched'" in p and "requires no main check" in p for p in declaration_problems(lonely))
    values = [Question("qa", probe_a, [Check("a_value", 1, Equal(), key="a"),
                                       Check("a_more", 1, Equal(), key="a", requires=("a",))])]
    assert any("'a_more' requires 'a'" in p for p in declaration_problems(values))


def test_probe_crash_and_cell_errors_are_reported():
    rec = {"question": "qa", "values": {}, "error": {"kind": "raised", "ename": "NameError", "evalue": "x"}}
    g = judge(GRADER, result({"qa": rec, "qb": record("qb", b=(1, 2))},
                             errors=[CellError(4, "ValueError", "bad")]), REFS)
    assert g.score == 3
    assert "A cell above the first question raised ValueError: bad" in g.problems


def test_broken_reference_is_the_instructors_problem():
    refs = dict(REFS, qb={"question": "qb", "values": {"b": {"kind": "raised", "ename": "E", "evalue": ""}},
                          "error": None})
    with pytest.raises(AssignmentError):
        judge(GRADER, result({}), refs)
