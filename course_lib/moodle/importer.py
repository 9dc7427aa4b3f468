"""Collect an assignment from Moodle's "Download all submissions" zip and grading worksheet.

The worksheet says who each participant id is (by email, so the student id is the
same in every assignment), whether the work was submitted for grading (drafts are
skipped), and when (the time nbgrader's late-penalty mechanism compares with the due
date). The zip's file times are when the zip was made, never a submission time: a
submitted row whose time the worksheet does not give (or gives in a form not read) is
not collected when the assignment has a due date, and is collected without a time
(on time) when it has none. Each student's files are read straight from the zip, never extracted as they
are: paths that climb out, operating-system debris and oversized files are refused.
One student's broken upload is reported and the rest of the class goes on.

A team submission (folders named by group, see :mod:`.names`) is collected for every
member the worksheet lists in that group, so each member is graded, gets feedback and
gets the group's grade in the exported worksheet.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..assignment import Assignment, NotebookSpec
from ..collect import _place, finish_submission, place_others, start_submission
from ..config import CourseConfig
from ..errors import CourseError, SubmissionError
from ..execute.jobs import MAX_EXTRA_BYTES
from ..models import Submission
from ..notebooks import MAX_NOTEBOOK_BYTES, grade_id, read_notebook
from . import worksheet as ws
from .names import is_junk, is_name_of, is_safe, parse_entry, parse_group_entry, zip_name_of
from .roster import Person, record_maximum, record_scale, register, shared_ids

MAX_ZIP_MEMBERS = 100_000


@dataclass
class MoodleImport:
    """What a Moodle import did, per student."""

    assignment: str
    collected: list = field(default_factory=list)  # Submission
    choices: list = field(default_factory=list)  # (student, file, what was chosen and why)
    skipped: list = field(default_factory=list)  # (student, file, why: draft, no submission)
    no_submission: list = field(default_factory=list)  # (student, full name, worksheet status): no file in the zip
    problems: list = field(default_factory=list)  # (student, file, message)
    removed: list = field(default_factory=list)  # (student, file, why): collected earlier, not in the new one
    roster: int = 0  # worksheet rows registered
    groups: list = field(default_factory=list)  # (group as in the zip, [member student ids])


def people_from(sheet: ws.Worksheet, tz: str) -> list[Person]:
    """The worksheet's rows as roster entries."""
    out = []
    for row in sheet.rows:
        pid = ws.participant_id(sheet.get(row, ws.IDENTIFIER)).strip()
        if not pid.isdigit():
            continue
        out.append(Person(participant=pid, full_name=sheet.get(row, ws.FULL_NAME).strip(),
                          email=sheet.get(row, ws.EMAIL).strip(), id_number=sheet.get(row, ws.ID_NUMBER).strip(),
                          status=sheet.get(row, ws.STATUS).strip(),
                          submitted_at=ws.parse_time(sheet.get(row, ws.SUBMITTED_AT), tz),
                          group=sheet.get(row, ws.GROUP).strip(), identifier=sheet.get(row, ws.IDENTIFIER).strip()))
    return out


def teams_from(people: list[Person]) -> dict[str, list[Person]]:
    """Members by group name as the zip writes it (only for a worksheet with a ``Group`` column)."""
    teams: dict[str, list[Person]] = {}
    for person in people:
        if person.group:
            teams.setdefault(zip_name_of(person.group, group=True), []).append(person)
    return teams


