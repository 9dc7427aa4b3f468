"""Moodle round trip without kernels: zip namings, worksheet variants, roster, late work, exports.

Grades come from synthetic verdicts written through the same gradebook code autograde
uses, so every export is checked against numbers the test chose.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from course_lib.moodle import worksheet as ws
from course_lib.moodle.names import feedback_entry, is_safe, parse_entry

HEADER = ['Identifier', 'Full name', 'Email address', 'Status', 'Grade', 'Maximum Grade', 'Grade can be changed',
          'Last modified (submission)', 'Last modified (grade)', 'Feedback comments']

# name, participant id, email, status, submitted
CLASS = [
    ("Ada Lovelace", "1234567", "ada.lovelace@uni.example", "Submitted for grading", "Monday, 5 October 2026, 9:15 PM"),
    ("Émile Zoë O'Brien", "2345678", "emile@uni.example", "Submitted for grading", "Wednesday, 7 October 2026, 10:00 AM"),
    ('Grace "Amazing" Hopper, Jr', "3456789", "grace@uni.example", "Submitted for grading", "Sunday, 4 October 2026, 8:00 AM"),
    ("Draft Dora", "4567890", "dora@uni.example", "Draft (not submitted)", "Saturday, 3 October 2026, 8:00 AM"),
    ("Nobody Ned", "5678901", "ned@uni.example", "No submission", "-"),
]


def fputcsv(cells):
    return ws.format_row(cells)


def make_worksheet(path: Path, *, people=CLASS, extra=(), bom=False, newline="\n", maximum="100.00",
                   comments=None, header=HEADER, prefix="Participant ", yes="Yes") -> Path:
    """A worksheet as Moodle writes it, with optional extra identity columns inserted after Email.

    ``header`` (10 names in the order of :data:`HEADER`) and ``prefix`` (before each participant
    id) give other Moodle versions and languages.
    """
    header = list(header)
    header = header[:3] + [name for name, _ in extra] + header[3:]
    lines = [fputcsv(header)]
    for i, (name, pid, email, status, when) in enumerate(people):
        row = [f"{prefix}{pid}", name, email, *[values[i % len(values)] for _, values in extra], status, "",
               maximum, yes, when, "-", (comments or {}).get(pid, "")]
        lines.append(fputcsv(row))
    text = ("\ufeff" if bom else "") + newline.join(lines) + newline
    path.write_bytes(text.encode("utf-8"))
    return path


def notebook_bytes(spec, marker: str) -> bytes:
    nb = spec.release_nb()
    nb.cells.append(nbformat.v4.new_markdown_cell(f"student note {marker}"))
    return nbformat.writes(nb).encode()


def make_zip(path: Path, spec, naming: str, people=CLASS, blind=False, extras=True) -> Path:
    """Moodle's "Download all submissions" zip in one of its namings."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, pid, *_ in people:
            if name == "Nobody Ned":
                continue
            shown = "Participant" if blind else name.replace("_", " ")
            folder = f"{shown}_{pid}_assignsubmission_file"
            nb_name = f"{spec.name}.ipynb" if name != "Grace \"Amazing\" Hopper, Jr" else "my homework (final).ipynb"
            files = {nb_name: notebook_bytes(spec, pid)}
            if extras and name == "Ada Lovelace":
                files["data/notes.txt"] = b"scratch"
            for rel, data in files.items():
                if naming == "folders":
                    zf.writestr(f"{folder}/{rel}", data)
                elif naming == "underscore":
                    zf.writestr(f"{folder}_/{rel}", data)
                else:
                    zf.writestr(f"{folder}_{rel.replace('/', '_')}", data)
        if extras:
            zf.writestr("__MACOSX/._junk", b"x")
            zf.writestr("Ada Lovelace_1234567_assignsubmission_file/../../evil.ipynb", b"{}")
    return path


@pytest.fixture
def course(own_course):
    """A course copy with a due date and a late policy for 01-tensors."""
    cfg = own_course / "nbgrader_config.py"
    cfg.write_text(cfg.read_text() + '\nc.Course.timezone = "Europe/Berlin"\nc.Course.late_penalty_per_day = 0.1\n'
                   'c.Course.late_cutoff_days = 5\nc.Course.assignments["01-tensors"]["due"] = "2026-10-05 23:59"\n')
    from course_lib.config import CourseConfig

    return CourseConfig.load(own_course).with_overrides(device="cpu")


@pytest.fixture
def spec(course):
    from course_lib.assignment import Assignment

    return Assignment.load(course, "01-tensors").notebook("tensors")


def grade(config, spec, student: str, fraction: float, message: str = "off by a bit"):
    """Record a verdict scoring ``fraction`` of every check, as autograde would."""
    from course_lib.autograde import save_results
    from course_lib.collect import submissions
    from course_lib.gradebook import ensure_notebook, record
    from course_lib.models import CheckResult, GradedSubmission

    ensure_notebook(config, spec)
    checks = tuple(CheckResult(name=c.name, grade_id=q.grade_id, points=c.points * fraction, max_points=c.points,
                               passed=fraction == 1, message="" if fraction == 1 else message,
                               describe=c.name)
                   for q in spec.grader.questions for c in q.checks)
    graded = GradedSubmission(student=student, assignment=spec.assignment, notebook=spec.name, checks=checks)
    sub = next(s for s in submissions(config, spec.assignment, [student]))
    record(config, spec, graded, timestamp=sub.timestamp, release_nb=spec.release_nb())
    save_results(config, graded, "test")
    return graded


# -- names ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("entry, name, pid, path", [
    ("Jane Doe_1234567_assignsubmission_file/hw1.ipynb", "Jane Doe", "1234567", "hw1.ipynb"),
    ("Jane Doe_1234567_assignsubmission_file/data/extra.csv", "Jane Doe", "1234567", "data/extra.csv"),
    ("Participant_7654321_assignsubmission_file/hw1.ipynb", "Participant", "7654321", "hw1.ipynb"),
    ("Jane Doe_1234567_assignsubmission_file_/hw1.ipynb", "Jane Doe", "1234567", "hw1.ipynb"),
    ("Jane Doe_1234567_assignsubmission_file_hw1.ipynb", "Jane Doe", "1234567", "hw1.ipynb"),
    ("Jane Doe_1234567_assignsubmission_file_my_file.ipynb", "Jane Doe", "1234567", "my_file.ipynb"),
])
def test_every_moodle_naming_gives_participant_and_path(entry, name, pid, path):
    got = parse_entry(entry)
    assert (got.name, got.participant, got.path) == (name, pid, path)


def test_names_moodle_did_not_write_are_refused():
    assert parse_entry("hw1.ipynb") is None
    assert parse_entry("Jane Doe_abc_assignsubmission_file/hw1.ipynb") is None
    assert parse_entry("Jane Doe_1234567_onlinetext_/onlinetext.html") is None
    assert not is_safe("../../etc/passwd") and not is_safe("/abs.ipynb") and is_safe("a/b.ipynb")


def moodle_feedback_pid(path: str) -> str | None:
    """assignfeedback_file's matching: split on / and _, the id comes right before 'assignsubmission'."""
    for part in path.split("/"):
        bits = part.split("_")
        for i in range(1, len(bits)):
            if bits[i] == "assignsubmission" and bits[i - 1].isdigit():
                return bits[i - 1]
    return None


def test_feedback_entries_match_their_participant_even_with_underscores_in_names():
    for name in ("Jane Doe", "o_neil_x", "Ünïcödé Näme", "Participant"):
        entry = feedback_entry(name, "1234567", "feedback-tensors.html")
        assert moodle_feedback_pid(entry) == "1234567"
        assert parse_entry(entry).participant == "1234567"
        assert not Path(entry).name.startswith((".", "~"))


# -- worksheet -----------------------------------------------------------------------------------

