"""Edited notebooks and kernel-level behaviour, graded by ``nbgrader autograde`` and by ``course autograde``.

One constructed assignment (an answer, two tests, a read-only helper and a test that uses it, a written answer,
a code answer graded by hand, a task cell, a raw cell) and submissions that edit its structure (cells renamed,
stripped of their metadata, moved, deleted, retyped, nbformat versions, attachments, checksums) or make its
kernel misbehave (``sys.exit``, ``KeyboardInterrupt``, ``os._exit``, an exception whose ``__str__`` raises,
``input()``, cell magics, hooks that run after every cell, output that is not UTF-8). Each tool grades its own
copy; every grade cell must agree, except those in :data:`STRICTER`, where the course deliberately gives less
(or grades a notebook nbgrader fails).

    python tests/test_nbgrader_edit_parity.py [--workdir DIR] [--only TEXT]    # print the cells not as intended
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import parity_cases as cases  # noqa: E402
from test_nbgrader_parity import Stricter  # noqa: E402

pytestmark = pytest.mark.slow

AID = "edits"
ADDS = "def add(x, y):\n    return x + y"
WRONG = "def add(x, y):\n    return 0"
HALF = "def add(x, y):\n    return x + y if x == 1 else 0"
CLEAR_AFTER = ("\n\nfrom IPython.display import clear_output\n\n"
               "get_ipython().events.register('post_run_cell', lambda result: clear_output())")
CHEAT_DOUBLE = "def double(x):\n    return 6"


def source() -> dict:
    """The instructor's notebook."""
    return cases._notebook([
        cases._markdown("Write `add(x, y)`."),
        cases._code("def add(x, y):\n    ### BEGIN SOLUTION\n    return x + y\n    ### END SOLUTION",
                    grade_id="answer", solution=True),
        cases._code("assert add(10, 5) == 15", grade_id="plain", grade=True, points=1),
        cases._code(cases.PARTIAL, grade_id="partial", grade=True, points=2),
        cases._code("def double(x):\n    return 2 * x", grade_id="helper", locked=True),
        cases._code("assert double(add(1, 2)) == 6", grade_id="uses_helper", grade=True, points=1),
        cases._markdown("### BEGIN SOLUTION\nIt adds.\n### END SOLUTION", grade_id="explain", solution=True,
                        grade=True, points=1),
        cases._code("### BEGIN SOLUTION\nresult = add(2, 2)\n### END SOLUTION", grade_id="manual_code",
                    solution=True, grade=True, points=1),
        cases._markdown("Plot `add` over a grid and describe what you see.", grade_id="task", task=True,
                        locked=True, points=2),
        {"cell_type": "raw", "metadata": {}, "source": "add(1, 1)"},
    ])


def answer(body: str = ADDS, explain: str = "It adds its arguments.", manual: str = "result = add(2, 2)") -> dict:
    """A student's copy: this answer cell, written answer and hand-graded code."""
    return cases.edit(source(), answer=body, explain=explain, manual_code=manual)


def _index(nb: dict, grade_id: str) -> int:
    return nb["cells"].index(cases._cell(nb, grade_id))


def _meta_edit(nb: dict, which: str, *, source_text: str | None = None, drop_meta: bool = False, **meta) -> dict:
    nb = copy.deepcopy(nb)
    cell = cases._cell(nb, which)
    if source_text is not None:
        cell["source"] = source_text
    if drop_meta:
        del cell["metadata"]["nbgrader"]
    else:
        cell["metadata"]["nbgrader"].update(meta)
    return nb


def _move(nb: dict, grade_id: str, to: int) -> dict:
    nb = copy.deepcopy(nb)
    cell = cases._cell(nb, grade_id)
    nb["cells"].remove(cell)
    nb["cells"].insert(to if to >= 0 else len(nb["cells"]) + 1 + to, cell)
    return nb


