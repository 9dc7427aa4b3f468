"""A class of nbgrader-format submissions graded by ``nbgrader autograde`` and by ``course autograde``.

The notebooks come from the nbgrader package installed in this environment (its own test fixtures under
``nbgrader/tests/apps/files`` and ``nbgrader/tests/preprocessors/files``), read when the class is built and
never copied into this repository, plus constructed cases derived from them. :func:`build_course` writes one
course directory (config, ``source/``, ``submitted/``, ``autotests.yml``); :func:`grade_with` grades every
assignment of it with one tool; :func:`results` reads the gradebook back; :func:`compare` lists the grade cells
on which the two tools disagree.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

import bench_autograde as bench  # noqa: E402

CELL_TIMEOUT = 3
"""Seconds a cell may run, the same for both tools (``c.Execute.timeout``, ``c.Course.cell_timeout``)."""

IGNORED_WARNING = "parity-ignorable"
"""A warning text that ``c.IgnorePattern`` tells nbgrader to drop from stderr."""

CONFIG = f'''\
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "parity"
# as nbgrader's own tests of hidden tests and autotests configure it
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE"}}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.Execute.timeout = {CELL_TIMEOUT}
c.Course.cell_timeout = {CELL_TIMEOUT}
c.Course.notebook_timeout = 120
c.Course.device = "cpu"
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"UserWarning: {IGNORED_WARNING}"
'''


def nbgrader_files() -> tuple[Path, Path]:
    """``(tests/apps/files, tests/preprocessors/files)`` of the installed nbgrader."""
    import nbgrader

    tests = Path(os.path.dirname(nbgrader.__file__)) / "tests"
    return tests / "apps" / "files", tests / "preprocessors" / "files"


def load(name: str, where: str = "apps") -> dict:
    """A fixture notebook as plain JSON (no nbformat round trip, so nothing about it is normalised)."""
    apps, preprocessors = nbgrader_files()
    return json.loads(((apps if where == "apps" else preprocessors) / name).read_text(encoding="utf-8"))


# --- building notebooks ---------------------------------------------------------------------------

def _meta(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _cell(nb: dict, grade_id: str) -> dict:
    return next(c for c in nb["cells"] if _meta(c).get("grade_id") == grade_id)


def edit(nb: dict, **sources: str) -> dict:
    """A copy of ``nb`` with the cells of these grade ids holding these sources."""
    nb = copy.deepcopy(nb)
    for grade_id, text in sources.items():
        _cell(nb, grade_id)["source"] = text
    return nb


def drop(nb: dict, grade_id: str) -> dict:
    nb = copy.deepcopy(nb)
    nb["cells"].remove(_cell(nb, grade_id))
    return nb


def duplicate(nb: dict, grade_id: str, source: str) -> dict:
    """A copy of ``nb`` with a second cell of ``grade_id`` (holding ``source``) right after the first."""
    nb = copy.deepcopy(nb)
    first = _cell(nb, grade_id)
    twin = copy.deepcopy(first)
    twin["source"] = source
    nb["cells"].insert(nb["cells"].index(first) + 1, twin)
    return nb


def with_cell_ids(nb: dict, same: tuple[str, str] | None = None) -> dict:
    """nbformat 4.5 with a cell id on every cell; ``same``: two grade ids whose cells share one id."""
    nb = copy.deepcopy(nb)
    nb["nbformat_minor"] = 5
    for i, cell in enumerate(nb["cells"]):
        cell["id"] = f"cell-{i}"
    if same:
        _cell(nb, same[1])["id"] = _cell(nb, same[0])["id"]
    return nb


def retag(nb: dict, grade_id: str, **meta) -> dict:
    nb = copy.deepcopy(nb)
    _cell(nb, grade_id)["metadata"]["nbgrader"].update(meta)
    return nb


def schema_v1(nb: dict) -> dict:
    """The same notebook with nbgrader's schema-1 cell metadata (before ``cell_type`` was recorded)."""
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        meta = _meta(cell)
        if meta:
            meta.pop("cell_type", None)
            meta["schema_version"] = 1
    return nb


def kernelspec(nb: dict, name: str, language: str) -> dict:
    nb = copy.deepcopy(nb)
    nb["metadata"]["kernelspec"] = {"name": name, "display_name": name, "language": language}
    nb["metadata"]["language_info"] = {"name": language}
    return nb


