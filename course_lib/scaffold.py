"""Scaffold: ``course new AID`` writes a small, complete assignment to start from.

It writes the source notebook (``source/AID/<notebook>.ipynb``) and its known
submissions (``graders/AID/variants.py``), plus, in the default format, the
notebook's grader module of hidden checks (``graders/AID/<notebook>.py``). With
``nbgrader_format`` the hidden tests go into the notebook's test cell instead
(``### BEGIN HIDDEN TESTS``) and there is no grader module, as in ``06-autograd``.

The notebook has the read-only cells every assignment needs (instructions, the
``parameters`` cell, imports), one autograded question (a solution cell and its
visible tests) and one written answer graded by hand. Both formats release
(``course release AID``) and verify (``course verify AID``) as they are: the
solution earns full marks, the blank and the do-nothing stubs nothing, each
alternative keeps full marks and each mutant loses what it names.

Assignments need no registration: every folder of ``source/`` is one (nbgrader's
``generate_assignment`` adds it to the gradebook at release). Limits and a due
date are optional, in ``c.Course.assignments`` of ``nbgrader_config.py``.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .config import CourseConfig
from .errors import AssignmentError, from_os_error

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
"""An assignment id: letters, digits, ``-`` and ``_``, starting with a letter or digit, 64 characters at most
(it names folders, nbgrader's assignment and Moodle's grade item)."""

QUESTION = "scale_to_unit"  # the solution cell's grade id (the function students write)
TESTS = "scale_to_unit_tests"  # its grade cell: visible tests (and, in nbgrader's format, the hidden tests)
WRITTEN = "explain_scaling"  # the written answer graded by hand
AUTO_POINTS, WRITTEN_POINTS = 3, 2


@dataclass(frozen=True)
class ScaffoldReport:
    """What ``course new`` made.

    Attributes:
        assignment: The new assignment id.
        notebook: The notebook's name (its file name without ``.ipynb``).
        nbgrader_format: Hidden tests in the notebook's test cell rather than a grader module.
        created: ``(path relative to the course, what it is)`` for every file written.
        next_commands: The commands to run next, in order.
    """

    assignment: str
    notebook: str
    nbgrader_format: bool
    created: tuple
    next_commands: tuple


def new_assignment(*, config: CourseConfig, assignment_id: str, nbgrader_format: bool = False,
                   notebook: str | None = None) -> ScaffoldReport:
    """Write a new assignment ``assignment_id`` into the course (see the module docstring).

    Args:
        config: The course.
        assignment_id: The new id (see :data:`ID_PATTERN`); no folder of that name may exist in
            ``source/``, ``release/`` or ``graders/``.
        nbgrader_format: Hidden tests in the notebook (nbgrader's own format) instead of a grader module.
        notebook: The notebook's name (default: the id without its leading number, e.g. ``07-attention``
            -> ``attention``).

    Raises:
        AssignmentError: A bad or existing id, or a bad notebook name; nothing is written then.
    """
    check_new_id(config, assignment_id)
    name = notebook or notebook_name(assignment_id)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name):
        raise AssignmentError(f"notebook name {name!r} is not a Python identifier",
                              hint="pass --notebook NAME with letters, digits and _ (it names the grader module)")
    files = {
        Path("source", assignment_id, f"{name}.ipynb"):
            (nbformat.writes(build_notebook(assignment_id, nbgrader_format)) + "\n",
             f"the notebook: read-only instructions, the parameters cell, question 1 (autograded, {AUTO_POINTS} "
             f"points, with visible tests{' and hidden tests' if nbgrader_format else ''}), question 2 "
             f"(a written answer graded by hand, {WRITTEN_POINTS} points)"),
    }
    if not nbgrader_format:
        files[Path("graders", assignment_id, f"{name}.py")] = (
            _fill(GRADER_MODULE, assignment_id), "its hidden checks: the probe and the checks (never released)")
    files[Path("graders", assignment_id, "variants.py")] = (
        _fill(NBGRADER_VARIANTS if nbgrader_format else VARIANTS, assignment_id),
        "known submissions that prove the checks: the solution, 2 alternatives, 2 mutants, 1 error")
    _write(config.root, files)
    return ScaffoldReport(
        assignment=assignment_id, notebook=name, nbgrader_format=nbgrader_format,
        created=tuple((str(path), what) for path, (_, what) in files.items()),
        next_commands=(f"course release {assignment_id}", f"course verify {assignment_id}"))


def check_new_id(config: CourseConfig, assignment_id: str) -> None:
    """Raise :class:`AssignmentError` unless ``assignment_id`` is well formed and not taken in this course."""
    if not ID_PATTERN.fullmatch(assignment_id or ""):
        raise AssignmentError(f"{assignment_id!r} is not a usable assignment id",
                              hint="use letters, digits, - and _, starting with a letter or digit, at most 64 "
                                   "characters, e.g. 07-attention")
    taken = [part for part in ("source", "release", "graders") if config.path(part, assignment_id).exists()]
    if taken:
        raise AssignmentError(f"assignment {assignment_id} exists already ({', '.join(f'{p}/{assignment_id}' for p in taken)})",
                              hint="choose another id; `course new` never changes an existing assignment")


def notebook_name(assignment_id: str) -> str:
    """The default notebook name of an id: without its leading number, ``-`` as ``_`` (``07-my-lab`` -> ``my_lab``)."""
    name = re.sub(r"^[0-9]+[-_]*", "", assignment_id).replace("-", "_").lower()
    return name if name and re.fullmatch(r"[a-z_][a-z0-9_]*", name) else "assignment"


def _write(root: Path, files: dict) -> None:
    """Write every file, or (on a full disk, a read-only folder) none: the folders made are removed again."""
    made = []
    try:
        for path, (text, _) in files.items():
            for folder in reversed((root / path).parents):
                if folder != root and root in folder.parents and not folder.exists():
                    folder.mkdir()
                    made.append(folder)
            (root / path).write_text(text)
    except OSError as exc:
        for folder in reversed(made):
            shutil.rmtree(folder, ignore_errors=True)
        raise from_os_error(exc) from exc


def _fill(template: str, assignment_id: str) -> str:
    return template.replace("__AID__", assignment_id)


# -- the notebook ----------------------------------------------------------------------------------


def _cell(kind: str, source: str, grade_id: str, *, grade: bool = False, solution: bool = False,
          locked: bool = False, points: float | None = None, tags: tuple = ()):
    """A cell with nbgrader's metadata (what the *Create Assignment* toolbar writes)."""
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    cell = make(source.strip("\n"))
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if points is not None:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def build_notebook(assignment_id: str, nbgrader_format: bool = False):
    """The source notebook: each kind of nbgrader cell once (read-only, solution, autograded tests, written answer)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    graded_by = (INTRO_NBGRADER if nbgrader_format else INTRO_GRADER).strip("\n")
    tests = VISIBLE_TESTS + (HIDDEN_TESTS if nbgrader_format else "")
    nb.cells = [
        _cell("markdown", INTRO.replace("__AID__", assignment_id).replace("__GRADED_BY__", graded_by), "intro",
              locked=True),
        _cell("code", PARAMETERS, "parameters", locked=True, tags=("parameters",)),
        _cell("code", IMPORTS, "imports", locked=True),
        _cell("markdown", QUESTION_1, "scale_to_unit_prompt", locked=True),
        _cell("code", SOLUTION, QUESTION, solution=True),
        _cell("code", tests, TESTS, grade=True, locked=True, points=AUTO_POINTS),
        _cell("markdown", QUESTION_2, "explain_scaling_prompt", locked=True),
        _cell("markdown", MODEL_ANSWER, WRITTEN, grade=True, solution=True, points=WRITTEN_POINTS),
        _cell("markdown", OUTRO, "outro", locked=True),
    ]
    return nb


INTRO = """
# Assignment __AID__ — Scaling tensors

