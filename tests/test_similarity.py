"""`course similarity`: planted copies rank above independent solutions; the report opens; bad input is skipped.

The class is synthetic and needs no kernel: notebooks are built from each assignment's known
variants (its solution and alternative correct solutions), and the copies are planted by
rewriting those answers the way a student hiding a copy would.
"""

from __future__ import annotations

import builtins
import io
import keyword
import tokenize
from pathlib import Path

import pytest

from course_lib.assignment import Assignment
from course_lib.config import CourseConfig
from course_lib.notebooks import grade_id, is_solution
from course_lib.synth import Variant, build, load_variants, solution_code, write

ASSIGNMENTS = ["01-tensors", "02-gradients", "03-softmax-nll", "04-ethics", "05-gpu-classifier", "06-autograd",
               "07-image-classifier"]
LIBRARY = set(keyword.kwlist) | set(dir(builtins)) | {"torch", "np", "math", "nn", "F", "self"}


def rename(code: str, keep: set) -> str:
    """The code with every name the student chose renamed (attributes and the release's names kept)."""
    out, previous = [], None
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type == tokenize.NAME and tok.string not in keep and not (previous and previous.string == "."):
            tok = tok._replace(string=f"my_{tok.string[::-1]}")
        out.append(tok)
        if tok.type not in (tokenize.NL, tokenize.COMMENT):
            previous = tok
    return tokenize.untokenize(out)


def disguise(code: str) -> str:
    """Top-level functions in reverse order, a comment on every line, blank lines between, one literal changed."""
    functions = code.rstrip("\n").split("\n\n\n")
    lines = "\n\n\n".join(reversed(functions)).splitlines()
    return "\n\n".join(f"{line}  # my own step" if line.strip() else line for line in lines).replace("0", "0.0") + "\n"


def plant_class(config: CourseConfig, aid: str) -> dict[str, str]:
    """Write the class into submitted/; returns student -> the answers' origin, as '<origin>' or 'mixed'."""
    spec = Assignment.load(config, aid).notebooks[0]
    variants = {v.name: v for v in load_variants(spec)}
    solution = {grade_id(c): solution_code(c.source) for c in spec.source_nb().cells
                if is_solution(c) and c.cell_type == "code"}  # written answers (markdown) are not compared
    # independent work: alternatives that answer most cells (some answer one cell only, the solution's code with
    # one change that verify proves: no independent work, and rightly similar to the solution)
    alternatives = [v for v in variants.values() if v.kind == "alternative" and 2 * len(v.answers) >= len(solution)]
    assert len(alternatives) >= 2, f"{aid} needs two alternative solutions for this test"
    release_code = "\n".join(c.source for c in spec.release_nb().cells if c.cell_type == "code")
    keep = LIBRARY | {t.string for t in tokenize.generate_tokens(io.StringIO(release_code).readline)
                      if t.type == tokenize.NAME}
    first, second, *others = alternatives
    largest = max(solution, key=lambda gid: len(solution[gid]))
    # an alternative answers only the cells it lists; the others stay as released (never shared work)
    students = {
        "solution": Variant("solution", kind="solution"),
        first.name: Variant(first.name, answers=first.answers, blank=True),
        **{v.name: Variant(v.name, answers=v.answers, blank=True) for v in others},
        "copy_renamed": Variant("copy_renamed", answers={g: rename(c, keep) for g, c in solution.items()}),
        "copy_reordered": Variant("copy_reordered", answers={g: disguise(c) for g, c in first.answers.items()},
                                  blank=True),
        # the second alternative is not in the class: this student's other answers are independent work
        "copy_one_answer": Variant("copy_one_answer", blank=True,
                                   answers={**second.answers, largest: rename(solution[largest], keep)}),
    }
    for student, variant in students.items():
        write(build(spec, variant), config.path("submitted", student, aid, f"{spec.name}.ipynb"))
    return {"copy_renamed": "solution", "copy_reordered": first.name, "copy_one_answer": "solution"}


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_planted_copies_rank_above_independent_solutions(own_course, aid):
    from course_lib.similarity import REVIEW, similarity

    config = CourseConfig.load(own_course)
    planted = plant_class(config, aid)
    report = similarity(config=config, assignment_id=aid, top=1000)
    assert not report.problems
    scores = {frozenset((p.a, p.b)): p.score for p in report.pairs}
    students = sorted(p.name for p in config.path("submitted").iterdir())
    pairs = {frozenset((a, b)) for a in students for b in students if a < b}
    assert len(report.scores) == len(pairs)
    copies = {frozenset((copy, origin)) for copy, origin in planted.items()}
    copies.add(frozenset(("copy_one_answer", "copy_renamed")))  # both hold the solution's largest answer
    independent = pairs - copies
    lowest_copy = min(scores.get(p, 0.0) for p in copies)
    highest_independent = max(scores.get(p, 0.0) for p in independent)
    assert lowest_copy > highest_independent, sorted(((round(s, 3), sorted(p)) for p, s in scores.items()),
                                                     reverse=True)
    # the whole copies are marked for review; the assignment's alternative solutions are not
    assert scores[frozenset(("copy_renamed", "solution"))] >= REVIEW
    assert scores[frozenset(("copy_reordered", planted["copy_reordered"]))] >= REVIEW
    assert highest_independent < REVIEW
    # the one answer copied is named, with nearly all of it shared
    one = next(p for p in report.pairs if {p.a, p.b} == {"copy_one_answer", "solution"})
    spec = Assignment.load(config, aid).notebooks[0]
    code = {grade_id(c): c.source for c in spec.source_nb().cells if is_solution(c) and c.cell_type == "code"}
    assert one.top_cell[1] == max(code, key=lambda gid: len(solution_code(code[gid]))) and one.top_cell[2] > 0.9