def _code(source: str, **nbgrader) -> dict:
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}
    if nbgrader:
        cell["metadata"]["nbgrader"] = {"schema_version": 3, "cell_type": "code", "locked": False,
                                        "solution": False, "grade": False, **nbgrader}
    return cell


def _markdown(source: str, **nbgrader) -> dict:
    cell = {"cell_type": "markdown", "metadata": {}, "source": source}
    if nbgrader:
        cell["metadata"]["nbgrader"] = {"schema_version": 3, "cell_type": "markdown", "locked": False,
                                        "solution": False, "grade": False, **nbgrader}
    return cell


def _notebook(cells: list[dict]) -> dict:
    return {"cells": cells, "nbformat": 4, "nbformat_minor": 4,
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                         "language_info": {"name": "python"}}}


PARTIAL = "sum([add(1, 1) == 2, add(2, 3) == 5]) * 1.0 + (add(0, 0) or 0)"
"""The partial-credit test: its value (0, 1 or 2 with the builtin ``sum`` and an ``add`` that adds) is the
cell's score; an ``add(0, 0)`` that is not 0 moves it out of range."""


def partial_credit_source() -> dict:
    """A constructed nbgrader assignment: one answer, a partial-credit test, a plain test, a written answer."""
    return _notebook([
        _markdown("Write `add(x, y)`; then say in a sentence what it does."),
        _code("def add(x, y):\n    ### BEGIN SOLUTION\n    return x + y\n    ### END SOLUTION",
              grade_id="answer", solution=True),
        _code(PARTIAL, grade_id="partial", grade=True, points=2),
        _code("assert add(10, 5) == 15", grade_id="plain", grade=True, points=1),
        _markdown("### BEGIN SOLUTION\nIt adds.\n### END SOLUTION", grade_id="explain", solution=True, grade=True,
                  points=1),
    ])


def partial_credit_answer(body: str, explain: str = "It adds its arguments.") -> dict:
    """A student's copy of :func:`partial_credit_source` with this answer cell and written answer."""
    return edit(partial_credit_source(), answer=body, explain=explain)


