"""Every assignment's hidden checks, proven by its known submissions (graders/<aid>/variants.py).

The solution keeps full marks, the released blank notebook scores zero, alternative
correct solutions lose nothing, and each misconception fails exactly the checks
it names. New assignments are picked up automatically.
"""

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow


def _notebooks():
    out = []
    for source in sorted((REPO / "source").glob("*/*.ipynb")):
        aid, name = source.parent.name, source.stem
        graders = REPO / "graders" / aid
        # a grader module, or an nbgrader-format notebook (its test cells are the checks) with known submissions
        if (graders / f"{name}.py").is_file() or (graders / "variants.py").is_file():
            out.append((aid, name))
    return out


NOTEBOOKS = _notebooks()


@pytest.mark.parametrize("aid, name", NOTEBOOKS)
def test_solution_full_blank_zero(graded_all, aid, name):
    graded = graded_all(aid, name)
    _, solution = graded["solution"]
    assert solution.score == solution.max_score > 0, [c.message for c in solution.checks if not c.passed]
    _, blank = graded["blank"]
    assert blank.score == 0, [c.name for c in blank.checks if c.passed]


@pytest.mark.parametrize("aid, name", NOTEBOOKS)
def test_variants_fail_exactly_their_checks(graded_all, aid, name):
    wrong = {}
    for vname, (variant, graded) in graded_all(aid, name).items():
        failed = sorted(c.name for c in graded.checks if not c.passed)
        if failed != sorted(variant.fails):
            wrong[vname] = {"expected": sorted(variant.fails), "failed": failed,
                            "messages": {c.name: c.message for c in graded.checks if not c.passed}}
        for check in graded.checks:
            assert check.passed == (check.points == check.max_points)
            assert bool(check.message) == (not check.passed)
    assert not wrong, wrong


@pytest.mark.parametrize("aid, name", NOTEBOOKS)
def test_enough_known_submissions(graded_all, aid, name):
    kinds = [v.kind for v, _ in graded_all(aid, name).values()]
    assert kinds.count("solution") == 1
    assert kinds.count("alternative") >= 2
    assert kinds.count("mutant") >= (4 if aid.endswith("ethics") else 6)
