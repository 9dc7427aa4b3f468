"""Moodle's offline grading worksheet (``Grades-<course>-<assignment>-<cmid>.csv``).

Read and written the way Moodle's ``assignfeedback_offline`` handles it: columns are
found by their header text (never by position: identity fields, ``Group``, ``Marker``
and more come and go with site settings; of two columns with one header the last, as
Moodle's upload takes it), a UTF-8 BOM and CRLF line ends are accepted, and every row
must have as many cells as the header or Moodle rejects the whole file. Cells are split
as PHP's ``fgetcsv`` splits them, with the separator the header shows (Moodle writes
commas; a file a spreadsheet program re-saved may hold one of the others its upload
form offers). A written worksheet keeps the instructor's file byte for byte except the
cells we fill: rows we do not touch are copied as they were read, changed rows are
quoted the way Moodle's own CSV writer (PHP's ``fputcsv``) quotes them.

Headers are the site's language strings, so the code names columns by their English
text and a :class:`Headers` map (``c.Course.moodle_headers``) says what the site
writes instead. Columns we only read are optional; ``Maximum Grade`` is found under
every spelling Moodle has used (``Maximum grade`` since 5.1).

Moodle reads the upload with ``fgetcsv`` and ``\\`` as escape character while its
writer escapes nothing, so a backslash in a cell we write could corrupt the row or
make Moodle refuse the file: :meth:`Worksheet.set` refuses one, and :func:`no_backslash`
turns it into the HTML entity ``&#92;`` for comments.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import ConfigError, CourseError

IDENTIFIER = "Identifier"
FULL_NAME = "Full name"
EMAIL = "Email address"
ID_NUMBER = "ID number"
STATUS = "Status"
GROUP = "Group"
GRADE = "Grade"
MAX_GRADE = "Maximum Grade"
SCALE = "Scale"  # instead of Maximum Grade when the assignment is graded on a scale (string scale of mod_assign)
CHANGEABLE = "Grade can be changed"  # the site's "Yes", or "No" when the upload will not change the grade
SUBMITTED_AT = "Last modified (submission)"
GRADED_AT = "Last modified (grade)"
FEEDBACK = "Feedback comments"
PARTICIPANT_PREFIX = "Participant "  # Moodle strips these 12 characters from Identifier

# The English names the code uses, each with every spelling English Moodle has written.
SPELLINGS = {
    IDENTIFIER: (IDENTIFIER,), FULL_NAME: (FULL_NAME,), EMAIL: (EMAIL,), ID_NUMBER: (ID_NUMBER,),
    STATUS: (STATUS,), GROUP: (GROUP,), GRADE: (GRADE,),
    MAX_GRADE: (MAX_GRADE, "Maximum grade"),  # 4.x, then 5.1 (string maxgrade)
    SCALE: (SCALE,), CHANGEABLE: (CHANGEABLE,),
    SUBMITTED_AT: (SUBMITTED_AT,), GRADED_AT: (GRADED_AT,), FEEDBACK: (FEEDBACK,),
}
HEADER_NAMES = tuple(SPELLINGS)
SETTING = "c.Course.moodle_headers"

BOM = "\ufeff"
# the separators Moodle's upload form offers (comma, semicolon, tab, colon), by the names it gives them
DELIMITERS = {",": "Comma", ";": "Semicolon", "\t": "Tab", ":": "Colon"}


class WorksheetError(CourseError):
    """The worksheet cannot be read as Moodle's grading worksheet."""

    exit_code = 2


