"""Correct functions a probe lends the student's code cannot answer an earlier question.

03-softmax-nll's later probes put correct ``softmax``, ``log_softmax``, ``nll_loss`` and
``cross_entropy`` in the notebook's namespace while they call a later question's function
(``JudgedAlone`` swaps), so a mistake is charged once. The student's function can keep them.
A blank submission that keeps them in ``cross_entropy_bits``, puts them back in a cell of
its own and moves the four earlier test cells below that cell would have its kept functions
judged as its answers (12 of 20 points) if those questions' probes ran after the later one's.
Probes run in the release's order, so it earns what the blank earns; a correct submission
with moved test cells keeps full marks.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell

from course_lib.assignment import Assignment
from course_lib.execute.runners import LocalRunner
from course_lib.grade import Context
from course_lib.notebooks import grade_id
from course_lib.synth import Variant, build

pytestmark = pytest.mark.slow

KEEPS_LENT_FUNCTIONS = '''kept = {}


def cross_entropy_bits(logits, targets):
    for name in ("softmax", "log_softmax", "nll_loss", "cross_entropy"):
        kept[name] = globals()[name]
    raise NotImplementedError()


def perplexity(logits, targets):
    raise NotImplementedError()
'''
EARLIER_TESTS = ("softmax_tests", "log_softmax_tests", "nll_loss_tests", "cross_entropy_tests")


def moved_below(nb, gids, anchor, extra=()):
    """``nb`` with the cells ``gids`` moved after the cell ``anchor`` (and ``extra`` cells before them)."""
    moved = [c for c in nb.cells if grade_id(c) in gids]
    nb.cells = [c for c in nb.cells if c not in moved]
    index = next(i for i, c in enumerate(nb.cells) if grade_id(c) == anchor) + 1
    nb.cells[index:index] = [*extra, *moved]
    return nb


def test_functions_lent_by_a_later_probe_do_not_answer_an_earlier_question(config):
    spec = Assignment.load(config, "03-softmax-nll").notebook("softmax_nll")
    context = Context.prepare(config, spec, "cpu")
    cheat = build(spec, Variant("keeps", blank=True, answers={"bits_and_perplexity": KEEPS_LENT_FUNCTIONS}))
    cheat = moved_below(cheat, EARLIER_TESTS, "bits_and_perplexity_tests",
                        [new_code_cell("globals().update(kept)")])
    honest = moved_below(build(spec, Variant("solution", kind="solution")), EARLIER_TESTS[:2], "bce_with_logits_tests")
    jobs = [context.job(name, Path(f"{name}.ipynb"), student_nb=nb)
            for name, nb in {"keeps_lent_functions": cheat, "honest_moved_tests": honest}.items()]
    graded = {job.student: context.judge(result) for job, result in LocalRunner(2).run(jobs)}
    cheated = graded["keeps_lent_functions"]
    assert cheated.score == 0, [(c.name, c.passed, c.message) for c in cheated.checks]
    assert graded["honest_moved_tests"].score == 20, [(c.name, c.message) for c in graded["honest_moved_tests"].checks]
