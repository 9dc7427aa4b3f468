"""Hand grading end to end: Moodle import, autograde, a TA scores an answer (and comments on it) in nbgrader's
formgrader (real Jupyter server, headless Chromium), and score and comment reach the gradebook, the feedback
page and Moodle's worksheet."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import nbformat
import pytest

from test_moodle import make_worksheet

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PEOPLE = [("Ada Lovelace", "1234567", "ada.lovelace@uni.example", "Submitted for grading", "-"),
          ("Alan Turing", "2345678", "alan@uni.example", "Submitted for grading", "-")]
VARIANT = {"1234567": "solution", "2345678": "confusion_fp_fn_swapped"}
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).is_file(),
                                    reason="Debian's chromium is not installed (make setup installs it)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"the formgrader server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout} s")


@contextlib.contextmanager
def formgrader(root: str, tmp_path: Path):
    """``course formgrade`` as a TA starts it; yields the URL it printed; stops it with SIGTERM."""
    port, token = free_port(), "t" + os.urandom(12).hex()
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    log = tmp_path / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "course_lib.cli", "--course", root, "formgrade", "--port",
                                   str(port), "--token", token, "--no-browser"], env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/api/status?token={token}", server)
        end = time.monotonic() + 30
        while "formgrader is ready" not in log.read_text() and time.monotonic() < end:
            time.sleep(0.2)
        lines = [line for line in log.read_text().splitlines() if line.strip()]
        # the URL comes last, once the server answers; Jupyter's start-up lines stay off the terminal
        assert lines[-1] == f"formgrader is ready: http://localhost:{port}/formgrader?token={token}", lines
        assert not any(line.startswith(("[I ", "[C ", "[E ")) for line in lines), lines
        yield lines[-1].removeprefix("formgrader is ready: ").replace("localhost", "127.0.0.1")
    finally:
        server.terminate()  # as a service manager stops it; Ctrl-C takes the same path
        try:
            code = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            raise AssertionError("the formgrader server did not stop on SIGTERM") from None
    text = log.read_text()
    assert code == 0, text
    # nothing alarming while the TA graded or when it stopped (nbgrader's exchange is the course's own)
    assert "Unwritable" not in text and "[C " not in text and "Traceback" not in text, text


def open_submission(page, url: str, aid: str, notebook: str, submission_id: str) -> None:
    """Log in with the printed URL and click through formgrader to one submission, as a TA does."""
    page.goto(url)
    page.get_by_role("link", name="Manual Grading").first.click()
    page.locator(f'a[href$="/formgrader/gradebook/{aid}"]').first.click()
    page.locator(f'a[href$="/formgrader/gradebook/{aid}/{notebook}"]').first.click()
    link = page.locator(f'a[href$="/formgrader/submissions/{submission_id}"]:visible').first
    link.wait_for(timeout=60_000)
    link.click()


def score_in_browser(page, cell: str, score: str, comment: str = "") -> None:
    """Type a score (and a comment) into formgrader's boxes; return once formgrader saved each."""
    # formgrader's scripts mark the box once they have loaded its grade and listen for changes
    box = page.locator(f"input.score.needs_manual_grade#{cell}")
    box.wait_for(timeout=60_000)
    with page.expect_response(lambda r: "/api/grade/" in r.url and r.request.method == "PUT"
                              and r.status == 200, timeout=60_000):
        box.fill(score)
        box.press("Tab")  # formgrader saves on change, as when a TA moves to the next box
    if comment:
        area = page.locator(f"textarea.comment#{cell}-comment")
        with page.expect_response(lambda r: "/api/comment/" in r.url and r.request.method == "PUT"
                                  and r.status == 200, timeout=60_000):
            area.fill(comment)
            area.press("Tab")


