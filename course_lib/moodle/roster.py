"""The class roster: Moodle participants mapped to stable student ids, kept with the gradebook.

Students are nbgrader ``Student`` rows (id, first and last name, email). Their id is
derived from the email once and then found again by email, so it is the same in every
assignment although Moodle's participant ids are not. Each assignment's table
``participant id -> student id`` lives in the gradebook's own database (table
``course_moodle_participant``, created on first use through SQLAlchemy, so it works
with any ``db_url`` nbgrader accepts).

Student id rule: the email's local part, lower-cased, with characters other than
``a-z 0-9 . _ -`` replaced by ``-`` (``Jane.Doe@uni.edu`` -> ``jane.doe``). If another
email already owns that id, six hex digits of the email's SHA-1 are appended
(``jane.doe-3f2a1c``). Without an email the worksheet's ``ID number`` is used; with
neither (blind marking) the id is ``participant-<pid>``, which holds for one
assignment only.

A site may let several accounts share one email (``allowaccountssameemail``): people
whose email another row of the worksheet, or another student of the roster, also has
are told apart by their full name too. Each is the student of that email and name, or
a new one whose id carries six hex digits of the SHA-1 of email and name; two rows with
the same email and the same name cannot be told apart and get the same id, which
:func:`shared_ids` names so no file or grade goes to the other one.

The worksheet's ``ID number`` (when the site shows it) is kept per student in
``course_moodle_identity``: Moodle's XML grade import finds users by it. Each
assignment's ``Maximum Grade`` as its latest worksheet showed it is kept in
``course_moodle_maximum``: Moodle's grade imports store a number as points of the
grade item, so the course-wide exports scale to it.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, MetaData, String, Table, create_engine, delete, inspect, select

from ..config import CourseConfig
from ..gradebook import open_gradebook

metadata = MetaData()
participants = Table(
    "course_moodle_participant", metadata,
    Column("assignment", String(128), primary_key=True),
    Column("participant", String(32), primary_key=True),
    Column("student_id", String(128), nullable=False),
    Column("full_name", String(256)),
    Column("email", String(256)),
    Column("status", String(128)),
    Column("submitted_at", String(64)),
)
maximums = Table(
    "course_moodle_maximum", metadata,
    Column("assignment", String(128), primary_key=True),
    Column("max_grade", String(32), nullable=False),
)
identities = Table(
    "course_moodle_identity", metadata,
    Column("student_id", String(128), primary_key=True),
    Column("id_number", String(256), nullable=False),
)


@dataclass(frozen=True)
class Person:
    """One worksheet row as the roster needs it."""

    participant: str
    full_name: str
    email: str = ""
    id_number: str = ""
    status: str = ""  # Moodle's Status cell as written
    submitted_at: datetime | None = None  # UTC
    group: str = ""  # the Group cell of a team-submission worksheet
    identifier: str = ""  # the Identifier cell as written ("Participant 1234567")


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return slug[:60] or "student"


def _split_name(full_name: str) -> tuple[str, str]:
    parts = full_name.split()
    if len(parts) < 2:
        return full_name, ""
    return " ".join(parts[:-1]), parts[-1]


def student_id_for(person: Person, owner_of) -> str:
    """The stable id of ``person``; ``owner_of(id)`` is the email that already owns an id (or ``None``)."""
    if person.email:
        email = person.email.strip()
        base = _slug(email.split("@", 1)[0])
        owner = owner_of(base)
        if owner is None or owner.lower() == email.lower():
            return base
        return f"{base}-{hashlib.sha1(email.lower().encode()).hexdigest()[:6]}"
    if person.id_number:
        return "id-" + _slug(person.id_number)
    return f"participant-{person.participant}"


def _shared_email_id(person: Person) -> str:
    """The id of one of several people with the same email: the email's and the full name's."""
    email = person.email.strip()
    digest = hashlib.sha1(f"{email.lower()}\n{person.full_name.strip()}".encode()).hexdigest()[:6]
    return f"{_slug(email.split('@', 1)[0])}-{digest}"


def shared_ids(mapping: dict[str, str]) -> dict[str, list[str]]:
    """``student id -> [participant ids]`` for every student more than one participant was registered as
    (same email and same full name): nobody can tell whose files or grade a row is."""
    pids: dict[str, list[str]] = {}
    for pid, sid in mapping.items():
        pids.setdefault(sid, []).append(pid)
    return {sid: sorted(p) for sid, p in pids.items() if len(p) > 1}


def register(config: CourseConfig, assignment: str, people: list[Person]) -> dict[str, str]:
    """Add or update every person in the roster; returns ``participant id -> student id`` for the assignment."""
    mapping: dict[str, str] = {}
    rows_of = Counter(p.email.strip().lower() for p in people if p.email.strip())
    with open_gradebook(config, create=True) as gb:
        by_email: dict[str, list] = {}  # email -> [(student id, first name, last name)]
        for s in gb.students:
            if s.email:
                by_email.setdefault(s.email.lower(), []).append((s.id, s.first_name, s.last_name))
        emails = {s.id: (s.email or "") for s in gb.students}
        for person in people:
            email = person.email.strip()
            first, last = _split_name(person.full_name)
            known = by_email.get(email.lower(), []) if email else []
            shared = rows_of[email.lower()] > 1 or len(known) > 1
            if not shared:
                sid = known[0][0] if known else student_id_for(person, lambda i: emails.get(i))
            else:  # one of several accounts with this email: the one of this name too
                sid = next((i for i, f, l in known if (f, l) == (first, last)), None) or _shared_email_id(person)
            if person.full_name.startswith("Participant ") and not email:
                first, last = None, None  # blind marking: the worksheet hides the name
            gb.update_or_create_student(sid, first_name=first, last_name=last, email=email or None)
            if email and all(i != sid for i, _, _ in known):
                by_email.setdefault(email.lower(), []).append((sid, first, last))
            emails[sid] = email
            mapping[person.participant] = sid
    engine = create_engine(config.db_url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(delete(participants).where(participants.c.assignment == assignment))
            if people:
                conn.execute(participants.insert(), [
                    {"assignment": assignment, "participant": p.participant, "student_id": mapping[p.participant],
                     "full_name": p.full_name, "email": p.email, "status": p.status,
                     "submitted_at": p.submitted_at.isoformat() if p.submitted_at else None}
                    for p in people])
            numbered = {mapping[p.participant]: p.id_number.strip() for p in people if p.id_number.strip()}
            if numbered:
                conn.execute(delete(identities).where(identities.c.student_id.in_(list(numbered))))
                conn.execute(identities.insert(), [{"student_id": sid, "id_number": number}
                                                   for sid, number in numbered.items()])
    finally:
        engine.dispose()
    return mapping


def id_numbers(config: CourseConfig) -> dict[str, str]:
    """``student id -> Moodle ID number`` for every student a worksheet showed one for."""
    engine = create_engine(config.db_url)
    try:
        metadata.create_all(engine)
        with engine.connect() as conn:
            return {sid: number for sid, number in conn.execute(select(identities.c.student_id,
                                                                       identities.c.id_number))}
    finally:
        engine.dispose()


def participant_map(config: CourseConfig, assignment: str) -> dict[str, str]:
    """``participant id -> student id`` recorded for an assignment (empty if never imported from Moodle)."""
    engine = create_engine(config.db_url)
    try:
        metadata.create_all(engine)
        with engine.connect() as conn:
            rows = conn.execute(select(participants.c.participant, participants.c.student_id)
                                .where(participants.c.assignment == assignment))
            return {pid: sid for pid, sid in rows}
    finally:
        engine.dispose()


def record_maximum(config: CourseConfig, assignment: str, maximum: float) -> None:
    """Keep ``maximum`` as the assignment's maximum grade in Moodle (from its worksheet)."""
    engine = create_engine(config.db_url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(delete(maximums).where(maximums.c.assignment == assignment))
            conn.execute(maximums.insert(), [{"assignment": assignment, "max_grade": repr(float(maximum))}])
    finally:
        engine.dispose()


SCALE = "scale"  # kept as an assignment's maximum when its worksheet shows it is graded on a scale


def record_scale(config: CourseConfig, assignment: str) -> None:
    """Keep that the assignment is graded on a scale in Moodle (from its worksheet): no maximum in points."""
    engine = create_engine(config.db_url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(delete(maximums).where(maximums.c.assignment == assignment))
            conn.execute(maximums.insert(), [{"assignment": assignment, "max_grade": SCALE}])
    finally:
        engine.dispose()


def recorded_maximums(config: CourseConfig) -> dict[str, float | str]:
    """``assignment -> maximum grade`` as each assignment's latest worksheet showed it, or :data:`SCALE` for one
    graded on a scale (reads only)."""
    engine = create_engine(config.db_url)
    try:
        if not inspect(engine).has_table(maximums.name):  # never read a worksheet: nothing is made to say so
            return {}
        with engine.connect() as conn:
            return {aid: SCALE if value == SCALE else float(value)
                    for aid, value in conn.execute(select(maximums.c.assignment, maximums.c.max_grade))}
    finally:
        engine.dispose()