Replace this text (and the questions below) with your own assignment; keep the kinds of cells.

**How this notebook is graded.** Fill in every cell that says `# YOUR CODE HERE` (delete the
`raise NotImplementedError()` line) and write your answers where it says `YOUR ANSWER HERE`. Keep the function
names and arguments exactly as given. __GRADED_BY__ Run the whole notebook
(*Kernel → Restart & Run All*) before you upload it.
"""
INTRO_GRADER = """
The cells marked *visible tests* let you check your work; the grader calls your functions again on inputs you do
not see. Written answers are graded by hand.
"""
INTRO_NBGRADER = """
Each test cell that runs without an error earns its points; the grader runs more (hidden) tests in the same
cells. Written answers are graded by hand.
"""
PARAMETERS = """
# Parameters: the grader replaces these values when it runs your notebook. Keep this cell as it is.
DEVICE = "cpu"
SEED = 0
"""
IMPORTS = """
import torch

torch.manual_seed(SEED)
print("PyTorch", torch.__version__, "on", DEVICE)
"""
QUESTION_1 = f"""
## Question 1 — Scaling to [0, 1] ({AUTO_POINTS} points)

Write `scale_to_unit(x)` that rescales a float tensor linearly so that its smallest value becomes 0 and its largest
becomes 1: `(x - min) / (max - min)`, over all of its values. Return a new tensor of the same shape, dtype and
device: **do not change `x`**. (You may assume that not all values of `x` are equal.)
"""
SOLUTION = """
def scale_to_unit(x):
    \"\"\"Return (x - x.min()) / (x.max() - x.min()) as a new tensor; x is left unchanged.\"\"\"
    ### BEGIN SOLUTION
    low, high = x.min(), x.max()
    return (x - low) / (high - low)
    ### END SOLUTION
