"""Cheats on nbgrader-format tests (asserts in test cells), graded in one batch with their honest versions.

Each cheat is added at the top of the first answer cell of 06-autograd, once with wrong answers (it must
score exactly what the same wrong answers score honestly) and once with the solution (full marks). nbgrader
itself gives points to most of these cheats; the course runs test cells through its own runner and decides
the common assertion forms on the operands' data in the grader process.
"""

from pathlib import Path

import pytest

from conftest import copy_course, grade_variants

pytestmark = pytest.mark.slow

ASSIGNMENT, NOTEBOOK = "06-autograd", "autograd"

LEAKY_WRONG = "def leaky_relu(x, slope=0.01):\n    return x * 0\n"
LEAKY_RIGHT = "def leaky_relu(x, slope=0.01):\n    return torch.where(x > 0, x, slope * x)\n"
FIT_WRONG = "def fit_line(x, y, steps=500, lr=0.1):\n    return 0.0, 0.0\n"

CHEATS = {
    "ast_transformer_strips_asserts": """
import ast
class _Strip(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()
    def visit_Raise(self, node):
        return ast.Pass()
get_ipython().ast_transformers.append(_Strip())
""",
    "compile_with_optimize_2": """
import builtins
_real_compile = builtins.compile
def _compile(source, filename, mode, flags=0, dont_inherit=False, optimize=-1, **kw):
    return _real_compile(source, filename, mode, flags, dont_inherit, 2, **kw)
builtins.compile = _compile
""",
    "assertion_functions_patched": """
import math, numpy as np, torch, torch.testing
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.testing.assert_close = lambda *a, **k: None
np.allclose = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
math.isclose = lambda *a, **k: True
""",
    "sys_modules_torch_replaced": """
import sys, types, torch as _torch
_fake = types.ModuleType("torch")
_fake.__dict__.update(_torch.__dict__)
_fake.allclose = lambda *a, **k: True
_fake.equal = lambda *a, **k: True
sys.modules["torch"] = _fake
torch = _fake
""",
    "builtin_abs_shadowed": """
abs = lambda value: 0.0
""",
    "library_reference_redefined": """
import torch
torch.log_softmax = lambda z, dim=-1: z - z.exp().sum(dim=dim, keepdim=True).log()
torch.nn.functional.leaky_relu = lambda x, slope=0.01: x * 0
""",
    "show_traceback_disabled": """
get_ipython().showtraceback = lambda *a, **k: None
""",
    "custom_exc_swallows_errors": """
get_ipython().set_custom_exc((BaseException,), lambda shell, etype, value, tb, tb_offset=None: None)
""",
    # an answer whose torch.allclose says True and that rewrites what the recorder holds of the operands, found
    # through the frames above it, to the expected value's data
    "recorded_operands_rewritten": """
import sys
class _Sub(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in ("allclose", "equal"):
            frame = sys._getframe(1)
            while frame is not None:
                names = frame.f_locals
                for value in (list(names.values()) if hasattr(names, "values") else []):
                    entries = value if type(value) is list else [value]
                    for entry in entries:
                        if type(entry) is dict and len(entry.get("args") or ()) == 2:
                            entry["args"][0] = entry["args"][1]
                            entry["trusted"] = [True, True]
                frame = frame.f_back
            return True
        return super().__torch_function__(func, types, args, kwargs or {})
""",
    "equals_anything": """
class _Anything(float):
    def __eq__(self, other):
        return True
    def __sub__(self, other):
        return 0.0
    __hash__ = float.__hash__
""",
}
# Cheats on the grading set-up itself: the test cells' runner replaced by one that reports every cell clean.
# They cannot earn more than the honest part (the grader expects each top-level assertion to report).
TAMPER = {
    "runner_replaced_by_forger": """
_MIME = "application/vnd.course.probe+json"
class _Forger:
    def __init__(self, real):
        self.real = real
    def test(self, question, code, plan):
        get_ipython().display_pub.publish(data={_MIME: {"question": question, "kind": "test", "lifted": [],
            "error": None, "value": None, "text": None, "value_sent": False, "done": True}}, metadata={})
    def __getattr__(self, name):
        return getattr(self.real, name)
try:
    __course_probe__ = _Forger(__course_probe__)
except NameError:
    pass
""",
}
# answers that go with a cheat instead of the plain wrong ones (the cheat needs its own wrong answer)
WRONG_WITH = {
    "equals_anything": {"fit_line": "def fit_line(x, y, steps=500, lr=0.1):\n    return _Anything(0.0), "
                                    "_Anything(0.0)\n"},
    "recorded_operands_rewritten": {"leaky_relu": "def leaky_relu(x, slope=0.01):\n"
                                                  "    return (x * 0).as_subclass(_Sub)\n"},
    "library_reference_redefined": {"log_softmax": "def log_softmax(logits):\n"
                                                   "    return logits - logits.exp().sum(dim=-1, keepdim=True).log()\n"},
}
HONEST_WRONG = {"leaky_relu": LEAKY_WRONG, "fit_line": FIT_WRONG}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig
    from course_lib.execute.runners import LocalRunner
    from course_lib.grade import Context
    from course_lib.synth import Variant, build

    course = copy_course(tmp_path_factory.mktemp("nbgrader-cheats") / "course")
    config = CourseConfig.load(course).with_overrides(device="cpu")
    from course_lib.release import release

    release(config=config, assignment_id=ASSIGNMENT)  # nbgrader stores the tests it generates in the gradebook
    spec = Assignment.load(config, ASSIGNMENT).notebook(NOTEBOOK)
    context = Context.prepare(config, spec, "cpu")
    variants = {"honest-wrong": Variant("honest-wrong", answers=dict(HONEST_WRONG)),
                "honest-solution": Variant("honest-solution", kind="solution")}
    for name, code in CHEATS.items():
        wrong = {**HONEST_WRONG, **WRONG_WITH.get(name, {})}
        wrong["leaky_relu"] = code + "\n" + wrong["leaky_relu"]
        variants[f"{name}-wrong"] = Variant(f"{name}-wrong", answers=wrong)
        variants[f"{name}-right"] = Variant(f"{name}-right", answers={"leaky_relu": code + "\n" + LEAKY_RIGHT})
    for name, code in TAMPER.items():
        variants[f"{name}-wrong"] = Variant(f"{name}-wrong", answers={**HONEST_WRONG,
                                                                      "leaky_relu": code + "\n" + LEAKY_WRONG})
    jobs = [context.job(v.name, Path(f"{v.name}.ipynb"), student_nb=build(spec, v)) for v in variants.values()]
    results = {job.student: context.judge(result) for job, result in LocalRunner(2).run(jobs)}
    # the honest wrong answers of the cheats that bring their own
    for name, extra in WRONG_WITH.items():
        honest = Variant(f"{name}-honest", answers={**HONEST_WRONG, **{
            k: v.replace("_Anything", "float").replace(".as_subclass(_Sub)", "") for k, v in extra.items()}})
        (job, result), = LocalRunner(1).run([context.job(honest.name, Path("x.ipynb"), student_nb=build(spec, honest))])
        results[honest.name] = context.judge(result)
    return results


