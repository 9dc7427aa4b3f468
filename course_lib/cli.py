"""The ``course`` command: parses arguments, calls one stage, prints, exits.

Only this module turns :class:`~course_lib.errors.CourseError` into an exit code.
Defaults for settings come from ``nbgrader_config.py`` (``c.Course.*``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .config import CourseConfig
from .errors import CourseError, from_os_error
from .timings import mark, report as report_timings


def _config(args) -> CourseConfig:
    config = CourseConfig.load(args.course)
    unsafe = getattr(args, "unsafe_no_sandbox", False)
    if unsafe:
        print("warning: --unsafe-no-sandbox: student code runs with your permissions, network and files",
              file=sys.stderr)
    return config.with_overrides(device=getattr(args, "device", None), workers=getattr(args, "workers", None),
                                 db_url=getattr(args, "db_url", None), sandbox=False if unsafe else None,
                                 accept_failing_solution=True if getattr(args, "accept_failing_solution", False)
                                 else None)


def table(rows: list[list[str]], header: list[str]) -> str:
    """A plain aligned text table."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda r: "  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def _warn_ungraded(config: CourseConfig, assignment_ids) -> None:
    """One warning line per assignment listing students with a submission but no grade in the gradebook."""
    from .autograde import ungraded_warnings

    for line in ungraded_warnings(config, assignment_ids):
        print(f"warning: {line}", file=sys.stderr)


def cmd_release(args) -> int:
    from .release import release

    report = release(config=_config(args), assignment_id=args.assignment, check=args.check)
    if args.check:
        print(f"release/{args.assignment} is up to date with source/{args.assignment}")
    else:
        print(f"released {args.assignment} -> {report.directory} ({', '.join(report.files)})")
    return 0


def cmd_collect(args) -> int:
    from .collect import collect

    config = _config(args)
    if bool(args.source) == bool(args.moodle_zip):
        raise CourseError("give exactly one source: --from DIR, or --moodle-zip ZIP with --worksheet CSV")
    if args.moodle_zip:
        if args.timestamp or args.no_timestamps:
            raise CourseError("--timestamp and --no-timestamps are for --from DIR",
                              hint="a Moodle collect takes each time from the worksheet's 'Last modified "
                                   "(submission)'")
        return _collect_moodle(args, config)
    from .collect import parse_timestamp

    when = parse_timestamp(args.timestamp, config.timezone) if args.timestamp else None
    report = collect(config=config, assignment_id=args.assignment, source=Path(args.source), timestamp=when,
                     no_timestamps=args.no_timestamps)
    print(f"collected {len(report.collected)} notebook(s) of {args.assignment} into {config.path('submitted')}")
    if report.problems:
        print(f"\n{len(report.problems)} problem(s), skipped:")
        print(table([list(p) for p in report.problems], ["student", "file", "problem"]))
    _print_removed(report.removed)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _print_removed(rows) -> None:
    """The notebooks a new submission no longer has, per student (removed from submitted/)."""
    if rows:
        print(f"\n{len(rows)} notebook(s) of an earlier submission removed (the new submission replaces it):")
        print(table([list(r) for r in rows], ["student", "file", "note"]))


def _collect_moodle(args, config) -> int:
    from .moodle.importer import collect_moodle

    if not args.worksheet:
        raise CourseError("--moodle-zip needs --worksheet CSV",
                          hint="download the grading worksheet of the same assignment from Moodle")
    report = collect_moodle(config=config, assignment_id=args.assignment, zip_path=Path(args.moodle_zip),
                            worksheet=Path(args.worksheet))
    print(f"collected {len(report.collected)} notebook(s) of {args.assignment} into {config.path('submitted')} "
          f"({report.roster} participant(s) in the roster)")
    for group, members in report.groups:
        print(f"team submission {group}: collected for {', '.join(members)}")
    for title, rows in (("notebook choices", report.choices), ("not submitted for grading, skipped", report.skipped),
                        ("problem(s)", report.problems)):
        if rows:
            print(f"\n{len(rows)} {title}:")
            print(table([list(r) for r in rows], ["student", "file", "note"]))
    if report.no_submission:
        print(f"\n{len(report.no_submission)} in the worksheet without a submission:")
        print(table([list(r) for r in report.no_submission], ["student", "name", "status"]))
    _print_removed(report.removed)
    return 0