VARIANTS = {
    "plain": {},
    "identity-columns": {"extra": [("ID number", ["S001", "S002", ""]), ("Username", ["ada", "emile", "g"])]},
    "group-marker-workflow": {"extra": [("Group", ["Lab A", "Lab B, evening"]), ("Marker", ["-"]),
                                        ("Marking workflow state", ["Not marked"])]},
    "bom": {"bom": True},
    "crlf": {"newline": "\r\n"},
    "bom-crlf-groups": {"bom": True, "newline": "\r\n", "extra": [("Group", ["G1"])]},
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_worksheet_round_trip_changes_only_the_filled_cells(tmp_path, variant):
    src = make_worksheet(tmp_path / "in.csv", comments={"5678901": "Talk to me, please."}, **VARIANTS[variant])
    sheet = ws.Worksheet.read(src)
    assert sheet.bom == VARIANTS[variant].get("bom", False)
    row = sheet.rows[2]  # the name with quotes and a comma
    assert sheet.get(row, ws.FULL_NAME) == 'Grace "Amazing" Hopper, Jr'
    sheet.set(row, ws.GRADE, "87.50")
    sheet.set(row, ws.FEEDBACK, "<p>Well done, Grace.</p><p>Q1: 2 / 2<br>Q2: 1 / 2</p>")
    out = tmp_path / "out.csv"
    sheet.write(out)
    original, written = src.read_bytes(), out.read_bytes()
    newline = VARIANTS[variant].get("newline", "\n").encode()
    assert written.startswith(b"\xef\xbb\xbf") == original.startswith(b"\xef\xbb\xbf")
    # header and every untouched row byte-identical, same line ends
    assert written.split(newline)[0] == original.split(newline)[0]
    assert [l for i, l in enumerate(written.split(newline)) if i != 3] == \
           [l for i, l in enumerate(original.split(newline)) if i != 3]
    # parses back with Python's csv: same header, equal widths, only two cells changed
    before = list(csv.reader(io.StringIO(original.decode("utf-8-sig"), newline="")))
    after = list(csv.reader(io.StringIO(written.decode("utf-8-sig"), newline="")))
    assert after[0] == before[0] and len({len(r) for r in after}) == 1
    changed = {(i, j) for i, (a, b) in enumerate(zip(before, after)) for j, (x, y) in enumerate(zip(a, b)) if x != y}
    assert changed == {(3, before[0].index("Grade")), (3, before[0].index("Feedback comments"))}
    assert after[3][before[0].index("Grade")] == "87.50"


def test_a_backslash_quote_in_a_cell_reads_and_writes_as_moodles_fgetcsv_has_it(tmp_path):
    # Moodle writes with PHP's fputcsv, which does not double a quote right after a backslash, and reads with
    # fgetcsv, which keeps a backslash and the character after it as they stand (lib/csvlib.class.php). A
    # student's online text with code (a backslash, then a quote, then a comma) is one cell to Moodle, though
    # Python's csv module splits it at the comma.
    value = 'print("a\\"", b)'
    header = 'Identifier,"Full name",Grade,"Last modified (grade)","Online text"'
    row = '"Participant 1",Ann,,-,"print(""a\\""", b)"'
    src = tmp_path / "w.csv"
    src.write_text(f"{header}\n{row}\n")
    sheet = ws.Worksheet.read(src)
    assert sheet.get(sheet.rows[0], "Online text") == value
    sheet.set(sheet.rows[0], ws.GRADE, "50.00")
    assert ws.format_row(sheet.rows[0].cells) == '"Participant 1",Ann,50.00,-,"print(""a\\""", b)"'
    sheet.write(tmp_path / "o.csv")
    again = ws.Worksheet.read(tmp_path / "o.csv")
    assert again.rows[0].cells == ["Participant 1", "Ann", "50.00", "-", value]


def test_worksheet_with_a_ragged_row_is_refused_with_its_line(tmp_path):
    src = make_worksheet(tmp_path / "in.csv")
    text = src.read_text().splitlines()
    text[2] += ",extra"
    src.write_text("\n".join(text) + "\n")
    with pytest.raises(ws.WorksheetError, match="line 3 has 11 cells but the header has 10"):
        ws.Worksheet.read(src)


def test_a_csv_that_is_not_a_worksheet_is_refused(tmp_path):
    (tmp_path / "x.csv").write_text("student,score\nada,3\n")
    with pytest.raises(ws.WorksheetError, match="no 'Identifier' column"):
        ws.Worksheet.read(tmp_path / "x.csv")


def test_moodle_times_and_numbers():
    when = ws.parse_time("Monday, 5 October 2026, 9:15 PM", "Europe/Berlin")
    assert when.isoformat() == "2026-10-05T19:15:00+00:00"
    assert ws.parse_time("-") is None and ws.parse_time("") is None
    assert ws.number("85,5") == 85.5 and ws.number("100.00") == 100.0 and ws.number("-") is None
    assert ws.grade_text(8.5) == "8.50"
    assert [ws.submission_status(s) for s in ("Submitted for grading - Graded", "Draft (not submitted)",
                                              "No submission", "")] == ["submitted", "draft", "none", "submitted"]


def test_a_numeric_date_whose_month_cannot_be_told_is_not_read():
    """A worksheet re-saved by a spreadsheet program carries its locale's dates: '10/5/2026 9:15 PM' is
    5 October in the US and 10 May in Britain; taking either would move the submission by months."""
    for text in ("10/5/2026 9:15 PM", "5/10/2026, 21:15", "10-05-2026 21:15"):
        assert ws.parse_time(text, "Europe/Berlin") is None
    assert ws.parse_time("10/13/2026 9:15 PM", "UTC").isoformat() == "2026-10-13T21:15:00+00:00"
    assert ws.parse_time("13/10/2026, 21:15", "UTC").isoformat() == "2026-10-13T21:15:00+00:00"
    assert ws.parse_time("05.10.2026 21:15", "UTC").isoformat() == "2026-10-05T21:15:00+00:00"  # day first


# -- import --------------------------------------------------------------------------------------

@pytest.mark.parametrize("naming", ["folders", "underscore", "flat"])
def test_import_every_naming_maps_students_by_email_and_skips_drafts(course, spec, tmp_path, naming):
    from course_lib.gradebook import open_gradebook
    from course_lib.moodle.importer import collect_moodle

    sheet = make_worksheet(tmp_path / "Grades.csv")
    report = collect_moodle(config=course, assignment_id="01-tensors", zip_path=make_zip(tmp_path / "s.zip", spec,
                            naming), worksheet=sheet)
    assert sorted(s.student for s in report.collected) == ["ada.lovelace", "emile", "grace"]
    for sub in report.collected:
        assert Path(sub.path).name == "tensors.ipynb"
        assert f"student note" in Path(sub.path).read_text()
    # the renamed notebook was chosen and said so
    assert [(s, n) for s, _, n in report.choices if "renamed" in n] == \
           [("grace", "renamed notebook: graded my homework (final).ipynb as tensors.ipynb")]
    assert [s for s, _, _ in report.skipped] == ["dora"]
    problems = " ".join(f"{s} {f} {m}" for s, f, m in report.problems)
    # the student's other file stays beside the notebook, as nbgrader keeps it (autograde runs the notebook there)
    assert "notes.txt" not in problems
    kept = course.path("submitted", "ada.lovelace", "01-tensors")
    assert (kept / ("data/notes.txt" if naming != "flat" else "data_notes.txt")).read_bytes() == b"scratch"
    if naming != "flat":  # flat mode has no folders to climb out of
        assert "unsafe path" in problems
    assert "__MACOSX" not in problems
    # worksheet times (Europe/Berlin) become nbgrader's UTC timestamp
    ada = course.path("submitted", "ada.lovelace", "01-tensors", "timestamp.txt").read_text()
    assert ada.startswith("2026-10-05 19:15:00")
    with open_gradebook(course) as gb:
        students = {s.id: (s.first_name, s.last_name, s.email) for s in gb.students}
    assert students["emile"] == ("Émile Zoë", "O'Brien", "emile@uni.example")
    assert students["ned"][2] == "ned@uni.example"  # the whole class is in the roster


def test_a_draft_row_of_a_student_collected_before_says_the_earlier_submission_still_counts(course, spec, tmp_path):
    """A submission reverted to draft in Moodle is not collected; the one collected earlier stays and is graded,
    and the summary says so instead of a bare "skipped"."""
    from course_lib.moodle.importer import collect_moodle

    earlier = course.path("submitted", "dora", "01-tensors")
    earlier.mkdir(parents=True)
    (earlier / "tensors.ipynb").write_bytes(notebook_bytes(spec, "4567890"))
    report = collect_moodle(config=course, assignment_id="01-tensors",
                            zip_path=make_zip(tmp_path / "s.zip", spec, "folders"),
                            worksheet=make_worksheet(tmp_path / "Grades.csv"))
    (dora,) = [why for s, _, why in report.skipped if s == "dora"]
    assert "not submitted for grading" in dora and "collected earlier" in dora and "still graded" in dora
    assert (earlier / "tensors.ipynb").is_file()


def test_blind_marking_zip_and_a_worksheet_without_identities(course, spec, tmp_path):
    from course_lib.moodle.importer import collect_moodle

    report = collect_moodle(config=course, assignment_id="01-tensors",
                            zip_path=make_zip(tmp_path / "b.zip", spec, "folders", blind=True, extras=False),
                            worksheet=make_worksheet(tmp_path / "w.csv"))
    assert sorted(s.student for s in report.collected) == ["ada.lovelace", "emile", "grace"]
    hidden = [(f"Participant {pid}", pid, "", status, when) for _, pid, _, status, when in CLASS]
    report = collect_moodle(config=course, assignment_id="01-tensors",
                            zip_path=make_zip(tmp_path / "b.zip", spec, "folders", blind=True, extras=False),
                            worksheet=make_worksheet(tmp_path / "h.csv", people=hidden))
    assert sorted(s.student for s in report.collected) == ["participant-1234567", "participant-2345678",
                                                           "participant-3456789"]


def test_participant_ids_change_between_assignments_but_students_do_not(course, spec, tmp_path):
    from course_lib.assignment import Assignment
    from course_lib.moodle.importer import collect_moodle
    from course_lib.moodle.roster import participant_map

    collect_moodle(config=course, assignment_id="01-tensors", zip_path=make_zip(tmp_path / "a.zip", spec, "folders"),
                   worksheet=make_worksheet(tmp_path / "a.csv"))
    shuffled = [(n, str(int(pid) + 1111), e, s, w) for n, pid, e, s, w in reversed(CLASS)]
    spec2 = Assignment.load(course, "03-softmax-nll").notebooks[0]
    report = collect_moodle(config=course, assignment_id="03-softmax-nll",
                            zip_path=make_zip(tmp_path / "b.zip", spec2, "folders", people=shuffled, extras=False),
                            worksheet=make_worksheet(tmp_path / "b.csv", people=shuffled))
    first, second = participant_map(course, "01-tensors"), participant_map(course, "03-softmax-nll")
    assert first["1234567"] == second[str(1234567 + 1111)] == "ada.lovelace"
    assert set(first) & set(second) == set()
    assert "grace" in {s.student for s in report.collected}  # renamed, picked by its nbgrader cells


def test_same_local_part_different_email_gets_a_distinct_id(course, spec, tmp_path):
    from course_lib.moodle.importer import collect_moodle

    people = [("Jo Smith", "111", "jo@uni.example", "Submitted for grading", "Monday, 5 October 2026, 9:15 PM"),
              ("Jo Smith", "222", "jo@other.example", "Submitted for grading", "Monday, 5 October 2026, 9:15 PM")]
    report = collect_moodle(config=course, assignment_id="01-tensors",
                            zip_path=make_zip(tmp_path / "z.zip", spec, "folders", people=people, extras=False),
                            worksheet=make_worksheet(tmp_path / "w.csv", people=people))
    ids = sorted(s.student for s in report.collected)
    assert ids[0] == "jo" and re.fullmatch(r"jo-[0-9a-f]{6}", ids[1])


SIBLINGS = [("Sam Twin", "1111111", "family@uni.example", "Submitted for grading", "Monday, 5 October 2026, 9:15 PM"),
            ("Alex Twin", "2222222", "Family@uni.example", "Submitted for grading", "Monday, 5 October 2026, 9:15 PM")]


def test_accounts_sharing_an_email_are_different_students(course, spec, tmp_path):
    """A site with allowaccountssameemail lets two accounts have one email: each keeps its own notebook
    and its own grade, in every export, and keeps its id when collected again."""
    from course_lib.collect import submissions
    from course_lib.moodle.export import export_gradebook, export_worksheet
    from course_lib.moodle.importer import collect_moodle

    def collect():
        return collect_moodle(config=course, assignment_id="01-tensors",
                              zip_path=make_zip(tmp_path / "z.zip", spec, "folders", people=SIBLINGS, extras=False),
                              worksheet=make_worksheet(tmp_path / "w.csv", people=SIBLINGS))

    report = collect()
    sam, alex = (next(s.student for s in report.collected if pid.encode() in Path(s.path).read_bytes())
                 for _, pid, *_ in SIBLINGS)
    assert sam != alex and not report.problems
    assert sorted(s.student for s in collect().collected) == sorted([sam, alex])
    assert {s.student for s in submissions(course, "01-tensors", [sam, alex])} == {sam, alex}
    grade(course, spec, sam, 1.0)
    grade(course, spec, alex, 0.25)
    out = tmp_path / "o.csv"
    export_worksheet(config=course, assignment_id="01-tensors", worksheet=tmp_path / "w.csv", out=out)
    rows = {r[0]: r for r in moodle_rows(out.read_bytes())[1:]}
    g = HEADER.index("Grade")
    assert (rows["Participant 1111111"][g], rows["Participant 2222222"][g]) == ("100.00", "25.00")
    result = export_gradebook(config=course, out=tmp_path / "all.csv")
    assert "family" not in (tmp_path / "all.csv").read_text().lower()  # Moodle would refuse the whole file
    assert [w for w in result["warnings"] if sam in w and alex in w and "share an email" in w]


def test_accounts_with_one_email_and_one_name_are_never_given_each_others_files(course, spec, tmp_path):
    from course_lib.moodle.export import export_worksheet
    from course_lib.moodle.importer import collect_moodle

    twins = [("Sam Twin", pid, email, status, when) for _, pid, email, status, when in SIBLINGS] + CLASS[:1]
    report = collect_moodle(config=course, assignment_id="01-tensors",
                            zip_path=make_zip(tmp_path / "z.zip", spec, "folders", people=twins, extras=False),
                            worksheet=make_worksheet(tmp_path / "w.csv", people=twins))
    assert [s.student for s in report.collected] == ["ada.lovelace"]
    grade(course, spec, "ada.lovelace", 1.0)
    assert [p for p in report.problems if "participant 1111111, participant 2222222" in p[1]]
    export = export_worksheet(config=course, assignment_id="01-tensors", worksheet=tmp_path / "w.csv",
                              out=tmp_path / "o.csv")
    assert [i for i, _, why in export.unmatched if "same email and the same full name" in why] == \
        ["Participant 1111111", "Participant 2222222"]
    assert [s for s, *_ in export.filled] == ["ada.lovelace"]


def test_broken_and_junk_uploads_are_reported_and_the_class_goes_on(course, spec, tmp_path):
    from course_lib.moodle.importer import collect_moodle

    path = make_zip(tmp_path / "s.zip", spec, "folders", extras=False)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("Ada Lovelace_1234567_assignsubmission_file/tensors.ipynb.bak", b"junk")
        zf.writestr("Outsider_9999999_assignsubmission_file/tensors.ipynb", notebook_bytes(spec, "x"))
        zf.writestr("random.txt", b"?")
    # Émile's notebook is truncated
    data = {i.filename: zipfile.ZipFile(path).read(i.filename) for i in zipfile.ZipFile(path).infolist()}
    key = next(k for k in data if "2345678" in k)
    data[key] = data[key][:200]
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in data.items():
            zf.writestr(k, v)
    report = collect_moodle(config=course, assignment_id="01-tensors", zip_path=path,
                            worksheet=make_worksheet(tmp_path / "w.csv"))
    assert sorted(s.student for s in report.collected) == ["ada.lovelace", "grace"]
    text = "\n".join(" | ".join(p) for p in report.problems)
    assert re.search(r"emile \| tensors.ipynb \| the notebook is truncated", text)
    assert "participant 9999999" in text and "not in the worksheet" in text
    assert "random.txt" in text


def test_a_zip_from_another_assignment_is_refused(course, spec, tmp_path):
    from course_lib.errors import CourseError
    from course_lib.moodle.importer import collect_moodle

    others = [(n, "9" + pid, e, s, w) for n, pid, e, s, w in CLASS]
    with pytest.raises(CourseError, match="no participant of .* is in"):
        collect_moodle(config=course, assignment_id="01-tensors",
                       zip_path=make_zip(tmp_path / "s.zip", spec, "folders", people=others, extras=False),
                       worksheet=make_worksheet(tmp_path / "w.csv"))


# -- export --------------------------------------------------------------------------------------

@pytest.fixture
def graded_class(course, spec, tmp_path):
    """Ada on time with full marks, Émile two days late with half, Grace on time with a quarter."""
    from course_lib.moodle.importer import collect_moodle

    collect_moodle(config=course, assignment_id="01-tensors", zip_path=make_zip(tmp_path / "s.zip", spec, "folders"),
                   worksheet=make_worksheet(tmp_path / "collect.csv"))
    for student, fraction in (("ada.lovelace", 1.0), ("emile", 0.5), ("grace", 0.25)):
        grade(course, spec, student, fraction)
    return course


def test_late_penalty_goes_through_nbgrader_and_nbgrader_export_agrees(graded_class, spec, tmp_path):
    from course_lib.feedback import render
    from course_lib.gradebook import notebook_scores

    scores = notebook_scores(graded_class, "01-tensors", "tensors", "emile")
    # due 5 Oct 23:59 Berlin, handed in 7 Oct 10:00 Berlin: 2 started days, 10 % of the score each
    assert scores["score"] == pytest.approx(spec.grader.questions and sum(q.points for q in spec.grader.questions) / 2)
    assert scores["late_penalty"] == pytest.approx(0.2 * scores["score"])
    assert notebook_scores(graded_class, "01-tensors", "tensors", "ada.lovelace")["late_penalty"] == 0
    page = render(graded_class, "01-tensors", "tensors", "emile")
    assert "late penalty" in page and "1 day 10 hours" in page
    out = tmp_path / "nbgrader.csv"
    subprocess.run([sys.executable, "-m", "nbgrader", "export", f"--to={out}"], cwd=graded_class.root, check=True,
                   capture_output=True)
    rows = {r["student_id"]: r for r in csv.DictReader(out.open())}
    assert float(rows["emile"]["late_submission_penalty"]) == pytest.approx(scores["late_penalty"])
    assert rows["emile"]["email"] == "emile@uni.example"


def test_export_fills_grades_scaled_clamped_and_leaves_other_rows_alone(graded_class, spec, tmp_path):
    from course_lib.moodle.export import export_worksheet

    src = make_worksheet(tmp_path / "Grades-dl-01.csv", maximum="20.00", bom=True, newline="\r\n",
                         extra=[("Group", ["Lab A", "Lab B"])], comments={"5678901": "Spoke to Ned, extension."})
    out, fb = tmp_path / "filled.csv", tmp_path / "feedback.zip"
    report = export_worksheet(config=graded_class, assignment_id="01-tensors", worksheet=src, out=out,
                              feedback_zip=fb)
    total = sum(q.points for q in spec.grader.questions)
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"), newline="")))
    header, body = rows[0], {r[0]: r for r in rows[1:]}
    assert header == list(csv.reader(io.StringIO(src.read_bytes().decode("utf-8-sig"))))[0]
    assert len({len(r) for r in rows}) == 1
    g, m, fbc = header.index("Grade"), header.index("Maximum Grade"), header.index("Feedback comments")
    assert body["Participant 1234567"][g] == "20.00"
    late_final = total * 0.5 * 0.8
    assert body["Participant 2345678"][g] == f"{late_final / total * 20:.2f}"
    assert body["Participant 3456789"][g] == f"{0.25 * 20:.2f}"
    for r in body.values():  # Moodle skips grades above the maximum or with a decimal comma
        assert r[g] == "" or (re.fullmatch(r"\d+\.\d\d", r[g]) and float(r[g]) <= float(r[m]))
    # no graded submission: the rows are byte-identical, the existing comment survives
    assert body["Participant 5678901"][fbc] == "Spoke to Ned, extension."
    assert body["Participant 4567890"][g] == ""
    lines_in = src.read_bytes().split(b"\r\n")
    lines_out = out.read_bytes().split(b"\r\n")
    assert lines_out[4:] == lines_in[4:]
    assert "<br>" in body["Participant 1234567"][fbc] and "late" in body["Participant 2345678"][fbc]
    assert report.untouched == 2 and not report.unmatched
    # Émile's grade holds the course's penalty: Moodle 4.5+ would deduct its own again if its penalties are on
    assert [w for w in report.warnings if "Moodle's own grade penalties" in w and "(emile)" in w]
    with zipfile.ZipFile(fb) as zf:
        names = zf.namelist()
    assert sorted(moodle_feedback_pid(n) for n in names) == ["1234567", "2345678", "3456789"]
    assert all(n.endswith("/feedback-tensors.html") for n in names)


def test_export_reports_rows_it_cannot_match_and_refuses_a_foreign_worksheet(graded_class, tmp_path):
    from course_lib.errors import CourseError
    from course_lib.moodle.export import export_worksheet

    people = CLASS + [("Late Joiner", "7777777", "new@uni.example", "No submission", "-")]
    report = export_worksheet(config=graded_class, assignment_id="01-tensors",
                              worksheet=make_worksheet(tmp_path / "w.csv", people=people), out=tmp_path / "o.csv")
    assert [u[0] for u in report.unmatched] == ["Participant 7777777"]
    strangers = [(n, "8" + pid, "x" + e, s, w) for n, pid, e, s, w in CLASS]
    with pytest.raises(CourseError, match="no row of .* belongs to a student graded"):
        export_worksheet(config=graded_class, assignment_id="01-tensors",
                         worksheet=make_worksheet(tmp_path / "s.csv", people=strangers), out=tmp_path / "o2.csv")


def test_course_gradebook_csv_for_moodle_grade_import(graded_class, spec, tmp_path):
    from course_lib.moodle.export import export_gradebook

    result = export_gradebook(config=graded_class, out=tmp_path / "course.csv")
    rows = list(csv.DictReader((tmp_path / "course.csv").open()))
    by_email = {r["Email address"]: r for r in rows}
    assert result["assignments"] == ["01-tensors"]
    assert by_email["ada.lovelace@uni.example"]["01-tensors"] == "100.00"
    assert by_email["emile@uni.example"]["01-tensors"] == "40.00"
    # Moodle's CSV import clears the grade of a "-" cell: a student without any grade has no row at all
    assert "ned@uni.example" not in by_email and "ned" in result["ungraded"]
    assert all(0 <= float(r["01-tensors"]) <= 100 for r in rows)
    assert not [w for w in result["warnings"] if "clears" in w]
    # a second assignment nobody was graded in: every row now holds a "-", which the export warns about
    from nbgrader.api import Gradebook

    with Gradebook(graded_class.db_url, graded_class.course_id) as gb:
        gb.update_or_create_assignment("02-gradients")
    result = export_gradebook(config=graded_class, out=tmp_path / "two.csv")
    rows = list(csv.DictReader((tmp_path / "two.csv").open()))
    assert sorted(result["assignments"]) == ["01-tensors", "02-gradients"] and {r["02-gradients"] for r in rows} == {"-"}
    assert any("clears the grade it holds for a '-' cell" in w and "--format xml" in w for w in result["warnings"])


def test_course_grades_are_points_of_each_moodle_grade_item(course, spec, tmp_path, capsys):
    """Moodle's CSV and XML grade imports store the number as the grade item's points, capped at its maximum:
    a total of 4/10 on an item out of 10 must be written 4.00, not 40.00 (which Moodle would cap to 10)."""
    from course_lib.cli import main
    from course_lib.errors import CourseError
    from course_lib.moodle.export import export_gradebook
    from course_lib.moodle.importer import collect_moodle
    from course_lib.moodle.roster import identities, metadata
    from sqlalchemy import create_engine

    collect_moodle(config=course, assignment_id="01-tensors", zip_path=make_zip(tmp_path / "s.zip", spec, "folders"),
                   worksheet=make_worksheet(tmp_path / "collect.csv", maximum="10.00"))
    for student, fraction in (("ada.lovelace", 1.0), ("emile", 0.5), ("grace", 0.25)):
        grade(course, spec, student, fraction)

    def grades(path):
        return {r["Email address"]: r["01-tensors"] for r in csv.DictReader(path.open())}

    result = export_gradebook(config=course, out=tmp_path / "ws.csv")  # the worksheet's Maximum Grade: 10
    got = grades(tmp_path / "ws.csv")
    assert got["ada.lovelace@uni.example"] == "10.00" and got["emile@uni.example"] == "4.00"  # 5/10 less 20 % late
    assert got["grace@uni.example"] == "2.50" and result["maximums"] == {"01-tensors": 10.0}
    assert not result["warnings"]
    # the XML import reads the same points
    numbers = {"ada.lovelace": "S-1", "emile": "S-2", "grace": "S-3"}
    engine = create_engine(course.db_url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(identities.insert(), [{"student_id": k, "id_number": v} for k, v in numbers.items()])
    engine.dispose()
    export_gradebook(config=course, out=tmp_path / "ws.xml", fmt="xml")
    got_xml = moodle_xml_import((tmp_path / "ws.xml").read_bytes(), items={"01-tensors"}, users=set(numbers.values()))
    assert sorted(got_xml) == [("01-tensors", "S-1", 10.0), ("01-tensors", "S-2", 4.0), ("01-tensors", "S-3", 2.5)]
    # the setting wins over the worksheet, the command line over both
    config = with_setting(course, 'c.Course.assignments["01-tensors"]["moodle_max_grade"] = 20')
    export_gradebook(config=config, out=tmp_path / "set.csv")
    assert grades(tmp_path / "set.csv")["emile@uni.example"] == "8.00"
    assert main(["--course", str(course.root), "export", "gradebook", "-o", str(tmp_path / "cli.csv"),
                 "--max-grade", "01-tensors=50"]) == 0
    assert grades(tmp_path / "cli.csv")["emile@uni.example"] == "20.00"
    assert "01-tensors: points out of 50 (the grade item's maximum, from --max-grade)" in capsys.readouterr().out
    assert main(["--course", str(course.root), "export", "gradebook", "-o", str(tmp_path / "x.csv"),
                 "--max-grade", "ten"]) != 0
    assert "--max-grade ten: not a number" in capsys.readouterr().err
    with pytest.raises(CourseError, match="not exported"):
        export_gradebook(config=course, out=tmp_path / "x.csv", max_grades={"02-autograd": 10})
    with pytest.raises(CourseError, match="above 0"):
        export_gradebook(config=course, out=tmp_path / "x.csv", max_grades={"": 0})
    with pytest.raises(Exception, match="moodle_max_grade.*above 0"):
        with_setting(course, 'c.Course.assignments["01-tensors"]["moodle_max_grade"] = "10"')


def test_course_grades_without_a_known_maximum_assume_100_and_say_so(course, spec, tmp_path, capsys):
    from course_lib.cli import main
    from course_lib.moodle.export import export_gradebook
    from course_lib.moodle.importer import collect_moodle

    collect_moodle(config=course, assignment_id="01-tensors", zip_path=make_zip(tmp_path / "s.zip", spec, "folders"),
                   worksheet=make_worksheet(tmp_path / "collect.csv", maximum="-"))  # no maximum to keep
    grade(course, spec, "ada.lovelace", 0.5)
    result = export_gradebook(config=course, out=tmp_path / "g.csv")
    assert next(csv.DictReader((tmp_path / "g.csv").open()))["01-tensors"] == "50.00"
    assert result["warnings"] and "Moodle's default maximum grade" in result["warnings"][0]
    assert main(["--course", str(course.root), "export", "gradebook", "-o", str(tmp_path / "c.csv")]) == 0
    out = capsys.readouterr().out
    assert "01-tensors: points out of 100 (assumed)" in out and "warning: 01-tensors: written out of 100" in out


def test_an_assignment_graded_on_a_scale_gets_no_numbers(course, spec, tmp_path, capsys):
    """Moodle's grading worksheet has a Scale column instead of Maximum Grade when the assignment is graded on a
    scale; its upload looks each Grade cell up among the scale's words and clears the grade of one it cannot
    find, so a number must never be written there, nor into a course-wide import for that grade item."""
    from course_lib.cli import main
    from course_lib.errors import CourseError
    from course_lib.moodle.export import export_gradebook, export_worksheet
    from course_lib.moodle.importer import collect_moodle

    scale_header = [("Scale" if h == "Maximum Grade" else h) for h in HEADER]
    sheet = make_worksheet(tmp_path / "scale.csv", header=scale_header, maximum="Not yet, Competent, Excellent")
    collect_moodle(config=course, assignment_id="01-tensors", zip_path=make_zip(tmp_path / "s.zip", spec, "folders"),
                   worksheet=sheet)
    grade(course, spec, "ada.lovelace", 0.5)
    with pytest.raises(CourseError, match="graded on a scale in Moodle .*'Scale' column") as refused:
        export_worksheet(config=course, assignment_id="01-tensors", worksheet=sheet, out=tmp_path / "out.csv")
    assert "grade type to Point" in refused.value.hint and not (tmp_path / "out.csv").exists()
    with pytest.raises(CourseError, match="graded on a scale in Moodle"):
        export_gradebook(config=course, out=tmp_path / "g.csv")
    assert not (tmp_path / "g.csv").exists()
    assert main(["--course", str(course.root), "export", "gradebook", "-o", str(tmp_path / "c.xml")]) != 0
    assert "01-tensors is graded on a scale" in capsys.readouterr().err and not (tmp_path / "c.xml").exists()
    # the instructor's own word on the grade item (now in points) wins over what the worksheet showed
    result = export_gradebook(config=course, out=tmp_path / "given.csv", max_grades={"01-tensors": 10})
    assert next(csv.DictReader((tmp_path / "given.csv").open()))["01-tensors"] == "5.00" and not result["warnings"]
    # a new worksheet in points replaces what was remembered
    collect_moodle(config=course, assignment_id="01-tensors", zip_path=make_zip(tmp_path / "s.zip", spec, "folders"),
                   worksheet=make_worksheet(tmp_path / "points.csv", maximum="20.00"))
    assert export_gradebook(config=course, out=tmp_path / "after.csv")["maximums"] == {"01-tensors": 20.0}


def test_nbgrader_export_plugin_writes_the_same_worksheet(graded_class, tmp_path):
    from course_lib.moodle.export import export_worksheet

    src = make_worksheet(tmp_path / "w.csv")
    export_worksheet(config=graded_class, assignment_id="01-tensors", worksheet=src, out=tmp_path / "ours.csv")
    out = tmp_path / "plugin.csv"
    run = subprocess.run([sys.executable, "-m", "nbgrader", "export",
                          "--exporter=course_lib.moodle.plugin.MoodleWorksheetExporter", f"--to={out}",
                          "--assignment=01-tensors", f"--MoodleWorksheetExporter.worksheet={src}"],
                         cwd=graded_class.root, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert out.read_bytes() == (tmp_path / "ours.csv").read_bytes()


def test_nbgrader_export_plugin_names_students_without_a_grade(graded_class, tmp_path):
    import shutil

    graded = graded_class.path("submitted")
    some = next(p for p in sorted(graded.glob("*/01-tensors/tensors.ipynb")))
    late = graded_class.path("submitted", "zz-not-graded-yet", "01-tensors")
    late.mkdir(parents=True)
    shutil.copy(some, late / "tensors.ipynb")
    run = subprocess.run([sys.executable, "-m", "nbgrader", "export",
                          "--exporter=course_lib.moodle.plugin.MoodleGradebookExporter", f"--to={tmp_path / 'c.csv'}"],
                         cwd=graded_class.root, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "zz-not-graded-yet" in run.stderr and "no grade in the gradebook" in run.stderr


def test_cli_collect_and_export(graded_class, tmp_path, capsys):
    from course_lib.cli import main

    root = str(graded_class.root)
    assert main(["--course", root, "collect", "01-tensors", "--from", str(tmp_path), "--moodle-zip", "x"]) == 1
    assert "exactly one source" in capsys.readouterr().err
    out = tmp_path / "filled.csv"
    assert main(["--course", root, "export", "moodle", "01-tensors", "--worksheet",
                 str(make_worksheet(tmp_path / "w.csv")), "-o", str(out)]) == 0
    assert "3 grade(s) filled" in capsys.readouterr().out
    assert main(["--course", root, "export", "gradebook", "-o", str(tmp_path / "all.csv")]) == 0


# -- Moodle versions and languages, backslashes, team submissions, XML grade import ----------------

HEADER_51 = [h if h != "Maximum Grade" else "Maximum grade" for h in HEADER]  # Moodle 5.1 (string maxgrade)
# A German site. The strings are those of Moodle's de language pack (mod/assign/lang/de/assign.php:
# recordid "ID", hiddenuser "Teilnehmer/in", maxgrade "Bestwertung", gradecanbechanged,
# lastmodifiedsubmission, lastmodifiedgrade) and of worksheets German sites write ("Vollständiger Name",
# "E-Mail-Adresse", "Bewertung", "Feedback als Kommentar"); the people are made up.
HEADER_DE = ["ID", "Vollständiger Name", "E-Mail-Adresse", "Status", "Bewertung", "Bestwertung",
             "Bewertung kann geändert werden", "Zuletzt geändert (Abgabe)", "Zuletzt geändert (Bewertung)",
             "Feedback als Kommentar"]
GERMAN = {"Identifier": "ID", "Full name": "Vollständiger Name", "Email address": "E-Mail-Adresse",
          "Grade": "Bewertung", "Maximum Grade": "Bestwertung",
          "Last modified (submission)": "Zuletzt geändert (Abgabe)",
          "Last modified (grade)": "Zuletzt geändert (Bewertung)", "Feedback comments": "Feedback als Kommentar",
          "Group": "Gruppe"}
CLASS_DE = [(n, pid, e, {"Submitted for grading": "Zur Bewertung abgegeben", "Draft (not submitted)":
                         "Entwurf (nicht abgegeben)", "No submission": "Keine Abgabe"}[s],
             "Montag, 5. Oktober 2026, 21:15" if w != "-" else "-") for n, pid, e, s, w in CLASS]
SPELLINGS = {
    "moodle-4": dict(header=HEADER),
    "moodle-5.1": dict(header=HEADER_51),
    "german": dict(header=HEADER_DE, prefix="Teilnehmer/in", yes="Ja", people=CLASS_DE),
}


def with_setting(config, line: str):
    """The course reloaded from its nbgrader_config.py with ``line`` added (the way an instructor sets it)."""
    from course_lib.config import CourseConfig

    path = config.root / "nbgrader_config.py"
    path.write_text(path.read_text() + "\n" + line + "\n")
    return CourseConfig.load(config.root).with_overrides(device="cpu")


def moodle_rows(data: bytes) -> list:
    """The rows as Moodle's reader (fgetcsv with "\\" as escape character) sees them."""
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), escapechar="\\"))


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_export_round_trips_every_moodle_version_and_a_german_site(graded_class, spec, tmp_path, spelling):
    from course_lib.moodle.export import export_worksheet

    config = with_setting(graded_class, f"c.Course.moodle_headers = {GERMAN!r}") if spelling == "german" \
        else graded_class
    src = make_worksheet(tmp_path / "w.csv", maximum="20.00", bom=True, newline="\r\n", **SPELLINGS[spelling])
    out = tmp_path / "filled.csv"
    report = export_worksheet(config=config, assignment_id="01-tensors", worksheet=src, out=out)
    assert [w for w in report.warnings if "Moodle's own grade penalties" not in w] == []
    assert not report.unmatched and len(report.filled) == 3
    lines_in, lines_out = src.read_bytes().split(b"\r\n"), out.read_bytes().split(b"\r\n")
    assert lines_out[0] == lines_in[0]  # the header's bytes, BOM included
    assert lines_out[4:] == lines_in[4:]  # rows without a graded submission
    rows = moodle_rows(out.read_bytes())
    assert rows == list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"), newline="")))
    assert len({len(r) for r in rows}) == 1
    header = SPELLINGS[spelling]["header"]
    g = rows[0].index(header[4])
    total = sum(q.points for q in spec.grader.questions)
    assert [r[g] for r in rows[1:4]] == ["20.00", f"{total * 0.5 * 0.8 / total * 20:.2f}", "5.00"]
    assert rows[1][rows[0].index(header[9])].startswith("<p><strong>01-tensors")


def test_a_german_worksheet_collects_through_the_setting(course, spec, tmp_path):
    from course_lib.moodle.importer import collect_moodle

    config = with_setting(course, f"c.Course.moodle_headers = {GERMAN!r}")
    report = collect_moodle(config=config, assignment_id="01-tensors",
                            zip_path=make_zip(tmp_path / "s.zip", spec, "folders", extras=False),
                            worksheet=make_worksheet(tmp_path / "w.csv", **SPELLINGS["german"]))
    assert sorted(s.student for s in report.collected) == ["ada.lovelace", "emile", "grace"]
    assert [s for s, _, _ in report.skipped] == ["dora"]  # "Entwurf (nicht abgegeben)"


def test_a_worksheet_time_in_the_sites_language_is_the_submission_time(course, spec, tmp_path):
    """A German site writes 'Montag, 5. Oktober 2026, 21:15'. The zip's file times are when Moodle made the
    zip (its zip writer stamps every entry with the time of the download), so they never stand in for it."""
    from course_lib.moodle.importer import collect_moodle

    config = with_setting(course, f"c.Course.moodle_headers = {GERMAN!r}")
    people = [(n, pid, e, s, {"Ada Lovelace": "Montag, 5. Oktober 2026, 21:15",
                              "Émile Zoë O'Brien": "Mittwoch, 7. Oktober 2026, 10:00"}.get(n, w))
              for n, pid, e, s, w in CLASS_DE]
    report = collect_moodle(config=config, assignment_id="01-tensors",
                            zip_path=make_zip(tmp_path / "s.zip", spec, "folders", extras=False),
                            worksheet=make_worksheet(tmp_path / "w.csv", **{**SPELLINGS["german"], "people": people}))
    stamps = {s.student: s.timestamp for s in report.collected}
    assert stamps["ada.lovelace"] == "2026-10-05 19:15:00.000000 UTC"  # 21:15 in Berlin, summer time
    assert stamps["emile"] == "2026-10-07 08:00:00.000000 UTC"
    # a time nothing can read (a weekday that is not the date's): not collected, not stamped with the zip's time
    people = [(n, pid, e, s, "Dienstag, 5. Oktober 2026, 21:15" if n == "Ada Lovelace" else w)
              for n, pid, e, s, w in people]
    report = collect_moodle(config=config, assignment_id="01-tensors",
                            zip_path=make_zip(tmp_path / "s.zip", spec, "folders", extras=False),
                            worksheet=make_worksheet(tmp_path / "w.csv", **{**SPELLINGS["german"], "people": people}))
    assert "ada.lovelace" not in [s.student for s in report.collected]
    assert [p for p in report.problems if p[0] == "ada.lovelace" and "cannot be read" in p[2]]


def test_localized_moodle_times_are_read_only_when_unambiguous():
    from course_lib.moodle.dates import localized_time

    assert localized_time("lunes, 5 de octubre de 2026, 9:15 p. m.").isoformat() == "2026-10-05T21:15:00"
    assert localized_time("poniedziałek, 5 października 2026, 21:15").isoformat() == "2026-10-05T21:15:00"
    assert localized_time("Mittwoch, 6. Mai 2026, 10:00").isoformat() == "2026-05-06T10:00:00"
    assert localized_time("Dienstag, 5. Oktober 2026, 21:15") is None  # 5 October 2026 is a Monday
    assert localized_time("lunes, 5 de octubre de 2026, 9:15 xyz") is None  # an am/pm word of no language
    assert localized_time("5 listopad 2026, 10:00") is None  # October in Croatian, November in Polish


def test_a_worksheet_in_another_language_without_the_setting_names_header_and_setting(graded_class, tmp_path):
    from course_lib.moodle.export import export_worksheet

    src = make_worksheet(tmp_path / "w.csv", **SPELLINGS["german"])
    with pytest.raises(ws.WorksheetError) as err:
        export_worksheet(config=graded_class, assignment_id="01-tensors", worksheet=src, out=tmp_path / "o.csv")
    assert "'Identifier'" in str(err.value) and "c.Course.moodle_headers" in str(err.value)
    # a site that names only the grade column otherwise: the error is about that header
    config = with_setting(graded_class, 'c.Course.moodle_headers = {"Identifier": "ID"}')
    with pytest.raises(ws.WorksheetError, match=r"no 'Grade' column(.|\n)*c\.Course\.moodle_headers"):
        export_worksheet(config=config, assignment_id="01-tensors", worksheet=src, out=tmp_path / "o.csv")


def test_unknown_header_names_in_the_setting_are_a_config_error(course):
    from course_lib.errors import ConfigError

    with pytest.raises(ConfigError, match="moodle_headers has unknown header name.*'Note'"):
        with_setting(course, 'c.Course.moodle_headers = {"Note": "Bewertung"}')


def test_a_column_only_read_never_refuses_the_worksheet(graded_class, spec, tmp_path):
    from course_lib.moodle.export import export_worksheet

    header = [h for h in HEADER if h != "Maximum Grade"]
    src = tmp_path / "w.csv"
    lines = [fputcsv(header)] + [fputcsv([f"Participant {pid}", n, e, s, "", "Yes", w, "-", ""])
                                 for n, pid, e, s, w in CLASS]
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "o.csv"
    report = export_worksheet(config=graded_class, assignment_id="01-tensors", worksheet=src, out=out)
    # the grade item's maximum the course knows: the Maximum Grade of the worksheet collect read (100)
    assert any("points out of 100, the grade item's maximum from the assignment's latest Moodle worksheet" in w
               for w in report.warnings)
    rows = moodle_rows(out.read_bytes())
    assert rows[1][header.index("Grade")] == "100.00"
    # none known: the assignment's own points, with a warning
    from sqlalchemy import create_engine, delete

    from course_lib.moodle.roster import maximums

    engine = create_engine(graded_class.db_url)
    with engine.begin() as conn:
        conn.execute(delete(maximums))
    engine.dispose()
    report = export_worksheet(config=graded_class, assignment_id="01-tensors", worksheet=src, out=out)
    total = sum(q.points for q in spec.grader.questions)
    assert any("points out of the assignment's own total" in w for w in report.warnings)
    rows = moodle_rows(out.read_bytes())
    assert rows[1][header.index("Grade")] == f"{total:.2f}"
    # but a column Moodle's upload needs is a clear error
    no_time = tmp_path / "n.csv"
    no_time.write_text("Identifier,Grade\nParticipant 1234567,\n")
    with pytest.raises(ws.WorksheetError, match=r"no 'Last modified \(grade\)' column"):
        export_worksheet(config=graded_class, assignment_id="01-tensors", worksheet=no_time, out=out)


def test_no_backslash_reaches_the_worksheet_and_moodles_reader_parses_every_row(course, spec, tmp_path, monkeypatch):
    import course_lib.feedback as feedback
    from course_lib.moodle.export import export_worksheet
    from course_lib.moodle.importer import collect_moodle

    collect_moodle(config=course, assignment_id="01-tensors", zip_path=make_zip(tmp_path / "s.zip", spec, "folders"),
                   worksheet=make_worksheet(tmp_path / "collect.csv"))
    # a check message with a backslash and quotes, as a grader could write it
    graded = grade(course, spec, "ada.lovelace", 0.5, message='expected "\\n" (a newline), got "\\\\n" \\')
    assert "\\" in graded.checks[0].message
    grade(course, spec, "grace", 0.25)  # her row, with quotes in her name, is written anew
    real = feedback.question_titles

    def titles(release_nb):  # the first question's title ends in a backslash and holds quotes
        out = real(release_nb)
        first = next(iter(out))
        out[first] = 'Paths like "C:\\temp\\" and \\"escaped\\" quotes \\'
        return out

    monkeypatch.setattr(feedback, "question_titles", titles)
    src = make_worksheet(tmp_path / "w.csv", comments={"5678901": 'She said "fine", then left.'})
    out = tmp_path / "o.csv"
    export_worksheet(config=course, assignment_id="01-tensors", worksheet=src, out=out)
    data = out.read_bytes()
    assert b"\\" not in data
    rows = moodle_rows(data)
    assert rows == list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert len({len(r) for r in rows}) == 1 and len(rows) == len(CLASS) + 1
    comment = rows[1][HEADER.index("Feedback comments")]
    assert "Paths like &quot;C:&#92;temp&#92;&quot; and &#92;&quot;escaped&#92;&quot; quotes &#92;" in comment
    assert html_unescape(comment).count("\\") == 5  # Moodle shows the backslashes again
    sheet = ws.Worksheet.read(src)
    with pytest.raises(ValueError, match="backslash"):
        sheet.set(sheet.rows[0], ws.FEEDBACK, "a \\ b")


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text)


