"""Grades written for Moodle: the grade item's maximum when the worksheet does not show it, and two decimals
rounded the way Moodle rounds (half up), whatever the binary float of the total.

No kernels: verdicts are recorded through the same gradebook code autograde uses (see test_moodle).
"""

from __future__ import annotations

import pytest

from test_moodle import CLASS, HEADER, course, fputcsv, grade, graded_class, moodle_rows, spec, with_setting  # noqa: F401


def test_a_worksheet_without_maximum_grade_is_written_out_of_the_configured_moodle_maximum(graded_class, spec,
                                                                                          tmp_path):
    """c.Course.assignments[AID]['moodle_max_grade'] says the grade item's maximum: a worksheet that does not show
    it (a site in another language, a column left out) is still written in points of that maximum."""
    from course_lib.moodle.export import export_worksheet

    config = with_setting(graded_class, 'c.Course.assignments["01-tensors"]["moodle_max_grade"] = 100')
    header = [h for h in HEADER if h != "Maximum Grade"]
    src = tmp_path / "w.csv"
    src.write_text("\n".join([fputcsv(header)] + [fputcsv([f"Participant {pid}", n, e, s, "", "Yes", w, "-", ""])
                                                  for n, pid, e, s, w in CLASS]) + "\n")
    export_worksheet(config=config, assignment_id="01-tensors", worksheet=src, out=tmp_path / "o.csv")
    rows = {r[0]: r for r in moodle_rows((tmp_path / "o.csv").read_bytes())[1:]}
    g = header.index("Grade")
    assert rows["Participant 1234567"][g] == "100.00"  # full marks of the Moodle item, not the 01-tensors points
    assert rows["Participant 3456789"][g] == "25.00"


@pytest.mark.parametrize("score, penalty, max_score, maximum, expected", [
    (2.25, 0.0, 40.0, 100.0, "5.63"),     # exactly 5.625: Moodle (PHP's round) gives 5.63
    (8.25, 0.825, 10.0, 10.0, "7.43"),    # 7.425 after 10 % off (binary 7.42499...)
    (3.25, 0.325, 10.0, 10.0, "2.93"),    # 2.925
    (7.25, 0.725, 10.0, 10.0, "6.53"),
    (1.0, 0.0, 3.0, 100.0, "33.33"),
    (2.0, 0.0, 3.0, 100.0, "66.67"),
])
def test_grades_are_rounded_half_up_to_two_decimals_as_moodle_rounds(score, penalty, max_score, maximum, expected):
    from course_lib.moodle import worksheet as ws
    from course_lib.moodle.export import Total, scaled

    total = Total(student="s", score=score, max_score=max_score, late_penalty=penalty, seconds_late=1.0,
                  notebooks={}, needs_manual_grade=False)
    assert ws.grade_text(scaled(total, maximum)) == expected
