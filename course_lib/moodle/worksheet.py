"""Moodle's offline grading worksheet (``Grades-<course>-<assignment>-<cmid>.csv``).

Read and written the way Moodle's ``assignfeedback_offline`` handles it: columns are
found by their English header text (never by position: identity fields, ``Group``,
``Marker`` and more come and go with site settings), a UTF-8 BOM and CRLF line ends
are accepted, and every row must have as many cells as the header or Moodle rejects
the whole file. A written worksheet keeps the instructor's file byte for byte except
the cells we fill: rows we do not touch are copied as they were read, changed rows
are quoted the way Moodle's own CSV writer (PHP's ``fputcsv``) quotes them.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import CourseError

IDENTIFIER = "Identifier"
FULL_NAME = "Full name"
EMAIL = "Email address"
STATUS = "Status"
GRADE = "Grade"
MAX_GRADE = "Maximum Grade"
SUBMITTED_AT = "Last modified (submission)"
GRADED_AT = "Last modified (grade)"
FEEDBACK = "Feedback comments"
PARTICIPANT_PREFIX = "Participant "  # Moodle strips these 12 characters from Identifier

BOM = "\ufeff"


class WorksheetError(CourseError):
    """The worksheet cannot be read as Moodle's grading worksheet."""

    exit_code = 2


@dataclass
class Row:
    """One worksheet row: its cells, and its text as read (kept unless a cell changes)."""

    cells: list
    raw: str
    line: int  # 1-based line of the file the row starts on
    changed: bool = False


@dataclass
class Worksheet:
    """A parsed worksheet that can be written back with only the filled cells changed."""

    header: list
    rows: list = field(default_factory=list)
    header_raw: str = ""
    newline: str = "\n"
    bom: bool = False
    final_newline: bool = True

    # -- reading ------------------------------------------------------------
    @classmethod
    def parse(cls, text: str, source: str = "worksheet") -> "Worksheet":
        """Parse the worksheet's text (BOM and CRLF allowed)."""
        bom = text.startswith(BOM)
        if bom:
            text = text[1:]
        records = list(_records(text))
        while records and not records[-1][0].strip():
            records.pop()
        if not records:
            raise WorksheetError(f"{source} is empty", hint="download the grading worksheet from the assignment "
                                 "page in Moodle (Grading action: Download grading worksheet)")
        newline = "\r\n" if "\r\n" in text[:len(records[0][0]) + 2] else "\n"
        header_raw, _ = records[0]
        header = _cells(header_raw)
        if IDENTIFIER not in header:
            raise WorksheetError(f"{source} has no {IDENTIFIER!r} column, so it is not a Moodle grading worksheet",
                                 hint="download it from the assignment page (Download grading worksheet), "
                                      "with English column headings")
        sheet = cls(header=header, header_raw=header_raw, newline=newline, bom=bom,
                    final_newline=text.endswith(("\n", "\r")))
        for raw, line in records[1:]:
            if not raw.strip():
                continue
            cells = _cells(raw)
            if len(cells) != len(header):
                raise WorksheetError(f"{source} line {line} has {len(cells)} cells but the header has {len(header)}",
                                     hint="Moodle rejects such a file; download the worksheet again "
                                          "(or repair that row in a text editor)")
            sheet.rows.append(Row(cells=cells, raw=raw, line=line))
        return sheet

    @classmethod
    def read(cls, path: str | Path) -> "Worksheet":
        """Read a worksheet file."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise WorksheetError(f"cannot read the worksheet {path}: {exc.strerror}") from exc
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WorksheetError(f"{path} is not UTF-8 text (byte {exc.start})",
                                 hint="use the file exactly as Moodle downloaded it; a spreadsheet "
                                      "program may have saved it in another encoding") from exc
        return cls.parse(text, source=str(path))

    # -- access -------------------------------------------------------------
    def has(self, column: str) -> bool:
        return column in self.header

    def index(self, column: str) -> int:
        try:
            return self.header.index(column)
        except ValueError:
            raise WorksheetError(f"the worksheet has no {column!r} column",
                                 hint=f"its columns: {', '.join(self.header)}") from None

    def get(self, row: Row, column: str, default: str = "") -> str:
        return row.cells[self.header.index(column)] if column in self.header else default

    def set(self, row: Row, column: str, value: str) -> None:
        i = self.index(column)
        if row.cells[i] != value:
            row.cells[i] = value
            row.changed = True

    # -- writing ------------------------------------------------------------
    def text(self) -> str:
        lines = [self.header_raw] + [format_row(r.cells) if r.changed else r.raw for r in self.rows]
        out = self.newline.join(lines) + (self.newline if self.final_newline else "")
        return (BOM if self.bom else "") + out

    def write(self, path: str | Path) -> None:
        """Write the worksheet (UTF-8, same BOM and line ends as read)."""
        Path(path).write_bytes(self.text().encode("utf-8"))


def participant_id(identifier: str) -> str:
    """``Participant 1234567`` -> ``1234567`` (Moodle strips the first 12 characters)."""
    return identifier[len(PARTICIPANT_PREFIX):] if identifier.startswith(PARTICIPANT_PREFIX) else identifier


def number(text: str) -> float | None:
    """A grade cell as a number (``85.00``, ``85,5`` on some sites); ``None`` when blank or ``-``."""
    text = text.strip()
    if not text or text == "-":
        return None
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        return float(text.replace("\u00a0", "").replace(" ", ""))
    except ValueError:
        return None


def grade_text(value: float) -> str:
    """A grade as Moodle's worksheet shows it: two decimals and always ``.`` as decimal point."""
    return f"{value:.2f}"