# name, participant id, email, status, submitted, group cell. In a team assignment Moodle names the zip's
# folders by group ("<name with _ as space, format_string's "&" -> "&amp;", file-name characters dropped>_<group
# id>", or the site's "Default group" alone) and shows each member's row with the group's name and status.
ON_TIME = "Monday, 5 October 2026, 9:15 PM"
TEAM = [
    ("Ada Lovelace", "1234567", "ada.lovelace@uni.example", "Submitted for grading", ON_TIME, "Lab_A & friends"),
    ("Émile Zoë O'Brien", "2345678", "emile@uni.example", "Submitted for grading", ON_TIME, "Lab_A & friends"),
    ('Grace "Amazing" Hopper, Jr', "3456789", "grace@uni.example", "Submitted for grading", ON_TIME, "Default group"),
    ("Nobody Ned", "5678901", "ned@uni.example", "Submitted for grading", ON_TIME, "Default group"),
    ("Draft Dora", "4567890", "dora@uni.example", "Draft (not submitted)", ON_TIME, "Lab B"),
]
TEAM_FOLDERS = {"Lab_A & friends": "Lab A amp; friends_42", "Default group": "Default group", "Lab B": "Lab B_43"}


def make_team_files(tmp_path: Path, spec):
    sheet = make_worksheet(tmp_path / "team.csv", people=[t[:5] for t in TEAM],
                           extra=[("Group", [t[5] for t in TEAM])])
    path = tmp_path / "team.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for group, folder in TEAM_FOLDERS.items():
            zf.writestr(f"{folder}_assignsubmission_file/{spec.name}.ipynb", notebook_bytes(spec, group))
        zf.writestr("Lab A amp; friends_42_assignsubmission_file/data/notes.txt", b"scratch")
    return path, sheet