@needs_chromium
def test_ta_scores_a_written_answer_in_formgrader_and_moodle_sees_it(own_course, tmp_path):
    from playwright.sync_api import sync_playwright

    from course_lib.assignment import Assignment
    from course_lib.cli import main
    from course_lib.config import CourseConfig
    from course_lib.gradebook import open_gradebook
    from course_lib.moodle.export import export_worksheet
    from course_lib.synth import build, load_variants

    config = CourseConfig.load(own_course).with_overrides(device="cpu", workers=2)
    spec = Assignment.load(config, "04-ethics").notebook("ethics")
    variants = {v.name: v for v in load_variants(spec)}
    sheet = make_worksheet(tmp_path / "Grades-ethics.csv", people=PEOPLE)
    with zipfile.ZipFile(tmp_path / "ethics.zip", "w") as zf:
        for name, pid, *_ in PEOPLE:
            zf.writestr(f"{name}_{pid}_assignsubmission_file/ethics.ipynb",
                        nbformat.writes(build(spec, variants[VARIANT[pid]])))
    root = str(own_course)
    assert main(["--course", root, "collect", "04-ethics", "--moodle-zip", str(tmp_path / "ethics.zip"),
                 "--worksheet", str(sheet)]) == 0
    assert main(["--course", root, "autograde", "04-ethics", "--device", "cpu", "--workers", "2", "--quiet"]) == 0
    with open_gradebook(config) as gb:
        before = gb.find_submission("04-ethics", "ada.lovelace").score
        grade = gb.find_grade("recourse", "ethics", "04-ethics", "ada.lovelace")
        assert grade.needs_manual_grade and grade.manual_score is None
        submission_id = gb.find_submission_notebook("ethics", "04-ethics", "ada.lovelace").id

    with formgrader(root, tmp_path) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page()
        open_submission(page, url, "04-ethics", "ethics", submission_id)
        score_in_browser(page, "recourse", "2.5")
        page.screenshot(path=str(tmp_path / "formgrader.png"))
        browser.close()

    with open_gradebook(config) as gb:
        grade = gb.find_grade("recourse", "ethics", "04-ethics", "ada.lovelace")
        assert grade.manual_score == 2.5 and not grade.needs_manual_grade
        after = gb.find_submission("04-ethics", "ada.lovelace")
        assert after.score == pytest.approx(before + 2.5)
        maximum = after.max_score
    report = export_worksheet(config=config, assignment_id="04-ethics", worksheet=sheet, out=tmp_path / "out.csv")
    rows = {r["Identifier"]: r for r in csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text()))}
    assert rows["Participant 1234567"]["Grade"] == f"{(before + 2.5) / maximum * 100:.2f}"
    assert "recourse" in rows["Participant 1234567"]["Feedback comments"].lower() or \
           "2.5 / 3" in rows["Participant 1234567"]["Feedback comments"]
    assert len(report.filled) == 2


SCALE_RIGHT = "def scale_to_unit(x):\n    low, high = x.min(), x.max()\n    return (x - low) / (high - low)\n"
SCALE_WRONG = "def scale_to_unit(x):\n    return x / x.max()\n"  # forgets the minimum
COMMENT = 'Right idea; also say what happens when max == min.\nA "flat" tensor & <0/0> gives NaN.'