def _retype(nb: dict, grade_id: str, cell_type: str) -> dict:
    nb = copy.deepcopy(nb)
    cell = cases._cell(nb, grade_id)
    for key in ("outputs", "execution_count", "attachments"):
        cell.pop(key, None)
    cell["cell_type"] = cell_type
    if cell_type == "code":
        cell.update(outputs=[], execution_count=None)
    return nb


def _minor(nb: dict, minor: int, ids: bool = False) -> dict:
    nb = copy.deepcopy(nb)
    nb["nbformat_minor"] = minor
    for i, cell in enumerate(nb["cells"]):
        if ids:
            cell["id"] = f"c{i}"
        else:
            cell.pop("id", None)
    return nb


def _added(nb: dict, after: str, cell: dict) -> dict:
    nb = copy.deepcopy(nb)
    nb["cells"].insert(_index(nb, after) + 1, cell)
    return nb


PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def _attached(nb: dict, grade_id: str) -> dict:
    nb = copy.deepcopy(nb)
    cell = cases._cell(nb, grade_id)
    cell["attachments"] = {"dot.png": {"image/png": PNG}}
    cell["source"] = cell["source"] + "\n\n![dot](attachment:dot.png)"
    return nb


def _saved_outputs(nb: dict) -> dict:
    """Outputs saved in the submission that claim every test passed in full."""
    nb = copy.deepcopy(nb)
    for gid in ("plain", "partial", "uses_helper"):
        cell = cases._cell(nb, gid)
        cell["execution_count"] = 1
        cell["outputs"] = [{"output_type": "execute_result", "execution_count": 1, "metadata": {},
                            "data": {"text/plain": "2.0"}}]
    return nb


def _v3(nb: dict) -> dict:
    import nbformat

    return json.loads(nbformat.writes(nbformat.convert(nbformat.reads(json.dumps(nb), as_version=4), 3)))


EDITS = {
    # the task cell is read-only: an answer typed into it is dropped by both
    "task-cell-edited": cases.edit(answer(), task="My plot shows a plane."),
    # a test cell renamed, or stripped of its metadata, and made to pass: the question's test is gone
    "test-renamed": _meta_edit(answer(WRONG), "plain", source_text="assert True", grade_id="plain_mine"),
    "test-metadata-removed": _meta_edit(answer(WRONG), "plain", source_text="assert True", drop_meta=True),
    # a test cell the student made ungraded, or worth 100, and made to pass
    "test-grade-flag-removed": _meta_edit(answer(WRONG), "plain", source_text="assert True", grade=False),
    "test-points-edited": _meta_edit(answer(WRONG), "plain", source_text="assert True", points=100),
    # a graded cell of the student's own making, with a grade id the release does not have
    "unknown-grade-cell": _added(answer(WRONG), "plain", cases._code("assert True", grade_id="bonus", grade=True,
                                                                     points=5)),
    # the read-only helper unlocked, or stripped of its metadata, and rewritten so a wrong add passes
    "helper-unlocked": _meta_edit(answer(WRONG), "helper", source_text=CHEAT_DOUBLE, locked=False),
    "helper-metadata-removed": _meta_edit(answer(WRONG), "helper", source_text=CHEAT_DOUBLE, drop_meta=True),
    "helper-deleted": cases.drop(answer(), "helper"),
    "helper-metadata-removed-honest": _meta_edit(answer(), "helper", drop_meta=True),
    "helper-deleted-own-correct-in-answer": cases.drop(answer(ADDS + "\n\ndef double(x):\n    return x + x"),
                                                       "helper"),
    "helper-deleted-own-in-answer": cases.drop(answer(WRONG + "\n\n" + CHEAT_DOUBLE), "helper"),
    "helper-redefined-after": _added(answer(WRONG), "helper", cases._code(CHEAT_DOUBLE)),
    "helper-deleted-by-name": _added(answer(), "helper", cases._code("del double")),
    # the answer moved below its tests, or the tests above it
    "answer-moved-last": _move(answer(), "answer", -1),
    "test-moved-first": _move(answer(), "plain", 0),
    # cells of another type: raw
    "answer-to-raw": _retype(answer(), "answer", "raw"),
    "test-to-raw": _retype(answer(), "plain", "raw"),
    "raw-cell-added": _added(answer(WRONG), "answer", {"cell_type": "raw", "metadata": {}, "source": ADDS}),
    # notebook format versions
    "nbformat-4.0": _minor(answer(), 0),
    "nbformat-4.5": _minor(answer(), 5, ids=True),
    "nbformat-4.5-without-ids": _minor(answer(), 5),
    # written answers: an attachment on an answer, an edited checksum on one left as released
    "attachment-on-answer": _attached(answer(), "explain"),
    "attachment-on-unanswered": _attached(answer(explain="YOUR ANSWER HERE"), "explain"),
    "checksum-edited": _meta_edit(answer(explain="YOUR ANSWER HERE"), "explain", checksum="0" * 32),
    "manual-code-raises": answer(manual="raise ValueError('not yet')"),
    "manual-code-as-released": answer(manual="# YOUR CODE HERE"),
    "task-cell-deleted": cases.drop(answer(), "task"),
    "written-answer-deleted": cases.drop(answer(), "explain"),
    "manual-code-to-markdown": _retype(answer(), "manual_code", "markdown"),
    "written-answer-to-raw": _retype(answer(), "explain", "raw"),
    "saved-outputs-forged": _saved_outputs(answer(HALF)),
    "surrogate-in-markdown": answer(explain="It adds \udcff."),
    "nbformat-3": _v3(answer()),
}

