"""Incidents logged for what is a service request (incident.classification.not_request, clause
8.6.2), planted once every other table is made, with a random stream of their own: every row the
generator made before stays as it was, except the short description of the incidents planted
here.

A few clean incidents (no defect planted so far), of any state but canceled, are made to read as
an ask ("Request for a new laptop ..."): each fails exactly this rule, and the wordings are long
enough for the description rule, so the other rules' results stay what they were.
"""

from __future__ import annotations

import random

from sms_conformance.sandbox import pools as P
from sms_conformance.sandbox.cmdb import records_per_rule
from sms_conformance.sandbox.schema import INCIDENT, Row

RULE = "incident.classification.not_request"
CANCELED = "8"


def plant_misfiled_requests(seed: int, defect_rate: float, incidents: list[Row],
                            planted: dict[str, list[str]]) -> None:
    """Rewords a few clean incidents as asks, recording them in `planted` (by number)."""
    num, state, short = (INCIDENT.col(f) for f in ("number", "state", "short_description"))
    defects = sum(1 for number in planted if number.startswith("INC"))
    if not incidents or defect_rate <= 0 or not defects:
        return
    rng = random.Random(f"misfiled:{seed}")
    clean = [i for i, row in enumerate(incidents)
             if row[num] not in planted and row[state] != CANCELED]
    per_rule = records_per_rule(defects)  # one for every 50 incident defects, as sandbox.cmdb
    for i in rng.sample(clean, min(per_rule, len(clean))):
        incidents[i][short] = P.REQUEST_LIKE_INCIDENTS[
            int(rng.random() * len(P.REQUEST_LIKE_INCIDENTS))]
        planted[incidents[i][num]] = [RULE]


__all__ = ["RULE", "plant_misfiled_requests"]
