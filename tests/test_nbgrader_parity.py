"""nbgrader's own fixture notebooks graded by ``nbgrader autograde`` and by ``course autograde``, cell by cell.

The class (see ``parity_cases.py``) is built from the notebooks shipped inside the installed nbgrader package,
plus constructed cases, in two fresh course directories; each tool grades its own copy and the two gradebooks
must hold the same ``auto_score`` and ``needs_manual_grade`` for every student and grade cell, except the
cases in :data:`STRICTER`, where the course deliberately gives less than nbgrader (or grades what nbgrader
cannot).

    python tests/test_nbgrader_parity.py [--workdir DIR]    # grade the class, print the disagreements
    python tests/test_nbgrader_parity.py --workdir DIR --no-regrade    # compare what DIR's gradebooks hold
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import parity_cases as cases  # noqa: E402

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Stricter:
    """A cell the course grades differently from nbgrader on purpose, never giving more."""

    why: str
    score: float | None = None
    """The course's auto_score for the cell (with ``needs_manual_grade`` False); None: as ``like``."""
    like: tuple[str, str] | None = None
    """(aid, student) whose nbgrader result for the same cell the course must give instead (nbgrader aborted)."""


P1_CELLS = ("foo", "bar", "baz", "quux")


def _graded_like(aid: str, student: str, why: str, like: tuple[str, str], cells=P1_CELLS) -> dict:
    return {(aid, student, cell): Stricter(why, like=like) for cell in cells}


STRICTER: dict[tuple[str, str, str], Stricter] = {
    # A value no test can mean is that cell's zero, and only that cell's. nbgrader's get_partial_grade
    # raises "partial credit cannot be greater than maximum points" and fails the whole notebook (every cell
    # ungraded); for a negative value it gives full marks ("This is strange.").
    ("partial", "pc-value-above-max", "partial"): Stricter("partial credit above the cell's points scores 0", 0.0),
    **_graded_like("partial", "pc-value-above-max", "nbgrader fails the whole notebook on one bad partial-credit "
                   "value; the course grades the other cells", like=("partial", "pc-solution"),
                   cells=("plain", "explain")),
    ("partial", "pc-value-negative", "partial"): Stricter("negative partial credit scores 0, not full marks", 0.0),
    # A student shadowed `sum` to make the value 5 (or -1): in a test cell the builtin is the set-up's, so the
    # cell gets what the honest computation gives (add is right: 2); nbgrader fails that whole notebook on the 5
    # (and pays the -1 in full, as the course does here).
    ("partial", "pc-above-max", "partial"): Stricter("a shadowed builtin is the set-up's in a test cell: the "
                                                     "honest value counts", 2.0),
    **_graded_like("partial", "pc-above-max", "nbgrader fails the whole notebook on the forged value; the "
                   "course grades the other cells", like=("partial", "pc-solution"), cells=("plain", "explain")),
    # `assert a == 1` is decided in the grader process, which reads `a` as data; an answer whose type brings
    # its own __eq__ (the way to an object that equals anything) is not trusted, even one that behaves.
    ("p1", "custom-eq", "bar"): Stricter("an answer of a type with its own __eq__ fails a grader-side "
                                         "assertion", 0.0),
    # nbgrader stops its whole batch on these ("old version of the nbgrader metadata format": schema-1
    # metadata, or the blank metadata DeduplicateIds leaves on a duplicated grade id); the course restores
    # the release's cells and grades the answers, as it grades `changed`, whose answers they carry.
    # nbgrader fails these notebooks alone (every grade left empty for review): "Notebook JSON is invalid"
    # for a cell whose type the student changed, "Inconsistent checksums for cell bar" for a test cell
    # re-tagged as a solution. The
    # course restores the release's cells (type and tags included) and grades the answers they carry.
    **_graded_like("p1", "answer-cell-type-changed", "the answer cell turned into markdown: nbgrader fails the "
                   "notebook, the course restores the cell and grades", like=("p1", "unchanged")),
    **_graded_like("p1", "grade-cell-type-changed", "a test cell turned into markdown: nbgrader fails the "
                   "notebook, the course restores the test and grades", like=("p1", "unchanged")),
    **_graded_like("p1", "test-cell-to-solution", "a test cell re-tagged as a solution cell: nbgrader fails the "
                   "notebook, the course restores the test and grades", like=("p1", "changed")),
    **_graded_like("p1", "old-metadata", "schema-1 metadata: nbgrader stops, the course grades",
                   like=("p1", "changed")),
    **_graded_like("p1", "duplicate-grade-id", "a duplicated grade id: nbgrader stops, the course grades",
                   like=("p1", "changed")),
}