def test_team_submissions_are_collected_and_exported_for_every_member(course, spec, tmp_path):
    from course_lib.moodle.export import export_worksheet
    from course_lib.moodle.importer import collect_moodle

    zip_path, sheet = make_team_files(tmp_path, spec)
    report = collect_moodle(config=course, assignment_id="01-tensors", zip_path=zip_path, worksheet=sheet)
    assert sorted(s.student for s in report.collected) == ["ada.lovelace", "emile", "grace", "ned"]
    assert dict(report.groups) == {"Default group": ["grace", "ned"],
                                   "Lab A amp; friends_42": ["ada.lovelace", "emile"],
                                   "Lab B_43": ["dora"]}
    assert [s for s, _, _ in report.skipped] == ["dora"]
    assert not [p for p in report.problems if "not in the worksheet" in p[2]]
    copies = {s.student: Path(s.path).read_bytes() for s in report.collected}
    assert copies["ada.lovelace"] == copies["emile"] != copies["grace"] == copies["ned"]
    assert b"Lab_A & friends" in copies["emile"]
    # identical notebooks grade alike: each member gets the group's score
    for student, fraction in (("ada.lovelace", 0.5), ("emile", 0.5), ("grace", 1.0), ("ned", 1.0)):
        grade(course, spec, student, fraction)
    out, fb = tmp_path / "filled.csv", tmp_path / "fb.zip"
    export = export_worksheet(config=course, assignment_id="01-tensors", worksheet=sheet, out=out, feedback_zip=fb)
    rows = {r[0]: r for r in moodle_rows(out.read_bytes())[1:]}
    g = [*HEADER[:3], "Group", *HEADER[3:]].index("Grade")
    assert {pid: rows[f"Participant {pid}"][g] for pid in ("1234567", "2345678", "3456789", "5678901")} == \
           {"1234567": "50.00", "2345678": "50.00", "3456789": "100.00", "5678901": "100.00"}
    assert rows["Participant 4567890"][g] == ""
    assert sorted(p for _, p, _, _ in export.filled) == ["1234567", "2345678", "3456789", "5678901"]
    with zipfile.ZipFile(fb) as zf:
        assert sorted(moodle_feedback_pid(n) for n in zf.namelist()) == ["1234567", "2345678", "3456789", "5678901"]