def cmd_export(args) -> int:
    config = _config(args)
    if args.target == "moodle":
        from .moodle.export import export_worksheet

        if not args.assignment or not args.worksheet:
            raise CourseError("course export moodle needs AID and --worksheet CSV",
                              hint="course export moodle AID --worksheet Grades-....csv -o filled.csv")
        report = export_worksheet(config=config, assignment_id=args.assignment, worksheet=Path(args.worksheet),
                                  out=Path(args.out), feedback_zip=Path(args.feedback_zip) if args.feedback_zip
                                  else None, skip_pending=args.skip_pending)
        print(f"wrote {report.out}: {len(report.filled)} grade(s) filled, {report.untouched} row(s) without a "
              "graded submission left as they were")
        _warn_ungraded(config, [args.assignment])
        if report.feedback_files:
            print(f"wrote {args.feedback_zip}: {report.feedback_files} feedback file(s) "
                  "(upload it with 'Upload multiple feedback files in a zip')")
        for warning in report.warnings:
            print(f"warning: {warning}")
        if report.unmatched:
            print(f"\n{len(report.unmatched)} row(s) not matched to a student:")
            print(table([list(r) for r in report.unmatched], ["identifier", "full name", "note"]))
        if report.missing:
            print(f"\ngraded but not in this worksheet: {', '.join(report.missing)}")
        return 0
    from .moodle.export import export_gradebook

    fmt = args.format or ("xml" if Path(args.out).suffix.lower() == ".xml" else "csv")
    result = export_gradebook(config=config, out=Path(args.out),
                              assignments=[args.assignment] if args.assignment else None, fmt=fmt,
                              max_grades=_max_grades(args.max_grade or []), skip_pending=args.skip_pending)
    print(f"wrote {result['out']}: {result['students']} student(s) x {len(result['assignments'])} assignment(s), "
          f"{fmt.upper()}" + (" (Moodle: Grades > Import > XML file; each grade item's ID number "
                              "is the assignment id)" if fmt == "xml" else ""))
    for aid in result["assignments"]:
        source = result["sources"][aid]
        print(f"  {aid}: points out of {result['maximums'][aid]:g}"
              + (f" (the grade item's maximum, from {source})" if source else " (assumed)"))
    if result.get("ungraded"):
        print(f"  no row for {len(result['ungraded'])} student(s) without any grade here (Moodle keeps theirs)")
    for warning in result["warnings"]:
        print(f"warning: {warning}")
    _warn_ungraded(config, result["assignments"])
    if result["left_out"]:
        what = "no ID number" if fmt == "xml" else "no email"
        print(f"left out ({what}, Moodle could not match them): {', '.join(result['left_out'])}")
    return 0


def _max_grades(values: list) -> dict:
    """``--max-grade`` values (``N`` for every assignment, ``AID=N`` for one) as ``{aid or "": N}``."""
    out = {}
    for value in values:
        aid, _, number = value.rpartition("=")
        try:
            out[aid.strip()] = float(number)
        except ValueError:
            raise CourseError(f"--max-grade {value}: not a number",
                              hint="give the grade item's maximum grade in Moodle: --max-grade 100, or "
                                   "--max-grade 01-tensors=10 for one assignment") from None
    return out


def cmd_report(args) -> int:
    from .report import write_report

    config = _config(args)
    page = write_report(config=config, assignment_id=args.assignment, out=Path(args.out))
    print(f"wrote {page} (open it in a browser)")
    _warn_ungraded(config, [args.assignment])
    return 0


