"""Reading timestamps from the platform: the stored UTC format, ISO 8601, and a display format.

The Table API stores `YYYY-MM-DD HH:MM:SS` in UTC. Exports taken with display values (and the
list view's CSV export, by default) give dates as the exporting user sees them: in the user's
date format (`dd/MM/yyyy HH:mm:ss`, `dd-MM-yyyy HH:mm` ...) and time zone. The field map names
that format (`date_format`, Java/ServiceNow pattern letters) and zone (`time_zone`). A value that
fits none of these is unknown, never compared as text, and no format is guessed (`01/02/2016`
is the 1st of February or the 2nd of January only by the format's say).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sms_conformance.model.errors import ConfigError
from sms_conformance.model.records import Unknown

MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")
_MONTHS = tuple(name[:3].casefold() for name in MONTH_NAMES)

# Pattern letters -> (field, regex). Numbers accept one or two digits whatever the run length
# (as Java's parser does), so `dd/MM/yyyy` also reads "29/2/2016".
_FIELDS: dict[str, tuple[str, str]] = {
    "y": ("year", r"\d{4}"), "M": ("month", r"\d{1,2}"), "d": ("day", r"\d{1,2}"),
    "H": ("hour", r"\d{1,2}"), "h": ("hour12", r"\d{1,2}"), "m": ("minute", r"\d{1,2}"),
    "s": ("second", r"\d{1,2}"), "S": ("fraction", r"\d{1,9}"), "a": ("ampm", r"[AaPp]\.?[Mm]\.?"),
}
_TIME_FIELDS = frozenset({"hour", "hour12", "minute", "second", "fraction", "ampm"})
_RUN = re.compile(r"'[^']*'|([A-Za-z])\1*|[^A-Za-z']+")
_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")  # +0100 -> +01:00 (Python 3.10's fromisoformat)
# The stored order (year first, so never ambiguous) as a spreadsheet re-saves it: hours, days and
# months without a leading zero, no seconds ("2026-06-12 1:53", a real list export).
_YEAR_FIRST = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?")

Part = tuple[str | None, str]  # (field or None for literal text, regex)


def zone(name: str | None) -> tzinfo:
    """An IANA time zone (`Europe/Berlin`); UTC when not given."""
    if not name or name.upper() == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"time_zone {name!r}: not an IANA time zone such as Europe/Berlin (on Windows, "
            "install the tzdata package)"
        ) from None


def _parts(pattern: str) -> list[Part]:
    parts: list[Part] = []
    for match in _RUN.finditer(pattern):
        run, letter = match.group(0), match.group(1)
        if run.startswith("'"):
            parts.append((None, re.escape(run[1:-1])))
        elif letter is None:
            parts.append((None, r"\s+" if run.isspace() else re.escape(run)))
        elif letter == "y" and len(run) == 2:
            parts.append(("year2", r"\d{2}"))
        elif letter == "M" and len(run) >= 3:
            parts.append(("month_name", r"[^\W\d_]{3,}"))
        elif letter in _FIELDS:
            parts.append(_FIELDS[letter])
        else:
            raise ConfigError(f"date_format {pattern!r}: unsupported pattern letters {run!r} "
                              "(use y M d H h m s S a, e.g. dd/MM/yyyy HH:mm:ss)")
    fields = [name for name, _ in parts if name]
    if len(set(fields)) != len(fields) or "day" not in fields or not (
            {"month", "month_name"} & set(fields) and {"year", "year2"} & set(fields)):
        raise ConfigError(f"date_format {pattern!r}: needs a day, a month and a year, once each")
    return parts


def _regex(parts: list[Part]) -> str:
    return "".join(f"(?P<{name}>{regex})" if name else regex for name, regex in parts)


def _compile(pattern: str) -> list[re.Pattern[str]]:
    """Regexes for a display format: in full, without seconds, and its date part alone."""
    parts = _parts(pattern)
    variants = [_regex(parts)]
    names = [name for name, _ in parts]
    if "second" in names:  # the same value shown without seconds (and their fraction)
        at = names.index("second")
        start = at - 1 if at and names[at - 1] is None else at
        end = at + 1
        if names[end:end + 2] == [None, "fraction"]:
            end += 2
        variants.append(_regex(parts[:start] + parts[end:]))
    first_time = next((i for i, name in enumerate(names) if name in _TIME_FIELDS), None)
    if first_time is not None:  # a date-only value: what precedes the first time field
        date_part = parts[:first_time]
        while date_part and date_part[-1][0] is None:
            date_part.pop()
        variants.append(_regex(date_part))
    return [re.compile(v) for v in dict.fromkeys(variants)]


def _build(found: dict[str, str | None], where: tzinfo) -> datetime:
    def number(name: str) -> int:
        return int(found.get(name) or 0)

    year = number("year") if found.get("year") else 2000 + number("year2")
    month = number("month")
    if found.get("month_name"):
        month = _MONTHS.index((found["month_name"] or "")[:3].casefold()) + 1  # ValueError
    hour = number("hour")
    if found.get("hour12"):
        hour = number("hour12") % 12 + (12 if (found.get("ampm") or "a")[0] in "Pp" else 0)
    fraction = int((found.get("fraction") or "0")[:6].ljust(6, "0"))
    return datetime(year, month, number("day"), hour, number("minute"), number("second"),
                    fraction, tzinfo=where)


class DateReader:
    """Text -> aware datetime, or Unknown with the text in the reason.

    `where` is the zone of values that carry none: UTC for stored values, the exporting user's
    zone for display values. A date-only value is midnight in that zone.
    """

    def __init__(self, date_format: str | None = None, where: tzinfo = timezone.utc) -> None:
        self.date_format = date_format
        self.where = where
        self._utc = where is timezone.utc
        self._patterns = _compile(date_format) if date_format else []

    def __call__(self, text: str) -> datetime | Unknown:
        if self._utc:
            try:  # one C call: the stored format, the common case
                stored = datetime.fromisoformat(text + "+00:00")
                if stored.tzinfo is not None:
                    return stored
            except ValueError:
                pass
        moment = _iso(text.strip()) or _year_first(text.strip()) or self._display(text.strip())
        if moment is None:
            return Unknown(self._reason(text))
        return moment if moment.tzinfo else moment.replace(tzinfo=self.where)

    def _display(self, text: str) -> datetime | None:
        for pattern in self._patterns:
            match = pattern.fullmatch(text)
            if match:
                try:
                    return _build(match.groupdict(), self.where)
                except ValueError:  # 31/02, 25:00, an unknown month name
                    return None
        return None

    def _reason(self, text: str) -> str:
        expected = "YYYY-MM-DD HH:MM:SS or ISO 8601"
        if self.date_format:
            expected += f" or the field map's date_format {self.date_format!r}"
        else:
            expected += " (display-value exports: set date_format in the field map)"
        return f"{text!r} is not a date in a known format ({expected})"


def _iso(text: str) -> datetime | None:
    """ISO 8601 as Python 3.10 to 3.13 all read it: `Z` and `+hhmm` offsets normalised."""
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 10 and text[10] in "T ":
        text = _OFFSET.sub(r"\1:\2", text)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _year_first(text: str) -> datetime | None:
    """`YYYY-M-D H:MM[:SS]` (naive: in the reader's zone), else None."""
    match = _YEAR_FIRST.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part or 0) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:  # 2026-02-30, 25:00
        return None