def test_group_names_are_cleaned_the_way_moodles_zip_writes_them():
    from course_lib.moodle.names import formatted_name, zip_name_of

    # format_string: a bare "&" is escaped, an entity is left, tags are stripped, "<" ">" become entities;
    # then clean_filename drops & < > " ` | ' : \\ / (and "_" became a space before)
    assert zip_name_of("A & B", group=True) == "A amp; B"
    assert zip_name_of("A &amp; B", group=True) == "A amp; B"
    assert zip_name_of("R&D_team", group=True) == "Ramp;D team"
    assert zip_name_of("<b>Lab</b> 1", group=True) == "Lab 1"
    assert zip_name_of("x < y", group=True) == "x lt; y"
    assert formatted_name("Tom's & Jerry's") == "Tom's &amp; Jerry's"
    assert zip_name_of("Tom's & Jerry's") == "Toms Jerrys"  # a person's name is not formatted


def test_zip_names_moodles_zip_writer_changed_are_still_read_and_matched():
    """Moodle's zip writer (ZipStream) writes "*" and "?" as "_"; a grader who may see blind-marked identities
    gets "Participant 12 (Jane Roe)" in the worksheet's Full name; neither may refuse the student's folder."""
    from course_lib.moodle.names import is_name_of, parse_entry, parse_group_entry, zip_name_of

    entry = parse_entry("Jane__12_assignsubmission_file/hw.ipynb")
    assert (entry.name, entry.participant, entry.path) == ("Jane_", "12", "hw.ipynb")
    assert is_name_of(entry.name, "Jane?", "Participant 12")
    assert is_name_of(parse_entry("Ann _ Lee_13_assignsubmission_file_hw.ipynb").name, "Ann * Lee")
    group = parse_group_entry("Who__5_assignsubmission_file/hw.ipynb")
    assert (group.group, zip_name_of(group.name)) == ("5", zip_name_of("Who?", group=True))
    assert is_name_of("Jane Roe", "Participant 12 (Jane Roe)", "Participant 12")
    assert is_name_of("Jane Roe", 'Jane Roe <img src="x" class="usersuspendedicon">', "Participant 12")
    assert not is_name_of("Team B", "Jane Roe", "Participant 12")
    assert not is_name_of("Team B", "Participant 12 (Jane Roe)", "Participant 12")