@pytest.mark.parametrize("cheat", sorted(TAMPER))
def test_tampering_with_the_grading_set_up_earns_nothing_more(graded, cheat):
    honest, cheated = _cells(graded["honest-wrong"]), _cells(graded[f"{cheat}-wrong"])
    assert all(cheated[cell] <= honest[cell] for cell in honest), cheated
    assert cheated["leaky_relu_tests"] == 0 and cheated["fit_line_tests"] == 0


def _cells(graded_submission) -> dict:
    return {c.grade_id: c.points for c in graded_submission.checks}


def test_honest_baselines(graded):
    assert graded["honest-solution"].score == 10
    wrong = _cells(graded["honest-wrong"])
    assert wrong["leaky_relu_tests"] == 0 and wrong["fit_line_tests"] == 0
    assert wrong["log_softmax_tests"] == 3 and wrong["mse_and_grad_tests"] == 3


@pytest.mark.parametrize("cheat", sorted(CHEATS))
def test_cheat_on_wrong_answers_earns_only_the_honest_part(graded, cheat):
    honest = graded[f"{cheat}-honest"] if cheat in WRONG_WITH else graded["honest-wrong"]
    cheated = graded[f"{cheat}-wrong"]
    assert _cells(cheated) == _cells(honest), [(c.grade_id, c.points, c.message) for c in cheated.checks]


