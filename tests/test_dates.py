"""Timestamps: the stored UTC format, ISO 8601 with offsets, a display format per source; what
fits none of them is unknown with the value in the reason."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sms_conformance.connectors.servicenow.fieldmap import load_field_map
from sms_conformance.model.dates import DateReader, parse_datetime, render, zone
from sms_conformance.model.errors import ConfigError
from sms_conformance.model.records import Unknown

UTC = timezone.utc
LEAP = datetime(2016, 2, 29, 1, 16, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("2016-02-29 01:16:00", LEAP),
    ("2016-02-29T01:16:00Z", LEAP),
    ("2016-02-29T02:16:00+01:00", LEAP),
    ("2016-02-29T02:16:00+0100", LEAP),
    ("2016-02-28T20:16:00-05:00", LEAP),
    ("2016-02-29", datetime(2016, 2, 29, tzinfo=UTC)),
])
def test_stored_and_iso_values_read_as_aware_datetimes(text: str, expected: datetime) -> None:
    moment = parse_datetime(text)
    assert isinstance(moment, datetime) and moment.tzinfo is not None
    assert moment == expected


@pytest.mark.parametrize(("fmt", "text"), [
    ("dd/MM/yyyy HH:mm", "29/02/2016 01:16"),
    ("dd/MM/yyyy HH:mm", "29/2/2016 01:16"),
    ("dd/MM/yyyy HH:mm:ss", "29/2/2016 01:16"),  # shown without seconds
    ("dd-MM-yyyy HH:mm", "29-02-2016 01:16"),
    ("MM/dd/yyyy hh:mm:ss a", "02/29/2016 01:16:00 AM"),
    ("dd.MM.yy HH:mm", "29.02.16 01:16"),
    ("dd-MMM-yyyy HH:mm", "29-Feb-2016 01:16"),
])
def test_a_display_format_reads_its_values(fmt: str, text: str) -> None:
    assert DateReader(fmt)(text) == LEAP


@pytest.mark.parametrize("text", ["2016-02-29 1:16", "2016-02-29 1:16:00", "2016-2-29 01:16"])
def test_the_stored_order_re_saved_without_leading_zeros_or_seconds_reads(text: str) -> None:
    """A list export re-saved by a spreadsheet (tests/realdata: "2026-06-12 1:53"): year first,
    so read without a date_format, in the source's zone like any value without one."""
    assert parse_datetime(text) == LEAP
    assert DateReader("dd/MM/yyyy HH:mm", zone("Europe/Berlin"))(text) == LEAP - timedelta(hours=1)


def test_a_date_only_value_is_midnight_in_the_sources_zone() -> None:
    berlin = DateReader("dd/MM/yyyy HH:mm", zone("Europe/Berlin"))
    moment = berlin("29/2/2016")
    assert isinstance(moment, datetime)
    assert moment == datetime(2016, 2, 28, 23, 0, tzinfo=UTC)


def test_display_values_are_in_the_exporting_users_zone_iso_offsets_win() -> None:
    berlin = DateReader("dd/MM/yyyy HH:mm:ss", zone("Europe/Berlin"))
    assert berlin("29/02/2016 02:16:00") == LEAP
    assert berlin("2016-07-01 12:00:00") == datetime(2016, 7, 1, 10, 0, tzinfo=UTC)  # DST
    assert berlin("2016-02-29T01:16:00Z") == LEAP


@pytest.mark.parametrize("text", ["31/02/2016 10:00", "soon", "2016-13-01", "29/02/2016 25:00",
                                  "2016/02/29 10:00"])
def test_what_fits_no_format_is_unknown_with_the_value_in_the_reason(text: str) -> None:
    value = DateReader("dd/MM/yyyy HH:mm")(text)
    assert isinstance(value, Unknown)
    assert repr(text) in value.reason


def test_no_format_is_guessed_for_an_ambiguous_day_and_month() -> None:
    assert isinstance(parse_datetime("01/02/2016 10:00"), Unknown)
    assert DateReader("dd/MM/yyyy HH:mm")("01/02/2016 10:00") == datetime(2016, 2, 1, 10, tzinfo=UTC)
    assert DateReader("MM/dd/yyyy HH:mm")("01/02/2016 10:00") == datetime(2016, 1, 2, 10, tzinfo=UTC)


@pytest.mark.parametrize("fmt", ["dd/MM/yyyy HH:mm:ss", "d/M/yyyy H:mm", "dd-MMM-yyyy hh:mm a"])
def test_render_is_the_inverse_of_reading(fmt: str) -> None:
    where = zone("America/New_York")
    for moment in (LEAP, LEAP + timedelta(days=130, hours=15)):
        assert DateReader(fmt, where)(render(moment, fmt, where)) == moment


@pytest.mark.parametrize(("fmt", "problem"), [
    ("dd/MM", "needs a day, a month and a year"),
    ("yyyy-QQ-dd", "unsupported pattern letters 'QQ'"),
    ("dd/dd/yyyy", "once each"),
])
def test_a_bad_date_format_is_a_config_error(fmt: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        DateReader(fmt)


def test_date_format_and_time_zone_are_top_level_keys_of_the_field_map(tmp_path: Path) -> None:
    path = tmp_path / "fieldmap.yaml"
    path.write_text("date_format: dd/MM/yyyy HH:mm\ntime_zone: Europe/Berlin\n")
    incident = load_field_map(path).for_process("incident")
    fields = incident.to_canonical({"opened_at": "29/2/2016 02:16"}, {"opened_at"}, display=True)
    assert fields["opened_at"] == LEAP
    stored = incident.to_canonical({"opened_at": "2016-02-29 01:16:00"}, {"opened_at"})
    assert stored["opened_at"] == LEAP  # stored values stay UTC
    path.write_text("time_zone: Mars/Olympus\n")
    with pytest.raises(ConfigError, match="not an IANA time zone"):
        load_field_map(path)