def submission_status(status: str) -> str:
    """``submitted``, ``draft`` or ``none`` from the Status cell (``Submitted for grading - Graded`` ...)."""
    s = status.strip().lower()
    if not s:
        return "submitted"  # a worksheet without the Status column: everything in the zip counts
    if "draft" in s or "not submitted" in s:
        return "draft"
    if s.startswith("no submission") or s.startswith("new") or "no attempt" in s:
        return "none"
    return "submitted"


_TIME_FORMATS = ("%A, %d %B %Y, %I:%M %p", "%d %B %Y, %I:%M %p", "%A, %d %B %Y, %H:%M", "%d %B %Y, %H:%M",
                 "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y, %H:%M", "%d/%m/%Y %H:%M")


def parse_time(text: str, tz: str = "UTC") -> datetime | None:
    """A worksheet time (``Monday, 6 May 2024, 3:45 PM`` in the site's time zone) in UTC, or ``None``."""
    text = re.sub(r"\s+", " ", text.strip())
    if not text or text == "-":
        return None
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CourseError(f"unknown time zone {tz!r}", hint="use a name such as Europe/Berlin or UTC") from exc
    parsed = None
    for fmt in _TIME_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt)
            break
        except ValueError:
            continue
    if parsed is None:
        try:
            from dateutil import parser as dateparser

            parsed = dateparser.parse(text, dayfirst=True)
        except (ValueError, OverflowError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(timezone.utc)


def format_row(cells: list) -> str:
    """One CSV row quoted as PHP's ``fputcsv`` (Moodle's writer) quotes it."""
    out = []
    for cell in cells:
        cell = str(cell)
        if any(ch in cell for ch in ',"\\\n\r\t '):
            cell = '"' + cell.replace('"', '""') + '"'
        out.append(cell)
    return ",".join(out)


def _cells(raw: str) -> list:
    return next(csv.reader(io.StringIO(raw, newline="")), [])


def _records(text: str):
    """``(record text, first line number)`` for each CSV record; newlines inside quotes stay in the record."""
    start, line, start_line, quoted, i = 0, 1, 1, False, 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            quoted = not quoted
        elif ch in "\r\n" and not quoted:
            yield text[start:i], start_line
            if ch == "\r" and i + 1 < n and text[i + 1] == "\n":
                i += 1
            line += 1
            start, start_line = i + 1, line
        elif ch == "\n":
            line += 1
        i += 1
    if start < n:
        yield text[start:], start_line