"""
VISIBLE_TESTS = """
# Visible tests for scale_to_unit
x = torch.tensor([[1.0, 3.0], [5.0, 2.0]])
out = scale_to_unit(x)
assert out.shape == (2, 2), f"the result should have the input's shape (2, 2), got {tuple(out.shape)}"
assert torch.allclose(out, torch.tensor([[0.0, 0.5], [1.0, 0.25]])), f"expected [[0, 0.5], [1, 0.25]], got {out}"
assert torch.equal(x, torch.tensor([[1.0, 3.0], [5.0, 2.0]])), "scale_to_unit changed its input"
print("scale_to_unit passes the visible tests")
"""
HIDDEN_TESTS = """
### BEGIN HIDDEN TESTS
g = torch.Generator().manual_seed(701)
x = torch.randn(4, 6, generator=g) * 3 + 1
before = x.clone()
out = scale_to_unit(x)
assert torch.allclose(out, (before - before.min()) / (before.max() - before.min()), atol=1e-6), \\
    "wrong values: subtract the minimum of all values, then divide by (maximum - minimum)"
assert torch.equal(x, before), "scale_to_unit changed its input tensor: compute a new one"
### END HIDDEN TESTS
"""
QUESTION_2 = f"""
## Question 2 — Why subtract the minimum? ({WRITTEN_POINTS} points, graded by hand)

Explain in two or three sentences why `x / x.max()` does not scale every tensor to [0, 1], and what
`scale_to_unit` does with a tensor whose values are all equal.

**Rubric ({WRITTEN_POINTS} points)**

* **1 point** — `x / x.max()` maps the largest value to 1 but the smallest only to `min / max`, which is 0 only
  when the minimum is 0 (and negative values stay negative).
* **1 point** — all values equal: `max - min` is 0, so every value becomes `0 / 0`, NaN.
"""
MODEL_ANSWER = """
**Model answer.** Dividing by the maximum maps the largest value to 1, but the smallest to `min / max`, which is 0
only when the minimum is 0; with negative values the result even goes below 0. Subtracting the minimum first moves
the smallest value to 0. When all values are equal, `max - min` is 0 and every value becomes `0 / 0`, which is NaN.
"""
OUTRO = """
---
That's all. Before you upload: **Kernel → Restart & Run All**, check that every visible test prints its message,
save, and upload this `.ipynb` file.
"""


# -- the graders -----------------------------------------------------------------------------------

GRADER_MODULE = '''"""Hidden checks for __AID__ (never released, never shown in feedback).

