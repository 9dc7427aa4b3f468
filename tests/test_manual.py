"""Hand grading without a browser: the score sheet out of and back into nbgrader's gradebook, and a
grader's comments reaching the feedback page and Moodle's worksheet. No kernels: verdicts are recorded
through the same gradebook code autograde uses, on 04-ethics (four hand-graded reflections)."""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest

from test_moodle import make_worksheet

AID = "04-ethics"
STUDENTS = ("ada.lovelace", "alan")
HAND = ("feedback_loops", "recourse", "bias_sources", "went_well")
STAMP = "2026-10-05 22:00:27.866623 UTC"
PEOPLE = [("Ada Lovelace", "1234567", "ada.lovelace@uni.example", "Submitted for grading", "-"),
          ("Alan Turing", "2345678", "alan@uni.example", "Submitted for grading", "-")]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    """A course where two students' 04-ethics submissions are collected and autograded (synthetic verdicts)."""
    from conftest import copy_course
    from course_lib.assignment import Assignment
    from course_lib.autograde import save_results
    from course_lib.collect import submissions
    from course_lib.moodle.importer import collect_moodle
    from course_lib.config import CourseConfig
    from course_lib.gradebook import ensure_notebook, record
    from course_lib.models import CheckResult, GradedSubmission

    root = copy_course(tmp_path_factory.mktemp("manual") / "course")
    config = CourseConfig.load(root).with_overrides(device="cpu")
    spec = Assignment.load(config, AID).notebook("ethics")
    with zipfile.ZipFile(root.parent / "submissions.zip", "w") as zf:  # as Moodle's "Download all submissions"
        for name, pid, email, *_ in PEOPLE:
            nb = spec.release_nb()
            for cell in nb.cells:
                if cell.metadata.get("nbgrader", {}).get("grade_id") in HAND:
                    cell.source = f"{name} thinks about it."
            zf.writestr(f"{name}_{pid}_assignsubmission_file/ethics.ipynb", nbformat.writes(nb))
    collect_moodle(config=config, assignment_id=AID, zip_path=root.parent / "submissions.zip",
                   worksheet=make_worksheet(root.parent / "collect.csv", people=PEOPLE))
    ensure_notebook(config, spec)
    for i, student in enumerate(STUDENTS):
        checks = tuple(CheckResult(name=c.name, grade_id=q.grade_id, points=c.points if i == 0 else 0.0,
                                   max_points=c.points, passed=i == 0, message="" if i == 0 else "wrong",
                                   describe=c.name) for q in spec.grader.questions for c in q.checks)
        graded = GradedSubmission(student=student, assignment=AID, notebook="ethics", checks=checks)
        sub = next(iter(submissions(config, AID, [student])))
        record(config, spec, graded, timestamp=sub.timestamp, release_nb=spec.release_nb(),
               student_nb=nbformat.read(sub.path, as_version=4))
        save_results(config, graded, "test")
        (root / "autograded" / student / AID).mkdir(parents=True, exist_ok=True)
        (root / "autograded" / student / AID / "timestamp.txt").write_text(STAMP + "\n")
    return root


@pytest.fixture
def course(recorded, tmp_path):
    """A private copy of the recorded course (tests write to its gradebook)."""
    from course_lib.config import CourseConfig

    root = shutil.copytree(recorded, tmp_path / "course")
    return CourseConfig.load(root).with_overrides(device="cpu")


def sheet(path: Path, rows, header=("student", "question", "score", "comment")) -> Path:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def hand_grades(config) -> dict:
    """``(student, question) -> (manual_score, manual_comment, needs_manual_grade)`` from the gradebook."""
    from course_lib.gradebook import open_gradebook

    out = {}
    with open_gradebook(config) as gb:
        for student in STUDENTS:
            for q in HAND:
                g = gb.find_grade(q, "ethics", AID, student)
                c = gb.find_comment(q, "ethics", AID, student)
                out[(student, q)] = (g.manual_score, c.manual_comment, g.needs_manual_grade)
    return out