def cmd_similarity(args) -> int:
    from .similarity import REVIEW, write_similarity

    page, report = write_similarity(config=_config(args), assignment_id=args.assignment, out=Path(args.out),
                                    against=Path(args.against) if args.against else None, common=args.common,
                                    **({"top": args.top} if args.top is not None else {}))
    print(f"compared {report.students} submission(s) of {args.assignment}"
          + (f" with {report.references} from {args.against}" if report.references else "")
          + f": {len(report.scores)} pair(s)")
    rows = [[p.a, p.b, f"{100 * p.score:.0f} %", str(p.shared_tokens)] for p in report.pairs if p.score >= REVIEW]
    if rows:
        print(f"\n{len(rows)} pair(s) share at least {100 * REVIEW:.0f} % of their answer code (a reason to look, "
              "not evidence):")
        print(table(rows, ["student", "student", "score", "tokens"]))
    for note in report.notes:
        print(f"note: {note}")
    if report.problems:
        print(f"\n{len(report.problems)} problem(s), skipped:")
        print(table([list(p) for p in report.problems], ["student", "notebook", "problem"]))
    print(f"\nwrote {page} (open it in a browser; it holds students' code: keep it out of git and shared folders)")
    return 0


def cmd_formgrade(args) -> int:
    from .formgrade import formgrade

    return formgrade(config=_config(args), ip=args.ip, port=args.port, token=args.token,
                     open_browser=not args.no_browser)


def cmd_manual(args) -> int:
    from .manual import export_sheet, import_sheet

    config = _config(args)
    if args.action == "export":
        report = export_sheet(config=config, assignment_id=args.assignment, path=Path(args.csv))
        print(f"wrote {report.path}: {report.rows} row(s), {len(report.students)} student(s) x the hand-graded "
              f"questions of {args.assignment}; fill in score and comment, then `course manual import "
              f"{args.assignment} --csv {report.path}`")
        return 0
    report = import_sheet(config=config, assignment_id=args.assignment, path=Path(args.csv))
    print(f"imported {report.path}: {report.scores} score(s) and {report.comments} comment(s) for "
          f"{len(report.students)} student(s) of {args.assignment}")
    return 0


def summary_rows(graded) -> list[list[str]]:
    rows = []
    for g in graded:
        note = g.problems[0] if g.problems else ""
        rows.append([g.student, g.notebook, f"{g.score:g}/{g.max_score:g}", g.status, f"{g.runtime:.1f}s",
                     note[:70] + ("…" if len(note) > 70 else "")])
    return rows


def cmd_autograde(args) -> int:
    import contextlib

    from .autograde import autograde

    config = _config(args)
    runner, device, cluster = None, args.device, contextlib.nullcontext()
    gpu = config.limits_for(args.assignment).gpu
    if args.scheduler and args.cluster:
        from .errors import ConfigError

        raise ConfigError("--scheduler and --cluster both say where to grade", hint="give one of them")
    if args.scheduler:
        from .execute.cluster import DaskRunner

        runner = DaskRunner(args.scheduler, gpu=gpu)
    elif args.cluster == "slurm":
        from .execute.slurm import slurm_runner

        cluster = slurm_runner(config=config, assignment=args.assignment, gpu=gpu)
    if args.scheduler or args.cluster:
        # "auto" cannot be decided on this machine: the cluster's GPU workers decide it
        device = device if device and device != "auto" else ("cuda" if gpu else "cpu")
    with cluster as on_cluster:  # Slurm's workers live as long as the batch, errors and Ctrl-C included
        report = autograde(config=config, assignment_id=args.assignment, students=args.student or None,
                           device=device, force=args.force, progress=not args.quiet, runner=runner or on_cluster,
                           wait=not args.no_wait)
    if report.graded:
        print(table(summary_rows(report.graded), ["student", "notebook", "score", "status", "time", "first problem"]))
    mean = sum(g.score for g in report.graded) / len(report.graded) if report.graded else 0.0
    print(f"\n{args.assignment} on {report.device}: graded {len(report.graded)}, "
          f"unchanged and skipped {len(report.skipped)}" + (f", mean score {mean:.2f}" if report.graded else ""))
    print(f"gradebook: {config.shown_db_url}\nexecuted notebooks: {config.path('autograded')}")
    for note in report.notes:
        print(f"note: {note}")
    return 0