@needs_chromium
def test_a_new_assignment_from_course_new_to_moodle_with_a_comment_typed_in_formgrader(own_course, tmp_path, capsys):
    """The whole life of an assignment as an instructor runs it: course new, release, verify, collect from
    Moodle, autograde, a TA scores and comments a written answer in the browser, feedback, Moodle export."""
    from playwright.sync_api import sync_playwright

    from course_lib.cli import main
    from course_lib.config import CourseConfig
    from course_lib.gradebook import open_gradebook

    aid, root = "07-scaling", str(own_course)
    assert main(["--course", root, "new", aid]) == 0
    assert main(["--course", root, "release", aid]) == 0  # verify grades the released blank too
    assert main(["--course", root, "verify", aid, "--device", "cpu"]) == 0
    released = nbformat.read(own_course / "release" / aid / "scaling.ipynb", as_version=4)
    with zipfile.ZipFile(tmp_path / "scaling.zip", "w") as zf:  # students fill in the released notebook
        for (name, pid, *_), code in zip(PEOPLE, (SCALE_RIGHT, SCALE_WRONG)):
            nb = nbformat.from_dict(released)
            for cell in nb.cells:
                gid = cell.metadata.get("nbgrader", {}).get("grade_id")
                if gid == "scale_to_unit":
                    cell.source = code
                elif gid == "explain_scaling":
                    cell.source = f"{name}: x / x.max() leaves the minimum where it was, unless it is 0."
            zf.writestr(f"{name}_{pid}_assignsubmission_file/scaling.ipynb", nbformat.writes(nb))
    sheet = make_worksheet(tmp_path / "Grades-scaling.csv", people=PEOPLE)
    assert main(["--course", root, "collect", aid, "--moodle-zip", str(tmp_path / "scaling.zip"),
                 "--worksheet", str(sheet)]) == 0
    assert main(["--course", root, "autograde", aid, "--device", "cpu", "--workers", "2", "--quiet"]) == 0
    config = CourseConfig.load(own_course)
    with open_gradebook(config) as gb:
        auto = gb.find_submission(aid, "alan").score
        assert auto < 3  # the mutant loses the checks it fails (its written answer is not graded yet)
        submission_id = gb.find_submission_notebook("scaling", aid, "alan").id

    with formgrader(root, tmp_path) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page()
        open_submission(page, url, aid, "scaling", submission_id)
        score_in_browser(page, "explain_scaling", "1.5", COMMENT)
        browser.close()

    with open_gradebook(config) as gb:
        assert gb.find_comment("explain_scaling", "scaling", aid, "alan").manual_comment == COMMENT
        assert gb.find_submission(aid, "alan").score == pytest.approx(auto + 1.5)
    capsys.readouterr()
    assert main(["--course", root, "feedback", aid]) == 0
    page = (own_course / "feedback" / "alan" / aid / "scaling.html").read_text()
    written = page[page.index(">Question 2 — Why subtract the minimum? <"):]
    assert "1.5 / 2 points" in written
    assert "Right idea; also say what happens when max == min.\nA &#34;flat&#34; tensor &amp; &lt;0/0&gt; gives NaN." \
        in written
    assert "Grader's comment" not in (own_course / "feedback" / "ada.lovelace" / aid / "scaling.html").read_text()

    out, bundle = tmp_path / "filled.csv", tmp_path / "feedback.zip"
    assert main(["--course", root, "export", "moodle", aid, "--worksheet", str(sheet), "-o", str(out),
                 "--feedback-zip", str(bundle)]) == 0
    rows = {r["Identifier"]: r for r in csv.DictReader(io.StringIO(out.read_text()))}
    comment = rows["Participant 2345678"]["Feedback comments"]
    assert ("Question 2 — Why subtract the minimum?: 1.5 / 2<br><em>Right idea; also say what happens when max == "
            "min.<br>A &quot;flat&quot; tensor &amp; &lt;0/0&gt; gives NaN.</em>") in comment
    with zipfile.ZipFile(bundle) as zf:
        assert "A &#34;flat&#34; tensor" in zf.read("Alan Turing_2345678_assignsubmission_file/"
                                                   "feedback-scaling.html").decode()


def test_the_servers_command_line_holds_no_token_or_password(tmp_path):
    import json
    import stat

    from course_lib.config import CourseConfig
    from course_lib.formgrade import server_command

    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    config = CourseConfig.load(tmp_path).with_overrides(db_url="postgresql://grader:s3cret@db.example/dl")
    argv = server_command(config, ip="127.0.0.1", port=8899, token="tok123tok", open_browser=False)
    assert not any("s3cret" in a or "tok123tok" in a for a in argv)
    path = next(a.split("=", 1)[1] for a in argv if a.startswith("--config="))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert json.loads(open(path).read()) == {"IdentityProvider": {"token": "tok123tok"},
                                             "CourseDirectory": {"db_url": "postgresql://grader:s3cret@db.example/dl"}}
    assert f"--Exchange.root={tmp_path / '.course-cache' / 'exchange'}" in argv  # the course's own, writable
    assert (tmp_path / ".course-cache" / "exchange").is_dir()
    assert "--ServerApp.log_level=WARN" in argv