def collect_moodle(*, config: CourseConfig, assignment_id: str, zip_path: Path, worksheet: Path) -> MoodleImport:
    """Place every submitted notebook of the zip into ``submitted/<student>/<aid>/``."""
    assignment = Assignment.load(config, assignment_id)
    sheet = ws.Worksheet.read(worksheet, headers=ws.Headers.of(config.moodle_headers))
    people = people_from(sheet, config.timezone)
    times = {ws.participant_id(sheet.get(row, ws.IDENTIFIER)).strip(): sheet.get(row, ws.SUBMITTED_AT)
             for row in sheet.rows}
    if not people:
        raise CourseError(f"{worksheet} lists no participants", hint="download the worksheet with all participants "
                          "shown (Grading table filter: All)")
    report = MoodleImport(assignment_id, roster=len(people))
    students = register(config, assignment_id, people)
    maximum = ws.maximum_of(sheet)
    if maximum is not None:
        record_maximum(config, assignment_id, maximum)
    elif ws.graded_on_scale(sheet):
        record_scale(config, assignment_id)
    by_pid = {p.participant: p for p in people}
    try:
        archive = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise CourseError(f"{zip_path} is not a readable zip file ({exc})",
                          hint="use the file Moodle's 'Download all submissions' gives, unchanged") from exc
    teams = teams_from(people)
    with archive:
        files, team_files, misnamed = _files_by_owner(archive, report, teams, by_pid)
        for (pid, name), entries in sorted(misnamed.items()):
            person = by_pid[pid]
            report.problems.append((students[pid], ", ".join(i.filename for i, _ in entries)[:120],
                                    f"the zip's folder is named {name!r} but participant {pid} of the worksheet is "
                                    f"{person.full_name or person.identifier!r}; not collected for them. A team "
                                    "submission's folder ('<group name>_<group id>') reads like a participant's: "
                                    "if this is a team assignment, the worksheet's group column was not recognised "
                                    f"(set {ws.SETTING} = {{'Group': '<its header>'}}) or the group's name differs "
                                    "from the worksheet's; otherwise check that the zip and the worksheet come from "
                                    "the same assignment"))
        if misnamed and not set(files) & set(by_pid) and not team_files:
            raise CourseError(f"no folder of {zip_path} is named after the participant the worksheet gives its id",
                              hint="download the zip and the worksheet from the same Moodle assignment; for a "
                                   f"team assignment, make sure the worksheet's group column is found ({ws.SETTING}"
                                   " = {'Group': '<its header>'} if the site names it otherwise)")
        unknown = sorted(set(files) - set(by_pid))
        for pid in unknown:
            report.problems.append((f"participant {pid}", ", ".join(i.filename for i, _ in files[pid])[:120],
                                    "not in the worksheet; skipped (are the zip and the worksheet from the same "
                                    "assignment?)"))
        if files and len(unknown) == len(files) and not team_files:
            raise CourseError(f"no participant of {zip_path} is in {worksheet}",
                              hint="download the zip and the worksheet from the same Moodle assignment")
        work = [(pid, entries) for pid, entries in files.items() if pid in by_pid]
        for (name, gid), entries in sorted(team_files.items()):
            label = f"{name}_{gid}" if gid else name
            if sum(1 for other, _ in team_files if other == name) > 1:
                report.problems.append((f"group {label}", ", ".join(p for _, p in entries)[:120],
                                        f"more than one group is named {name!r}; the worksheet cannot tell their "
                                        "members apart; skipped (rename one group in Moodle, or collect these "
                                        "notebooks with --from)"))
                continue
            members = teams[name]
            report.groups.append((label, [students[m.participant] for m in members]))
            work += [(m.participant, entries) for m in members]
        covered = {pid for pid, _ in work}
        for person in sorted((p for p in people if p.participant not in covered), key=lambda p: students[p.participant]):
            report.no_submission.append((students[person.participant], person.full_name, _absent(person.status)))
        ambiguous = shared_ids(students)
        for sid, pids in sorted(ambiguous.items()):
            report.problems.append((sid, ", ".join(f"participant {p}" for p in pids),
                                    "these rows of the worksheet have the same email and the same full name, so "
                                    "the course cannot tell whose files are whose; none collected (give one account "
                                    "another email or name in Moodle, or grade them by hand)"))
        work = [(pid, entries) for pid, entries in work if students[pid] not in ambiguous]
        due = config.due_utc(assignment_id)
        for pid, entries in sorted(work, key=lambda w: students[w[0]]):
            person, student = by_pid[pid], students[pid]
            state = ws.submission_status(person.status)
            names = ", ".join(PurePosixPath(p).name for _, p in entries)
            if state != "submitted":
                earlier = config.path("submitted", student, assignment_id)
                kept = ("; the submission collected earlier (submitted/{}/{}/) is kept and still graded: remove it "
                        "if it should not count".format(student, assignment_id)
                        if earlier.is_dir() and any(earlier.glob("*.ipynb")) else "")
                report.skipped.append((student, names, f"{person.status or state}: not submitted for grading; "
                                                       f"skipped{kept}"))
                continue
            if person.submitted_at is None:
                # the zip's file times are when the zip was made, not when the work was handed in
                shown = times.get(pid, "").strip()
                why = (f"its submission time {shown!r} cannot be read" if shown and shown != "-" else
                       f"the worksheet gives no submission time ({ws.SUBMITTED_AT!r})")
                if due is not None:
                    report.problems.append((student, names, f"{why}, and {assignment_id} has a due date: not "
                                            "collected (use the worksheet as Moodle downloaded it, not re-saved by "
                                            "a spreadsheet program; download it with Moodle in English if its "
                                            f"language is not read; set {ws.SETTING} if the column is named "
                                            "otherwise)"))
                    continue
                report.choices.append((student, names, f"{why}: collected without a time (on time)"))
            _collect_one(config, assignment, student, person, archive, entries, report)
    return report