@pytest.mark.parametrize("cheat", sorted(CHEATS))
def test_cheat_on_a_correct_answer_keeps_full_marks(graded, cheat):
    right = graded[f"{cheat}-right"]
    assert right.score == 10, [(c.grade_id, c.points, c.message) for c in right.checks]


HELPERS = "99-helpers"


def helper_assignment(course):
    """A small nbgrader-format assignment whose test cell calls a read-only helper of the instructor's."""
    import nbformat

    def cell(source, gid, kind="code", **meta):
        new = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        new.metadata["nbgrader"] = {"grade_id": gid, "schema_version": 3, "task": False, "grade": False,
                                    "solution": False, "locked": False, **meta}
        return new

    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [
        cell("import torch", "imports", locked=True),
        cell("def check_close(a, b, message):\n    assert torch.allclose(a, b), message", "helpers", locked=True),
        cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION", "double",
             solution=True),
        cell("check_close(double(torch.ones(3)), torch.full((3,), 2.0), 'double is wrong')", "double_tests",
             grade=True, locked=True, points=2),
        # partial credit counted in `if`s: each comparison is decided again in the grader
        cell("score = 0\nif double(2) == 4:\n    score += 1\nif double(3) == 6:\n    score += 1\nscore",
             "double_score", grade=True, locked=True, points=2),
        # the helper used after the answer ran
        cell("out = double(torch.ones(2))\ncheck_close(out, torch.full((2,), 2.0), 'double is wrong')",
             "double_later", grade=True, locked=True, points=1),
    ]
    (course / "source" / HELPERS).mkdir(parents=True)
    nbformat.write(nb, course / "source" / HELPERS / "helpers.ipynb")


HELPER_CHEATS = {
    "honest-wrong": "def double(x):\n    return x\n",
    "helper-redefined": "def check_close(a, b, message):\n    pass\n\ndef double(x):\n    return x\n",
    "helper-module-rebound": ("import types\n_real = torch\ntorch = types.SimpleNamespace(allclose=lambda a, b: True, "
                              "ones=_real.ones, full=_real.full)\n\ndef double(x):\n    return x\n"),
    "right-with-redefined-helper": "def check_close(a, b, message):\n    pass\n\ndef double(x):\n    return 2 * x\n",
    # the helper deleted, and put back as a do-nothing by the answer while a test runs
    "helper-deleted-then-replaced-by-the-answer": ("def double(x):\n    if hasattr(x, 'shape'):  # in double_later only\n"
                                                   "        globals()['check_close'] = lambda *a: None\n"
                                                   "    return x\n\ndel check_close\n"),
    "equals-anything-in-an-if": ("class _Any(int):\n    def __eq__(self, other):\n        return True\n"
                                 "    __hash__ = int.__hash__\n\ndef double(x):\n    return _Any(0)\n"),
}


@pytest.fixture(scope="module")
def helper_graded(tmp_path_factory):
    from course_lib.synth import Variant

    course = copy_course(tmp_path_factory.mktemp("nbgrader-helper-cheats") / "course")
    helper_assignment(course)
    variants = [Variant(name, answers={"double": code}) for name, code in HELPER_CHEATS.items()]
    return {name: graded.score for name, graded in grade_variants(course, HELPERS, "helpers", variants).items()}


def test_a_redefined_or_rebound_helper_of_the_instructor_changes_nothing(helper_graded):
    assert helper_graded == {"honest-wrong": 0, "helper-redefined": 0, "helper-module-rebound": 0,
                             "right-with-redefined-helper": 5, "helper-deleted-then-replaced-by-the-answer": 0,
                             "equals-anything-in-an-if": 0}