def stricter_ok(key, theirs, ours, nbgrader_results) -> str | None:
    """None when the course's result for a :data:`STRICTER` cell is the intended one, else why not."""
    aid, student, nb, cell = key
    rule = STRICTER[(aid, student, cell)]
    if rule.like is not None:
        want = nbgrader_results.get((*rule.like, nb, cell), cases.MISSING)
    else:
        want = (rule.score, False)
    if not cases.same(want, ours):
        return f"course {ours}, intended {want} ({rule.why})"
    if theirs[0] not in (None, "missing") and ours[0] is not None and ours[0] > theirs[0] + 1e-9:
        return f"course {ours} gives more than nbgrader {theirs}"
    return None


def unexplained(graded: dict) -> list[tuple]:
    """Disagreements not covered by :data:`STRICTER`, plus stricter cells whose course result is not the intended one."""
    rows = []
    for key, theirs, ours in cases.compare(graded["nbgrader"], graded["course"], graded["keys"]):
        aid, student, _, cell = key
        if (aid, student, cell) in STRICTER and stricter_ok(key, theirs, ours, graded["nbgrader"]) is None:
            continue
        rows.append((key, theirs, ours))
    # a stricter cell on which the two happen to agree still has to be the intended result
    for key in graded["keys"]:
        aid, student, _, cell = key
        if (aid, student, cell) in STRICTER:
            theirs, ours = graded["nbgrader"].get(key, cases.MISSING), graded["course"].get(key, cases.MISSING)
            if cases.same(theirs, ours) and stricter_ok(key, theirs, ours, graded["nbgrader"]) is not None:
                rows.append((key, theirs, ours))
    return sorted(rows)


def failed_batches(graded) -> str:
    """One line per batch that exited non-zero: the last line of what it said."""
    lines = []
    for tool, failed in graded["failed"].items():
        for aid, why in failed.items():
            last = why.strip().splitlines()[-1] if why.strip() else ""
            lines.append(f"{tool} batch {aid} exited non-zero: {last}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return cases.grade_both(tmp_path_factory.mktemp("nbgrader-parity"), workers=2)


def test_nbgrader_grades_the_whole_class(graded):
    """The measuring stick itself: nbgrader graded every submission it can (the aborts are in STRICTER)."""
    ours = graded["nbgrader"]
    missing = sorted(k for k in graded["keys"] if k not in ours)
    assert missing == []
    assert ours[("p1", "unchanged", "p1", "foo")] == (1.0, False)
    assert ours[("p1", "changed", "p1", "baz")] == (None, True)
    assert ours[("p1", "cheat-attempt", "p1", "bar")] == (0.0, False)


def test_course_grades_every_cell_as_nbgrader_does(graded):
    rows = unexplained(graded)
    assert not rows, (f"{len(rows)} of {len(graded['keys'])} grade cells not graded as nbgrader grades them "
                      f"(or as STRICTER intends):\n{cases.table(rows, {k: s.why for k, s in STRICTER.items()})}"
                      f"\n{failed_batches(graded)}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="grade the parity class with both tools; print the disagreements")
    parser.add_argument("--workdir", type=Path, help="keep the two course directories here (default: a temp dir)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-regrade", action="store_true", help="compare the gradebooks already in --workdir")
    parser.add_argument("--course-arg", action="append", default=[], metavar="OPTION",
                        help="one more option for every course autograde, e.g. --course-arg=--accept-failing-solution "
                             "(a diagnostic run; the test never passes one)")
    args = parser.parse_args(argv)
    base = args.workdir or Path(tempfile.mkdtemp(prefix="nbgrader-parity-"))
    graded = cases.grade_both(base, workers=args.workers, regrade=not args.no_regrade,
                              course_args=tuple(args.course_arg))
    print(failed_batches(graded))
    rows = cases.compare(graded["nbgrader"], graded["course"], graded["keys"])
    wrong = unexplained(graded)
    explained = [row for row in rows if row not in wrong]
    print(f"\n{len(rows)} of {len(graded['keys'])} grade cells differ; {len(wrong)} not as intended "
          f"(course dirs in {base})\n")
    print(cases.table(wrong, {k: s.why for k, s in STRICTER.items()}))
    if explained:
        print("\nintended differences (STRICTER), as intended:\n")
        print(cases.table(explained, {k: s.why for k, s in STRICTER.items()}))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
