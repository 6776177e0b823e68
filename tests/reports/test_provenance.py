"""The digests that make a scan reproducible: the same rules and config give the same digest,
any change to them a different one; the scan stores them with its filters."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import yaml

from sms_conformance.engine.waivers import Waiver, Waivers
from sms_conformance.store.provenance import config_digest, rules_digest
from tests.reports.conftest import run

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


def test_rules_digest_ignores_layout_and_follows_content(rules, tmp_path: Path) -> None:
    pack = sorted(rules.values(), key=lambda r: r.id)
    digest = rules_digest(pack)
    assert digest == rules_digest(reversed(pack))
    source = pack[0].source
    data = yaml.safe_load(source.read_text())
    relaid = tmp_path / source.name
    relaid.write_text("# a comment\n" + yaml.safe_dump(dict(reversed(list(data.items())))))
    assert rules_digest([dataclasses.replace(pack[0], source=relaid), *pack[1:]]) == digest
    relaid.write_text(yaml.safe_dump({**data, "severity": "info"}))
    assert rules_digest([dataclasses.replace(pack[0], source=relaid), *pack[1:]]) != digest
    assert rules_digest(pack[1:]) != digest


def test_config_digest_follows_settings_field_map_and_waivers(settings, fieldmap) -> None:
    none = Waivers([], NOW.date())
    digest = config_digest(settings, fieldmap, none)
    assert digest == config_digest(dict(reversed(list(settings.items()))), fieldmap, none)
    waiver = Waiver(rule="incident.*", record="INC1", reason="vendor", approver="CAB",
                    expires=NOW.date())
    assert config_digest(settings, fieldmap, Waivers([waiver], NOW.date())) != digest
    assert config_digest({**settings, "extra": 1}, fieldmap, none) != digest


def test_a_scan_stores_its_filters_and_digests(tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite"
    for only in ("incident.*", "change.*"):
        result = run("scan", "--source", "sandbox", "--records", "50", "--only", only,
                     "--since", "30d", "--as-of", "2026-11-01", "--history", str(history))
        assert result.exit_code == 0, result.output
    with sqlite3.connect(history) as db:
        rows = db.execute("SELECT tool_version, filters, rules_digest, config_digest FROM scans "
                          "ORDER BY id").fetchall()
    db.close()
    (v1, f1, r1, c1), (_, f2, r2, c2) = rows
    assert v1 and json.loads(f1) == {"only": ["incident.*"], "rules": None, "since": "30d",
                                     "incremental": False, "as_of": "2026-11-01"}
    assert json.loads(f2)["only"] == ["change.*"]
    assert r1 != r2 and c1 == c2 and len(r1) == len(c1) == 64