KERNEL = {
    "exit-in-answer": answer(ADDS + "\n\nimport sys\nsys.exit(0)"),
    "exit-in-function": answer("import sys\n\ndef add(x, y):\n    sys.exit(1)"),
    "keyboard-interrupt-in-function": answer("def add(x, y):\n    raise KeyboardInterrupt"),
    "os-exit-in-answer": answer(ADDS + "\n\nimport os\nos._exit(0)"),
    "os-exit-in-function": answer("import os\n\ndef add(x, y):\n    os._exit(3)"),
    "exception-str-raises": answer("class Odd(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\n\n"
                                   "def add(x, y):\n    raise Odd()"),
    "input-in-function": answer("def add(x, y):\n    input('x? ')\n    return x + y"),
    "capture-magic": answer("%%capture\n" + ADDS + "\nprint('hidden')"),
    "time-magic": answer("%%time\n" + ADDS),
    "assertion-error-redefined": answer("import builtins\n\nclass AssertionError(Exception):\n    pass\n\n"
                                        "builtins.AssertionError = AssertionError\n\n" + WRONG),
    "raise-non-exception": answer("def add(x, y):\n    raise 42"),
    "assert-inside-function": answer("def add(x, y):\n    assert x > 100, 'too small'\n    return x + y"),
    "surrogate-in-output": answer("def add(x, y):\n    print('\\udcff')\n    return x + y"),
    "bytes-to-fd1": answer("import os\n\ndef add(x, y):\n    os.write(1, b'\\xff\\xfe\\n')\n    return x + y"),
    "stderr-redirected-to-stdout": answer("import sys\nsys.stderr = sys.stdout\n\ndef add(x, y):\n"
                                          "    print('adding', file=sys.stderr)\n    return x + y"),
    "stdout-closed": answer("import sys\n\ndef add(x, y):\n    print('adding')\n    return x + y\n\n"
                            "sys.stdout.close()"),
    "recursion": answer("def add(x, y):\n    return add(x, y)"),
    "interactivity-none": answer(HALF + "\n\nget_ipython().ast_node_interactivity = 'none'"),
    "displayhook-silenced": answer(HALF + "\n\nimport sys\nsys.displayhook = lambda value: None"),
    "formatter-forged": answer(HALF + "\n\nget_ipython().display_formatter.formatters['text/plain'].for_type("
                               "float, lambda v, p, cycle: p.text('2.0'))"),
    "sigint-ignored-sleep": answer("import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n\n"
                                   "def add(x, y):\n    time.sleep(8)\n    return x + y"),
    "callback-raises": answer(ADDS + "\n\ndef _after(result):\n    raise ValueError('hook')\n\n"
                              "get_ipython().events.register('post_run_cell', _after)"),
    "displayhook-forged-result": answer("def add(x, y):\n    get_ipython().displayhook(1.0)\n    return 0"),
    "post-run-stderr": answer(HALF + "\n\nimport sys\n\ndef _after(result):\n    print('done', file=sys.stderr)\n\n"
                              "get_ipython().events.register('post_run_cell', _after)"),
    "post-run-clear-output-wrong": answer(WRONG + CLEAR_AFTER),
    "post-run-clear-output-right": answer(ADDS + CLEAR_AFTER),
    "stderr-in-answer-only": answer("import sys\nprint('note', file=sys.stderr)\n\n" + ADDS),
}