def cmd_grade(args) -> int:
    config = _config(args)
    mark("config")
    with _sandbox_first(config, args.assignment, args.device, Path(args.notebook)):
        from .grade import as_json, grade_file

        mark("imports")
        graded, result = grade_file(config=config, assignment_id=args.assignment, path=Path(args.notebook),
                                    device=args.device)
    errors = list(graded.problems)
    if args.json:
        print(json.dumps(as_json(graded, Path(args.notebook), errors), indent=2))
        mark("output")
        return 0
    rows = [[c.grade_id, c.name, f"{c.points:g}/{c.max_points:g}", "pass" if c.passed else c.message[:90]]
            for c in graded.checks]
    print(table(rows, ["question", "check", "points", "result"]))
    for e in errors:
        print(f"note: {e}")
    print(f"\nscore: {graded.score:g} / {graded.max_score:g}")
    mark("output")
    return 0


def _sandbox_first(config: CourseConfig, assignment_id: str | None, device: str | None, notebook: Path):
    """The grading sandbox of a named assignment, started before the grader's own imports (about 0.5 s).

    It imports PyTorch meanwhile; without ``--assignment`` the assignment is known only once the notebook
    is read, and the sandbox starts then (:func:`~course_lib.grade.grade_file`). Nothing starts for a
    file or an assignment that is not there: the error comes without waiting for a sandbox to end.
    """
    import contextlib

    if not assignment_id or not config.path("source", assignment_id).is_dir() or not notebook.is_file():
        return contextlib.nullcontext()
    from .execute.jobs import assignment_device
    from .execute.pool import started_ahead

    graders = [config.path("graders", assignment_id, f"{nb.stem}.py")
               for nb in config.path("source", assignment_id).glob("*.ipynb")]
    try:
        device = assignment_device(config, assignment_id, graders, device)
    except CourseError:  # said by grade_file, in its own order
        return contextlib.nullcontext()
    return started_ahead(config, assignment_id, device)


def cmd_feedback(args) -> int:
    from .feedback import feedback

    config = _config(args)
    report = feedback(config=config, assignment_id=args.assignment, students=args.student or None)
    print(f"wrote {len(report.files)} feedback file(s) under {config.path('feedback')}")
    _warn_ungraded(config, [args.assignment])
    return 0


def cmd_check(args) -> int:
    from .selfcheck import self_check

    report = self_check(config=_config(args), path=Path(args.notebook), assignment_id=args.assignment,
                        device=args.device)
    print(f"{args.notebook} ({report.assignment})")
    if report.first_error:
        print(f"  ERROR  {report.first_error}\n         (fix this first: the failures after it may only follow from it)")
    for gid, passed, message in report.tests:
        print(f"  {'PASS' if passed else 'FAIL'}  {gid}" + (f": {message}" if message else ""))
    for warning in report.warnings:
        print(f"  WARNING  {warning}")
    for gid, points in report.unanswered:
        print(f"  UNANSWERED  {gid} ({points:g} point(s), graded by hand): still as released")
    if report.problem:
        print(f"  PROBLEM  {report.problem}")
    passed = sum(1 for _, ok, _ in report.tests if ok)
    print(f"\n{passed} of {len(report.tests)} visible tests pass. The hidden tests use other inputs: "
          "a passing visible test is a good sign, not a guarantee.")
    return 0 if report.ok else 1


