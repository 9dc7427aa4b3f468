"""The gradebook on a real PostgreSQL server, end to end: the same path as SQLite, through every command.

The test starts its own server (Debian's ``postgresql`` binaries, which ``make setup`` installs when root) on
loopback, on a free port, in a temporary folder, and stops it afterwards. PostgreSQL refuses to run as root, so
as root the server runs as ``nobody``. Passwords are checked (scram-sha-256), so a wrong one is refused as on a
real site.
"""

from __future__ import annotations

import csv
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import zipfile
from pathlib import Path

import nbformat
import pytest

from course_lib.cli import main
from course_lib.synth import build

from conftest import copy_course

pytestmark = pytest.mark.slow

USER, PASSWORD = "grader", "s3cret-Pw"
# name, Moodle participant id, email, known variant of 01-tensors
CLASS = [
    ("Ada Lovelace", "1234567", "ada.lovelace@uni.example", "solution"),
    ("Grace Hopper", "3456789", "grace@uni.example", "invert_negates"),
    ("Alan Turing", "2345678", "alan.turing@uni.example", "blank"),
]
EMAILS = {"ada.lovelace": "ada.lovelace@uni.example", "grace": "grace@uni.example",
          "alan.turing": "alan.turing@uni.example"}
HEADER = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade", "Grade can be changed",
          "Last modified (submission)", "Last modified (grade)", "Feedback comments"]