STUDENTS = {**EDITS, **KERNEL, "solution": answer(), "wrong": answer(WRONG), "half": answer(HALF)}

TESTS = ("plain", "partial", "uses_helper")


def _like(student: str, why: str, cells=TESTS) -> dict:
    return {(student, cell): Stricter(why, like=(AID, STUDENTS_LIKE[student])) for cell in cells}


#: Whose nbgrader result the course gives the cells of a notebook nbgrader fails (every grade left for a person).
STUDENTS_LIKE = {"answer-to-raw": "solution", "test-to-raw": "solution", "written-answer-to-raw": "solution",
                 "manual-code-to-markdown": "solution", "surrogate-in-markdown": "solution",
                 "test-grade-flag-removed": "wrong", "unknown-grade-cell": "wrong", "test-renamed": "wrong"}

STRICTER: dict[tuple[str, str], Stricter] = {
    # nbgrader fails these notebooks alone: "'id' is a required property" for a cell it turns back from raw or
    # markdown, "Inconsistent checksums" for a test cell marked ungraded, "nbgrader cell does not have a
    # grade_id" for a graded cell whose grade id the release lacks, UnicodeEncodeError writing text with a lone
    # surrogate. The course restores the release's cells and grades the answers they carry.
    **{key: rule for student in STUDENTS_LIKE if student != "test-renamed"
       for key, rule in _like(student, "nbgrader fails the notebook; the course restores the release's cells "
                                       "and grades").items()},
    # the renamed test is the question's missing test cell (left for a person, as nbgrader leaves it)
    **_like("test-renamed", "nbgrader fails the notebook; the course grades the other tests",
            cells=("partial", "uses_helper")),
    # the kernel died: nbgrader fails the notebook (left for a person), the course scores what did not run 0
    **{(student, cell): Stricter("the kernel died before the test completed: 0", 0.0)
       for student in ("os-exit-in-answer", "os-exit-in-function") for cell in TESTS},
    # a read-only helper the student redefined (deleted or stripped of its metadata and defined anew, or
    # redefined in a cell after it): the instructor's decides, and the student's add is wrong
    **{(student, "uses_helper"): Stricter("the instructor's read-only helper decides, not the student's", 0.0)
       for student in ("helper-deleted-own-in-answer", "helper-metadata-removed", "helper-redefined-after")},
    # what the cell shows as its value changed by the notebook's code: the course reads the value the test made
    **{("displayhook-forged-result", cell): Stricter("a result the student's code displayed is not the cell's "
                                                     "value", 0.0) for cell in TESTS},
    ("formatter-forged", "partial"): Stricter("a formatter that prints another number: the value decides", 1.0),
    ("interactivity-none", "partial"): Stricter("the value's display turned off: the value decides", 1.0),
    ("post-run-clear-output-wrong", "partial"): Stricter("the value cleared after the cell: the value decides", 0.0),
}