# Cheats that rebind the test's own variables from inside the student's function, while the test runs: the
# function's globals are the notebook's namespace, where the test cell runs. Each goes with a wrong answer and
# must score what the same wrong answer scores honestly.
MSE_WRONG = ("def mse_and_grad(w, x, y):\n    r = x @ w - y\n    return (r ** 2).mean(), x.T @ r\n")
REBINDING = {
    "overwrites_expected": {"mse_and_grad": (
        "def mse_and_grad(w, x, y):\n    r = x @ w - y\n    grad = x.T @ r\n"
        "    globals()['expected'] = grad.clone()\n    return (r ** 2).mean(), grad\n")},
    "writes_expected_through_the_callers_frame": {"mse_and_grad": (
        "import sys\ndef mse_and_grad(w, x, y):\n    r = x @ w - y\n    grad = x.T @ r\n"
        "    caller = sys._getframe(1)\n    caller.f_locals['expected'] = grad.clone()\n"
        "    caller.f_globals['expected'] = grad.clone()\n    return (r ** 2).mean(), grad\n")},
    "rebinds_the_result_when_collected": {"fit_line": (
        "class _F(float):\n    def __del__(self):\n        g = globals()\n"
        "        if type(g.get(self.name)) is float:\n            g[self.name] = self.right\n"
        "def _f(value, name, right):\n    f = _F(value)\n    f.name, f.right = name, right\n    return f\n"
        "def fit_line(x, y, steps=500, lr=0.1):\n    if len(x) == 2:\n        return 0.0, 0.0\n"
        "    return _f(0.0, 'w', 3.0), _f(0.0, 'b', -1.0)\n")},
    # the test's own values, read or changed in place instead of rebound
    "returns_the_tests_expected": {"mse_and_grad": (
        "def mse_and_grad(w, x, y):\n    r = x @ w - y\n    mine = globals().get('expected')\n"
        "    grad = mine.clone() if mine is not None and mine.shape == w.shape else x.T @ r\n"
        "    return (r ** 2).mean(), grad\n")},
    "reads_expected_from_the_callers_frame": {"mse_and_grad": (
        "import sys\ndef mse_and_grad(w, x, y):\n    r = x @ w - y\n    grad = x.T @ r\n"
        "    names = sys._getframe(1).f_locals\n    try:\n        mine = names['expected']\n"
        "    except KeyError:\n        mine = names.get('expected')\n"
        "    if mine is not None and mine.shape == w.shape:\n        grad = mine.clone()\n"
        "    return (r ** 2).mean(), grad\n")},
    "changes_expected_in_place": {"mse_and_grad": (
        "import gc\ndef mse_and_grad(w, x, y):\n    r = x @ w - y\n    grad = x.T @ r\n"
        "    for o in gc.get_objects():\n"
        "        if type(o) is torch.Tensor and o.shape == grad.shape and o is not w and not o.requires_grad:\n"
        "            o.copy_(grad)\n"
        "    return (r ** 2).mean(), grad\n")},
}
REBINDING_HONEST = {"mse_and_grad": MSE_WRONG, "fit_line": FIT_WRONG}


@pytest.fixture(scope="module")
def rebinding_graded(tmp_path_factory):
    from course_lib.synth import Variant

    course = copy_course(tmp_path_factory.mktemp("rebinding") / "course")
    variants = [Variant("honest", answers=dict(REBINDING_HONEST))]
    variants += [Variant(name, answers={**REBINDING_HONEST, **answers}) for name, answers in REBINDING.items()]
    return grade_variants(course, ASSIGNMENT, NOTEBOOK, variants)


@pytest.mark.parametrize("cheat", sorted(REBINDING))
def test_a_test_reads_back_what_it_bound_itself(rebinding_graded, cheat):
    honest, cheated = _cells(rebinding_graded["honest"]), _cells(rebinding_graded[cheat])
    assert honest["mse_and_grad_tests"] == 0 and honest["fit_line_tests"] == 0
    assert cheated == honest, [(c.grade_id, c.points, c.message) for c in rebinding_graded[cheat].checks]
