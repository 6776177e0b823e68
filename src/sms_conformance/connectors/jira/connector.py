"""JiraConnector: the Connector protocol over the Jira REST API (Cloud v3, Data Center v2).

Start-up (on first use): GET myself (who is calling, in which time zone; a 404 on v3 means
Data Center, read through v2), then GET field once per run to bind the field map's custom
field names to the site's ids.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import suppress
from datetime import datetime
from functools import partial
from itertools import chain
from typing import Any, ClassVar, Literal

from sms_conformance.connectors.base import (
    ConnectorDefaults,
    FetchRequest,
    NotRead,
    Scope,
    TableRows,
)
from sms_conformance.connectors.capabilities import Doctor, Finding, Reads, Traces, WritesTasks
from sms_conformance.connectors.http.denied import not_read_on_403
from sms_conformance.connectors.http.errors import HTTPAuthError
from sms_conformance.connectors.jira import jql, ranges
from sms_conformance.connectors.jira.assets import AssetsReader
from sms_conformance.connectors.jira.client import JiraClient
from sms_conformance.connectors.jira.doctor import check
from sms_conformance.connectors.jira.fieldmap import (
    FieldCatalog,
    JiraFieldMap,
    ProcessBinding,
    linked_issues,
)
from sms_conformance.connectors.jira.responses import JiraRequestError
from sms_conformance.connectors.jira.search import (
    MAX_PAGES,
    Chain,
    Enhanced,
    Poster,
    SearchNotFound,
    SearchStats,
    enhanced,
    legacy,
    margin,
)
from sms_conformance.connectors.jira.site import batched
from sms_conformance.connectors.jira.task_settings import JiraTaskSettings
from sms_conformance.connectors.jira.tasks import JiraTasks
from sms_conformance.connectors.jira.values import parse_timestamp
from sms_conformance.connectors.parallel import Gate, interleaved
from sms_conformance.model.errors import AuthError, ConfigError, SourceError
from sms_conformance.model.identity import Told
from sms_conformance.model.records import Process, Record, Ref
from sms_conformance.rules.model import Rule

Deployment = Literal["auto", "cloud", "datacenter"]
Json = dict[str, Any]
_ID = re.compile(r"[0-9]+")
_KEY = re.compile(r"[A-Z][A-Z0-9_]+-[0-9]+")
_QUOTED = re.compile(r"'([^']{1,200})'")
# Issues asked per search page. The site may send fewer (Cloud lowers it when many fields are
# asked for, Data Center caps it at jira.search.views.default.max): paging never relies on it.
PAGE_SIZE = 1000


def ref_kind(ref: Ref) -> str:
    """The canonical kind a Ref points at (its first field: `kind`, formerly `table`)."""
    return str(getattr(ref, "kind", None) or getattr(ref, "table", ""))


class JiraConnector(ConnectorDefaults):
    platform = "jira"
    capabilities: ClassVar[frozenset[type]] = frozenset({Reads, WritesTasks, Doctor, Traces})

    def __init__(
        self,
        site: str,
        client: JiraClient,
        fieldmap: JiraFieldMap,
        *,
        deployment: Deployment = "auto",
        page_size: int = PAGE_SIZE,
        ref_batch: int = 100,
        max_pages: int = MAX_PAGES,
        streams: int = 1,
    ) -> None:
        self.instance = client.base
        self.client = client
        self.fieldmap = fieldmap
        self.deployment = deployment
        self.page_size = page_size
        self.ref_batch = min(ref_batch, 100)  # bulkfetch takes at most 100 issues
        self.max_pages = max_pages
        self.notices: list[str] = []
        self.scans: dict[str, SearchStats] = {}
        self.api = "2" if deployment == "datacenter" else "3"
        self.legacy_search = deployment == "datacenter"
        self.myself: Json = {}
        self._bindings: dict[Process, ProcessBinding] | None = None
        self._catalog: FieldCatalog | None = None
        self._issue_types: dict[str, str] | None = None  # casefolded -> the site's name
        self._statuses: frozenset[str] | None = None
        self._statuses_asked = False  # a site that does not list them is asked once
        self._statuses_failed: Exception | None = None
        # Parallel key ranges per search; the gate holds every read of the run to `streams`
        # requests at once and is lowered on 429/503 for the whole run.
        self.streams = streams
        self.gate = Gate(streams)
        client.on_throttled = self.gate.lower
        self.reads: Poster = GatedPoster(client, self.gate) if streams > 1 else client
        self.assets = AssetsReader(client, self.reads, fieldmap.assets, self.instance)
        self._highest: dict[str, int | None] = {}  # project key -> its highest issue number
        self._counting = threading.Lock()

    def __repr__(self) -> str:
        return f"JiraConnector({self.instance!r})"

    @property
    def request_count(self) -> int:
        return self.client.request_count

    # -- capabilities ---------------------------------------------------------------------------

    def task_port(self, settings: Mapping[str, Any]) -> JiraTasks:
        """Write-back as `write_back.jira` says (checked: a ConfigError when wrong)."""
        config = JiraTaskSettings.from_settings(settings)
        owner_field = self._owner_field(config.owner_field)
        self._check_task_target(config.link_type, owner_field)
        return JiraTasks(self, project=config.project, as_subtask=config.issue_type == "Sub-task",
                         link_type=config.link_type,
                         done_transition=config.done_transition or None,
                         owner_field=owner_field or None, owner_first=config.owner_first)

    def _owner_field(self, setting: str) -> str:
        """The group field a task's owner goes into: the one set, else the custom field the
        field map reads incidents' assignment groups from (found by name on this site); ""
        for none."""
        if setting == "none":
            return ""
        if setting:
            return setting
        found = self.binding(Process.INCIDENT).field_ids.get("assignment_group", "")
        return found if found.startswith("customfield_") else ""

    def _check_task_target(self, link_type: str, owner_field: str) -> None:
        """Before the first write, what no query of the tasks proves: the link type and the
        owner field exist (a project the user cannot see makes the first task query a 400)."""
        types = self.client.get(f"/rest/api/{self.api}/issueLinkType")
        names = {str(t.get("name", "")).casefold()
                 for t in (types or {}).get("issueLinkTypes") or [] if isinstance(t, dict)}
        if link_type.casefold() not in names:
            raise ConfigError(f"settings write_back.jira.link_type: no link type {link_type!r} "
                              f"at {self.instance}")
        if owner_field and owner_field not in self.catalog().all_ids:
            raise ConfigError(f"settings write_back.jira.owner_field: no field {owner_field} at "
                              f"{self.instance}")

    def doctor(self, rules: Sequence[Rule], settings: Mapping[str, Any]) -> list[Finding]:
        return check(self, rules, settings)

    def check_task_targets(self, targets: Iterable[str]) -> list[Finding]:
        """Tasks go to projects: each must be readable (doctor checks its task types)."""
        self.who()
        findings = []
        for key in targets:
            try:
                project = self.client.get(f"/rest/api/{self.api}/project/{jql.project_key(key)}")
            except (ConfigError, SourceError) as exc:
                findings.append(Finding("fail", f"project {key}: cannot be read ({exc})"))
                continue
            if isinstance(project, dict):
                findings.append(Finding("ok", f"project {key} may receive tasks"))
            else:
                findings.append(Finding("fail", f"project {key} not found, or the user may not "
                                        "browse it", "set write_back.jira.project"))
        return findings

    # -- start-up -----------------------------------------------------------------------------

    def reads_at_once(self) -> int:
        return self.gate.limit

    def start_up(self, scopes: Mapping[Process, tuple[Scope, ...]]) -> None:
        """The site's statuses, when a scope goes into JQL (who am I, the fields and the
        projects' issue types were read before, by the preflight). A failure is kept: the
        fetch that needs them raises it."""
        if any(_names_statuses(s) for s in scopes.values()):
            with suppress(Exception):  # kept by statuses(), raised to the fetch
                self.statuses()

    def identify(self) -> Told:
        """Jira Cloud's cloudId (GET /_edge/tenant_info), else a Data Center server id (GET
        /rest/api/2/serverInfo, `serverId`); a refusal or no id is said in the answer."""
        answers: dict[str, Any] = {}
        try:
            tenant = self.client.get("/_edge/tenant_info")
            answers["its cloudId (/_edge/tenant_info)"] = _field(tenant, "cloudId")
            if not isinstance(answers["its cloudId (/_edge/tenant_info)"], str):
                info = self.client.get("/rest/api/2/serverInfo")
                answers["its server id (/rest/api/2/serverInfo)"] = _field(info, "serverId")
        except HTTPAuthError as exc:  # a refused login is the scan's to report, as ever
            return Told(None, f"its identity may not be read: {exc}")
        except JiraRequestError as exc:
            return Told(None, f"its identity was refused: {exc}")
        return Told.first(answers, "neither /_edge/tenant_info nor /rest/api/2/serverInfo "
                          "gave an id")

    def who(self) -> Json:
        """GET myself once: proves the credentials (a site may serve bad ones as anonymous)
        and tells the API version (Data Center has no v3)."""
        if self.myself:
            return self.myself
        body = self.client.get(f"/rest/api/{self.api}/myself")
        if body is None and self.deployment == "auto" and self.api == "3":
            self.api, self.legacy_search = "2", True
            body = self.client.get("/rest/api/2/myself")
        if body is None:
            raise SourceError(f"{self.instance} has no Jira REST API (GET myself: 404): check "
                              "the site URL")
        if not isinstance(body, dict) or not any(body.get(k) for k in ("accountId", "key", "name")):
            raise AuthError(f"{self.instance} answered GET myself without a user: the "
                            "credentials were not accepted (served as anonymous)")
        self.myself = body
        return body

    def catalog(self) -> FieldCatalog:
        """The site's fields (GET field), read once per run."""
        if self._catalog is None:
            self.who()
            fields = self.client.get(f"/rest/api/{self.api}/field")
            if not isinstance(fields, list):
                raise SourceError(f"GET /rest/api/{self.api}/field: expected a list of fields")
            self._catalog = FieldCatalog.from_fields(self.instance, fields)
        return self._catalog

    def issue_types(self) -> dict[str, str]:
        """The issue types of the configured projects (casefolded name -> name): JQL naming a
        type the site does not have is refused, and a map lists alternatives."""
        if self._issue_types is None:
            self.who()
            names: dict[str, str] = {}
            for key in self.fieldmap.projects:
                project = self.client.get(f"/rest/api/{self.api}/project/{jql.project_key(key)}")
                if not isinstance(project, dict):
                    raise ConfigError(f"Jira project {key} not found at {self.instance}, or the "
                                      "user may not browse it (projects: in the Jira field map)")
                for item in project.get("issueTypes") or []:
                    if isinstance(item, dict) and isinstance(item.get("name"), str):
                        names[item["name"].casefold()] = item["name"]
            self._issue_types = names
        return self._issue_types

    def statuses(self) -> frozenset[str] | None:
        """The site's status names, casefolded (None when it does not list them)."""
        if not self._statuses_asked:
            self._statuses_asked = True
            try:
                listed = self.client.get(f"/rest/api/{self.api}/status")
            except JiraRequestError:
                listed = None
            except Exception as exc:  # asked once: whoever asks next is told the same
                self._statuses_failed = exc
                raise
            if isinstance(listed, list):
                self._statuses = frozenset(str(s.get("name", "")).casefold() for s in listed
                                           if isinstance(s, dict))
        if self._statuses_failed is not None:
            raise self._statuses_failed
        return self._statuses

    def bindings(self) -> dict[Process, ProcessBinding]:
        if self._bindings is None:
            self._bindings = self.fieldmap.bind(self.catalog())
            self.notices.extend(f"{reason}; results that need it are unknown"
                                for binding in self._bindings.values()
                                for reason in binding.unbound.values())
        return self._bindings

    def missing_types(self, binding: ProcessBinding) -> str | None:
        """Why the site holds no issues of a process (none of its issue types is in the
        projects), else None."""
        site_types = self.issue_types()
        if any(t.casefold() in site_types for t in binding.pmap.issue_types):
            return None
        return (f"no {binding.process.value} issue type ({', '.join(binding.pmap.issue_types)}) "
                f"in project(s) {', '.join(self.fieldmap.projects)} at {self.instance}")

    def not_read(self, process: Process) -> str | None:
        """Why the records of `process` were not read (the site lacks its issue types), else
        None: counts of its records (referrers) are then unknown, not zero."""
        binding = self.bindings().get(Process(process))
        if binding is None:
            return f"the Jira field map has no {Process(process).value}"
        return self.missing_types(binding)

    def binding(self, process: Process | str) -> ProcessBinding:
        process = Process(process)
        found = self.bindings().get(process)
        if found is None:
            raise ConfigError(f"the Jira field map has no {process.value}")
        return found

    # -- reading ------------------------------------------------------------------------------

    def fetch(self, request: FetchRequest) -> Iterator[Record]:
        """Issues of the process's types in the configured projects, in key order, each once
        (a search returns an issue once, however often its pages repeat it)."""
        binding = self.binding(request.process)
        missing = self.missing_types(binding)
        if missing is not None:  # a site without Problem or Change: that process is skipped
            self.notices.append(f"{missing}: {binding.process.value} skipped (its rules have no "
                                "evidence; name the site's type under issue_types: in the Jira "
                                "field map if it has one)")
            return
        query = self.query(binding, request.scopes, request.since)
        if query is None:
            return
        fields = binding.platform_fields(request.fields)
        stats = self.scans[binding.process.value] = SearchStats()
        try:
            for index, issue in enumerate(self._scoped(binding, request, query, fields, stats)):
                issue_id, issue_fields = _checked(binding.process.value, index, issue)
                if not binding.pmap.is_type(_type_name(issue_fields)):
                    raise SourceError(
                        f"search returned {issue.get('key')} of type "
                        f"{_type_name(issue_fields)!r}, outside the query's issue types; stopping")
                if request.since is not None and _updated_before(issue_fields, request.since):
                    continue  # the JQL window is wider than `since` (minute precision, zones)
                yield self._record(binding, issue, issue_fields, request.fields)
        finally:
            self.notices.extend(stats.notices)

    def _scoped(self, binding: ProcessBinding, request: FetchRequest, query: str,
                fields: Sequence[str], stats: SearchStats) -> Iterator[Json]:
        """The scoped search; when the site refuses it (a value of a pushed-down scope it
        does not have, such as an option name), the search without scopes: the engine tests
        each record's scope itself, so nothing in scope is lost."""
        whole = self.query(binding, (), request.since)

        def ranged(scopes: Sequence[Mapping[str, tuple[Any, ...]]]) -> Callable[[str], str]:
            return lambda keys: self.query(binding, scopes, request.since, keys) or ""

        if query == whole or whole is None:
            yield from self.search(query, fields, stats, ranged(request.scopes))
            return
        try:
            yield from self.search(query, fields, stats, ranged(request.scopes))
        except ConfigError as exc:
            if stats.issues:
                raise
            self.notices.append(f"{binding.process.value}: {exc}; read without the scope filter")
            yield from self.search(whole, fields, stats, ranged(()))

    def expected_total(self, process: Process | str) -> int | None:
        """The legacy search's total of the last fetch; with enhanced search (which counts
        nothing) an estimate from the first page and the project's highest key, None when
        there is neither."""
        stats = self.scans.get(Process(process).value)
        if stats is None:
            return None
        return stats.total if stats.total is not None else stats.estimate

    def query(self, binding: ProcessBinding, scopes: Sequence[Mapping[str, tuple[Any, ...]]],
              since: datetime | None, keys: str = "") -> str | None:
        """The JQL of a fetch (`keys`: a key range's clauses); None when no scope can match
        anything."""
        groups: list[str] = []
        everything = not scopes
        for scope in scopes:
            if any(not tuple(values) for values in scope.values()):
                continue  # a field allowing no value: this scope matches nothing
            statuses = self.statuses()
            clauses = {name: binding.scope_clause(name, tuple(scope[name]), statuses)
                       for name in sorted(scope)}
            if any(c == "" for c in clauses.values()):
                continue  # allowed values the site cannot hold: this scope matches nothing
            conditions = [c for c in clauses.values() if c]
            if not conditions:
                everything = True
                break
            groups.append(jql.all_of(conditions))
        if not everything and not groups:
            return None
        site_types = self.issue_types()
        types = [site_types[t.casefold()] for t in binding.pmap.issue_types
                 if t.casefold() in site_types]
        if not types:
            raise ConfigError(
                f"no {binding.process.value} issue type ({', '.join(binding.pmap.issue_types)}) "
                f"in project(s) {', '.join(self.fieldmap.projects)} at {self.instance}: name "
                "the site's type under issue_types: in the Jira field map")
        parts = [
            f"project in ({', '.join(jql.project_key(k) for k in self.fieldmap.projects)})",
            jql.one_of("issuetype", types),
        ]
        if not everything:
            parts.append(jql.any_of(groups))
        if since is not None:
            zone = self.who().get("timeZone")
            parts.append(f"updated >= {jql.since_literal(since, zone if isinstance(zone, str) else None)}")
        if keys:
            parts.append(keys)
        # last: an unterminated quote in it can swallow only the ORDER BY, never a clause
        parts.append(jql.restricted(binding.pmap.jql))
        return f"{jql.all_of(parts)} ORDER BY key ASC"

    def check_restrictions(self) -> None:
        """Each process's `jql:` restriction, asked of the site once (no issue read): Jira's
        refusal becomes a ConfigError naming the process (exit 2)."""
        for process, binding in self.bindings().items():
            if binding.pmap.jql is None or self.missing_types(binding) is not None:
                continue
            query = self.query(binding, (), None)  # no scopes: never None
            try:
                self._count_only(query or "")
            except JiraRequestError as exc:
                if exc.status != 400:
                    raise
                raise ConfigError(f"Jira field map: {process.value}.jql: Jira refused the "
                                  f"restriction: {exc.detail} (jql: {binding.pmap.jql})"
                                  ) from None

    def _count_only(self, query: str) -> None:
        """The query asked of the site with no issue read (enhanced search: one id, as it
        refuses maxResults 0 with a 400 that would read as a refused restriction)."""
        if not self.legacy_search and self.client.post("/rest/api/3/search/jql", {
                "jql": query, "fields": ["id"], "maxResults": 1}) is not None:
            return
        body = {"jql": query, "fields": ["id"], "maxResults": 0}
        if self.client.post(f"/rest/api/{self.api}/search", body) is None:
            raise SourceError(f"{self.instance}: no JQL search endpoint (404)")

    def search(self, query: str, fields: Sequence[str], stats: SearchStats,
               ranged: Callable[[str], str] | None = None) -> Iterator[Json]:
        """Every issue the JQL matches: enhanced search, or legacy search on Data Center (and
        after a 404 on the enhanced one). A 400 naming the query is Jira's reason (exit 2).
        `ranged`: the query of a key range (its clauses given), for parallel ranges."""
        try:
            if not self.legacy_search:
                try:
                    if ranged is not None and self.streams > 1 and len(
                            self.fieldmap.projects) == 1:
                        yield from self._ranged(query, fields, stats, ranged)
                    else:
                        yield from enhanced(self.reads, query, fields, page_size=self.page_size,
                                            max_pages=self.max_pages, stats=stats)
                    return
                except SearchNotFound:
                    if stats.issues or self.deployment == "cloud":
                        raise
                    self.legacy_search = True
                    self.notices.append(f"{self.instance}: no enhanced JQL search (404): "
                                        "read with the legacy search (Data Center)")
            yield from legacy(self.reads, self.api, query, fields, page_size=self.page_size,
                              max_pages=self.max_pages, stats=stats)
        except JiraRequestError as exc:
            if exc.status != 400:
                raise
            if not names_part_of(exc.detail, query):
                raise SourceError(f"Jira refused the search (400) with an answer that names "
                                  f"nothing of the query: {exc.detail}; stopping") from None
            raise ConfigError(f"Jira refused the JQL query: {exc.detail} (query: {query}); "
                              "check the field map's names and the rule scopes") from None

    def _ranged(self, query: str, fields: Sequence[str], stats: SearchStats,
                ranged: Callable[[str], str]) -> Iterator[Json]:
        """The search's first page, then (when `streams` > 1 and enough is left) the rest in
        key ranges read at once (see ranges.py); issues then come in no particular order."""
        search = Enhanced(self.reads, query, fields, page_size=self.page_size,
                          max_pages=self.max_pages, stats=stats)
        first = search.page()
        if search.done:
            stats.estimate = len(first)
            yield from first
            return
        project = jql.project_key(self.fieldmap.projects[0])
        mine = [n for i in first if (k := ranges.key_number(i.get("key"))) is not None
                and (n := k[1]) >= 0 and k[0] == project]
        highest = self.highest(project)
        if highest is None or not mine or len(mine) < len(first):
            yield from first
            yield from search
            return
        low, last = min(mine), max(mine)
        left = ranges.estimated(low, last, len(first), max(highest, last))
        stats.estimate = len(first) + left
        streams = min(self.gate.limit, -(-left // max(1, len(first))) // 2)
        bounds = self._bounds(project, last, highest, streams) if streams > 1 else []
        yield from first
        if not bounds:
            yield from search
            return
        starts = [(last, False), *((b, True) for b in bounds)]
        ends: list[int | None] = [*bounds, None]
        ceiling = highest + margin(highest)
        parts = [partial(self._range, project, ranged, fields, stats, start, end, ceiling)
                 for start, end in zip(starts, ends, strict=True)]
        yield from interleaved(parts)

    def _range(self, project: str, ranged: Callable[[str], str], fields: Sequence[str],
               stats: SearchStats, start: tuple[int, bool], end: int | None,
               ceiling: int) -> Iterator[Json]:
        """One key range's issues; one outside it, or numbered above `ceiling` (the highest
        key and those created since), stops the scan: a range holds at most that many keys,
        so memory is bounded whatever the site sends."""
        low, inclusive = start
        clause = f"issuekey {'>=' if inclusive else '>'} {project}-{low}" + (
            f" AND issuekey < {project}-{end}" if end is not None else "")
        own = SearchStats()
        try:
            for issue in Enhanced(self.reads, ranged(clause), fields, page_size=self.page_size,
                                  max_pages=self.max_pages, stats=own):
                where = ranges.key_number(issue.get("key"))
                if where is not None and (where[0] != project or where[1] > ceiling
                                          or not ranges.within(where[1], low, end, inclusive)):
                    raise SourceError(f"search returned {issue.get('key')}, outside the key "
                                      f"range asked for ({clause}); stopping")
                yield issue
        finally:
            with self._counting:  # the streams' counts add up in the search's own
                stats.pages += own.pages
                stats.issues += own.issues
                stats.notices.extend(own.notices)

    def highest(self, project: str) -> int | None:
        """The project's highest issue number (one search ordered by key, descending, once
        per run); None when it has no issue."""
        if project not in self._highest:
            path = Enhanced.path
            page = self.reads.post(path, {"jql": f"project = {project} ORDER BY key DESC",
                                          "fields": ["id"], "maxResults": 1})
            if page is None:
                raise SearchNotFound(f"POST {path}: not found (404)")
            top = Chain(path, 1).fresh(page)
            found = ranges.key_number(top[0].get("key")) if top else None
            self._highest[project] = found[1] if found and found[0] == project else None
        return self._highest[project]

    def _bounds(self, project: str, last: int, highest: int, streams: int) -> list[int]:
        """Range bounds between `last` and `highest`, each the key of an issue that exists
        (one bulk fetch of candidates)."""
        tried = ranges.candidates(last, highest, streams)
        keys = [f"{project}-{n}" for numbers in tried for n in numbers]
        if not keys:
            return []
        body = self.reads.post("/rest/api/3/issue/bulkfetch",
                               {"issueIdsOrKeys": keys, "fields": ["id"]})
        issues = body.get("issues") if isinstance(body, dict) else None
        if not isinstance(issues, list):
            return []  # no bulk fetch here: one stream
        existing = {i.get("key") for i in issues if isinstance(i, dict)}
        return ranges.chosen(tried, lambda n: f"{project}-{n}" in existing)

    def read_table(self, kind: str, fields: AbstractSet[str], max_requests: int
                   ) -> TableRows | None:
        """Every issue of a process `kind` with only the canonical `fields` (the links' local
        join: problems and changes read once in this scan, not looked up 100 at a time); None
        when that would take more than `max_requests` requests, or `kind` is no process, or
        the search cannot be estimated (one stream, Data Center, several projects)."""
        process = _process(kind)
        if (process is None or self.legacy_search or self.streams < 2
                or len(self.fieldmap.projects) != 1):
            return None
        binding = self.binding(process)
        wanted = frozenset(fields) & binding.mapped()
        platform = binding.platform_fields(wanted)
        query = self.query(binding, (), None)
        if query is None:
            return None
        stats = SearchStats()
        with not_read_on_403(kind, "no permission"):
            issues = self._ranged(query, platform, stats, lambda keys: self.query(
                binding, (), None, keys) or "")
            first = next(issues, None)
        if (stats.estimate or 0) > max_requests * self.page_size:
            return None

        def records() -> Iterator[Record]:
            with not_read_on_403(kind, "no permission"):
                for index, issue in enumerate(chain(() if first is None else (first,), issues)):
                    _, issue_fields = _checked(kind, index, issue)
                    if binding.pmap.is_type(_type_name(issue_fields)):
                        yield self._record(binding, issue, issue_fields, wanted)

        return TableRows(records(), lambda: 0)

    def _record(self, binding: ProcessBinding, issue: Json, fields: Json,
                wanted: AbstractSet[str] | None) -> Record:
        key = str(issue["key"])
        return Record(
            platform=self.platform, instance=self.instance, process=binding.process.value,
            table=binding.process.value, id=str(issue["id"]), number=key,
            url=f"{self.instance}/browse/{key}",
            fields=binding.to_canonical(fields, wanted, issue),
            raw=fields,
        )

    # -- links --------------------------------------------------------------------------------

    def resolve(self, refs: Iterable[Ref], fields: AbstractSet[str] | None = None
                ) -> dict[Ref, Record]:
        """The linked issues that exist (bulk fetch, 100 a request), as records of the kind
        asked for; an issue of another process is not one."""
        by_kind: dict[str, set[str]] = {}
        for ref in refs:
            by_kind.setdefault(ref_kind(ref), set()).add(ref.id)
        found: dict[Ref, Record] = {}
        for kind in sorted(by_kind):
            process = _process(kind)
            if process is None and self.assets.reads_kind(kind):  # CIs: Assets objects
                self.who()
                found.update(self.assets.resolve(kind, by_kind[kind], fields))
                continue
            if process is None:
                raise NotRead(kind, f"Jira {kind} records are not looked up by this connector")
            binding = self.binding(process)
            missing = self.missing_types(binding)
            if missing is not None:
                raise NotRead(kind, missing)
            wanted = None if fields is None else frozenset(fields) & binding.mapped()
            ids = sorted(i for i in by_kind[kind] if _ID.fullmatch(i))
            with not_read_on_403(kind, "no permission"):
                for issue in self.bulk(ids, binding.platform_fields(wanted)):
                    issue_id, issue_fields = _checked(kind, 0, issue)
                    if binding.pmap.is_type(_type_name(issue_fields)):
                        found[Ref(kind, issue_id)] = self._record(binding, issue, issue_fields,
                                                                  wanted)
        return found

    def count_referrers(self, process: Process | str, field: str, ids: Iterable[str]
                        ) -> dict[str, int]:
        """How many `process` issues link each id through the canonical link `field`, read
        from the linked issues' own links (the other end of the same link type)."""
        missing = self.not_read(Process(process))
        if missing is not None:
            raise NotRead(Process(process).value, missing)
        counts = dict.fromkeys(ids, 0)
        counts.update({i: len(found) for i, found in self._referrers(process, field, counts).items()})
        return counts

    def referrers(self, process: Process, field: str, record_id: str) -> list[Ref]:
        """The `process` issues that link the issue `record_id` through the canonical link
        `field` (a problem's incidents), read from that issue's own links."""
        found = self._referrers(process, field, [record_id]).get(record_id, set())
        return [Ref(process.value, i) for i in sorted(found, key=int)]

    def _referrers(self, process: Process | str, field: str, ids: Iterable[str]
                   ) -> dict[str, set[str]]:
        binding = self.binding(process)
        link = binding.links.get(field)
        if link is None:
            raise NotRead(binding.process.value, f"{field} is not an issue link in the Jira "
                          "field map: its referrers cannot be counted")
        other_side = "outwardIssue" if link.side == "inwardIssue" else "inwardIssue"
        wanted = {i for i in ids if _ID.fullmatch(i)}
        found: dict[str, set[str]] = {}
        with not_read_on_403(binding.process.value, "no permission"):
            for issue in self.bulk(sorted(wanted), ["issuelinks", "issuetype"]):
                issue_id, issue_fields = _checked(link.kind, 0, issue)
                if issue_id not in wanted or "issuelinks" not in issue_fields:
                    continue
                found[issue_id] = {str(other["id"]) for other in linked_issues(
                    issue_fields["issuelinks"], link.type_name, other_side)
                    if binding.pmap.is_type(_type_name(other.get("fields") or {}))
                    or not _type_name(other.get("fields") or {})}
        return found

    def record_by_number(self, number: str,
                         fields: Callable[[Process], AbstractSet[str]]) -> Record | None:
        """The issue with this key (one GET), as a record of the process its type is, with the
        canonical `fields` of that process; None when there is none or its type is of no
        process of the field map."""
        key = number.strip().upper()
        if not _KEY.fullmatch(key):
            return None
        bindings = self.bindings()
        wanted = {p: frozenset(fields(p)) & b.mapped() for p, b in bindings.items()}
        asked = sorted({f for p, b in bindings.items() for f in b.platform_fields(wanted[p])})
        issue = self.client.get(f"/rest/api/{self.api}/issue/{key}", {"fields": ",".join(asked)})
        if issue is None:
            return None
        _, issue_fields = _checked("issue", 0, issue)
        for process, binding in bindings.items():
            if binding.pmap.is_type(_type_name(issue_fields)):
                return self._record(binding, issue, issue_fields, wanted[process])
        return None

    def bulk(self, ids: Sequence[str], fields: Sequence[str]) -> Iterator[Json]:
        """Issues by id, 100 a request: bulkfetch on Cloud, an `id in (...)` search on Data
        Center (ids are digits only). Missing or hidden issues are simply absent."""
        self.who()
        for chunk in batched(ids, self.ref_batch):
            if self.api == "3":
                body = self.client.post("/rest/api/3/issue/bulkfetch",
                                        {"issueIdsOrKeys": chunk, "fields": list(fields)})
                if body is not None:
                    if not isinstance(body, dict) or not isinstance(body.get("issues"), list):
                        raise SourceError("POST /rest/api/3/issue/bulkfetch: expected issues")
                    yield from body["issues"]
                    continue
            query = f"id in ({', '.join(jql.issue_id(i) for i in chunk)}) ORDER BY key ASC"
            yield from self.search(query, fields, SearchStats())


class GatedPoster:
    """Where the reads of parallel ranges go: each request waits for a slot of the gate."""

    def __init__(self, client: Poster, gate: Gate) -> None:
        self.client, self.gate = client, gate

    def post(self, path: str, body: Any, *, write: bool = False) -> Any:
        with self.gate.slot():
            return self.client.post(path, body, write=write)


def _names_statuses(scopes: Sequence[Mapping[str, tuple[Any, ...]]]) -> bool:
    """Whether a fetch with these scopes asks for the site's statuses (`query`: a scope that
    can match something)."""
    return any(all(tuple(values) for values in scope.values()) for scope in scopes)


def names_part_of(detail: str, query: str) -> bool:
    """Whether Jira's 400 is about the query: its JQL parser's error, or a field, value or
    operator of the query named (in quotes, as Jira's errors do): a problem of the field map or
    the scopes. Any other 400 (a proxy's, a hostile site's) is no reason to blame the
    configuration."""
    folded = query.casefold()
    return detail.startswith("Error in the JQL Query") or any(name.strip().casefold() in folded
               for name in _QUOTED.findall(detail) if name.strip())


def _process(kind: str) -> Process | None:
    try:
        return Process(kind)
    except ValueError:
        return None


def _type_name(fields: Mapping[str, Any]) -> str:
    issuetype = fields.get("issuetype")
    name = issuetype.get("name") if isinstance(issuetype, Mapping) else None
    return name if isinstance(name, str) else ""


def _updated_before(fields: Mapping[str, Any], since: datetime) -> bool:
    updated = fields.get("updated")
    moment = parse_timestamp(updated) if isinstance(updated, str) else None
    return isinstance(moment, datetime) and moment < since


def _checked(what: str, index: int, issue: object) -> tuple[str, Json]:
    """A well-formed issue's id and fields; a malformed one stops the scan (exit 3)."""
    where = f"{what}: issue {index} of the answer"
    if not isinstance(issue, dict):
        raise SourceError(f"{where} is {type(issue).__name__}, not an issue")
    issue_id, key, fields = issue.get("id"), issue.get("key"), issue.get("fields")
    if not isinstance(issue_id, str) or not _ID.fullmatch(issue_id):
        raise SourceError(f"{where} has no issue id")
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise SourceError(f"{where} ({issue_id}) has no issue key")
    if not isinstance(fields, dict):
        raise SourceError(f"{where} ({key}) has no fields")
    return issue_id, fields


def _field(body: Any, name: str) -> Any:
    return body.get(name) if isinstance(body, dict) else None
