"""Configuration items as Assets objects (clause 8.2.6): the objects the scan's records name,
read in batches through the Assets REST API of the site.

GET /rest/servicedeskapi/assets/workspace gives the site's Assets workspace (none: the site does
not expose Assets); POST /gateway/api/jsm/assets/workspace/{id}/v1/object/aql with
`objectId IN (...)` reads up to BATCH objects a request, attributes included. An object's
attribute is found by its name (the attribute's `objectTypeAttribute`, or the response's
`objectTypeAttributes`); Assets leaves empty attributes out, so an attribute the object does not
carry is empty, unless the response lists its type's attributes without it (then the schema
has no such attribute: unknown). A site without Assets, or a user who may not read it, makes
the look-ups NotRead: the rules reading CIs are unknown, never failed.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from sms_conformance.connectors.base import NotRead
from sms_conformance.connectors.http.denied import not_read_on_403
from sms_conformance.connectors.jira.client import JiraClient
from sms_conformance.connectors.jira.fieldmap import AssetsFieldSpec, AssetsKindMap
from sms_conformance.connectors.jira.search import Poster
from sms_conformance.connectors.jira.site import batched
from sms_conformance.model.errors import SourceError
from sms_conformance.model.records import NamedRef, Record, Ref, Unknown, Value

WORKSPACE = "/rest/servicedeskapi/assets/workspace"
AQL = "/gateway/api/jsm/assets/workspace/{workspace}/v1/object/aql"
BATCH = 50  # object ids per query: one page of the Assets API's usual maximum
MAX_PAGES = 5  # pages of one batch's answer: it holds at most BATCH objects
_ID = re.compile(r"[0-9]{1,18}")
Json = dict[str, Any]


class AssetsReader:
    """The Assets objects of a site, by kind (the field map's `assets:`), thread-safe."""

    def __init__(self, client: JiraClient, reads: Poster, maps: Mapping[str, AssetsKindMap],
                 instance: str) -> None:
        self.client, self.reads, self.maps, self.instance = client, reads, maps, instance
        self._workspace: str | NotRead | None = None
        self._lock = threading.Lock()

    def reads_kind(self, kind: str) -> bool:
        return kind in self.maps

    def workspace(self, kind: str) -> str:
        """The site's Assets workspace id (asked once); NotRead when the site has none."""
        with self._lock:
            if self._workspace is None:
                self._workspace = self._ask_workspace(kind)
            found = self._workspace
        if isinstance(found, NotRead):
            raise found
        return found

    def _ask_workspace(self, kind: str) -> str | NotRead:
        try:
            with not_read_on_403(kind, "no permission to read Assets"):
                body = self.client.get(WORKSPACE)
        except NotRead as exc:
            return exc
        values = body.get("values") if isinstance(body, dict) else None
        if body is None or not values:
            return NotRead(kind, f"the site does not expose Assets ({WORKSPACE} lists no "
                           "workspace): configuration items cannot be read")
        first = values[0]
        workspace = first.get("workspaceId") if isinstance(first, dict) else None
        if not isinstance(workspace, str) or not re.fullmatch(r"[A-Za-z0-9-]{1,64}", workspace):
            raise SourceError(f"GET {WORKSPACE}: expected a workspaceId, got {first!r:.80}")
        return workspace

    def resolve(self, kind: str, ids: Iterable[str],
                fields: AbstractSet[str] | None) -> dict[Ref, Record]:
        """The objects among `ids` that exist, as records of `kind` with the canonical
        `fields` the field map reads (None: all)."""
        kmap = self.maps[kind]
        wanted = {n: s for n, s in kmap.fields.items() if fields is None or n in fields}
        workspace = self.workspace(kind)
        path = AQL.format(workspace=workspace)
        found: dict[Ref, Record] = {}
        todo = sorted({i for i in ids if _ID.fullmatch(i)}, key=int)
        with not_read_on_403(kind, "no permission to read Assets"):
            for chunk in batched(todo, BATCH):
                for obj, names in self._objects(path, chunk):
                    record = self._record(kind, obj, names, wanted)
                    found[Ref(kind, record.id)] = record
        return found

    def _objects(self, path: str, chunk: Sequence[str]) -> Iterator[tuple[Json, dict[str, str]]]:
        """The objects of one batch, each with the attribute names (id -> name) its answer
        listed; pages followed while the answer says there are more."""
        query = {"qlQuery": f"objectId IN ({', '.join(chunk)})"}
        start = 0
        for _ in range(MAX_PAGES):
            body = self.reads.post(f"{path}?startAt={start}&maxResults={BATCH}"
                                   "&includeAttributes=true", query)
            if body is None:
                raise NotRead("configuration_item", f"the site answers no Assets API at {path}")
            values = body.get("values") if isinstance(body, dict) else None
            if not isinstance(values, list):
                raise SourceError(f"POST {path}: expected values (Assets objects)")
            names = _attribute_names(body.get("objectTypeAttributes"))
            for obj in values:
                if isinstance(obj, dict) and isinstance(obj.get("id"), (str, int)):
                    yield obj, names
            start += len(values)
            if body.get("isLast", True) or not values or start >= len(chunk):
                return

    def _record(self, kind: str, obj: Json, names: dict[str, str],
                wanted: Mapping[str, AssetsFieldSpec]) -> Record:
        object_id = str(obj["id"])
        attributes = _attributes(obj, names)
        label = str(obj["label"]) if isinstance(obj.get("label"), str) else ""
        values: dict[str, Value] = {}
        for name, spec in wanted.items():
            key = spec.attribute.casefold()
            if key in attributes:
                values[name] = _value(spec, attributes[key], object_id)
            elif name == "name":
                values[name] = label or None
            elif names and key not in {n.casefold() for n in names.values()}:
                values[name] = Unknown(f"Assets objects have no attribute {spec.attribute!r} "
                                       "(map the one holding it under assets: in the Jira "
                                       "field map)")
            else:  # Assets leaves an empty attribute out of the object
                values[name] = None
        shown = values.get("name")
        object_key = obj.get("objectKey")
        return Record(platform="jira", instance=self.instance, process="", table=kind,
                      id=object_id,
                      number=object_key if isinstance(object_key, str) else object_id,
                      url="", fields=values,
                      raw={"name": shown if isinstance(shown, str) else label})


def _attribute_names(listed: Any) -> dict[str, str]:
    """Attribute type id -> name, from an answer's `objectTypeAttributes` (if it has them)."""
    if not isinstance(listed, list):
        return {}
    return {str(a["id"]): a["name"] for a in listed
            if isinstance(a, dict) and isinstance(a.get("name"), str) and "id" in a}


def _attributes(obj: Json, names: Mapping[str, str]) -> dict[str, list[Any]]:
    """The object's attributes by folded name -> their values."""
    found: dict[str, list[Any]] = {}
    for attribute in obj.get("attributes") or []:
        if not isinstance(attribute, dict):
            continue
        own = attribute.get("objectTypeAttribute")
        name = own.get("name") if isinstance(own, dict) else None
        if not isinstance(name, str):
            name = names.get(str(attribute.get("objectTypeAttributeId")))
        values = attribute.get("objectAttributeValues")
        if isinstance(name, str) and isinstance(values, list):
            found[name.casefold()] = values
    return found


def _text(value: Any) -> str:
    """An attribute value's text: its display value, value, or the name of the status, group,
    user or object it holds."""
    if not isinstance(value, dict):
        return ""
    for key in ("displayValue", "value"):
        if isinstance(value.get(key), (str, int)) and str(value[key]).strip():
            return str(value[key]).strip()
    for key, name in (("status", "name"), ("group", "name"), ("user", "displayName"),
                      ("referencedObject", "label")):
        inner = value.get(key)
        if isinstance(inner, dict) and isinstance(inner.get(name), str):
            return str(inner[name]).strip()
    return ""


def _value(spec: AssetsFieldSpec, values: list[Any], object_id: str) -> Value:
    text = _text(values[0]) if values else ""
    if not text:
        return None
    if spec.type == "ref":  # a group attribute holds the group's name, not an id
        return NamedRef("group", text)
    if not spec.values:
        return text
    by_text = {k.casefold(): v for k, v in spec.values.items()}
    found = by_text.get(text.casefold())
    if found is None:
        return Unknown(f"Assets object {object_id}: {spec.attribute} {text!r} is not listed "
                       "under values: in the Jira field map")
    return found