def test_a_team_folder_the_worksheet_does_not_explain_is_never_given_to_a_participant(course, spec, tmp_path):
    """A group id and a participant id are both numbers: ``Team B_12`` must not become participant 12's work."""
    from course_lib.errors import CourseError
    from course_lib.moodle.importer import collect_moodle

    people = [("Jane Roe", "12", "jane@uni.example", "Submitted for grading", ON_TIME),
              ("Bob Poe", "13", "bob@uni.example", "Submitted for grading", ON_TIME)]
    groups = ["Team A", "Team B"]
    # the site writes the group column as "Gruppe", and the course was not told so
    sheet = make_worksheet(tmp_path / "w.csv", people=people, extra=[("Gruppe", groups)])
    zip_path = tmp_path / "team.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr(f"Team B_12_assignsubmission_file/{spec.name}.ipynb", notebook_bytes(spec, "team B"))
        zf.writestr(f"Team A_7_assignsubmission_file/{spec.name}.ipynb", notebook_bytes(spec, "team A"))
    with pytest.raises(CourseError, match="no folder of .* is named after the participant") as err:
        collect_moodle(config=course, assignment_id="01-tensors", zip_path=zip_path, worksheet=sheet)
    assert "Group" in err.value.hint
    assert not course.path("submitted", "jane", "01-tensors").exists()
    # one participant's own folder among them: only that one is collected, the team folder is reported
    with zipfile.ZipFile(zip_path, "a") as zf:
        zf.writestr(f"Bob Poe_13_assignsubmission_file/{spec.name}.ipynb", notebook_bytes(spec, "bob"))
    report = collect_moodle(config=course, assignment_id="01-tensors", zip_path=zip_path, worksheet=sheet)
    assert [s.student for s in report.collected] == ["bob"]
    misnamed = [p for p in report.problems if p[0] == "jane"]
    assert len(misnamed) == 1 and "'Team B'" in misnamed[0][2] and "Jane Roe" in misnamed[0][2]
    # told the site's header, the same zip is a team submission for each member
    config = with_setting(course, "c.Course.moodle_headers = {'Group': 'Gruppe'}")
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr(f"Team B_12_assignsubmission_file/{spec.name}.ipynb", notebook_bytes(spec, "team B"))
        zf.writestr(f"Team A_7_assignsubmission_file/{spec.name}.ipynb", notebook_bytes(spec, "team A"))
    report = collect_moodle(config=config, assignment_id="01-tensors", zip_path=zip_path, worksheet=sheet)
    copies = {s.student: Path(s.path).read_bytes() for s in report.collected}
    assert b"team B" in copies["bob"] and b"team A" in copies["jane"]


