"""The sandbox site's Assets (clause 8.2.6): the data set's CIs as Assets objects of one
workspace, numbered in the data set's row order, as the Configuration item field names them.

GET /rest/servicedeskapi/assets/workspace lists the workspace; POST
/gateway/api/jsm/assets/workspace/{id}/v1/object/aql answers `objectId IN (...)` queries with
the objects and their Name, Status and Support group attributes (an empty one left out, as
Assets does). `exposure` withholds them: "off" (a site without Assets: no workspace, no API) or
"forbidden" (a user who may not read Assets: 403).
"""

from __future__ import annotations

import re
import zlib
from typing import Any, Literal

from sms_conformance.sandbox.logical import ConfigurationItem, LogicalView

Exposure = Literal["on", "off", "forbidden"]
WORKSPACE_ID = "8f1c5e1a-3b7d-4c2e-9a61-0d4b2f7e5c93"
WORKSPACE_PATH = "/rest/servicedeskapi/assets/workspace"
AQL_PATH = re.compile(r"^/gateway/api/jsm/assets/workspace/([^/]+)/v1/object/aql/?$")
_IN = re.compile(r"^\s*objectId\s+IN\s*\(([0-9,\s]*)\)\s*$", re.IGNORECASE)
MISSING_BASE = 100_000  # object ids of CIs the data set does not hold start here
ATTRIBUTES = (("1", "Name"), ("2", "Status"), ("3", "Support group"))
# Canonical install status -> the text of the Status attribute (the shipped map reads it back).
STATUS_TEXT = {"installed": "In Service", "on_order": "On Order",
               "in_maintenance": "In Maintenance", "pending_install": "Pending Install",
               "pending_repair": "Pending Repair", "in_stock": "In Stock", "retired": "Retired",
               "stolen": "Stolen", "absent": "Absent"}


class Assets:
    """The CIs of a logical view by object id, and the answers of the two resources."""

    def __init__(self, view: LogicalView, exposure: Exposure = "on") -> None:
        self.view = view
        self.exposure: Exposure = exposure
        self.ids = {ci_id: str(n) for n, ci_id in enumerate(view.cmdb, start=1)}
        self.by_object = {n: view.cmdb[ci_id] for ci_id, n in self.ids.items()}

    def object_id(self, ci_id: str) -> str:
        """The object id the Configuration item field shows for a CI id (one the data set
        does not hold gets an id no object has)."""
        found = self.ids.get(ci_id)
        return found if found is not None else str(
            MISSING_BASE + zlib.crc32(ci_id.encode()) % 900_000)

    def field_value(self, ci_id: str) -> dict[str, Any]:
        """One element of the Configuration item field, as Assets custom fields carry it."""
        object_id = self.object_id(ci_id)
        key = f"CMDB-{object_id}"
        # An object the site no longer holds keeps the label the field stored (its key here).
        return {"workspaceId": WORKSPACE_ID, "id": f"{WORKSPACE_ID}:{object_id}",
                "objectId": object_id, "label": self.view.configuration_items.get(ci_id) or key,
                "objectKey": key}

    def workspaces(self) -> tuple[int, dict[str, Any]]:
        if self.exposure == "forbidden":
            return 403, {"errorMessage": "You do not have permission to access Assets."}
        values = [{"workspaceId": WORKSPACE_ID}] if self.exposure == "on" else []
        return 200, {"size": len(values), "start": 0, "limit": 50, "isLastPage": True,
                     "values": values}

    def aql(self, workspace: str, body: Any, start: int, limit: int) -> tuple[int, Any]:
        if self.exposure == "forbidden":
            return 403, {"errorMessage": "You do not have permission to access Assets."}
        if self.exposure == "off" or workspace != WORKSPACE_ID:
            return 404, {"errorMessage": "Workspace not found"}
        query = body.get("qlQuery") if isinstance(body, dict) else None
        match = _IN.match(query) if isinstance(query, str) else None
        if match is None:
            return 400, {"errorMessages": [f"AQL not understood by the sandbox: {query!r:.80}"]}
        wanted = sorted({int(n) for n in match.group(1).replace(" ", "").split(",") if n})
        found = [self._object(str(n)) for n in wanted if str(n) in self.by_object]
        page = found[start:start + limit]
        return 200, {"startAt": start, "maxResults": limit, "total": len(found),
                     "isLast": start + limit >= len(found), "values": page,
                     "objectTypeAttributes": [{"id": i, "name": n} for i, n in ATTRIBUTES]}

    def _object(self, object_id: str) -> dict[str, Any]:
        ci = self.by_object[object_id]
        attributes = [_attribute(object_id, "1", {"value": ci.name, "displayValue": ci.name})]
        status = STATUS_TEXT.get(str(ci.status), "")
        if status:
            attributes.append(_attribute(object_id, "2", {
                "status": {"id": str(list(STATUS_TEXT.values()).index(status) + 1),
                           "name": status, "category": 0 if ci.status == "retired" else 1},
                "displayValue": status}))
        group = self.view.groups.get(ci.support_group, "") if ci.support_group else ""
        if group:
            attributes.append(_attribute(object_id, "3", {"group": {"name": group},
                                                          "displayValue": group}))
        return {"workspaceId": WORKSPACE_ID, "globalId": f"{WORKSPACE_ID}:{object_id}",
                "id": object_id, "label": ci.name, "objectKey": f"CMDB-{object_id}",
                "objectType": {"id": "1", "name": _type_of(ci)}, "attributes": attributes}


def _attribute(object_id: str, type_id: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"{object_id}-{type_id}", "objectTypeAttributeId": type_id,
            "objectAttributeValues": [value], "objectId": object_id}


def _type_of(ci: ConfigurationItem) -> str:
    return "Application" if ci.name.startswith(("app-", "sap-", "crm-", "exch-")) else "Server"