def test_export_lists_every_student_and_hand_graded_question_then_a_filled_sheet_round_trips(course, tmp_path):
    from course_lib.manual import export_sheet, import_sheet

    blank = tmp_path / "blank.csv"
    report = export_sheet(config=course, assignment_id=AID, path=blank)
    rows = list(csv.DictReader(blank.open(encoding="utf-8")))
    assert report.rows == len(rows) == len(STUDENTS) * len(HAND)
    assert {(r["student"], r["question"]) for r in rows} == {(s, q) for s in STUDENTS for q in HAND}
    assert all(r["score"] == "" and r["comment"] == "" for r in rows)  # nobody graded yet
    assert {r["question"]: r["max_score"] for r in rows} == {"feedback_loops": "2", "recourse": "3",
                                                            "bias_sources": "3", "went_well": "2"}
    for r in rows:  # the TA fills the sheet in a spreadsheet
        r["score"] = "2.5" if r["question"] == "recourse" else "1"
        r["comment"] = f"{r['student']}: a <good> start & more\nsecond line" if r["question"] == "recourse" else ""
    filled = tmp_path / "filled.csv"
    with filled.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = import_sheet(config=course, assignment_id=AID, path=filled)
    assert (result.scores, result.comments) == (8, 2)
    grades = hand_grades(course)
    assert grades[("alan", "recourse")] == (2.5, "alan: a <good> start & more\nsecond line", False)
    assert grades[("ada.lovelace", "went_well")] == (1.0, None, False)
    again = tmp_path / "again.csv"
    export_sheet(config=course, assignment_id=AID, path=again)
    assert list(csv.DictReader(again.open(encoding="utf-8"))) == rows  # what was imported comes out again
    from course_lib.gradebook import open_gradebook

    with open_gradebook(course) as gb:  # the hand points count in nbgrader's own total
        sub = gb.find_submission(AID, "alan")
        assert sub.score == pytest.approx(2.5 + 3 * 1) and not sub.needs_manual_grade


BAD_ROWS = [
    (["nobody", "recourse", "2", ""], "student 'nobody' has no submission of 04-ethics"),
    (["alan", "no_such_cell", "2", ""], "question 'no_such_cell' is not a question of 04-ethics"),
    (["alan", "predict_tests", "1", ""], "question 'predict_tests' is graded automatically, not by hand"),
    (["alan", "recourse", "3.5", ""], "score 3.5 is over the 3 point(s) of 'recourse'"),
    (["alan", "recourse", "-1", ""], "score -1 is negative"),
    (["alan", "recourse", "good", ""], "score 'good' is not a number"),
    (["", "recourse", "1", ""], "no student"),
    (["ada.lovelace", "recourse", "2", "again"], "the same student and question as line 2"),
]


@pytest.mark.parametrize("bad, why", BAD_ROWS, ids=[w.split(" ")[0] + str(i) for i, (_, w) in enumerate(BAD_ROWS)])
def test_a_bad_row_is_named_by_its_line_and_nothing_is_written(course, tmp_path, bad, why):
    from course_lib.manual import ScoreSheetError, import_sheet

    before = hand_grades(course)
    path = sheet(tmp_path / "s.csv", [["ada.lovelace", "recourse", "3", "fine"], ["alan", "went_well", "2", ""], bad])
    with pytest.raises(ScoreSheetError) as caught:
        import_sheet(config=course, assignment_id=AID, path=path)
    [(line, text)] = caught.value.rows
    assert line == 4 and why in text
    assert f"line 4: {why}" in str(caught.value) and "nothing was written" in str(caught.value)
    assert hand_grades(course) == before  # the two good rows were not applied either