def _absent(status: str) -> str:
    """Why a worksheet row has no file in the zip, in the words of its Status cell."""
    state = ws.submission_status(status)
    if state == "submitted" and status.strip():
        return f"{status.strip()}, but the zip holds no file of theirs (is the zip older than the worksheet?)"
    return status.strip() or "no file in the zip"


def _files_by_owner(archive: zipfile.ZipFile, report: MoodleImport, teams: dict,
                    by_pid: dict) -> tuple[dict, dict, dict]:
    """``({participant: [(info, path)]}, {(group name, group id): [(info, path)]}, misnamed)`` of the zip's files.

    An entry whose name part is a group of the worksheet is the team's; any other is a participant's,
    if its name part is that participant's name (or blind marking's word). The rest are ``misnamed``:
    ``{(participant, name part): [(info, path)]}``, given to nobody.
    """
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise CourseError(f"the zip holds {len(infos)} files, more than {MAX_ZIP_MEMBERS}",
                          hint="download the submissions of one assignment only")
    out: dict[str, list] = {}
    team_out: dict[tuple, list] = {}
    misnamed: dict[tuple, list] = {}
    for info in infos:
        if info.is_dir() or is_junk(info.filename):
            continue
        team = parse_group_entry(info.filename) if teams else None
        name = zip_name_of(team.name) if team is not None else ""
        if name and name in teams:
            owner, path, target = f"group {name}", team.path, team_out.setdefault((name, team.group), [])
        else:
            entry = parse_entry(info.filename)
            if entry is None:
                report.problems.append(("?", info.filename, "not named like a Moodle submission file; ignored"))
                continue
            person = by_pid.get(entry.participant)
            if person is not None and not is_name_of(entry.name, person.full_name, person.identifier):
                target = misnamed.setdefault((entry.participant, entry.name), [])
            else:
                target = out.setdefault(entry.participant, [])
            owner, path = f"participant {entry.participant}", entry.path
        if not is_safe(path):
            report.problems.append((owner, info.filename, "unsafe path (absolute or climbing out of its folder); "
                                    "ignored"))
            continue
        target.append((info, path))
    return ({k: v for k, v in out.items() if v}, {k: v for k, v in team_out.items() if v},
            {k: v for k, v in misnamed.items() if v})


def _collect_one(config: CourseConfig, assignment: Assignment, student: str, person: Person,
                 archive: zipfile.ZipFile, entries: list, report: MoodleImport) -> None:
    """Collect one student's submission; it replaces whatever an earlier collect placed for them.

    Moodle's current submission holds only its own files, so a notebook of an earlier download the
    student has since removed is removed here too (and scored 0 in the gradebook). A submission collected
    without a time takes an earlier one's time out of the gradebook too, as ``collect --no-timestamps`` does:
    a due date set later would otherwise make it as late as the work it replaced.
    """
    earlier = start_submission(config, assignment.id, student)
    placed: set[str] = set()
    try:
        _collect_files(config, assignment, student, person, archive, entries, report, placed)
    finally:
        finish_submission(config, assignment.id, student, earlier, placed, report.removed,
                          untimed=person.submitted_at is None)


def _collect_files(config: CourseConfig, assignment: Assignment, student: str, person: Person,
                   archive: zipfile.ZipFile, entries: list, report: MoodleImport, placed: set) -> None:
    notebooks, others = [], []
    for info, path in entries:
        (notebooks if path.lower().endswith(".ipynb") else others).append((path, info))
    if not notebooks:
        report.problems.append((student, ", ".join(p for p, _ in others) or "-",
                                "no notebook (.ipynb) in the submission; nothing to grade"))
        return
    homes: set = set()  # the folders of the notebooks placed
    with tempfile.TemporaryDirectory(prefix="moodle-") as tmp:
        local = []
        for i, (path, info) in enumerate(notebooks):
            if info.file_size > MAX_NOTEBOOK_BYTES:
                report.problems.append((student, path, f"{info.file_size / 2**20:.0f} MiB, over the "
                                        f"{MAX_NOTEBOOK_BYTES / 2**20:.0f} MiB limit; skipped"))
                continue
            target = Path(tmp) / str(i) / PurePosixPath(path).name
            target.parent.mkdir()
            with archive.open(info) as src:
                data = src.read(MAX_NOTEBOOK_BYTES + 1)  # the header's size may lie
            if len(data) > MAX_NOTEBOOK_BYTES:
                report.problems.append((student, path, "larger than the notebook size limit; skipped"))
                continue
            target.write_bytes(data)
            local.append((path, target))
        for spec, (path, target), note in choose(assignment, local, report, student):
            if note:
                report.choices.append((student, path, note))
            try:
                read_notebook(target, student=student)
            except SubmissionError as exc:
                report.problems.append((student, path, exc.message + (f" ({exc.hint})" if exc.hint else "")))
                continue
            report.collected.append(_place(config, assignment.id, spec.name, student, target, person.submitted_at,
                                           stamp=person.submitted_at is not None))
            placed.add(spec.name)
            homes.add(PurePosixPath(path).parent)
    _keep_others(config, assignment, student, archive, others, homes if placed else set(), report)


