"""Configuration, notebook reading and collect: bad input gets a clear message and loses nothing."""

import json
import zipfile

import nbformat
import pytest

from course_lib.collect import collect
from course_lib.config import CourseConfig
from course_lib.errors import AssignmentError, ConfigError, SubmissionError
from course_lib.notebooks import read_notebook


def test_config_reads_course_section_and_overrides(own_course):
    config = CourseConfig.load(own_course)
    assert config.course_id == "dl-pytorch"
    assert config.db_url == f"sqlite:///{own_course / 'gradebook.db'}"
    assert config.limits_for("01-tensors").cell_timeout == 30
    assert config.limits_for("99-other").cell_timeout == config.limits.cell_timeout
    assert config.with_overrides(device="cpu", workers=None).device == "cpu"
    with pytest.raises(ConfigError):
        config.with_overrides(device="tpu")


def test_unknown_setting_is_named(own_course):
    path = own_course / "nbgrader_config.py"
    path.write_text(path.read_text() + "\nc.Course.cell_timout = 5\n")
    with pytest.raises(ConfigError, match="cell_timout"):
        CourseConfig.load(own_course)


@pytest.mark.parametrize("content, fragment", [
    (b"", "empty"),
    (b'{"cells": [{"cell_type": "code", "sou', "truncated"),
    (b"print('hello')\n", "not valid JSON"),
    (b'{"hello": 1}', "not a notebook"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not text"),
])
def test_unreadable_notebooks_say_why(tmp_path, content, fragment):
    path = tmp_path / "hw.ipynb"
    path.write_bytes(content)
    with pytest.raises(SubmissionError, match=fragment) as info:
        read_notebook(path, student="s1")
    assert info.value.student == "s1" and info.value.hint


def test_zip_is_recognised(tmp_path):
    path = tmp_path / "hw.ipynb"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hw.ipynb", "{}")
    with pytest.raises(SubmissionError, match="zip"):
        read_notebook(path)


def test_old_nbformat_is_upgraded(tmp_path):
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {},
          "worksheets": [{"cells": [{"cell_type": "code", "input": "x = 1", "outputs": [], "language": "python"}]}]}
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps(v3))
    nb = read_notebook(path)
    assert nb.nbformat == 4 and nb.cells[0].source == "x = 1"


def test_lone_surrogates_are_replaced_so_the_notebook_can_be_written(tmp_path):
    """JSON allows a lone ``\\udcff`` escape, UTF-8 cannot encode one: writing the executed copy stopped the batch."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("It adds \udcff."),
                                         nbformat.v4.new_code_cell("s = '\U0001f600'")])
    path = tmp_path / "hw.ipynb"
    path.write_text(json.dumps(nb))  # ASCII escapes: the lone surrogate and the pair of the emoji
    read = read_notebook(path)
    assert read.cells[0].source == "It adds \ufffd."
    assert read.cells[1].source == "s = '\U0001f600'"  # a pair is one character, kept
    nbformat.write(read, tmp_path / "out.ipynb")


def test_collect_places_good_files_and_reports_bad_ones(own_course, tmp_path, tensors_spec):
    config = CourseConfig.load(own_course)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    release = tensors_spec.release_nb()
    nbformat.write(release, inbox / "s001.ipynb")
    (inbox / "s002").mkdir()
    nbformat.write(release, inbox / "s002" / "Copy of tensors.ipynb")
    (inbox / "s003.ipynb").write_text('{"cells": [')
    (inbox / "notes.txt").write_text("not a notebook")
    (inbox / "bad id!.ipynb").write_text(nbformat.writes(release))
    (inbox / "s004").mkdir()
    report = collect(config=config, assignment_id="01-tensors", source=inbox)
    assert sorted(s.student for s in report.collected) == ["s001", "s002"]
    for student in ("s001", "s002"):
        target = own_course / "submitted" / student / "01-tensors"
        assert (target / "tensors.ipynb").is_file() and (target / "timestamp.txt").is_file()
    problems = {p[0]: p[2] for p in report.problems}
    assert "not valid JSON" in problems["s003"] or "truncated" in problems["s003"]
    assert "not a notebook" in problems["notes"]
    assert "student id" in problems["bad id!"]
    assert "no notebook" in problems["s004"]
    assert not (own_course / "submitted" / "s003").exists()


def test_grader_points_must_match_grade_cells(own_course):
    from course_lib.assignment import Assignment

    path = own_course / "graders" / "01-tensors" / "tensors.py"
    path.write_text(path.read_text().replace('Check("invert_values", 2,', 'Check("invert_values", 1,'))
    spec = Assignment.load(CourseConfig.load(own_course), "01-tensors").notebook("tensors")
    with pytest.raises(AssignmentError, match="invert_tests.*2 points but its grade cell gives 3"):
        spec.validate()


def test_the_command_skips_jsonschema_s_unused_iri_parsers_and_still_validates_notebooks():
    import subprocess
    import sys

    script = """
import sys
from course_lib.cli import _skip_unused_imports
_skip_unused_imports()
import nbformat
from nbformat.v4 import new_code_cell, new_notebook
nb = new_notebook(cells=[new_code_cell("1")])
nbformat.validate(nb)
del nb.cells[0]["source"]
try:
    nbformat.validate(nb)
    print("invalid notebook accepted")
except nbformat.ValidationError:
    print("validated", sys.modules["rfc3987_syntax"] is None, "lark" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "validated True False", out


def test_an_nbgrader_courses_cell_timeout_is_the_default(tmp_path):
    from course_lib.config import CourseConfig

    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\nc.Execute.timeout = 7\n")
    assert CourseConfig.load(tmp_path).limits.cell_timeout == 7
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\nc.Execute.timeout = 7\nc.Course.cell_timeout = 9\n")
    assert CourseConfig.load(tmp_path).limits.cell_timeout == 9
