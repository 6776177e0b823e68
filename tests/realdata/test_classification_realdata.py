"""incident.classification.not_request (8.6.2) on real incidents (see SOURCES.md): the demo
incidents every developer instance carries, in three real captures and exports, and one more
export's own records. The asks among them were picked by reading every short description by
hand, not by the pattern: the rule flags these and no other. Two asks it does not catch, "Need
Oracle 10GR2 installed" and "Please remove the latest hotfix from my PC", stay unflagged: the
default wording (settings request_wording_pattern) holds to phrasings that read as an ask
whatever follows them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.realdata._reports import counts, scan

HERE = Path(__file__).parent
RULE = "incident.classification.not_request"
DEMO_ASKS = {
    "INC0000007": "Need access to sales DB for the West",
    "INC0000011": "Need new Blackberry set up",
    "INC0000020": "I need a replacement iPhone, please",
    "INC0000021": "New employee hire",
    "INC0000025": "Need to add more memory to laptop",
    "INC0000037": "Request for a new service",
    "INC0007002": "Need access to the common drive.",
}
EXPORTS = {  # directory: (incidents in scope: every row, none is canceled; the asks among them)
    "pdi_dev197215": (67, DEMO_ASKS),
    "pdi_dev144612": (67, DEMO_ASKS),
    "list_export_csv_priyaroy": (66, DEMO_ASKS),
    "list_export_yilmazetl": (70, {**DEMO_ASKS,
                                   "INC0010002": "Request for router upgrade on KX5000"}),
}


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_the_asks_logged_as_incidents_are_flagged_and_nothing_else(
        name: str, tmp_path: Path) -> None:
    report = scan(HERE / name, tmp_path)
    in_scope, asks = EXPORTS[name]
    flagged = {f["number"]: f["observed"]["short_description"] for f in report["findings"]
               if f["rule_id"] == RULE and f["status"] == "fail"}
    assert flagged == asks
    assert counts(report, RULE) == (in_scope, in_scope - len(asks), len(asks), 0)