def _assignments(only: str = "") -> dict:
    return {AID: cases.Assignment({AID: source()}, {s: {AID: nb} for s, nb in STUDENTS.items() if only in s})}


def grade_both(base: Path, only: str = "") -> dict:
    assignments = _assignments(only)
    for tool in ("nbgrader", "course"):
        cases.build_course(base / tool, assignments)
    with ThreadPoolExecutor(2) as pool:
        runs = {tool: pool.submit(cases.grade_with, tool, base / tool, assignments, 2)
                for tool in ("nbgrader", "course")}
        failed = {tool: run.result() for tool, run in runs.items()}
    return {"nbgrader": cases.results(base / "nbgrader"), "course": cases.results(base / "course"),
            "failed": failed, "keys": cases.expected_cells(assignments)}


def unexplained(graded: dict) -> list[tuple]:
    """Cells where the course's result is neither nbgrader's nor the one :data:`STRICTER` intends."""
    rows = []
    for key in sorted(graded["keys"]):
        theirs = graded["nbgrader"].get(key, cases.MISSING)
        ours = graded["course"].get(key, cases.MISSING)
        rule = STRICTER.get((key[1], key[3]))
        if rule is None:
            if not cases.same(theirs, ours):
                rows.append((key, theirs, ours))
            continue
        want = (graded["nbgrader"].get((*rule.like, AID, key[3]), cases.MISSING) if rule.like
                else (rule.score, False))
        more = isinstance(theirs[0], float) and isinstance(ours[0], float) and ours[0] > theirs[0] + 1e-9
        if not cases.same(want, ours) or more:
            rows.append((key, theirs, ours))
    return rows


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return grade_both(tmp_path_factory.mktemp("nbgrader-edits"))


def test_every_cell_scores_as_nbgrader_scores_it_or_as_intended(graded):
    assert graded["failed"]["course"] == {}
    rows = unexplained(graded)
    assert not rows, cases.table(rows, {(AID, s, c): rule.why for (s, c), rule in STRICTER.items()})


def test_the_cases_are_what_they_claim(graded):
    """nbgrader itself, on the cases whose point is how it reads them."""
    theirs = {(key[1], key[3]): value for key, value in graded["nbgrader"].items()}
    assert theirs[("solution", "partial")] == (2.0, False) and theirs[("half", "partial")] == (1.0, False)
    # a post_run_cell hook's error after the value: the value came first and decides (nbgrader's order)
    assert theirs[("callback-raises", "partial")] == (2.0, False)
    assert theirs[("callback-raises", "plain")] == (0.0, False)
    assert theirs[("post-run-stderr", "partial")] == (1.0, False)
    # a deleted helper is a NameError, also when its name was deleted after it ran
    assert theirs[("helper-deleted", "uses_helper")] == (0.0, False)
    assert theirs[("helper-deleted-by-name", "uses_helper")] == (0.0, False)
    # the cheats nbgrader pays
    assert theirs[("helper-metadata-removed", "uses_helper")] == (1.0, False)
    assert theirs[("displayhook-forged-result", "plain")] == (1.0, False)
    assert theirs[("interactivity-none", "partial")] == (2.0, False)
    # the notebooks it fails
    for student in (*STUDENTS_LIKE, "os-exit-in-answer", "os-exit-in-function"):
        assert theirs[(student, "partial")] == (None, True), student


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--only", default="", help="grade only the students whose name holds this text")
    args = parser.parse_args(argv)
    base = args.workdir or Path(tempfile.mkdtemp(prefix="nbgrader-edits-"))
    graded = grade_both(base, args.only)
    print(graded["failed"])
    rows = unexplained(graded)
    print(f"{len(rows)} of {len(graded['keys'])} grade cells not as intended (course dirs in {base})")
    print(cases.table(rows, {(AID, s, c): rule.why for (s, c), rule in STRICTER.items()}))
    return 1 if rows else 0


if __name__ == "__main__":
    sys.exit(main())
