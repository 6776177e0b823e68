"""docs/RELIABILITY.md lists every fault and bad-input test, each observed to hold."""

from __future__ import annotations

from pathlib import Path

from tests.reliability import declared_cases

ROOT = Path(__file__).resolve().parents[1]


def test_every_fault_test_is_in_the_reliability_doc_and_held() -> None:
    doc = (ROOT / "docs" / "RELIABILITY.md").read_text(encoding="utf-8")
    cases = declared_cases(ROOT / "tests")
    assert cases, "fault tests carry 'fault: ...; outcome: ...' docstrings"
    rows = {line.split("`")[-2].split("[")[0]: line for line in doc.splitlines()
            if line.startswith("| ") and "`tests/" in line}
    missing = sorted(set(cases) - set(rows))
    assert not missing, f"run `make reliability`: not in docs/RELIABILITY.md: {missing}"
    assert not [r for r in rows.values() if "DID NOT HOLD" in r]
