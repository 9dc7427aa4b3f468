"""What a test cell shows, as nbgrader's autograde leaves it for its grading rule, graded by both tools.

nbgrader reads a test cell's outputs after ``Execute``, ``IgnorePattern`` and ``LimitOutput``
(``nbgrader/converters/autograde.py``, ``Autograde.autograde_preprocessors``): a ``clear_output(wait=True)``
of the student's code clears only when the cell shows something more, stream output past
``c.LimitOutput.max_lines`` lines is dropped (stderr included), and a written answer whose ``locked`` flag or
points the student edited is still "as released" (``OverwriteCells`` restores both before the checksum).
Each submission here is graded by ``nbgrader autograde`` and by ``course autograde``; every cell must agree.
"""

from __future__ import annotations

import copy
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import parity_cases as cases  # noqa: E402

pytestmark = pytest.mark.slow

AID = "pc"
ADDS = "def add(x, y):\n    return x + y"


def _answer(body: str, explain: str = "It adds its arguments.") -> dict:
    return {AID: cases.partial_credit_answer(body, explain)}


def _written_answer_edited(**meta) -> dict:
    nb = cases.partial_credit_answer(ADDS, explain="YOUR ANSWER HERE")
    nb = copy.deepcopy(nb)
    cases._cell(nb, "explain")["metadata"]["nbgrader"].update(meta)
    return {AID: nb}


STUDENTS = {
    # stderr, then a clear that waits for more output; an assert-only test shows nothing more: the stderr stays
    "stderr-then-clear-wait": _answer("import sys\nfrom IPython.display import clear_output\n\ndef add(x, y):\n"
                                      "    print('adding', file=sys.stderr)\n    clear_output(wait=True)\n"
                                      "    return x + y"),
    # stderr after 1000 lines of stdout: LimitOutput drops it, the cells keep their points
    "stderr-after-1000-lines": _answer("import sys\n\ndef add(x, y):\n    print('step\\n' * 998 + 'step')\n"
                                       "    sys.stdout.flush()\n    print('adding', file=sys.stderr)\n"
                                       "    return x + y"),
    # stderr after one line of more than the course's output cap (max_output_kb): nbgrader still reads it
    "stderr-after-a-flood": _answer("import sys\n\ndef add(x, y):\n    print('x' * 1_100_000)\n"
                                    "    sys.stdout.flush()\n    print('adding', file=sys.stderr)\n"
                                    "    return x + y"),
    # 1000 lines an Output widget captures are not the cell's outputs: LimitOutput keeps the stderr after them
    "stderr-after-1000-lines-in-an-output-widget": _answer(
        "import sys\nimport ipywidgets\n\nOUT = ipywidgets.Output()\n\ndef add(x, y):\n    with OUT:\n"
        "        print('step\\n' * 998 + 'step')\n        sys.stdout.flush()\n"
        "    print('adding', file=sys.stderr)\n    return x + y"),
    # past the byte cap, a stderr, a clear, another stderr: the cell shows the second one
    "stderr-clear-stderr-after-a-flood": _answer(
        "import sys\nfrom IPython.display import clear_output\n\ndef add(x, y):\n    print('x' * 1_100_000)\n"
        "    sys.stdout.flush()\n    print('first', file=sys.stderr)\n    sys.stderr.flush()\n"
        "    clear_output()\n    print('second', file=sys.stderr)\n    return x + y"),
    "written-answer-points-edited": _written_answer_edited(points=5),
    "written-answer-locked": _written_answer_edited(locked=True),
    "helper-module-beside-notebook": _answer("from helper import add"),
    "solution": _answer(ADDS),
}
EXTRA_FILES = {"helper-module-beside-notebook": {"helper.py": ADDS + "\n"}}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("nbgrader-output-rules")
    assignments = {AID: cases.Assignment({AID: cases.partial_credit_source()}, STUDENTS)}
    for tool in ("nbgrader", "course"):
        root = cases.build_course(base / tool, assignments)
        for student, files in EXTRA_FILES.items():
            for name, text in files.items():
                (root / "submitted" / student / AID / name).write_text(text)
    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(cases.grade_with, tool, base / tool, assignments, 1) for tool in ("nbgrader", "course")]
        for run in runs:
            run.result()
    return cases.results(base / "nbgrader"), cases.results(base / "course")


def _cells(results, student):
    return {key[3]: value for key, value in results.items() if key[1] == student}


@pytest.mark.parametrize("student", [
    "stderr-then-clear-wait", "stderr-after-1000-lines", "stderr-after-a-flood",
    "stderr-after-1000-lines-in-an-output-widget", "stderr-clear-stderr-after-a-flood", "written-answer-points-edited",
    "written-answer-locked", "solution",
    "helper-module-beside-notebook",
])
def test_cells_score_as_nbgrader_scores_them(graded, student):
    theirs, ours = (_cells(results, student) for results in graded)
    assert len(theirs) == 3
    assert ours == theirs


def test_the_cases_are_what_they_claim(graded):
    """nbgrader itself: stderr that stays costs the cell, stderr it drops does not."""
    theirs, _ = graded
    assert theirs[("pc", "stderr-then-clear-wait", "pc", "plain")] == (0.0, False)
    assert theirs[("pc", "stderr-then-clear-wait", "pc", "partial")] == (2.0, False)  # its value clears first
    assert theirs[("pc", "stderr-after-1000-lines", "pc", "plain")] == (1.0, False)
    assert theirs[("pc", "stderr-after-a-flood", "pc", "plain")] == (0.0, False)
    assert theirs[("pc", "written-answer-points-edited", "pc", "explain")] == (0.0, False)
    assert theirs[("pc", "stderr-after-1000-lines-in-an-output-widget", "pc", "plain")] == (0.0, False)
    assert theirs[("pc", "stderr-clear-stderr-after-a-flood", "pc", "plain")] == (0.0, False)