def test_a_group_with_an_ampersand_is_found_by_the_name_moodle_writes(course, spec, tmp_path):
    from course_lib.moodle.importer import collect_moodle

    people = [("Jane Roe", "12", "jane@uni.example", "Submitted for grading", ON_TIME),
              ("Bob Poe", "13", "bob@uni.example", "Submitted for grading", ON_TIME)]
    sheet = make_worksheet(tmp_path / "w.csv", people=people, extra=[("Group", ["R&D", "R&D"])])
    zip_path = tmp_path / "team.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:  # the group's id is 12, like Jane's participant id
        zf.writestr(f"Ramp;D_12_assignsubmission_file/{spec.name}.ipynb", notebook_bytes(spec, "R and D"))
    report = collect_moodle(config=course, assignment_id="01-tensors", zip_path=zip_path, worksheet=sheet)
    assert sorted(s.student for s in report.collected) == ["bob", "jane"]
    assert {g: sorted(m) for g, m in report.groups} == {"Ramp;D_12": ["bob", "jane"]}


def test_blind_marking_in_another_language_is_accepted(course, spec, tmp_path):
    from course_lib.moodle.importer import collect_moodle

    people = [("", "12", "", "Submitted for grading", ON_TIME), ("", "13", "", "Submitted for grading", ON_TIME)]
    sheet = make_worksheet(tmp_path / "w.csv", people=people, prefix="Teilnehmer/in")
    zip_path = tmp_path / "blind.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:  # mod_assign's "participant" in German, "/" dropped
        zf.writestr(f"Teilnehmerin_12_assignsubmission_file/{spec.name}.ipynb", notebook_bytes(spec, "p12"))
        zf.writestr(f"Participant_13_assignsubmission_file/{spec.name}.ipynb", notebook_bytes(spec, "p13"))
    report = collect_moodle(config=course, assignment_id="01-tensors", zip_path=zip_path, worksheet=sheet)
    assert sorted(s.student for s in report.collected) == ["participant-12", "participant-13"]
    assert not report.problems


def moodle_xml_import(data: bytes, items: set, users: set) -> list:
    """What Moodle's grade/import/xml reads: each <result>'s assignment (grade item ID number), student
    (user ID number) and score; any unknown item or user, or a score PHP's is_numeric refuses, aborts."""
    from xml.etree import ElementTree

    root = ElementTree.fromstring(data)
    assert root.tag == "results" and root.findall("result")
    out = []
    for result in root.findall("result"):
        item, user = result.find("assignment").text, result.find("student").text
        score = result.find("score").text
        assert item in items, f"unknown grade item {item}: Moodle aborts the import"
        assert user in users, f"unknown user ID number {user}: Moodle aborts the import"
        assert re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", score), "not numeric: Moodle aborts"
        out.append((item, user, float(score)))
    return out


def test_course_grades_in_moodles_xml_import_format(graded_class, tmp_path, capsys):
    from course_lib.cli import main
    from course_lib.moodle.export import export_gradebook
    from course_lib.moodle.importer import people_from
    from course_lib.moodle.roster import register

    numbers = ["S-001", "S-002", "", "S-004", "S-005"]  # Grace has no ID number
    sheet = ws.Worksheet.read(make_worksheet(tmp_path / "ids.csv", extra=[("ID number", numbers)]))
    register(graded_class, "01-tensors", people_from(sheet, graded_class.timezone))
    result = export_gradebook(config=graded_class, out=tmp_path / "course.xml", fmt="xml")
    data = (tmp_path / "course.xml").read_bytes()
    assert data.startswith(b"<?xml")
    got = moodle_xml_import(data, items={"01-tensors"}, users={n for n in numbers if n})
    assert sorted(got) == [("01-tensors", "S-001", 100.0), ("01-tensors", "S-002", 40.0)]  # Ned, Dora: no grade
    assert result["left_out"] == ["grace"] and result["students"] == 2
    assert main(["--course", str(graded_class.root), "export", "gradebook", "-o", str(tmp_path / "all.xml")]) == 0
    assert "XML" in capsys.readouterr().out and (tmp_path / "all.xml").read_bytes() == data
    run = subprocess.run([sys.executable, "-m", "nbgrader", "export", f"--to={tmp_path / 'plugin.xml'}",
                          "--exporter=course_lib.moodle.plugin.MoodleGradebookExporter",
                          "--MoodleGradebookExporter.output_format=xml"],
                         cwd=graded_class.root, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "plugin.xml").read_bytes() == data


def test_a_zero_moodle_would_skip_is_reported(course, spec, tmp_path):
    from course_lib.moodle.export import export_worksheet
    from course_lib.moodle.importer import collect_moodle

    collect_moodle(config=course, assignment_id="01-tensors", zip_path=make_zip(tmp_path / "s.zip", spec, "folders"),
                   worksheet=make_worksheet(tmp_path / "collect.csv"))
    grade(course, spec, "ada.lovelace", 0.0)
    grade(course, spec, "emile", 0.0)
    src = make_worksheet(tmp_path / "w.csv")
    # Ada: a marker saved a comment with an empty grade box, so Moodle holds a grade record with NULL grade
    text = src.read_text().replace('"Monday, 5 October 2026, 9:15 PM",-,', '"Monday, 5 October 2026, 9:15 PM",'
                                   '"Tuesday, 6 October 2026, 9:00 AM",')
    src.write_text(text)
    report = export_worksheet(config=course, assignment_id="01-tensors", worksheet=src, out=tmp_path / "o.csv")
    skipped = [w for w in report.warnings if "may skip this 0.00" in w]
    assert len(skipped) == 1 and skipped[0].startswith("Participant 1234567 (ada.lovelace)")