def cmd_verify(args) -> int:
    from .verify import TABLE_HEADER, table_rows, verify

    config = _config(args)
    known = sorted(p.name for p in config.path("source").iterdir() if p.is_dir())
    if bool(args.assignment) == args.all:
        raise CourseError("give one assignment id or --all", hint=f"known: {', '.join(known)}")
    report = verify(config=config, assignment_ids=known if args.all else [args.assignment], device=args.device)
    for nb in report.notebooks:
        kinds = [v.kind for v, _ in nb.graded.values()]
        print(f"\n== {nb.assignment}/{nb.notebook}: graded {len(kinds)} ("
              + ", ".join(f"{kinds.count(k)} {k}" for k in dict.fromkeys(kinds)) + ")"
              + (f"; not run: {', '.join(nb.skipped)}" if nb.skipped else ""))
        if nb.rows:
            print(table(table_rows(nb), TABLE_HEADER))
        for failure in nb.failures:
            print(f"FAIL     {failure}")
        for warning in nb.warnings:
            print(f"{'FAIL' if args.strict else 'WARNING'}  {warning}")
        for recommendation in nb.recommendations:
            print(f"NOTE     {recommendation}")
    problems = report.problems(args.strict)
    if problems:
        print(f"\n{len(problems)} problem(s): fix the checks or the variants before grading students")
        return 1
    warned = sum(len(nb.warnings) for nb in report.notebooks)
    noted = sum(len(nb.recommendations) for nb in report.notebooks)
    counts = ", ".join(part for part in (f"{warned} warning(s)" if warned else "",
                                         f"{noted} recommendation(s)" if noted else "") if part)
    print(f"\nverified {len(report.notebooks)} notebook(s): every check pays only for correct work"
          + (f" ({counts})" if counts else ""))
    return 0


def cmd_new(args) -> int:
    from .scaffold import new_assignment

    config = CourseConfig.load(args.course)
    report = new_assignment(config=config, assignment_id=args.assignment, nbgrader_format=args.nbgrader_format,
                            notebook=args.notebook)
    form = ("nbgrader's format: hidden tests in the notebook's test cell" if report.nbgrader_format
            else f"hidden checks in graders/{report.assignment}/{report.notebook}.py")
    print(f"created assignment {report.assignment} ({form}) in {config.root}:")
    width = max(len(path) for path, _ in report.created)
    for path, what in report.created:
        print(f"  {path.ljust(width)}  {what}")
    print("\nnext:")
    for command in report.next_commands:
        print(f"  {command}")
    print(f"then replace the example question with yours (README.md: \"Writing a new assignment\"), run both again "
          f"and commit source/{report.assignment}, release/{report.assignment} and graders/{report.assignment}.\n"
          f"Optional, in nbgrader_config.py: c.Course.assignments[\"{report.assignment}\"] = "
          '{"cell_timeout": 30, "notebook_timeout": 120, "due": "2026-10-05 23:59"}')
    return 0


def cmd_warm(args) -> int:
    from .execute import warm

    if args.action == "stop":
        print(f"stopped {warm.stop_all()} warm grading sandbox(es)")
        return 0
    running = warm.services()
    for about in running:
        print(f"pid {about['pid']}: {about['device']} sandbox (started for {about['assignment']}; it serves every "
              f"assignment with the same limits), up "
              f"{(time.time() - about['started']) / 60:.0f} min, {about['served']} command(s) served, ends after "
              f"{about['idle']} s without one")
    if not running:
        print("no warm grading sandbox is running")
    return 0