Made by `course new __AID__`: replace the probe and the checks with your own question's. The guide is the
README's "Writing a new assignment"; the names used here are documented in course_lib/judge/spec.py
(Question, Check, Property), course_lib/judge/compare.py (Tensor and the other comparators) and
course_lib/judge/kernel_side.py (Student, the probe's view of the notebook).

The probe runs in the student's kernel right after the question's test cell. It only calls the student's
function on inputs the student never saw and records what came back, as data; it decides nothing. Every
verdict is computed here, in the grader process, by the checks' comparators, against what the same probe
recorded on the solution notebook: nothing the student's code redefines (torch.equal, __eq__) is involved.
"""

from course_lib.judge import Check, Property, Question, Tensor

CLOSE = Tensor(rtol=1e-5, atol=1e-6)  # float32 arithmetic: well above rounding, far below a mistake's error
EXACT = Tensor(rtol=0, atol=0)


def probe_scale_to_unit(student):
    import torch

    device = student.ns.get("DEVICE", "cpu")  # the notebook's injected DEVICE
    x = (torch.randn(4, 6, generator=torch.Generator().manual_seed(701)) * 3 + 1).to(device)
    student.call("scaled", "scale_to_unit", x)  # the student's scale_to_unit(x), recorded as "scaled"
    student.record("input_after", x)  # x as the call left it: compared with the solution's untouched x


QUESTIONS = [
    Question("scale_to_unit_tests", probe_scale_to_unit, [
        Check("scale_values", 2, CLOSE, key="scaled",
              describe="scale_to_unit maps the smallest value to 0 and the largest to 1",
              hint="subtract the minimum of all values first, then divide by (maximum - minimum)"),
        Property("scale_leaves_input", 1, EXACT, key="input_after", requires=("scale_values",),
                 describe="scale_to_unit leaves its input unchanged",
                 hint="in-place operations (sub_, div_, -=) change the caller's tensor; compute a new one"),
    ]),
]
'''

_VARIANTS_HEAD = '''"""Known submissions of __AID__: they prove the checks (`course verify __AID__`) and make the demo's class.

Keys of ``answers`` are solution cells' grade ids, values the whole cell as a student would write it; cells not
named keep the solution. An alternative (a correct answer written differently) must keep full marks; a mutant
(a plausible mistake, named after the misconception) must fail exactly the checks in ``fails``; an error
variant raises in a cell and loses only what needs that cell. The blank (the released notebook as it is) is
added by itself and must score 0. See Variant in course_lib/synth.py.__FORMAT_NOTE__
"""

from course_lib.synth import Variant

'''

_VARIANT_LIST = '''
VARIANTS = [
    Variant("solution", kind="solution"),
    # -- alternative correct solutions: full marks -----------------------------------------------
    Variant("alternative_aminmax", kind="alternative", answers={
        "scale_to_unit": (
            "def scale_to_unit(x):\\n"
            "    low, high = torch.aminmax(x)\\n"
            "    return torch.div(torch.sub(x, low), high - low)\\n")}),
    Variant("alternative_python_floats", kind="alternative", answers={
        "scale_to_unit": (
            "def scale_to_unit(x):\\n"
            "    low, high = x.min().item(), x.max().item()\\n"
            "    return (x - low) / (high - low)\\n")}),
    # -- misconceptions: each fails exactly the checks it names ----------------------------------
    Variant("scale_divides_by_max", fails=(__FAILS_VALUES__), answers={
        "scale_to_unit": (
            "def scale_to_unit(x):\\n"
            "    return x / x.max()\\n")}),
    Variant("scale_in_place", fails=(__FAILS_INPUT__), answers={
        "scale_to_unit": (
            "def scale_to_unit(x):\\n"
            "    x -= x.min()\\n"
            "    x /= x.max()\\n"
            "    return x\\n")}),
    # -- a run that goes wrong part-way: only the affected question is lost ----------------------
    Variant("error_in_answer_cell", kind="error", fails=(__FAILS_VALUES__), answers={
        "scale_to_unit": (
            "data = load_my_data()  # a helper that exists only on the student's laptop\\n\\n"
            "def scale_to_unit(x):\\n"
            "    return (x - x.min()) / (x.max() - x.min())\\n")}),
]
'''

VARIANTS = _VARIANTS_HEAD.replace("__FORMAT_NOTE__", "") + _VARIANT_LIST.replace(
    "__FAILS_VALUES__", '"scale_values", "scale_leaves_input"').replace("__FAILS_INPUT__", '"scale_leaves_input",')
"""``variants.py`` for the grader-module format: a wrong result loses the property too (it requires the values)."""

NBGRADER_VARIANTS = (_VARIANTS_HEAD.replace(
    "__FORMAT_NOTE__", "\n\nIn nbgrader's format (no grader module) each test cell is one check, named after its grade id.")
    + _VARIANT_LIST.replace("__FAILS_VALUES__", "TESTS,").replace("__FAILS_INPUT__", "TESTS,")
).replace("from course_lib.synth import Variant\n", f'from course_lib.synth import Variant\n\nTESTS = "{TESTS}"\n')
"""``variants.py`` for nbgrader's format: the test cell is the only check, every mistake fails it."""