def strip_solution_markers(nb: dict) -> dict:
    """``nb`` with ``### BEGIN/END SOLUTION`` lines removed (a student's copy of a source whose regions are empty)."""
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        lines = [ln for ln in text.split("\n") if ln.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
        cell["source"] = "\n".join(lines)
    return nb


# --- the class ------------------------------------------------------------------------------------

@dataclass
class Assignment:
    """Source notebooks and, per student, the notebooks they submitted."""

    notebooks: dict[str, dict]
    students: dict[str, dict[str, dict]]
    accept_failing_solution: bool = False
    """The source's own 'solution' fails its tests (nbgrader's fixtures do): the course must be told to grade."""
    nbgrader_alone: tuple[str, ...] = ()
    """Students nbgrader grades in a run of their own: their notebook stops nbgrader's whole batch."""


ON_EVERY_CELL = """\
a = 1
import sys, warnings
warnings.simplefilter("always")

def _on_cell(info):
    {action}

get_ipython().events.register("pre_run_cell", _on_cell)
"""
"""An answer that also writes to stderr from then on, in every cell (test cells included), as a chatty
library can; p1's tests call nothing of the student's, so a hook is how stderr reaches them."""


def p1_class() -> Assignment:
    """nbgrader's canonical fixture (``submitted-unchanged`` as the source, as nbgrader's own tests use it)."""
    changed = load("submitted-changed.ipynb")
    fixtures = {
        "unchanged": load("submitted-unchanged.ipynb"),
        "changed": changed,
        "cheat-attempt": load("submitted-cheat-attempt.ipynb"),
        "cheat-attempt-alternative": load("submitted-cheat-attempt-alternative.ipynb"),
        "locked-cell-changed": load("submitted-locked-cell-changed.ipynb"),
        "grade-cell-changed": load("submitted-grade-cell-changed.ipynb"),
        "answer-cell-type-changed": load("submitted-answer-cell-type-changed.ipynb", "preprocessors"),
        "grade-cell-type-changed": load("submitted-grade-cell-type-changed.ipynb", "preprocessors"),
    }
    constructed = {
        # an exception handler that prints nothing: the failing assert leaves no error output behind
        "custom-exc": edit(changed, set_a="a = 2\nget_ipython().set_custom_exc((BaseException,), "
                                          "lambda shell, etype, evalue, tb, tb_offset=None: None)"),
        "deleted-test-cell": drop(changed, "bar"),
        "manual-unanswered": edit(changed, baz="YOUR ANSWER HERE",
                                  quux="# YOUR CODE HERE\nraise NotImplementedError()"),
        "syntax-error": edit(changed, set_a="a = = 1"),
        "r-kernelspec": kernelspec(changed, "ir", "R"),
        "stdout-flood": edit(changed, set_a="a = 1\nprint('y' * 2_000_000)"),
        "stderr-in-test": edit(changed, set_a=ON_EVERY_CELL.format(action="print('debug', file=sys.stderr)")),
        "ignored-warning": edit(changed, set_a=ON_EVERY_CELL.format(
            action=f"warnings.warn('{IGNORED_WARNING}: a library warning')")),
        # an int that compares as an int, through an __eq__ of its own
        "custom-eq": edit(changed, set_a="class Exact(int):\n    def __eq__(self, other):\n"
                                         "        return int.__eq__(self, other)\n    __hash__ = int.__hash__\n\n"
                                         "a = Exact(1)"),
        "test-cell-to-solution": retag(changed, "bar", solution=True),
        "duplicate-cell-id": with_cell_ids(changed, same=("foo", "bar")),
        # nbgrader stops its whole batch on these two ("old version of the nbgrader metadata format"):
        "duplicate-grade-id": duplicate(changed, "bar", "assert True"),
        "old-metadata": schema_v1(changed),
    }
    return Assignment({"p1": load("submitted-unchanged.ipynb")},
                      {student: {"p1": nb} for student, nb in {**fixtures, **constructed}.items()},
                      nbgrader_alone=("duplicate-grade-id", "old-metadata"))


def partial_class() -> Assignment:
    """A constructed assignment whose test outputs its score, with answers that bend it."""
    answers = {
        "pc-solution": "def add(x, y):\n    return x + y",
        "pc-half": "def add(x, y):\n    return x + y if x == 1 else 0",
        # the partial-credit cell's value: above its 2 points, negative, a NumPy scalar (repr np.float64(1.5))
        "pc-above-max": "def add(x, y):\n    return x + y\n\nsum = lambda values: 5",
        "pc-negative": "def add(x, y):\n    return x + y\n\nsum = lambda values: -1",
        # the value itself out of range, with no cheat: 2 + 9, and 2 - 5
        "pc-value-above-max": "def add(x, y):\n    return x + y if x or y else 9",
        "pc-value-negative": "def add(x, y):\n    return x + y if x or y else -5",
        "pc-numpy-scalar": "import numpy\n\ndef add(x, y):\n    return x + y\n\nsum = lambda values: numpy.float64(1.5)",
        "pc-stderr": "import sys\n\ndef add(x, y):\n    print('adding', x, y, file=sys.stderr)\n    return x + y",
        "pc-ignored-warning": "import warnings\nwarnings.simplefilter('always')\n\ndef add(x, y):\n"
                              f"    warnings.warn('{IGNORED_WARNING}: adding')\n    return x + y",
        "pc-other-warning": "import warnings\nwarnings.simplefilter('always')\n\ndef add(x, y):\n"
                            "    warnings.warn('adding')\n    return x + y",
        "pc-stdout-flood": "def add(x, y):\n    print('x' * 1_500_000)\n    return x + y",
        "pc-timeout": "import time\n\ndef add(x, y):\n    time.sleep(60)\n    return x + y",
    }
    students = {s: {"pc": partial_credit_answer(body)} for s, body in answers.items()}
    students["pc-blank"] = {"pc": partial_credit_answer("def add(x, y):\n    # YOUR CODE HERE\n    pass",
                                                        explain="YOUR ANSWER HERE")}
    return Assignment({"pc": partial_credit_source()}, students)


AUTOTESTS = ("simple", "hashed", "multi", "hidden")


def autotest_class() -> Assignment:
    """nbgrader's ``### AUTOTEST`` fixtures (``autotests.yml`` in the course root, as nbgrader's tests put it)."""
    def submitted(kind: str, hidden: str) -> dict:
        return {f"autotest-{name}": load(f"autotest-{name}-{hidden if name == 'hidden' else kind}.ipynb")
                for name in AUTOTESTS}

    return Assignment({f"autotest-{name}": load(f"autotest-{name}.ipynb") for name in AUTOTESTS},
                      {"at-unchanged": submitted("unchanged", "unchanged"),
                       "at-changed": submitted("changed", "changed-wrong"),
                       "at-changed-right": submitted("changed", "changed-right")})


def fixtures_class() -> Assignment:
    """nbgrader's hidden-tests, timeout and environment-variable fixtures, whose own 'solutions' fail their tests.

    ``test-hidden-tests``' solution passes the visible tests and fails the hidden ones; ``timeout`` sleeps 5 s
    under a 3 s cell timeout; ``validating-environment-variable`` fails when ``NBGRADER_EXECUTION`` is set.
    """
    squares, timeout, env = load("test-hidden-tests.ipynb"), load("timeout.ipynb"), load("validating-environment-variable.ipynb")
    right = load("test.ipynb")
    correct = edit(squares, squares=_cell(right, "squares")["source"],
                   sum_of_squares=_cell(right, "sum_of_squares")["source"])
    quick = edit(timeout, squares="def foo():\n    return True")
    return Assignment({"squares": squares, "timeout": timeout, "env": env},
                      {"fixtures-as-released": {"squares": strip_solution_markers(squares), "timeout": timeout,
                                                "env": env},
                       "fixtures-right": {"squares": correct, "timeout": quick, "env": env}},
                      accept_failing_solution=True)


def build_class() -> dict[str, Assignment]:
    """Assignment id -> its notebooks and submissions; each assignment is graded by its own batch."""
    return {"p1": p1_class(), "partial": partial_class(), "autotest": autotest_class(),
            "fixtures": fixtures_class()}


def build_course(root: Path, assignments: dict[str, Assignment]) -> Path:
    """A fresh course directory at ``root`` holding the class (nothing generated yet)."""
    apps, _ = nbgrader_files()
    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(CONFIG)
    shutil.copyfile(apps / "autotests.yml", root / "autotests.yml")
    for aid, assignment in assignments.items():
        for name, nb in assignment.notebooks.items():
            _write(root / "source" / aid / f"{name}.ipynb", nb)
        for student, notebooks in assignment.students.items():
            for name, nb in notebooks.items():
                _write(root / "submitted" / student / aid / f"{name}.ipynb", nb)
    return root


def _write(path: Path, nb: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")


# --- grading and reading back ---------------------------------------------------------------------

def _run_nbgrader(course: Path, aid: str, students: int, alone: tuple[str, ...]) -> None:
    env = bench._tools_env()
    subprocess.run(["nbgrader", "generate_assignment", aid, "--force"], cwd=course, env=env, check=True,
                   capture_output=True)
    runs = [("", ["--CourseDirectory.student_id_exclude=" + ",".join(alone)] if alone else [])]
    runs += [(f"-{student}", ["--student", student]) for student in alone]
    errors = []
    for suffix, options in runs:
        try:
            bench.timed("nbgrader autograde", ["nbgrader", "autograde", aid, *options], course, students,
                        log=course / f"nbgrader-autograde-{aid}{suffix}.log")
        except SystemExit as exc:
            errors.append(str(exc))
    if errors:
        raise SystemExit("\n".join(errors))


def _run_course(course: Path, aid: str, students: int, workers: int, accept_failing_solution: bool,
                extra: tuple[str, ...] = ()) -> None:
    course_cmd = [str(Path(sys.executable).parent / "course"), "--course", str(course)]
    subprocess.run([*course_cmd, "release", aid], cwd=course, env=bench._tools_env(), check=True,
                   capture_output=True)
    argv = [*course_cmd, "autograde", aid, "--device", "cpu", "--quiet", "--workers", str(workers)]
    if accept_failing_solution:
        argv.append("--accept-failing-solution")
    argv += [a for a in extra if a not in argv]
    bench.timed("course autograde", argv, course, students, workers, log=course / f"course-autograde-{aid}.log")


def grade_with(tool: str, course: Path, assignments: dict[str, Assignment], workers: int = 2,
               course_args: tuple[str, ...] = ()) -> dict[str, str]:
    """Grade every assignment with ``tool`` (``nbgrader`` or ``course``); returns aid -> why its batch failed.

    The runs are those of ``benchmarks/bench_autograde.py`` (its ``timed`` runner and tool environment), one
    batch per assignment. A batch that exits non-zero is not an error here: nbgrader does so when a
    student's notebook fails, the course when it refuses an assignment; whatever reached the gradebook
    is compared. ``course_args``: more options for every ``course autograde`` (a diagnostic run).
    """
    failed = {}
    for aid, assignment in assignments.items():
        try:
            if tool == "nbgrader":
                _run_nbgrader(course, aid, len(assignment.students), assignment.nbgrader_alone)
            else:
                _run_course(course, aid, len(assignment.students), workers, assignment.accept_failing_solution,
                            course_args)
        except SystemExit as exc:
            failed[aid] = str(exc)
        except subprocess.CalledProcessError as exc:
            failed[aid] = f"{' '.join(map(str, exc.cmd))} failed:\n{(exc.stderr or b'').decode()[-3000:]}"
    return failed


Result = tuple  # (auto_score or None, needs_manual_grade)


def results(course: Path) -> dict[tuple[str, str, str, str], Result]:
    """``(aid, student, notebook, grade cell) -> (auto_score, needs_manual_grade)`` from a gradebook."""
    from nbgrader.api import Gradebook

    out = {}
    db = course / "gradebook.db"
    if not db.exists():
        return out
    with Gradebook(f"sqlite:///{db}") as gb:
        for assignment in gb.assignments:
            for submission in assignment.submissions:
                for nb in submission.notebooks:
                    for grade in nb.grades:
                        out[(assignment.name, submission.student_id, nb.name, grade.name)] = \
                            (grade.auto_score, bool(grade.needs_manual_grade))
    return out


def expected_cells(assignments: dict[str, Assignment]) -> set[tuple[str, str, str, str]]:
    """Every (aid, student, notebook, grade cell) the class should have a grade for."""
    keys = set()
    for aid, assignment in assignments.items():
        for name, nb in assignment.notebooks.items():
            ids = [_meta(c)["grade_id"] for c in nb["cells"] if _meta(c).get("grade")]
            for student in assignment.students:
                keys.update((aid, student, name, grade_id) for grade_id in ids)
    return keys


MISSING = ("missing", None)
"""The result of a cell a gradebook holds no grade for (the batch refused or stopped)."""


def same(a: Result, b: Result) -> bool:
    if a[1] != b[1]:
        return False
    if not isinstance(a[0], float) or not isinstance(b[0], float):
        return a[0] == b[0]  # None (no score) or "missing" (no grade at all)
    return abs(a[0] - b[0]) <= 1e-9


def compare(nbgrader: dict, course: dict, keys: set) -> list[tuple]:
    """``(key, nbgrader result, course result)`` for every cell where they differ, in order."""
    return [(key, nbgrader.get(key, MISSING), course.get(key, MISSING))
            for key in sorted(keys | set(nbgrader) | set(course))
            if not same(nbgrader.get(key, MISSING), course.get(key, MISSING))]


def table(rows: list[tuple], notes: dict | None = None) -> str:
    """The disagreements as a fixed-width table; ``notes``: key -> a short remark (e.g. a stricter case)."""
    def show(result):
        score, manual = result
        return f"{'-' if score is None else f'{score:g}':>7} {'manual' if manual else '':<6}" \
            if score != "missing" else f"{'missing':>7} {'':<6}"

    lines = [f"{'assignment':<10} {'student':<26} {'notebook':<16} {'cell':<30} "
             f"{'nbgrader':>14} {'course':>14}  note"]
    for key, theirs, ours in rows:
        aid, student, nb, cell = key
        note = (notes or {}).get((aid, student, cell), "")
        lines.append(f"{aid:<10} {student:<26} {nb:<16} {cell:<30} {show(theirs):>14} {show(ours):>14}  {note}")
    return "\n".join(lines)


def grade_both(base: Path, workers: int = 2, regrade: bool = True, course_args: tuple[str, ...] = ()) -> dict:
    """Build the class twice under ``base`` and grade one copy with each tool (``regrade=False``: read
    the gradebooks a previous run left there)."""
    assignments = build_class()
    courses = {tool: base / tool for tool in ("nbgrader", "course")}
    failed = {tool: {} for tool in courses}
    if regrade:
        for tool, root in courses.items():
            shutil.rmtree(root, ignore_errors=True)
            build_course(root, assignments)
        # the two tools grade at the same time, each its own copy (each batch alone leaves the CPUs idle
        # much of the time: kernel start-up, cell timeouts)
        with ThreadPoolExecutor(2) as pool:
            futures = {tool: pool.submit(grade_with, tool, courses[tool], assignments, workers, course_args)
                       for tool in courses}
            failed = {tool: future.result() for tool, future in futures.items()}
    return {"assignments": assignments, "courses": courses, "failed": failed,
            "nbgrader": results(courses["nbgrader"]), "course": results(courses["course"]),
            "keys": expected_cells(assignments)}