def test_release_code_alone_is_not_shared(own_course):
    """Blank notebooks (stubs only) and notebooks whose answers repeat the visible tests share nothing."""
    from course_lib.similarity import similarity

    config = CourseConfig.load(own_course)
    spec = Assignment.load(config, "01-tensors").notebooks[0]
    tests = "\n".join(c.source for c in spec.release_nb().cells if c.cell_type == "code" and not is_solution(c))
    stubs = {grade_id(c): c.source for c in spec.release_nb().cells if is_solution(c)}
    for student in ("blank_a", "blank_b"):
        write(build(spec, Variant(student, blank=True)), config.path("submitted", student, "01-tensors",
                                                                     "tensors.ipynb"))
    for student in ("tests_a", "tests_b"):
        answers = {gid: stub + "\n" + tests for gid, stub in stubs.items()}
        write(build(spec, Variant(student, answers=answers)), config.path("submitted", student, "01-tensors",
                                                                         "tensors.ipynb"))
    report = similarity(config=config, assignment_id="01-tensors")
    assert report.pairs == [] and set(report.scores) == {0.0}


def test_bad_input_is_reported_and_skipped(own_course, tmp_path, capsys):
    from course_lib.cli import main

    config = CourseConfig.load(own_course)
    spec = Assignment.load(config, "01-tensors").notebooks[0]
    variants = {v.name: v for v in load_variants(spec)}
    for student in ("ada", "alan"):
        write(build(spec, variants["solution"]), config.path("submitted", student, "01-tensors", "tensors.ipynb"))
    truncated = config.path("submitted", "grace", "01-tensors", "tensors.ipynb")
    truncated.parent.mkdir(parents=True)
    truncated.write_text('{"cells": [')
    config.path("submitted", "edsger", "01-tensors").mkdir(parents=True)  # the folder without its notebook
    other = Assignment.load(config, "02-gradients").notebooks[0]
    write(build(other, Variant("x", kind="solution")), config.path("submitted", "barbara", "01-tensors",
                                                                   "tensors.ipynb"))
    assert main(["--course", str(own_course), "similarity", "01-tensors", "-o", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "compared 2 submission(s) of 01-tensors: 1 pair(s)" in printed
    problems = printed.split("problem(s), skipped:")[1]
    assert "grace" in problems and "truncated" in problems
    assert "edsger" in problems and "no such notebook" in problems
    assert "barbara" in problems and "none of the answer cells" in problems
    page = (tmp_path / "out" / "index.html").read_text()
    assert "grace" in page and "edsger" in page and "ada" in page


def test_against_another_year_compares_only_across(own_course, tmp_path):
    from course_lib.similarity import similarity

    config = CourseConfig.load(own_course)
    spec = Assignment.load(config, "01-tensors").notebooks[0]
    variants = {v.name: v for v in load_variants(spec)}
    alternative = variants["alternative_builtin_helpers"]
    write(build(spec, variants["solution"]), config.path("submitted", "ada", "01-tensors", "tensors.ipynb"))
    write(build(spec, Variant("b", answers=alternative.answers, blank=True)),
          config.path("submitted", "alan", "01-tensors", "tensors.ipynb"))
    last_year = tmp_path / "2025"
    for name in ("old_1", "old_2"):  # a plain folder of notebooks, two copies of the alternative
        write(build(spec, Variant(name, answers={g: disguise(c) for g, c in alternative.answers.items()},
                                  blank=True)), last_year / f"{name}.ipynb")
    report = similarity(config=config, assignment_id="01-tensors", against=last_year)
    assert (report.students, report.references, len(report.scores)) == (2, 2, 1 + 2 * 2)
    top = report.pairs[0]
    assert top.a == "alan" and top.b in ("2025/old_1", "2025/old_2") and top.against and top.score > 0.8
    assert all({p.a, p.b} != {"2025/old_1", "2025/old_2"} for p in report.pairs)
    nested = tmp_path / "2024"  # another year's submitted/ folder
    write(build(spec, variants["solution"]), nested / "old_3" / "01-tensors" / "tensors.ipynb")
    report = similarity(config=config, assignment_id="01-tensors", against=nested)
    assert report.references == 1 and {report.pairs[0].a, report.pairs[0].b} == {"ada", "2024/old_3"}
    assert report.pairs[0].score > 0.99


@pytest.mark.skipif(not Path("/usr/bin/chromium").is_file(),
                    reason="Debian's chromium is not installed (make setup installs it)")
def test_report_opens_in_a_browser_with_grades_times_and_marked_passages(own_course, tmp_path):
    from playwright.sync_api import sync_playwright

    from course_lib.gradebook import ensure_notebook, record
    from course_lib.models import CheckResult, GradedSubmission
    from course_lib.similarity import write_similarity

    config = CourseConfig.load(own_course)
    spec = Assignment.load(config, "01-tensors").notebooks[0]
    variants = {v.name: v for v in load_variants(spec)}
    solution = {grade_id(c): solution_code(c.source) for c in spec.source_nb().cells if is_solution(c)}
    code = {"ada": variants["solution"],
            "alan": Variant("copy", answers={g: c.replace("images", "imgs") + "# </pre><script>x</script>\n"
                                             for g, c in solution.items()}),
            "grace": Variant("b", answers=variants["alternative_builtin_helpers"].answers, blank=True)}
    ensure_notebook(config, spec)
    for i, (student, variant) in enumerate(code.items()):
        write(build(spec, variant), config.path("submitted", student, "01-tensors", "tensors.ipynb"))
        config.path("submitted", student, "01-tensors", "timestamp.txt").write_text(
            f"2026-10-0{3 - i} 12:00:00.000000 UTC")
        checks = tuple(CheckResult(name=c.name, grade_id=q.grade_id, max_points=c.points,
                                   points=c.points if student != "grace" else 0.0, passed=student != "grace")
                       for q in spec.grader.questions for c in q.checks)
        record(config, spec, GradedSubmission(student=student, assignment="01-tensors", notebook="tensors",
                                              checks=checks, status="completed"), release_nb=spec.release_nb())
    page, report = write_similarity(config=config, assignment_id="01-tensors", out=tmp_path / "report")
    top = report.pairs[0]
    assert {top.a, top.b} == {"ada", "alan"} and top.score > 0.9 and top.first == "alan"
    assert top.grade_a == top.grade_b == (20.0, 20.0)
    errors = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                     args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        tab = browser.new_page()
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        tab.on("requestfailed", lambda req: errors.append(f"{req.url} did not load"))
        tab.goto(page.as_uri())
        assert tab.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")
        assert tab.locator("#pair-1 ~ .side pre mark").count() > 5
        assert "</pre><script>x</script>" in tab.locator("body").inner_text()  # shown as text, never run
        assert "20/20 · 20/20" in tab.locator("table").first.inner_text()
        browser.close()
    assert errors == []


def test_a_passage_most_of_the_class_shares_is_subtracted(own_course):
    """Twelve students with the same answers (what the question makes everyone write) are not a ring of copies."""
    from course_lib.similarity import similarity

    config = CourseConfig.load(own_course)
    spec = Assignment.load(config, "01-tensors").notebooks[0]
    variants = {v.name: v for v in load_variants(spec)}
    for n in range(12):
        write(build(spec, variants["solution"]), config.path("submitted", f"s{n:02d}", "01-tensors", "tensors.ipynb"))
    alternative = variants["alternative_builtin_helpers"].answers
    for student in ("ada", "alan"):
        write(build(spec, Variant(student, answers=alternative, blank=True)),
              config.path("submitted", student, "01-tensors", "tensors.ipynb"))
    report = similarity(config=config, assignment_id="01-tensors", top=200)
    assert report.common_limit == 10 and report.common_passages > 0
    assert [{p.a, p.b} for p in report.pairs if p.score > 0.5] == [{"ada", "alan"}]
    everything = similarity(config=config, assignment_id="01-tensors", common=0, top=200)
    assert everything.common_passages == 0
    assert sum(p.score > 0.99 for p in everything.pairs) == 12 * 11 // 2 + 1