@dataclass(frozen=True)
class Headers:
    """What the site writes for each English header name (``c.Course.moodle_headers``).

    ``mapping`` holds only the names that differ from English; the English spellings
    stay accepted too, so one course can read worksheets of an English and another site.
    """

    mapping: dict = field(default_factory=dict)

    @classmethod
    def of(cls, mapping: dict | None) -> "Headers":
        """Headers from the setting's value, checked (unknown names are a configuration error)."""
        mapping = dict(mapping or {})
        aliases = {s: name for name, spellings in SPELLINGS.items() for s in spellings}
        bad = sorted(str(k) for k in mapping if k not in aliases)
        if bad:
            raise ConfigError(f"{SETTING} has unknown header name(s) {', '.join(map(repr, bad))}",
                              hint=f"its keys are the English header names: {', '.join(HEADER_NAMES)}")
        for key, value in mapping.items():
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{SETTING}[{key!r}] must be the site's header text, not {value!r}")
        return cls({aliases[k]: v for k, v in mapping.items()})

    def spellings(self, name: str) -> tuple:
        """Every header text that means ``name``: the site's own first, then the English ones."""
        own = self.mapping.get(name)
        english = SPELLINGS.get(name, (name,))
        return ((own,) if own else ()) + tuple(s for s in english if s != own)

    def find(self, header: list, name: str) -> int | None:
        """The index of ``name``'s column in ``header``, or ``None``.

        Of several columns with the same header the last is taken, as Moodle's upload takes
        it: an identity field (a custom profile field such as a school's ``Grade``) comes
        before the grading table's own columns, so the first would be the profile field.
        """
        for spelling in self.spellings(name):
            if spelling in header:
                return len(header) - 1 - header[::-1].index(spelling)
        return None

    def missing(self, name: str, header: list, source: str) -> WorksheetError:
        """The error for a worksheet without a column it needs."""
        shown = " or ".join(repr(s) for s in self.spellings(name))
        return WorksheetError(f"{source} has no {shown} column",
                              hint=f"if the Moodle site writes this header in another language or wording, "
                                   f"set {SETTING} = {{{name!r}: '<the header in the worksheet>'}} in "
                                   f"nbgrader_config.py; the worksheet's columns: {', '.join(header)}")


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
    delimiter: str = ","  # Moodle's; another only in a file a spreadsheet program re-saved
    final_newline: bool = True
    headers: Headers = field(default_factory=Headers)
    source: str = "the worksheet"

    # -- reading ------------------------------------------------------------
    @classmethod
    def parse(cls, text: str, source: str = "worksheet", headers: Headers | None = None) -> "Worksheet":
        """Parse the worksheet's text (BOM and CRLF allowed); ``headers``: the site's header names."""
        headers = headers or Headers()
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
        # Moodle writes commas; a spreadsheet program that re-saved the file may have written its locale's
        # separator, one of those Moodle's upload form offers
        delimiter = next((d for d in DELIMITERS if headers.find(_cells(header_raw, d), IDENTIFIER) is not None), ",")
        header = _cells(header_raw, delimiter)
        if headers.find(header, IDENTIFIER) is None:
            error = headers.missing(IDENTIFIER, header, source)
            raise WorksheetError(error.message + ", so it is not a Moodle grading worksheet (or its headers are "
                                 "in the site's language)", hint="download it from the assignment page (Download "
                                 "grading worksheet); " + error.hint)
        sheet = cls(header=header, header_raw=header_raw, newline=newline, bom=bom, delimiter=delimiter,
                    final_newline=text.endswith(("\n", "\r")), headers=headers, source=source)
        for raw, line in records[1:]:
            if not raw.strip():
                continue
            cells = _cells(raw, delimiter)
            if len(cells) != len(header):
                raise WorksheetError(f"{source} line {line} has {len(cells)} cells but the header has {len(header)}",
                                     hint="Moodle rejects such a file; download the worksheet again "
                                          "(or repair that row in a text editor)")
            sheet.rows.append(Row(cells=cells, raw=raw, line=line))
        return sheet

    @classmethod
    def read(cls, path: str | Path, headers: Headers | None = None) -> "Worksheet":
        """Read a worksheet file; ``headers``: the site's header names (English by default)."""
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
        return cls.parse(text, source=str(path), headers=headers)

    # -- access -------------------------------------------------------------
    def has(self, column: str) -> bool:
        """Whether the worksheet has the column (named in English, found under the site's name)."""
        return self.headers.find(self.header, column) is not None

    def index(self, column: str) -> int:
        """The column's index; a :class:`WorksheetError` naming the header and the setting if absent."""
        i = self.headers.find(self.header, column)
        if i is None:
            raise self.headers.missing(column, self.header, self.source)
        return i

    def get(self, row: Row, column: str, default: str = "") -> str:
        i = self.headers.find(self.header, column)
        return row.cells[i] if i is not None else default

    def set(self, row: Row, column: str, value: str) -> None:
        """Fill one cell; a backslash is refused (Moodle's reader takes it as an escape character)."""
        if "\\" in value:
            raise ValueError(f"a backslash in the {column!r} cell would corrupt Moodle's reading of the row; "
                             "write it as &#92; (see no_backslash)")
        i = self.index(column)
        if row.cells[i] != value:
            row.cells[i] = value
            row.changed = True

    # -- writing ------------------------------------------------------------
    def text(self) -> str:
        lines = [self.header_raw] + [format_row(r.cells, self.delimiter) if r.changed else r.raw for r in self.rows]
        out = self.newline.join(lines) + (self.newline if self.final_newline else "")
        return (BOM if self.bom else "") + out

    def write(self, path: str | Path) -> None:
        """Write the worksheet (UTF-8, same BOM and line ends as read)."""
        Path(path).write_bytes(self.text().encode("utf-8"))