def render(moment: datetime, pattern: str, where: tzinfo = timezone.utc) -> str:
    """`moment` as a display format shows it in zone `where` (the inverse of DateReader)."""
    _parts(pattern)  # the same patterns are valid both ways
    local = moment.astimezone(where)
    values = {"y": local.year, "M": local.month, "d": local.day, "H": local.hour,
              "h": local.hour % 12 or 12, "m": local.minute, "s": local.second}
    out: list[str] = []
    for match in _RUN.finditer(pattern):
        run, letter = match.group(0), match.group(1)
        if run.startswith("'"):
            out.append(run[1:-1])
        elif letter is None:
            out.append(run)
        elif letter == "M" and len(run) >= 3:
            name = MONTH_NAMES[local.month - 1]
            out.append(name if len(run) > 3 else name[:3])
        elif letter == "S":
            out.append(f"{local.microsecond:06d}"[:len(run)])
        elif letter == "a":
            out.append("AM" if local.hour < 12 else "PM")
        elif letter == "y" and len(run) == 2:
            out.append(f"{local.year % 100:02d}")
        else:
            out.append(str(values[letter]).zfill(len(run)))
    return "".join(out)


_STORED = DateReader()


def parse_datetime(text: str) -> datetime | Unknown:
    """`YYYY-MM-DD HH:MM:SS` (UTC, as ServiceNow stores it) or ISO 8601 -> aware datetime;
    anything else is unknown, never compared as text."""
    return _STORED(text)