def test_a_grade_time_moodles_upload_cannot_read_is_reported(graded_class, tmp_path):
    """Moodle's upload reads 'Last modified (grade)' with strtotime (feedback/offline/importgradeslib.php),
    English only; a German time is false, so a row whose student has a grade record counts as changed in
    Moodle since the download (locallib.php process_import_grades: stale) and its grade and comment are
    skipped unless the instructor ticks 'ignore modified'."""
    from course_lib.moodle.export import export_worksheet

    config = with_setting(graded_class, f"c.Course.moodle_headers = {GERMAN!r}")
    src = make_worksheet(tmp_path / "w.csv", **SPELLINGS["german"])
    sheet = ws.Worksheet.read(src, headers=ws.Headers.of(GERMAN))
    sheet.set(sheet.rows[0], ws.GRADED_AT, "Dienstag, 6. Oktober 2026, 08:00")  # Ada was graded in Moodle
    sheet.write(src)
    report = export_worksheet(config=config, assignment_id="01-tensors", worksheet=src, out=tmp_path / "o.csv")
    warned = [w for w in report.warnings if "cannot read" in w and "Allow updating records" in w]
    assert len(warned) == 1 and warned[0].endswith(": ada.lovelace")
    english = make_worksheet(tmp_path / "e.csv")
    sheet = ws.Worksheet.read(english)
    sheet.set(sheet.rows[0], ws.GRADED_AT, "Tuesday, 6 October 2026, 8:00 AM")
    sheet.write(english)
    report = export_worksheet(config=graded_class, assignment_id="01-tensors", worksheet=english,
                              out=tmp_path / "o2.csv")
    assert not [w for w in report.warnings if "cannot read" in w]


def test_export_keeps_a_comment_written_in_moodle_and_does_not_repeat_its_own(graded_class, tmp_path):
    """Moodle's upload replaces the stored comment with the cell: a marker's comment must be written back."""
    from course_lib.moodle.export import export_worksheet

    src = make_worksheet(tmp_path / "in.csv", comments={"1234567": "See me about Q3, please."})
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    report = export_worksheet(config=graded_class, assignment_id="01-tensors", worksheet=src, out=first)
    assert any("kept the comment" in w and "1234567" in w for w in report.warnings)
    export_worksheet(config=graded_class, assignment_id="01-tensors", worksheet=first, out=second)
    for out in (first, second):
        rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"), newline="")))
        fbc = rows[0].index("Feedback comments")
        cell = {r[0]: r for r in rows[1:]}["Participant 1234567"][fbc]
        assert cell.startswith("See me about Q3, please.")
        assert cell.count("See me about Q3") == 1 and cell.count("<strong>01-tensors: ") == 1
        other = {r[0]: r for r in rows[1:]}["Participant 2345678"][fbc]
        assert other.startswith("<p><strong>01-tensors: ")  # no comment of its own: the summary alone


# -- rows Moodle's upload would give to another assignment or would not grade --------------------

def test_a_worksheet_of_another_assignment_is_refused_though_its_emails_match(graded_class, tmp_path):
    """A participant id belongs to one assignment and user (mod/assign/locallib.php
    get_uniqueid_for_user_static: the id of the user's assign_user_mapping row for that assignment), and the
    upload finds a row's user through its id only (feedback/offline/importgradeslib.php next():
    get_user_id_for_uniqueid). Another assignment's worksheet lists the same people and emails under other
    ids: filled with 01-tensors' grades, its upload would give those grades to that other assignment."""
    from course_lib.errors import CourseError
    from course_lib.moodle.export import export_worksheet

    other = [(n, str(int(pid) + 1111), e, s, w) for n, pid, e, s, w in CLASS]  # 03's worksheet, same class
    out = tmp_path / "o.csv"
    with pytest.raises(CourseError, match="no row of .* belongs to a student graded"):
        export_worksheet(config=graded_class, assignment_id="01-tensors",
                         worksheet=make_worksheet(tmp_path / "Grades-03-softmax.csv", people=other), out=out)
    assert not out.exists()
    # one stray row among this assignment's own: left as it was and named, the others filled
    mixed = CLASS[:2] + [(n, "9" + pid, e, s, w) for n, pid, e, s, w in CLASS[2:3]] + CLASS[3:]
    report = export_worksheet(config=graded_class, assignment_id="01-tensors",
                              worksheet=make_worksheet(tmp_path / "w.csv", people=mixed), out=out)
    assert sorted(s for s, *_ in report.filled) == ["ada.lovelace", "emile"]
    assert [(u[0], "3456789" in u[2]) for u in report.unmatched] == [("Participant 93456789", True)]


def test_a_row_whose_grade_moodle_cannot_change_is_left_as_it_was_and_named(graded_class, tmp_path):
    """'Grade can be changed' is 'No' when the grade is locked or overridden in the gradebook, or its marking
    workflow state is beyond the marker (mod/assign/gradingtable.php col_gradecanbechanged ->
    assign::grading_disabled). The upload then skips the grade but still stores the feedback cell
    (feedback/offline/locallib.php process_import_grades: the grade is skipped on grading_disabled, the
    feedback loop checks only the row's staleness), so a filled row tells the student a score Moodle's
    gradebook does not hold."""
    from course_lib.moodle.export import export_worksheet

    src = make_worksheet(tmp_path / "w.csv")
    sheet = ws.Worksheet.read(src)
    sheet.set(sheet.rows[0], "Grade can be changed", "No")  # Ada's grade was overridden in the gradebook
    sheet.write(src)
    out = tmp_path / "o.csv"
    report = export_worksheet(config=graded_class, assignment_id="01-tensors", worksheet=src, out=out)
    assert out.read_bytes().split(b"\n")[1] == src.read_bytes().split(b"\n")[1]  # Ada's row as downloaded
    rows = {r[0]: r for r in moodle_rows(out.read_bytes())[1:]}
    assert rows["Participant 2345678"][HEADER.index("Grade")] != ""
    assert "ada.lovelace" not in [s for s, *_ in report.filled] and "ada.lovelace" not in report.missing
    assert [w for w in report.warnings if "ada.lovelace" in w and "cannot change" in w]


def test_a_profile_field_named_like_a_grading_column_is_not_the_one_filled(graded_class, tmp_path):
    """Identity fields, custom profile fields among them, come right after the full name, before the grading
    table's own columns (mod/assign/gradingtable.php), and Moodle's upload takes the last column of a header
    text (feedback/offline/importgradeslib.php init: each matching column overwrites the index). A school's
    profile field ``Grade`` (the year group) must keep its cells; the grade goes into the later ``Grade``."""
    from course_lib.moodle.export import export_worksheet

    src = make_worksheet(tmp_path / "w.csv", extra=[("Grade", ["Year 9", "Year 10"])])
    out = tmp_path / "o.csv"
    report = export_worksheet(config=graded_class, assignment_id="01-tensors", worksheet=src, out=out)
    rows = moodle_rows(out.read_bytes())
    profile, grade = rows[0].index("Grade"), len(rows[0]) - 1 - rows[0][::-1].index("Grade")
    assert profile < grade
    assert [r[profile] for r in rows[1:]] == ["Year 9", "Year 10", "Year 9", "Year 10", "Year 9"]
    assert rows[1][grade] == "100.00" and len(report.filled) == 3


@pytest.mark.parametrize("no", ["Non", "Nee", "Não", "Nej", "Nie", "Нет"])
def test_grade_can_be_changed_no_in_the_sites_language(no):
    """The cell is the site's string 'yes' or 'no' (gradingtable.php col_gradecanbechanged): a French,
    Dutch, Portuguese, Swedish, Polish or Russian site's 'no' keeps the row from being filled."""
    assert not ws.grade_changeable(no) and not ws.grade_changeable(f" {no.upper()} ")
    assert ws.grade_changeable({"Non": "Oui", "Nee": "Ja", "Não": "Sim", "Nej": "Ja", "Nie": "Tak",
                                "Нет": "Да"}[no])


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_a_worksheet_a_spreadsheet_resaved_with_its_separator_is_filled_in_that_separator(graded_class, tmp_path,
                                                                                          delimiter):
    """Moodle's upload form offers comma, semicolon, colon and tab (feedback/offline/uploadgradesform.php,
    csv_import_reader::get_delimiter); a spreadsheet program in a European locale saves with ';'."""
    from course_lib.moodle.export import export_worksheet

    src = make_worksheet(tmp_path / "w.csv")
    rows = list(csv.reader(io.StringIO(src.read_text(), newline="")))
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(rows)  # as the spreadsheet saves it
    src.write_text(buf.getvalue())
    out = tmp_path / "o.csv"
    report = export_worksheet(config=graded_class, assignment_id="01-tensors", worksheet=src, out=out)
    filled = list(csv.reader(io.StringIO(out.read_text(), newline=""), delimiter=delimiter))
    assert filled[0] == HEADER and len({len(r) for r in filled}) == 1
    assert filled[1][HEADER.index("Grade")] == "100.00" and len(report.filled) == 3
    assert filled[3][HEADER.index("Full name")] == 'Grace "Amazing" Hopper, Jr'
    assert [w for w in report.warnings if repr(delimiter) in w and "separator in Moodle's upload form" in w]


def test_a_resubmission_collected_without_a_time_drops_the_earlier_time(course, spec, tmp_path):
    """Émile's first submission was two days late; the next download's worksheet shows no time for his new one
    (collected without a time while 01-tensors has no due date). When the due date is set again, his total
    is of an untimed submission (on time, as nbgrader counts it), not as late as the work it replaced."""
    from course_lib.moodle.export import assignment_totals
    from course_lib.moodle.importer import collect_moodle

    collect_moodle(config=course, assignment_id="01-tensors", zip_path=make_zip(tmp_path / "a.zip", spec, "folders"),
                   worksheet=make_worksheet(tmp_path / "a.csv"))
    grade(course, spec, "emile", 0.5)
    assert assignment_totals(course, "01-tensors")["emile"].late_penalty > 0
    undated = with_setting(course, 'c.Course.assignments["01-tensors"].pop("due")')
    people = [(n, pid, e, s, "-" if pid == "2345678" else w) for n, pid, e, s, w in CLASS]
    collect_moodle(config=undated, assignment_id="01-tensors", zip_path=make_zip(tmp_path / "b.zip", spec, "folders"),
                   worksheet=make_worksheet(tmp_path / "b.csv", people=people))
    grade(undated, spec, "emile", 0.5)
    dated = with_setting(undated, 'c.Course.assignments["01-tensors"]["due"] = "2026-10-05 23:59"')
    assert assignment_totals(dated, "01-tensors")["emile"].late_penalty == 0