def participant_id(identifier: str) -> str:
    """``Participant 1234567`` -> ``1234567``, in any language (``Teilnehmer/in1234567`` -> ``1234567``).

    Moodle writes its ``hiddenuser`` string before the id and strips as many characters
    on upload; the string differs by language, the digits at the end do not.
    """
    if identifier.startswith(PARTICIPANT_PREFIX):
        return identifier[len(PARTICIPANT_PREFIX):]
    match = re.fullmatch(r"\D*?(\d+)", identifier.strip())
    return match.group(1) if match else identifier


def no_backslash(text: str) -> str:
    """``text`` with every backslash as the HTML entity ``&#92;`` (for HTML cells such as comments)."""
    return text.replace("\\", "&#92;")


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


def maximum_of(sheet: "Worksheet") -> float | None:
    """The assignment's maximum grade: the one positive number every row's ``Maximum Grade`` shows, else ``None``
    (no such column, a scale, or rows that disagree)."""
    if not sheet.has(MAX_GRADE):
        return None
    values = {number(sheet.get(row, MAX_GRADE)) for row in sheet.rows} - {None}
    return values.pop() if len(values) == 1 and min(values) > 0 else None


def graded_on_scale(sheet: "Worksheet") -> bool:
    """Whether the assignment is graded on a scale in Moodle: its worksheet has a ``Scale`` column and no
    ``Maximum Grade`` (Moodle's grading table writes one or the other)."""
    return sheet.has(SCALE) and not sheet.has(MAX_GRADE)


# the site's string "no" in the Grade can be changed column: English, German, and the word for "no" of other
# languages Moodle is used in (a word taken for "no" that is not leaves a row alone and names it, never fills it)
NO = ("no", "nein", "non", "nee", "não", "nao", "nej", "nei", "ei", "nie", "ne", "nem", "nu", "нет", "ні", "не",
      "hayır", "όχι", "לא", "لا", "いいえ", "否", "아니오", "không", "tidak", "ez")


def grade_changeable(text: str) -> bool:
    """Whether Moodle's upload may change the row's grade, from its ``Grade can be changed`` cell.

    The cell is ``No`` when the grade is locked or overridden in the gradebook, or its
    marking workflow state is beyond the one downloading; the upload then skips the
    grade but still stores the row's feedback cells.
    """
    return text.strip().casefold() not in NO


def grade_text(value: float) -> str:
    """A grade as Moodle's worksheet shows it: two decimals and always ``.`` as decimal point."""
    return f"{value:.2f}"


def submission_status(status: str) -> str:
    """``submitted``, ``draft`` or ``none`` from the Status cell (``Submitted for grading - Graded`` ...)."""
    s = status.strip().lower()
    if not s:
        return "submitted"  # a worksheet without the Status column: everything in the zip counts
    # English, and German from Moodle's de language pack ("Entwurf (nicht abgegeben)", "Keine Abgabe").
    if "draft" in s or "not submitted" in s or "entwurf" in s or "nicht abgegeben" in s:
        return "draft"
    if s.startswith(("no submission", "new", "keine abgabe", "kein versuch")) or "no attempt" in s:
        return "none"
    return "submitted"


_TIME_FORMATS = ("%A, %d %B %Y, %I:%M %p", "%d %B %Y, %I:%M %p", "%A, %d %B %Y, %H:%M", "%d %B %Y, %H:%M",
                 "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y, %H:%M", "%d/%m/%Y %H:%M")


