"""File names inside Moodle's submission and feedback zips.

Moodle names every submission file ``<full name>_<participant id>_assignsubmission_file``
followed by ``/path`` (4.1+ folders), ``_/path`` (4.0 and older) or ``_file name``
(folders off). Blind marking writes ``Participant`` instead of the name. The participant
id is allocated per assignment, so it identifies a row of that assignment's worksheet,
never a student across assignments.

Team (group) submissions are named by the group instead: ``<group name>_<group id>``,
or the site's ``Default group`` string alone for students in no group. The worksheet
holds no group id, only the group's name in its ``Group`` column, so a group folder is
matched to the worksheet by its name, cleaned the way Moodle cleans it for the zip: a
group's name goes through ``format_string`` first (``&`` becomes ``&amp;``, tags are
stripped, ``<`` and ``>`` become entities), then ``clean_filename`` drops ``&<>"`|':\\/``,
so ``A & B`` is written ``A amp; B``.

A group id and a participant id are both plain numbers, so a team folder the worksheet
does not explain reads like a participant's. Every participant entry's name part is
therefore checked against the worksheet row of its id (:func:`is_name_of`) before the
files are given to that student.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

# One pattern for all three namings. Moodle turns the name's "_" into spaces, but its zip writer (ZipStream's
# filterFilename) then writes "*" and "?" as "_", so the name part may hold "_" after all: the id is the last
# number before "_assignsubmission_file".
ENTRY = re.compile(r"^(?P<name>[^/]*?)_(?P<pid>\d+)_assignsubmission_file(?:_?/(?P<path>.+)|_(?P<flat>.+))$")

# A team submission: the group's name (its "_" became spaces) and id, or only the default group's name.
GROUP_ENTRY = re.compile(r"^(?P<name>[^/]*?)(?:_(?P<gid>\d+))?_assignsubmission_file"
                         r"(?:_?/(?P<path>.+)|_(?P<flat>.+))$")

# What Moodle's clean_filename (PARAM_FILE) drops from a name before it goes into the zip.
_FILE_NAME_DROPS = re.compile(r"[\x00-\x1f\x7f&<>\"`|':\\/]")

# Entries a zip made on macOS or Windows carries that nobody submitted on purpose.
JUNK_PARTS = {"__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini", ".ipynb_checkpoints"}


@dataclass(frozen=True)
class Entry:
    """One file of a Moodle submissions zip."""

    name: str  # the student's full name as Moodle wrote it ("Participant" under blind marking)
    participant: str  # the participant id (digits)
    path: str  # the file's path inside the student's submission


@dataclass(frozen=True)
class GroupEntry:
    """One file of a team submission in a Moodle submissions zip."""

    name: str  # the group's name as Moodle wrote it (or the site's "Default group")
    group: str  # the group id (digits), "" for the default group
    path: str  # the file's path inside the group's submission


def parse_group_entry(zip_name: str) -> GroupEntry | None:
    """The group and file behind a zip entry name of a team submission, or ``None``."""
    match = GROUP_ENTRY.match(zip_name)
    if not match:
        return None
    return GroupEntry(name=match.group("name"), group=match.group("gid") or "",
                      path=match.group("path") or match.group("flat"))


# format_string's escaping: an "&" that does not start an entity, and the tags strip_tags removes.
_BARE_AMPERSAND = re.compile(r"&(?![a-zA-Z0-9#]{1,8};)")
_TAG = re.compile(r"<!--.*?(?:-->|$)|<[^\s<>=][^>]*(?:>|$)", re.S)


def formatted_name(name: str) -> str:
    """A group's name as Moodle's ``format_string`` gives it (default options, tags stripped)."""
    escaped = _TAG.sub("", _BARE_AMPERSAND.sub("&amp;", name))
    return escaped.replace("<", "&lt;").replace(">", "&gt;")


def zip_name_of(name: str, *, group: bool = False) -> str:
    """A person's (or, with ``group``, a group's) name as Moodle writes it into the zip.

    ``_`` becomes a space and the characters ``clean_filename`` drops are dropped; a
    group's name is first formatted as :func:`formatted_name` says.
    """
    if group:
        name = formatted_name(name)
    # "*" and "?" reach the zip as "_" (ZipStream), which reads as the space "_" stands for
    return re.sub(r"\s+", " ", _FILE_NAME_DROPS.sub("", name.replace("_", " ")).replace("*", " ").replace("?", " ")
                  ).strip()


def _key(name: str) -> str:
    return unicodedata.normalize("NFC", re.sub(r"\s+", " ", name.replace("_", " ")).strip()).casefold()


_SHOWN_BLIND = re.compile(r"^\D*\d+\s*\((?P<name>.*)\)\s*$")  # "Participant 12 (Jane Roe)": blind marking, shown


def _full_names(full_name: str) -> list:
    """The names a worksheet's ``Full name`` cell can stand for: as written, without HTML, and the name a
    grader allowed to see blind-marked identities is shown in brackets after the participant."""
    import html

    text = html.unescape(re.sub(r"<[^>]*>", "", full_name)).strip()
    names = [full_name, text]
    shown = _SHOWN_BLIND.match(text)
    if shown:
        names.append(shown.group("name"))
    return [n for n in names if n.strip()]


BLIND_NAME = "Participant"  # mod_assign's string "participant": the name part of every folder under blind marking


def is_name_of(zip_part: str, full_name: str, identifier: str = "") -> bool:
    """Whether a zip entry's name part can be the worksheet row's: its full name, or blind marking's word.

    Under blind marking Moodle writes its ``participant`` string instead of the name;
    the worksheet's ``Identifier`` starts with the site's word for it (``Participant 12``),
    which is accepted as well as the English one.
    """
    part = _key(zip_name_of(zip_part))
    blind = {_key(BLIND_NAME), _key(zip_name_of(re.sub(r"\d+\s*$", "", identifier)))} - {""}
    return part in blind or any(part == _key(zip_name_of(name)) for name in _full_names(full_name))


def parse_entry(zip_name: str) -> Entry | None:
    """The participant and file behind a zip entry name, or ``None`` if Moodle did not name it."""
    match = ENTRY.match(zip_name)
    if not match:
        return None
    path = match.group("path") or match.group("flat")
    return Entry(name=match.group("name"), participant=match.group("pid"), path=path)


def is_junk(path: str) -> bool:
    """Operating-system debris (``__MACOSX/``, ``.DS_Store``, checkpoints) and hidden files."""
    parts = PurePosixPath(path).parts
    return any(p in JUNK_PARTS or p.startswith("._") for p in parts) or PurePosixPath(path).name.startswith(".")


def is_safe(path: str) -> bool:
    """A relative path that stays inside the folder it is extracted to."""
    p = PurePosixPath(path.replace("\\", "/"))
    return bool(path) and not p.is_absolute() and ".." not in p.parts and ":" not in path


def feedback_entry(full_name: str, participant: str, file_name: str) -> str:
    """The zip path Moodle's "upload multiple feedback files in a zip" matches to ``participant``.

    Moodle splits the path on ``/`` and ``_`` and takes the id before
    ``assignsubmission_file``; the name part is ignored but must not contain ``_``.
    """
    clean = re.sub(r"[_/\\\x00-\x1f]+", " ", full_name).strip() or "Participant"
    if not participant.isdigit():
        raise ValueError(f"participant id must be digits, not {participant!r}")
    if file_name.startswith((".", "~")) or "/" in file_name:
        raise ValueError(f"Moodle ignores or misreads the feedback file name {file_name!r}")
    return f"{clean}_{participant}_assignsubmission_file/{file_name}"
