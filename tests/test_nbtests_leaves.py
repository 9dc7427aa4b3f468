"""Values a protected comparison's operand is computed from (``w`` in ``abs(w - 3) < 0.05``) are reported too.

A float subclass whose ``__sub__`` answers 0 makes ``abs(w - 3)`` a plain 0.0, so the operand the grader sees
is honest-looking data: the rule that an object of the notebook's own making fails a comparison must look at
what the operand was computed from. These tests run the rewritten cell with the kernel side's recorder in this
process (no kernel) and decide it as the grader does.
"""

import nbformat
import pytest
import numpy as np
import torch

from course_lib.judge import kernel_side
from course_lib.judge.nbtests import Names, prepare, recheck, score_test

NB = nbformat.v4.new_notebook()
NB.cells = [nbformat.v4.new_code_cell("import numpy as np\nimport torch\nimport math\n")]

FAKE = """
class _F(float):
    def __sub__(self, other):
        return 0.0
    def __add__(self, other):
        return 0.0
    def __abs__(self):
        return 0.0
    __hash__ = float.__hash__
"""

CELLS = {
    "if-expression": "score = 0.0\nscore += 1.0 if abs(w - 3) < 0.05 else 0.0\nscore += 1.0 if abs(b + 1) < 0.05 "
                     "else 0.0\nscore",
    "assert": "assert abs(w - 3) < 0.05, 'w is off'\nassert -0.05 < b + 1 < 0.05 or abs(b + 1) < 0.05",
    "if-statement": "score = 0\nif abs(w - 3) <= 0.05:\n    score += 1\nscore",
    "float-call": "assert abs(float(w) - 3) < 0.05",
    "isclose": "assert math.isclose(w - 3, 0.0, abs_tol=0.05)",
    "np-testing": "np.testing.assert_allclose(np.array([w, b]) - np.array([3.0, -1.0]), 0.0, atol=0.05)",
    "torch-method": "assert (torch.tensor(w) - 3).abs() < 0.05",
}


def run(source: str, values: dict) -> tuple[list, object, dict]:
    """The cell rewritten and run against ``values`` with the set-up's recorder: (its entries, value, plan)."""
    code, plan = prepare(source, Names(NB))
    entries = []
    space = {"__name__": "__main__", "np": np, "torch": torch, "math": __import__("math")}
    exec(FAKE, space)
    space.update({k: (eval(v, space) if isinstance(v, str) else v) for k, v in values.items()})
    space[kernel_side.LIFTER] = kernel_side.Lifter(entries, kernel_side.Pristine())
    try:
        exec(compile(code, "<test>", "exec"), space)
    except AssertionError:
        pass
    return entries, space.get(kernel_side.VALUE), plan


def problems(entries) -> list[str]:
    return [why for entry in entries if (why := recheck(entry))]


def test_an_operand_computed_from_a_float_subclass_fails_in_every_lifted_form():
    for name, source in CELLS.items():
        entries, _, plan = run(source, {"w": "_F(0.0)", "b": "_F(0.0)"})
        found = problems(entries)
        assert found, name
        assert "an object of type _F" in found[0], (name, found)
        assert any(isinstance(need, dict) for need in plan["required"]), name


def test_honest_values_keep_their_verdicts():
    for w, b in ((3.0, -1.0), (np.float64(3.01), np.float64(-0.99)), (torch.tensor(3.0), torch.tensor(-1.0)),
                 (3, -1)):
        for name, source in CELLS.items():
            if name == "float-call" and not isinstance(w, (int, float)):
                continue
            entries, _, _ = run(source, {"w": w, "b": b})
            assert problems(entries) == [], (name, w)
            assert all(e["ok"] for e in entries if not e.get("condition")), (name, w)
    # plain wrong answers are decided as before: the kernel's verdict, then the grader's on the data
    entries, value, _ = run(CELLS["if-expression"], {"w": 0.0, "b": 0.0})
    assert value == 0.0 and problems(entries) == []


def test_what_only_inspects_an_object_is_no_leaf():
    # a Dataset class of the student's own in len(): its length is the answer, not arithmetic made up by it
    source = "assert len(data) == 3\nassert abs(accuracy(data) - 0.5) < 0.1\n"
    code, plan = prepare(source, Names(NB))
    assert "__course_leaf__" in code and "len(data)" in code and "accuracy(data)" in code
    assert "__course_leaf__(3, 2, accuracy(data))" in code  # the student's result is checked, not its argument
    space = {"__name__": "__main__"}
    exec("class Data:\n    def __len__(self):\n        return 3\n\n"
         "def accuracy(d):\n    return 0.5\n\ndata = Data()\n", space)
    entries = []
    space[kernel_side.LIFTER] = kernel_side.Lifter(entries, kernel_side.Pristine())
    exec(compile(code, "<test>", "exec"), space)
    assert problems(entries) == [] and all(e["ok"] for e in entries)