# day and month as numbers: "10/5/2026" is 10 May in Britain and 5 October in the US (a spreadsheet program
# that re-saved the worksheet writes its own locale's form)
_NUMERIC_DATE = re.compile(r"(?<![\d/-])(\d{1,2})([/-])(\d{1,2})\2\d{2,4}(?![\d/-])")


def _english_time(text: str) -> datetime | None:
    numeric = _NUMERIC_DATE.search(text)
    if numeric and numeric.group(1) != numeric.group(3) and max(int(numeric.group(1)), int(numeric.group(3))) <= 12:
        return None  # which is the month cannot be told
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        from dateutil import parser as dateparser

        return dateparser.parse(text, dayfirst=True)
    except (ValueError, OverflowError):
        return None


def moodle_reads_time(text: str) -> bool:
    """Whether Moodle's upload can read a worksheet time: it calls PHP's ``strtotime``, which knows English
    month and weekday names only (``Montag, 5. Oktober 2026, 21:15`` is ``false``, taken as 1970)."""
    text = re.sub(r"\s+", " ", text.strip())
    return bool(text) and text != "-" and _english_time(text) is not None


def parse_time(text: str, tz: str = "UTC") -> datetime | None:
    """A worksheet time (``Monday, 6 May 2024, 3:45 PM`` in the site's time zone) in UTC, or ``None``.

    A site in another language writes its own month and weekday names
    (``Montag, 5. Oktober 2026, 21:15``): :func:`.dates.localized_time` reads them."""
    text = re.sub(r"\s+", " ", text.strip())
    if not text or text == "-":
        return None
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CourseError(f"unknown time zone {tz!r}", hint="use a name such as Europe/Berlin or UTC") from exc
    parsed = _english_time(text)
    if parsed is None:
        from .dates import localized_time

        parsed = localized_time(text)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(timezone.utc)


def format_row(cells: list, delimiter: str = ",") -> str:
    """One CSV row quoted as PHP's ``fputcsv`` (Moodle's writer) quotes it, so that ``fgetcsv`` (its reader)
    gives back every cell: a ``"`` is doubled, except the character after a ``\\``, which ``fgetcsv`` takes
    as it stands (an HTML cell of a student's online text may hold ``\\"``)."""
    out = []
    for cell in cells:
        cell = str(cell)
        if any(ch in cell for ch in delimiter + '"\\\n\r\t '):
            quoted, i = [], 0
            while i < len(cell):
                if cell[i] == "\\" and i + 1 < len(cell):
                    quoted.append(cell[i:i + 2])
                    i += 2
                    continue
                quoted.append('""' if cell[i] == '"' else cell[i])
                i += 1
            cell = '"' + "".join(quoted) + '"'
        out.append(cell)
    return delimiter.join(out)


def _cells(raw: str, delimiter: str = ",") -> list:
    """One record's cells as PHP's ``fgetcsv`` reads them (``,``, ``"``, and ``\\`` as escape character):
    inside quotes a ``\\`` and the character after it are kept as they are, ``""`` is one ``"``."""
    cells, i, n = [], 0, len(raw)
    while True:
        cell = []
        if i < n and raw[i] == '"':
            i += 1
            while i < n:
                ch = raw[i]
                if ch == "\\" and i + 1 < n:
                    cell.append(raw[i:i + 2])
                    i += 2
                elif ch == '"':
                    if i + 1 < n and raw[i + 1] == '"':
                        cell.append('"')
                        i += 2
                    else:
                        i += 1
                        break
                else:
                    cell.append(ch)
                    i += 1
        while i < n and raw[i] != delimiter:  # after the closing quote, or an unquoted cell
            cell.append(raw[i])
            i += 1
        cells.append("".join(cell))
        if i >= n:
            return cells
        i += 1  # the delimiter


def _records(text: str):
    """``(record text, first line number)`` for each CSV record; newlines inside quotes stay in the record
    (inside quotes a ``\\`` makes the next character plain, as for :func:`_cells`)."""
    start, line, start_line, quoted, i = 0, 1, 1, False, 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and quoted and i + 1 < n and text[i + 1] != "\n" and text[i + 1] != "\r":
            i += 2
            continue
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