def server_binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian keeps it off PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """``postgresql://grader:PASSWORD@127.0.0.1:PORT`` of a server of our own, with an empty database per test."""
    bindir = server_binaries()
    if bindir is None:
        pytest.skip("PostgreSQL's server is not installed (/usr/lib/postgresql/*/bin/initdb): "
                    "apt-get install postgresql, or make setup as root")
    base = Path(tempfile.mkdtemp(prefix="course-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse root
        nobody = pwd.getpwnam("nobody")
        os.chown(base, nobody.pw_uid, nobody.pw_gid)
        as_user = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups", "--"]
    (base / "pw").write_text(PASSWORD + "\n")
    if as_user:
        os.chown(base / "pw", pwd.getpwnam("nobody").pw_uid, pwd.getpwnam("nobody").pw_gid)
    port = free_port()
    env = {**os.environ, "HOME": str(base), "LC_ALL": "C.UTF-8"}

    def run(*cmd):
        subprocess.run(as_user + [str(c) for c in cmd], cwd=base, env=env, check=True, capture_output=True,
                       timeout=120)

    try:
        run(bindir / "initdb", "-D", base / "data", "-U", USER, f"--pwfile={base / 'pw'}", "-A", "scram-sha-256",
            "-E", "UTF8")
        run(bindir / "pg_ctl", "-D", base / "data", "-l", base / "log", "-w", "-t", "60", "start", "-o",
            f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={base} -c fsync=off")
    except subprocess.CalledProcessError as exc:
        log = (base / "log").read_text() if (base / "log").is_file() else ""
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {exc.stderr.decode()} {log}")
    server = f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{port}"
    try:
        yield server
    finally:
        subprocess.run(as_user + [str(bindir / "pg_ctl"), "-D", str(base / "data"), "-m", "immediate", "-w", "stop"],
                       cwd=base, env=env, capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def new_database(server: str, name: str) -> str:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def worksheet(path: Path) -> Path:
    from course_lib.moodle.worksheet import format_row

    rows = [format_row(HEADER)] + [
        format_row([f"Participant {pid}", name, email, "Submitted for grading", "", "100.00", "Yes",
                    "Monday, 5 October 2026, 9:15 PM", "-", ""]) for name, pid, email, *_ in CLASS]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def submissions_zip(path: Path, spec) -> Path:
    from course_lib.synth import load_variants

    variants = {v.name: v for v in load_variants(spec)}
    with zipfile.ZipFile(path, "w") as zf:
        for name, pid, _, variant in CLASS:
            zf.writestr(f"{name}_{pid}_assignsubmission_file/tensors.ipynb",
                        nbformat.writes(build(spec, variants[variant])))
    return path


def test_the_whole_path_on_postgresql(postgres, tmp_path, capsys):
    from nbgrader.apps.api import NbGraderAPI
    from traitlets.config import Config

    from course_lib.assignment import Assignment
    from course_lib.autograde import load_results
    from course_lib.config import CourseConfig
    from course_lib.gradebook import open_gradebook

    course = copy_course(tmp_path / "course")
    url = new_database(postgres, "gradebook")
    root = ["--course", str(course)]
    spec = Assignment.load(CourseConfig.load(course), "01-tensors").notebook("tensors")
    sheet = worksheet(tmp_path / "Grades.csv")

    assert main([*root, "collect", "01-tensors", "--moodle-zip", str(submissions_zip(tmp_path / "s.zip", spec)),
                 "--worksheet", str(sheet), "--db-url", url]) == 0
    assert main([*root, "autograde", "01-tensors", "--db-url", url, "--device", "cpu", "--workers", "2",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert PASSWORD not in out and f"gradebook: postgresql://{USER}:***@127.0.0.1" in out
    assert main([*root, "feedback", "01-tensors", "--db-url", url]) == 0
    assert main([*root, "export", "moodle", "01-tensors", "--worksheet", str(sheet), "-o", str(tmp_path / "up.csv"),
                 "--db-url", url]) == 0
    assert main([*root, "export", "gradebook", "-o", str(tmp_path / "course.csv"), "--db-url", url]) == 0
    assert main([*root, "report", "01-tensors", "-o", str(tmp_path / "report"), "--db-url", url]) == 0
    assert PASSWORD not in capsys.readouterr().out
    assert not (course / "gradebook.db").exists()  # nothing went to SQLite on the side

    # the grades are in PostgreSQL, as nbgrader sees them: what the judge gave each student
    config = CourseConfig.load(course).with_overrides(db_url=url)
    judged = {s: load_results(config, s, "01-tensors", "tensors") for s in EMAILS}
    STUDENTS = {s: g.score for s, g in judged.items()}
    assert STUDENTS["ada.lovelace"] == 20.0 and STUDENTS["alan.turing"] == 0.0 and 0 < STUDENTS["grace"] < 20
    with open_gradebook(config) as gb:
        assert {s: gb.find_submission("01-tensors", s).score for s in STUDENTS} == STUDENTS
        for check in judged["grace"].checks:
            assert gb.find_grade(check.grade_id, "tensors", "01-tensors", "grace").auto_score == \
                judged["grace"].question_scores()[check.grade_id][0]
    # formgrader's view: nbgrader's own API (what its handlers call) on the same database
    nbconfig = Config()
    nbconfig.CourseDirectory.root = str(course)
    nbconfig.CourseDirectory.db_url = url
    nbconfig.CourseDirectory.course_id = config.course_id
    api = NbGraderAPI(config=nbconfig)
    assert {s["student"]: s["score"] for s in api.get_submissions("01-tensors")} == STUDENTS
    assert api.get_assignment("01-tensors")["num_submissions"] == 3

    # what each command wrote reads the same grades
    for student, score in STUDENTS.items():
        page = (course / "feedback" / student / "01-tensors" / "tensors.html").read_text()
        assert f"{score:g}" in page
    with open(tmp_path / "up.csv", encoding="utf-8-sig", newline="") as f:
        grades = {row["Email address"]: row["Grade"] for row in csv.DictReader(f)}
    assert grades == {EMAILS[s]: f"{score * 5:.2f}" for s, score in STUDENTS.items()}  # of 100
    with open(tmp_path / "course.csv", encoding="utf-8-sig", newline="") as f:
        percent = {row["Email address"]: row["01-tensors"] for row in csv.DictReader(f)}
    assert {k: float(v) for k, v in percent.items()} == {EMAILS[s]: score * 5 for s, score in STUDENTS.items()}
    assert (tmp_path / "report" / "index.html").is_file()


def test_postgresql_failures_are_one_clear_line(postgres, own_course, tmp_path, capsys):
    url = new_database(postgres, "other")
    root = ["--course", str(own_course)]
    wrong = url.replace(PASSWORD, "not-the-password")
    cases = [
        (["feedback", "01-tensors", "--db-url", wrong], "password authentication failed"),
        (["autograde", "01-tensors", "--db-url", wrong, "--device", "cpu"], "password authentication failed"),
        (["report", "01-tensors", "-o", str(tmp_path / "r"), "--db-url", url.rsplit("/", 1)[0] + "/no_such_db"],
         "does not exist"),
        (["export", "gradebook", "-o", str(tmp_path / "x.csv"), "--db-url", url], "holds no nbgrader gradebook"),
    ]
    for argv, fragment in cases:
        assert main([*root, *argv]) == 7, argv
        err = capsys.readouterr().err
        assert fragment in err and "Traceback" not in err, (argv, err)
        assert "not-the-password" not in err and PASSWORD not in err