def _keep_others(config: CourseConfig, assignment: Assignment, student: str, archive: zipfile.ZipFile,
                 others: list, homes: set, report: MoodleImport) -> None:
    """The submission's other files beside its notebook, as nbgrader keeps them (``collect.place_others``);
    those outside the notebook's folder, or of a submission whose notebooks lie in several, are named."""
    home = next(iter(homes)) if len(homes) == 1 else None
    entries = []
    for path, info in others:
        inside = home is not None and (home == PurePosixPath(".") or PurePosixPath(path).is_relative_to(home))
        if not inside:
            report.problems.append((student, path, "not a notebook, and not in the notebook's folder; ignored"))
            continue

        def read(info=info):
            with archive.open(info) as src:
                return src.read(MAX_EXTRA_BYTES + 1)  # the header's size may lie

        rel = PurePosixPath(path).relative_to(home).as_posix() if home != PurePosixPath(".") else path
        entries.append((rel, info.file_size, read))
    place_others(config, assignment.id, student, entries, report.problems)


def _cell_ids(path: Path) -> set[str]:
    try:
        nb = json.loads(path.read_bytes().decode("utf-8-sig"))
        return {grade_id(c) for c in nb.get("cells", []) if isinstance(c, dict)} - {""}
    except (ValueError, AttributeError, TypeError):
        return set()


def choose(assignment: Assignment, local: list, report: MoodleImport, student: str):
    """Pair each of the assignment's notebooks with one uploaded file: ``(spec, (path, file), note)``.

    The released name wins; else the only notebook; else the one sharing most of the
    release's nbgrader cell ids (never a file named as another of the assignment's notebooks).
    Every choice other than the plain name is reported.
    """
    out, used = [], set()
    released_names = {f"{spec.name}.ipynb" for spec in assignment.notebooks}
    for spec in assignment.notebooks:
        wanted = f"{spec.name}.ipynb"
        # a file named as another notebook of the assignment is that notebook, never a renamed copy of this one
        others = released_names - {wanted}
        named = sorted((p for p in local if PurePosixPath(p[0]).name == wanted), key=lambda p: p[0].count("/"))
        if named:
            pick = named[0]
            note = "" if len(local) == 1 else (f"used {pick[0]} (the released name); also uploaded: "
                                               + ", ".join(p for p, _ in local if p != pick[0]))
        elif len(local) == 1 and len(assignment.notebooks) == 1:
            pick, note = local[0], f"renamed notebook: graded {local[0][0]} as {wanted}"
        else:
            pick, note = _most_alike(spec, [p for p in local if p[0] not in used
                                            and PurePosixPath(p[0]).name not in others])
            if pick is None:
                report.problems.append((student, ", ".join(p for p, _ in local),
                                        (note or f"none of these looks like {wanted}") + "; skipped (ask the "
                                        "student which to grade and collect it with --from)"))
                continue
        used.add(pick[0])
        out.append((spec, pick, note))
    return out


def _most_alike(spec: NotebookSpec, candidates: list):
    try:
        release = {grade_id(c) for c in spec.release_nb().cells} - {""}
    except CourseError:
        release = set()
    scored = sorted(((len(_cell_ids(f) & release), p, f) for p, f in candidates), key=lambda t: (-t[0], t[1]))
    if not scored or scored[0][0] == 0:
        return None, ""
    tied = [p for n, p, _ in scored if n == scored[0][0]]
    if len(tied) > 1:  # a guess between equals would grade one file and silently drop the other
        return None, f"{', '.join(tied)} look equally like {spec.name}.ipynb ({scored[0][0]} of its graded cells each)"
    best, path, file = scored[0]
    others = ", ".join(p for _, p, _ in scored[1:])
    return (path, file), (f"graded {path} as {spec.name}.ipynb: it has {best} of the release's {len(release)} "
                          f"graded cells" + (f"; also uploaded: {others}" if others else ""))