def test_a_comparison_reported_without_its_leaves_scores_zero():
    entries, _, plan = run(CELLS["if-expression"], {"w": 3.0, "b": -1.0})
    report = {"done": True, "lifted": entries, "value_sent": True, "value": {"kind": "scalar", "type": "float",
                                                                             "value": float.hex(2.0)}}
    record = {"ran": True, "report": report, "required": plan["required"], "shown": "2.0"}
    assert score_test(record, 2.0) == (2.0, "")
    # the leaves' reports dropped (the leaf recorder replaced by one that hands values on silently)
    kept = [e for e in entries if "leaf" not in e.get("kwargs", {})]
    assert len(kept) < len(entries)
    score, message = score_test({**record, "report": {**report, "lifted": kept}}, 2.0)
    assert score == 0.0 and "never reported" in message


# -- the same through real kernels: a small nbgrader-format assignment graded as students' notebooks are ----------
LINE = "99-line"
FIT_CELLS = {
    "fit_score": ("w, b = fit()\nscore = 0.0\nscore += 1.0 if abs(w - 3) < 0.05 else 0.0\n"
                  "score += 1.0 if abs(b + 1) < 0.05 else 0.0\nscore", 2),
    "fit_assert": ("w, b = fit()\nassert abs(w - 3) < 0.05, 'w is off'\nassert abs(b + 1) < 0.05, 'b is off'", 1),
    "fit_np_testing": ("w, b = fit()\nnp.testing.assert_allclose(w - 3, 0.0, atol=0.05)", 1),
}
STUDENTS = {
    "right": "def fit():\n    return 3.0, -1.0\n",
    "right-numpy": "import numpy as np\n\ndef fit():\n    return np.float64(3.01), np.float64(-0.99)\n",
    "wrong": "def fit():\n    return 0.0, 0.0\n",
    "float-subclass": FAKE + "\n\ndef fit():\n    return _F(0.0), _F(0.0)\n",
}


def line_assignment(course):
    def cell(source, gid, **meta):
        new = nbformat.v4.new_code_cell(source)
        new.metadata["nbgrader"] = {"grade_id": gid, "schema_version": 3, "task": False, "grade": False,
                                    "solution": False, "locked": False, **meta}
        return new

    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [cell("import numpy as np\nimport torch", "imports", locked=True),
                cell("def fit():\n    ### BEGIN SOLUTION\n    return 3.0, -1.0\n    ### END SOLUTION", "fit",
                     solution=True)]
    nb.cells += [cell(source, gid, grade=True, locked=True, points=points) for gid, (source, points) in FIT_CELLS.items()]
    (course / "source" / LINE).mkdir(parents=True)
    nbformat.write(nb, course / "source" / LINE / "line.ipynb")


@pytest.mark.slow
def test_a_float_subclass_earns_nothing_through_the_kernel(tmp_path):
    from pathlib import Path

    from conftest import copy_course
    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig
    from course_lib.execute.runners import LocalRunner
    from course_lib.grade import Context
    from course_lib.release import release
    from course_lib.synth import Variant, build

    course = copy_course(tmp_path / "course")
    line_assignment(course)
    config = CourseConfig.load(course).with_overrides(device="cpu")
    release(config=config, assignment_id=LINE)
    spec = Assignment.load(config, LINE).notebook("line")
    context = Context.prepare(config, spec, "cpu")
    jobs = [context.job(name, Path(f"{name}.ipynb"), student_nb=build(spec, Variant(name, answers={"fit": code})))
            for name, code in STUDENTS.items()]
    graded = {job.student: context.judge(result) for job, result in LocalRunner(2).run(jobs)}
    scores = {name: {c.grade_id: c.points for c in g.checks} for name, g in graded.items()}
    assert scores["right"] == scores["right-numpy"] == {"fit_score": 2, "fit_assert": 1, "fit_np_testing": 1}
    assert scores["wrong"] == {"fit_score": 0, "fit_assert": 0, "fit_np_testing": 0}
    assert scores["float-subclass"] == scores["wrong"], [(c.grade_id, c.message) for c in
                                                         graded["float-subclass"].checks]
    assert all("_F" in c.message for c in graded["float-subclass"].checks)


def test_values_of_builtin_types_outside_the_builtins_namespace_are_vouched_for():
    # dict_values, generators and map objects are not builtins by name, but no notebook code can make their type
    source = "assert sum(d.values()) == 3\nassert sum(g) == 3\nassert max(map(abs, xs)) - 2 == 0\n"
    entries, _, plan = run(source, {"d": {"a": 1, "b": 2}, "g": "(i for i in (1, 2))", "xs": [1, -2]})
    assert sum(isinstance(need, dict) for need in plan["required"]) == 3
    assert problems(entries) == [] and all(e["ok"] for e in entries)
    # the leaf recorder reads types with the set-up's `type`, whatever the student bound to the name
    assert plan["protect"]["type"] == ["builtin", "type"]


def test_leaves_on_one_branch_only_are_checked_when_they_run_and_never_required():
    source = "assert abs((w if flag else b) - 3) < 0.05\n"
    entries, _, plan = run(source, {"w": "_F(0.0)", "b": 3.0, "flag": True})
    needs = [need for need in plan["required"] if isinstance(need, dict)]
    assert len(needs) == 1 and len(needs[0]["leaves"]) == 1  # `flag` always runs, neither branch does
    assert problems(entries) and "_F" in problems(entries)[0]
    entries, _, _ = run(source, {"w": "_F(0.0)", "b": 3.0, "flag": False})
    assert problems(entries) == [] and all(e["ok"] for e in entries)
