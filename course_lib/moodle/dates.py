"""Dates as a Moodle site in another language writes them (``Montag, 5. Oktober 2026, 21:15``).

Moodle formats a time with the language's ``strftimedaydatetime`` and the month and
weekday names of its locale (CLDR, through PHP's intl). The site's language is not
known here, so every language Babel's CLDR data holds is tried: a date is read only
when its month name (and weekday name, when the text has one, which must then be the
date's weekday) identify one moment. A month name that means different months in two
languages (``listopad``: October in Croatian, November in Polish), a 12-hour time
whose am/pm word is not found, or anything else left unclear gives ``None``: a
submission time is never guessed.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache

_TIME = re.compile(r"(?<!\d)(\d{1,2})[:.h](\d{2})(?!\d)")
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_DAY = re.compile(r"(?<!\d)(\d{1,2})(?!\d)")
_WORD = re.compile(r"[^\W\d_]+(?:[.'’-][^\W\d_]+)*", re.UNICODE)


def _key(word: str) -> str:
    return word.casefold().strip(".")


@lru_cache(maxsize=1)
def _languages() -> tuple:
    """``(months, weekdays, am, pm)`` per CLDR language: lower-cased names to month 1-12 / weekday 0-6."""
    try:
        from babel import Locale, localedata
    except ImportError:  # without CLDR data only English times are read
        return ()
    out = []
    for ident in localedata.locale_identifiers():
        if "_" in ident:
            continue
        try:
            loc = Locale.parse(ident)
        except (ValueError, LookupError):
            continue
        months, days = {}, {}
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for number, name in loc.months[context][width].items():
                    months.setdefault(_key(name), number)
                for number, name in loc.days[context][width].items():
                    days.setdefault(_key(name), number)
        periods = loc.day_periods.get("format", {})
        am = {_compact(p.get("am", "")) for p in periods.values()} - {""}
        pm = {_compact(p.get("pm", "")) for p in periods.values()} - {""}
        out.append((months, days, am, pm))
    return tuple(out)


def _words(text: str) -> list:
    return [_key(w) for w in _WORD.findall(text)]


def _compact(text: str) -> str:
    return re.sub(r"[\s.\u00a0\u202f]", "", text).casefold()


def localized_time(text: str) -> datetime | None:
    """The naive date and time of ``text`` in the one reading every CLDR language agrees on, else ``None``."""
    times = list(_TIME.finditer(text))
    if len(times) != 1:
        return None
    clock = times[0]
    # Moodle writes the am/pm word (if any) right after the time, and nothing else there
    head, tail = text[:clock.start()], _compact(text[clock.end():]).strip(",;")
    years = _YEAR.findall(head)
    days = _DAY.findall(_YEAR.sub(" ", head))
    if len(years) != 1 or len(days) != 1:
        return None
    hour, minute = int(clock.group(1)), int(clock.group(2))
    year, day = int(years[0]), int(days[0])
    words = _words(head)
    languages = _languages()
    # a text naming a weekday is read only by the languages that know that weekday
    has_weekday = any(w in weekdays for _, weekdays, _, _ in languages for w in words)
    readings = set()
    for months, weekdays, am, pm in languages:
        month = {months[w] for w in words if w in months}
        if len(month) != 1:
            continue
        h = hour
        if tail:
            if tail not in am and tail not in pm or not 1 <= hour <= 12 or (tail in am and tail in pm):
                continue
            h = hour % 12 + (12 if tail in pm else 0)
        try:
            when = datetime(year, month.pop(), day, h, minute)
        except ValueError:
            continue
        named = {weekdays[w] for w in words if w in weekdays}
        if (named or has_weekday) and named != {when.weekday()}:
            continue
        readings.add(when)
    return readings.pop() if len(readings) == 1 else None