def cmd_demo(args) -> int:
    from .demo import demo

    return demo(course=Path(args.course or ".").resolve(), target=Path(args.dir).resolve(),
                workers=args.workers, assignments=args.assignment)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="course", description="Autograde the course's PyTorch notebooks.")
    p.add_argument("--course", metavar="DIR", help="course directory (default: the one holding nbgrader_config.py)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, func, help_text):
        sp = sub.add_parser(name, help=help_text, description=help_text)
        sp.set_defaults(func=func)
        return sp

    device_help = "auto, cpu or cuda (default: c.Course.device in nbgrader_config.py)"
    db_help = "the gradebook's SQLAlchemy URL (default: c.CourseDirectory.db_url, else gradebook.db)"
    unsafe_help = "run student code without the sandbox (only where bubblewrap cannot run; never for untrusted work)"
    sp = add("release", cmd_release, "make release/AID from source/AID with nbgrader generate_assignment")
    sp.add_argument("assignment", metavar="AID")
    sp.add_argument("--check", action="store_true", help="exit non-zero if release/AID is stale; change nothing")

    sp = add("collect", cmd_collect, "copy submitted notebooks from a folder into submitted/")
    sp.add_argument("assignment", metavar="AID")
    sp.add_argument("--from", dest="source", metavar="DIR",
                    help="folder of <student_id>.ipynb or <student_id>/<any>.ipynb")
    sp.add_argument("--moodle-zip", metavar="ZIP", help="Moodle's 'Download all submissions' zip (needs --worksheet)")
    sp.add_argument("--worksheet", metavar="CSV", help="Moodle's grading worksheet of the same assignment")
    sp.add_argument("--timestamp", metavar='"YYYY-MM-DD HH:MM"',
                    help="--from: the submission time of every notebook (in c.Course.timezone) instead of the "
                         "files' modification times")
    sp.add_argument("--no-timestamps", action="store_true",
                    help="--from: no submission time (nbgrader counts the work on time) instead of the files' "
                         "modification times")
    sp.add_argument("--db-url", metavar="URL", help=db_help)

    sp = add("autograde", cmd_autograde, "run, judge and record every submission of an assignment")
    sp.add_argument("assignment", metavar="AID")
    sp.add_argument("--student", action="append", metavar="ID", help="only this student (repeatable)")
    sp.add_argument("--device", choices=["auto", "cpu", "cuda"], help=device_help)
    sp.add_argument("--force", action="store_true", help="regrade submissions already graded and unchanged")
    sp.add_argument("--no-wait", action="store_true",
                    help="fail at once if another autograde of this assignment is running (default: wait for it)")
    sp.add_argument("--db-url", metavar="URL", help=db_help)
    sp.add_argument("--workers", type=int, metavar="N", help="submissions at a time (default: one per core)")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    sp.add_argument("--unsafe-no-sandbox", action="store_true", help=unsafe_help)
    sp.add_argument("--scheduler", metavar="tcp://HOST:8786",
                    help="run on this Dask cluster instead of this machine (GPU assignments need GPU workers)")
    sp.add_argument("--cluster", choices=["slurm"],
                    help="grade on workers this batch starts as Slurm jobs (settings: c.Slurm in "
                         "nbgrader_config.py; GPU assignments ask for GPUs); they end with the batch")
    sp.add_argument("--accept-failing-solution", action="store_true",
                    help="grade an nbgrader-format assignment even though its solution fails its own tests "
                         "(as nbgrader would; the summary says so)")

    sp = add("grade", cmd_grade, "grade one notebook file (the gradebook is not touched)")
    sp.add_argument("notebook", metavar="NOTEBOOK")
    sp.add_argument("--assignment", metavar="AID", help="default: recognised from the notebook's cells")
    sp.add_argument("--device", choices=["auto", "cpu", "cuda"], help=device_help)
    sp.add_argument("--json", action="store_true", help="print the result as JSON")
    sp.add_argument("--unsafe-no-sandbox", action="store_true", help=unsafe_help)

    sp = add("feedback", cmd_feedback, "write feedback/<student>/AID/<notebook>.html for graded submissions")
    sp.add_argument("assignment", metavar="AID")
    sp.add_argument("--student", action="append", metavar="ID", help="only this student (repeatable)")
    sp.add_argument("--db-url", metavar="URL", help=db_help)

    sp = add("export", cmd_export, "grades and feedback for Moodle: a filled grading worksheet, or a course-wide CSV")
    sp.add_argument("target", choices=["moodle", "gradebook"],
                    help="moodle: fill AID's grading worksheet; gradebook: every assignment, in points of its "
                         "Moodle grade item, by email")
    sp.add_argument("assignment", metavar="AID", nargs="?", help="the assignment (gradebook: default all)")
    sp.add_argument("--worksheet", metavar="CSV", help="the grading worksheet downloaded from Moodle (moodle)")
    sp.add_argument("-o", "--out", required=True, metavar="FILE", help="where to write the CSV (or XML)")
    sp.add_argument("--feedback-zip", metavar="ZIP", help="also write per-student feedback files for Moodle (moodle)")
    sp.add_argument("--format", choices=["csv", "xml"],
                    help="gradebook: csv (by email) or Moodle's XML grade import (by ID number); default from -o")
    sp.add_argument("--skip-pending", action="store_true",
                    help="leave out the grades of students who still have answers to be graded by hand (their "
                         "total is partial); by default they are exported, with a warning")
    sp.add_argument("--max-grade", action="append", metavar="[AID=]N",
                    help="gradebook: the maximum grade of the assignment's grade item in Moodle (repeatable; N alone "
                         "for every assignment); default: the setting moodle_max_grade, else the Maximum Grade of "
                         "its worksheet, else 100")
    sp.add_argument("--db-url", metavar="URL", help=db_help)

    sp = add("report", cmd_report, "the class report of an assignment: HTML with plots, common mistakes, failed runs")
    sp.add_argument("assignment", metavar="AID")
    sp.add_argument("-o", "--out", required=True, metavar="DIR", help="folder for index.html and its PNG plots")
    sp.add_argument("--db-url", metavar="URL", help=db_help)

    sp = add("similarity", cmd_similarity, "pairs of submissions whose answer code is alike, ranked, side by side "
             "(release code excluded): HTML for a person to review")
    sp.add_argument("assignment", metavar="AID")
    sp.add_argument("-o", "--out", required=True, metavar="DIR", help="folder for index.html and its plot")
    sp.add_argument("--against", metavar="DIR", help="also compare with these submissions (another year's "
                    "submitted/ folder, or a folder of notebooks); they are not compared with each other")
    sp.add_argument("--common", type=int, metavar="N", help="a passage in more than N submissions counts as forced "
                    "by the question and is ignored (default: 10 or a tenth of the submissions; 0: never)")
    sp.add_argument("--top", type=int, metavar="N", help="pairs shown side by side (default: 20)")
    sp.add_argument("--db-url", metavar="URL", help=db_help)

    sp = add("formgrade", cmd_formgrade, "grade written answers by hand in nbgrader's formgrader (a local Jupyter "
             "server on this course's gradebook)")
    sp.add_argument("--ip", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    sp.add_argument("--port", type=int, default=8890, help="port (default: 8890)")
    sp.add_argument("--token", help="login token (default: a new random one, printed in the URL)")
    sp.add_argument("--no-browser", action="store_true", help="do not open a browser")
    sp.add_argument("--db-url", metavar="URL", help=db_help)

    sp = add("manual", cmd_manual, "hand grading offline: export a score sheet (CSV) of the hand-graded questions, "
             "or import a filled one (checked whole first; any bad row and nothing is written)")
    sp.add_argument("action", choices=["export", "import"])
    sp.add_argument("assignment", metavar="AID")
    sp.add_argument("--csv", required=True, metavar="FILE",
                    help="the score sheet: columns student, question, score, comment")
    sp.add_argument("--db-url", metavar="URL", help=db_help)

    sp = add("check", cmd_check, "self-check: run a notebook and its visible tests, warn about structure problems")
    sp.add_argument("notebook", metavar="NOTEBOOK")
    sp.add_argument("--assignment", metavar="AID", help="default: recognised from the notebook's cells")
    sp.add_argument("--device", choices=["auto", "cpu", "cuda"], help=device_help)
    sp.add_argument("--unsafe-no-sandbox", action="store_true", help=unsafe_help)

    sp = add("verify", cmd_verify, "prove the hidden checks: grade the solution, the blank, every known variant and "
             "do-nothing stubs; fail if a stub earns a point or a variant does not score as declared")
    sp.add_argument("assignment", metavar="AID", nargs="?")
    sp.add_argument("--all", action="store_true", help="every assignment of the course")
    sp.add_argument("--strict", action="store_true",
                    help="warnings (a check no mutant fails, a question without a mutant, no alternative) fail "
                         "too; recommendations (fewer alternatives or mutants than recommended) never fail")
    sp.add_argument("--device", choices=["auto", "cpu", "cuda"], help=device_help)
    sp.add_argument("--unsafe-no-sandbox", action="store_true", help=unsafe_help)

    sp = add("new", cmd_new, "scaffold a new assignment: source/AID/<notebook>.ipynb, its hidden checks and known "
             "submissions, ready to release and verify")
    sp.add_argument("assignment", metavar="AID", help="the new assignment's id, e.g. 07-attention")
    sp.add_argument("--nbgrader-format", action="store_true",
                    help="hidden tests in the notebook's test cells (nbgrader's own format) instead of a grader module")
    sp.add_argument("--notebook", metavar="NAME", help="the notebook's name (default: AID without its number)")

    sp = add("warm", cmd_warm, "the warm grading sandbox that `course grade` and `course check` reuse between "
             "commands (it ends by itself after c.Course.warm_idle seconds without one)")
    sp.add_argument("action", choices=["status", "stop"], help="status: list the running ones; stop: end them")

    sp = add("demo", cmd_demo, "release, grade a synthetic class end to end, and print the results")
    sp.add_argument("--dir", default="demo", help="where the demo course is built (default: ./demo)")
    sp.add_argument("--workers", type=int, default=None, help="submissions at a time (default: one per core)")
    sp.add_argument("--assignment", action="append", metavar="AID",
                    help="assignment to demonstrate (repeatable; default: 01-tensors)")
    return p


def _skip_unused_imports() -> None:
    """Keep jsonschema (which nbformat imports) from building parsers nothing here uses.

    With the optional rfc3987-syntax package installed (Jupyter's event validation asks for it), importing
    jsonschema compiles 38 Earley grammars, about 2 s, only to check the "iri" string format, which neither
    the notebook schema nor anything else this program validates uses. Marked absent, jsonschema just does
    not check that format. Every command starts faster; nothing it validates changes.
    """
    sys.modules.setdefault("rfc3987_syntax", None)


def _quiet_library_logs() -> None:
    """Keep nbgrader's database log (a traceback per failed commit) off the terminal.

    nbgrader logs every failed gradebook commit with its whole traceback before raising; the error it raises
    is reported once, in one line, by :func:`main`. Its logger has no handler in this program, so Python's
    last-resort handler would print the traceback too.
    """
    import logging

    log = logging.getLogger("tornado.application")
    if not log.handlers:
        log.addHandler(logging.NullHandler())


def main(argv: list[str] | None = None) -> int:
    mark("start-up")
    _skip_unused_imports()
    _quiet_library_logs()
    args = parser().parse_args(argv)
    try:
        return _run(args)
    finally:
        report_timings()


def _run(args) -> int:
    try:
        return args.func(args)
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # the machine's, not the program's: a full disk, a file that went away
        error = from_os_error(exc)
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except Exception as exc:
        if not type(exc).__module__.startswith("sqlalchemy."):
            raise
        # a database failure outside the gradebook's own handling (the Moodle roster's tables, say)
        from .gradebook import gradebook_error

        config = CourseConfig.load(args.course).with_overrides(db_url=getattr(args, "db_url", None))
        error = gradebook_error(config, exc, "use")
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted; graded submissions are saved, run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