def test_every_bad_row_is_listed_and_the_cli_exits_with_the_list(course, tmp_path, capsys):
    from course_lib.cli import main

    path = sheet(tmp_path / "s.csv", [["alan", "recourse", "9", ""], ["alan", "went_well", "1", ""],
                                      ["bob", "x", "1", ""]])
    code = main(["--course", str(course.root), "manual", "import", AID, "--csv", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "2 row(s)" in err and "line 2: score 9 is over" in err and "line 4: student 'bob'" in err
    assert "question 'x' is not a question" in err
    missing = sheet(tmp_path / "m.csv", [["alan", "recourse"]], header=("student", "question"))
    assert main(["--course", str(course.root), "manual", "import", AID, "--csv", str(missing)]) == 2
    assert "no 'score', 'comment' column(s)" in capsys.readouterr().err
    out = tmp_path / "sheet.csv"
    assert main(["--course", str(course.root), "manual", "export", AID, "--csv", str(out)]) == 0
    assert "8 row(s), 2 student(s)" in capsys.readouterr().out


def set_comment(config, cell: str, student: str, text: str) -> None:
    """What formgrader's comment box saves (its API sets ``manual_comment``)."""
    from course_lib.gradebook import open_gradebook

    with open_gradebook(config) as gb:
        gb.find_comment(cell, "ethics", AID, student).manual_comment = text
        gb.db.commit()


def question_section(page: str, title: str) -> str:
    """The part of a feedback page from one question's heading to the next one's."""
    start = page.index(f">{title} <")
    end = page.find('<h2 class="question">', start)
    return page[start:end if end >= 0 else len(page)]


def test_a_graders_comments_reach_the_feedback_page_beside_their_question(course, tmp_path):
    from course_lib.feedback import feedback
    from course_lib.manual import import_sheet

    import_sheet(config=course, assignment_id=AID, path=sheet(tmp_path / "s.csv", [
        ["alan", "recourse", "2", "Name who decides <and> who answers & how."]]))
    set_comment(course, "predict", "alan", "Off by one at the threshold:\nuse >=.")  # an autograded question's answer
    feedback(config=course, assignment_id=AID, students=["alan"])
    page = (course.path("feedback", "alan", AID, "ethics.html")).read_text()
    recourse = question_section(page, "Question 6 — Recourse and accountability")
    assert "Name who decides &lt;and&gt; who answers &amp; how." in recourse and "2 / 3 points" in recourse
    assert "Off by one at the threshold:\nuse &gt;=." in question_section(page, "Question 1 — From scores to decisions")
    assert page.count("Grader's comment") == 2
    feedback_loops = question_section(page, "Question 5 — Feedback loops")
    assert "Grader's comment" not in feedback_loops
    assert "– / 2 points" in feedback_loops and "not graded yet" in feedback_loops  # not a 0 meanwhile


def test_feedback_shows_minutes_points_once_and_names_questions_in_errors(course):
    from course_lib.feedback import render

    page = render(course, AID, "ethics", "ada.lovelace")
    assert "submitted 2026-10-05 22:00 UTC" in page and ".866623" not in page and ":27" not in page
    assert "(2 points)" not in page and "(3 points)" not in page  # the heading's own note, once in the score
    assert ">Question 1 — From scores to decisions <span class=\"qpts\">2 / 2 points</span>" in page


def test_cell_errors_name_the_question_and_a_syntax_error_no_temporary_file():
    from course_lib.judge.verdict import problems
    from course_lib.models import CellError, ExecutionResult

    result = ExecutionResult("s", AID, "ethics", "completed", cell_errors=(
        CellError(2, "NameError", "name 'np' is not defined", ""),
        CellError(9, "SyntaxError", "invalid syntax (3417439207.py, line 2)", "confusion"),
        CellError(11, "IndentationError", "unexpected indent (/tmp/ipykernel_42/123.py, line 4)", "rate_gap")))
    notes = problems(result, {"confusion": "Question 2 — Confusion counts per group"})
    assert notes == ["A cell above the first question raised NameError: name 'np' is not defined",
                     'A cell under "Question 2 — Confusion counts per group" raised SyntaxError: invalid syntax '
                     "(line 2 of that cell)",
                     "A cell of question 'rate_gap' raised IndentationError: unexpected indent (line 4 of that cell)"]
    assert not any("cell 10" in n or ".py" in n for n in notes)


def test_a_graders_comment_reaches_moodles_worksheet_escaped_and_the_feedback_zip(course, tmp_path):
    from course_lib.moodle import worksheet as ws
    from course_lib.moodle.export import export_worksheet

    worksheet = make_worksheet(tmp_path / "w.csv", people=PEOPLE)
    set_comment(course, "recourse", "alan", 'Say "who" decides;\na path like C:\\appeals is <not> an answer & more')
    out, bundle = tmp_path / "out.csv", tmp_path / "feedback.zip"
    export_worksheet(config=course, assignment_id=AID, worksheet=worksheet, out=out, feedback_zip=bundle)
    data = out.read_bytes()
    assert b"\\" not in data  # Moodle's reader takes a backslash for an escape character
    rows = {r["Identifier"]: r for r in csv.DictReader(io.StringIO(data.decode("utf-8")))}
    comment = rows["Participant 2345678"][ws.FEEDBACK]
    assert ("Question 6 — Recourse and accountability: not graded yet<br><em>Say &quot;who&quot; decides;<br>"
            "a path like C:&#92;appeals is &lt;not&gt; an answer &amp; more</em>") in comment
    assert "<em>" not in rows["Participant 1234567"][ws.FEEDBACK]
    with zipfile.ZipFile(bundle) as zf:
        page = zf.read("Alan Turing_2345678_assignsubmission_file/feedback-ethics.html").decode()
    assert "a path like C:\\appeals is &lt;not&gt; an answer &amp; more" in page


def test_a_hand_score_marked_for_review_again_is_shown_not_called_ungraded(course, tmp_path):
    """nbgrader's autograde marks a cell a grader already scored as needing review again; its score stands."""
    from course_lib.assignment import Assignment
    from course_lib.feedback import render
    from course_lib.gradebook import open_gradebook
    from course_lib.manual import import_sheet
    from course_lib.moodle.export import assignment_totals, comment_html

    import_sheet(config=course, assignment_id=AID, path=sheet(tmp_path / "s.csv", [("alan", "recourse", "2", "")]))
    with open_gradebook(course) as gb:  # what nbgrader's SaveAutoGrades does on the next autograde
        gb.find_grade("recourse", "ethics", AID, "alan").needs_manual_grade = True
        gb.db.commit()
    page = render(course, AID, "ethics", "alan")
    recourse = question_section(page, "Question 6 — Recourse and accountability")
    assert "2 / 3 points" in recourse and "not graded yet" not in recourse
    assert "not graded yet" in question_section(page, "Question 5 — Feedback loops")  # nobody scored this one
    comment = comment_html(course, Assignment.load(course, AID), assignment_totals(course, AID)["alan"])
    assert "Recourse and accountability: 2 / 3" in comment
    assert "Feedback loops: not graded yet" in comment


@pytest.mark.slow
def test_grading_again_keeps_a_hand_score_of_an_unchanged_answer_and_reopens_a_changed_one(own_course, tmp_path):
    """A batch graded again (a test mended, ``--force``) leaves the hand-scored written answers scored, so no
    export calls the grade pending; a resubmitted answer is marked for a person again (its old score stands)."""
    from course_lib.assignment import Assignment
    from course_lib.autograde import autograde
    from course_lib.config import CourseConfig
    from course_lib.gradebook import open_gradebook
    from course_lib.manual import import_sheet
    from course_lib.moodle.export import assignment_totals, comment_html

    config = CourseConfig.load(own_course).with_overrides(device="cpu")
    spec = Assignment.load(config, AID).notebook("ethics")
    nb = spec.release_nb()
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in HAND:
            cell.source = "Alan thinks about it."
    folder = own_course / "submitted" / "alan" / AID
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / "ethics.ipynb")
    autograde(config=config, assignment_id=AID, progress=False)
    import_sheet(config=config, assignment_id=AID,
                 path=sheet(tmp_path / "s.csv", [("alan", gid, "1", "") for gid in HAND]))

    def flags() -> dict:
        with open_gradebook(config) as gb:
            return {gid: gb.find_grade(gid, "ethics", AID, "alan").needs_manual_grade for gid in HAND}

    assert flags() == dict.fromkeys(HAND, False)
    autograde(config=config, assignment_id=AID, force=True, progress=False)
    assert flags() == dict.fromkeys(HAND, False)
    total = assignment_totals(config, AID)["alan"]
    assert not total.needs_manual_grade
    assert "still to be graded by hand" not in comment_html(config, Assignment.load(config, AID), total)

    for cell in nb.cells:  # the student hands in another answer to one question
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "recourse":
            cell.source = "Alan thinks about it again, differently."
    nbformat.write(nb, folder / "ethics.ipynb")
    autograde(config=config, assignment_id=AID, progress=False)
    assert flags() == {**dict.fromkeys(HAND, False), "recourse": True}
    assert assignment_totals(config, AID)["alan"].needs_manual_grade


def test_an_answer_rewritten_in_a_copy_of_its_cell_is_marked_for_review_again(course, tmp_path):
    """A copy of a written answer's cell (Jupyter's copy and paste keeps its nbgrader metadata) holding a new
    answer is the one nbgrader grades (its DeduplicateIds keeps the last cell of an id): grading again with the
    first copy unchanged still marks the question for a person."""
    import copy

    from course_lib.assignment import Assignment
    from course_lib.autograde import load_results
    from course_lib.collect import submissions
    from course_lib.gradebook import open_gradebook, record
    from course_lib.manual import import_sheet

    spec = Assignment.load(course, AID).notebook("ethics")
    import_sheet(config=course, assignment_id=AID, path=sheet(tmp_path / "s.csv", [("alan", "recourse", "2", "")]))
    sub = next(iter(submissions(course, AID, ["alan"])))
    before = nbformat.read(sub.path, as_version=4)
    now = copy.deepcopy(before)
    at = next(i for i, c in enumerate(now.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "recourse")
    rewritten = copy.deepcopy(now.cells[at])
    rewritten.source = "Alan thinks about it again, differently."
    now.cells.insert(at + 1, rewritten)

    def review(student_nb) -> bool:
        record(course, spec, load_results(course, "alan", AID, "ethics"), timestamp=sub.timestamp,
               release_nb=spec.release_nb(), student_nb=student_nb, previous_nb=before)
        with open_gradebook(course) as gb:
            return gb.find_grade("recourse", "ethics", AID, "alan").needs_manual_grade

    assert review(copy.deepcopy(before)) is False  # the same answer: its hand score stands as it is
    assert review(now) is True


def test_a_changed_answer_graded_again_before_anyone_reviewed_it_stays_marked(course, tmp_path):
    """The hand score of the earlier answer stands for a changed one only until a person looks: grading the
    changed answer again (``--force``, a mended test) must not take it off the list as if it had been scored."""
    import copy

    from course_lib.assignment import Assignment
    from course_lib.autograde import load_results
    from course_lib.collect import submissions
    from course_lib.gradebook import open_gradebook, record
    from course_lib.manual import import_sheet

    spec = Assignment.load(course, AID).notebook("ethics")
    import_sheet(config=course, assignment_id=AID, path=sheet(tmp_path / "s.csv", [("alan", "recourse", "2", "")]))
    sub = next(iter(submissions(course, AID, ["alan"])))
    first = nbformat.read(sub.path, as_version=4)
    second = copy.deepcopy(first)
    for cell in second.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "recourse":
            cell.source = "Alan thinks about it again, differently."

    def review(previous_nb, student_nb) -> bool:
        record(course, spec, load_results(course, "alan", AID, "ethics"), timestamp=sub.timestamp,
               release_nb=spec.release_nb(), student_nb=student_nb, previous_nb=previous_nb)
        with open_gradebook(course) as gb:
            return gb.find_grade("recourse", "ethics", AID, "alan").needs_manual_grade

    assert review(first, second) is True  # resubmitted: for a person
    assert review(second, second) is True  # graded again, nobody looked yet: still for a person
    import_sheet(config=course, assignment_id=AID, path=sheet(tmp_path / "t.csv", [("alan", "recourse", "3", "")]))
    assert review(second, second) is False  # scored by a person since: it stays scored


def test_a_sheet_imported_as_exported_leaves_a_changed_answer_waiting_for_review(course, tmp_path):
    """Alan's recourse answer was scored 2, then changed in a resubmission: it waits for review, its 2 standing.
    The exported sheet leaves its score cell blank (the 2 is beside it, to read), so importing the sheet
    untouched does not mark his new answer as graded; typing a score there does."""
    from course_lib.gradebook import open_gradebook
    from course_lib.manual import export_sheet, import_sheet
    from course_lib.moodle.export import assignment_totals

    import_sheet(config=course, assignment_id=AID, path=sheet(tmp_path / "s.csv", [("alan", "recourse", "2", "")]))
    with open_gradebook(course) as gb:  # what grading the resubmission does to a changed answer
        gb.find_grade("recourse", "ethics", AID, "alan").needs_manual_grade = True
        gb.db.commit()
    exported = tmp_path / "out.csv"
    export_sheet(config=course, assignment_id=AID, path=exported)
    rows = {(r["student"], r["question"]): r for r in csv.DictReader(exported.open(encoding="utf-8"))}
    assert (rows[("alan", "recourse")]["score"], rows[("alan", "recourse")]["earlier_score"]) == ("", "2")
    assert rows[("ada.lovelace", "recourse")]["earlier_score"] == ""
    import_sheet(config=course, assignment_id=AID, path=exported)
    assert hand_grades(course)[("alan", "recourse")] == (2.0, None, True)
    assert assignment_totals(course, AID)["alan"].needs_manual_grade
    import_sheet(config=course, assignment_id=AID, path=sheet(tmp_path / "t.csv", [("alan", "recourse", "2", "")]))
    assert hand_grades(course)[("alan", "recourse")] == (2.0, None, False)
