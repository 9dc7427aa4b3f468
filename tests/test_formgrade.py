"""Hand grading end to end: Moodle import, autograde, a TA scores an answer in nbgrader's formgrader
(real Jupyter server, headless Chromium), and the score reaches the gradebook and Moodle's worksheet."""

from __future__ import annotations

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


@pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="Debian's chromium is not installed (make setup installs it)")
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

    port, token = free_port(), "t" + os.urandom(12).hex()
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    log = tmp_path / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "course_lib.cli", "--course", root, "formgrade", "--port",
                                   str(port), "--token", token, "--no-browser"], env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base}/api/status?token={token}", server)
        url = log.read_text().splitlines()[0].removeprefix("formgrader: ")
        assert url == f"http://localhost:{port}/formgrader?token={token}"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            page = browser.new_page()
            page.goto(url.replace("localhost", "127.0.0.1"))  # what the TA opens: logs in, lands in formgrader
            page.get_by_role("link", name="Manual Grading").first.click()
            page.locator('a[href$="/formgrader/gradebook/04-ethics"]').first.click()
            page.locator('a[href$="/formgrader/gradebook/04-ethics/ethics"]').first.click()
            link = page.locator(f'a[href$="/formgrader/submissions/{submission_id}"]:visible').first
            link.wait_for(timeout=60_000)
            link.click()
            # formgrader's scripts mark the box once they have loaded its grade and listen for changes
            box = page.locator("input.score.needs_manual_grade#recourse")
            box.wait_for(timeout=60_000)
            with page.expect_response(lambda r: "/api/grade/" in r.url and r.request.method == "PUT"
                                      and r.status == 200, timeout=60_000):
                box.fill("2.5")
                box.press("Tab")  # formgrader saves on change, as when a TA moves to the next box
            page.screenshot(path=str(tmp_path / "formgrader.png"))
            browser.close()
    finally:
        server.terminate()  # the command became the Jupyter server (exec): nothing else is left running
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            raise AssertionError("the formgrader server did not stop on SIGTERM") from None

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
