"""Jira's parallel key ranges find exactly what one page chain finds, also while issues are
updated and created during the scan, and when the site pushes back (429, 503)."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sms_conformance.app.settings import load_settings
from sms_conformance.connectors.jira import ranges
from sms_conformance.connectors.jira.connector import JiraConnector
from sms_conformance.connectors.jira.fieldmap import load_jira_field_map
from sms_conformance.connectors.jira.settings import connector_from_env
from sms_conformance.engine.waivers import Waivers
from sms_conformance.rules.loader import builtin_pack_dir, load_rules
from sms_conformance.sandbox.jira import JiraSandbox
from sms_conformance.sandbox.jira.store import Issue
from sms_conformance.scan.scanner import Scanner, ScanOptions
from sms_conformance.store.history import History
from sms_conformance.support.limits import Limits

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)
Findings = dict[tuple[str, str], tuple[str, str]]


class Recorder:
    """The JQL of every search a connector sends, and the fields each asks for."""

    def __init__(self, reads: Any) -> None:
        self.reads, self.queries = reads, []  # type: ignore[var-annotated]
        self.fields: dict[str, list[str]] = {}

    def post(self, path: str, body: Any, *, write: bool = False) -> Any:
        if isinstance(body, dict) and "jql" in body:
            self.queries.append(str(body["jql"]))
            self.fields[str(body["jql"])] = list(body.get("fields") or [])
        return self.reads.post(path, body, write=write)


def every_field(connector: JiraConnector) -> JiraConnector:
    """The connector asking for every field (`*all`) in each search and look-up."""
    post = connector.client.post

    def widened(path: str, body: Any, *, write: bool = False) -> Any:
        if not write and isinstance(body, dict) and body.get("fields") not in (None, ["id"]):
            body = {**body, "fields": ["*all"]}
        return post(path, body, write=write)

    connector.client.post = widened  # type: ignore[method-assign]
    return connector


def connect(box: JiraSandbox, streams: int) -> JiraConnector:
    env = {"JIRA_EMAIL": box.user, "JIRA_API_TOKEN": box.password, "JIRA_DEPLOYMENT": "cloud"}
    return connector_from_env(box.url, load_jira_field_map(), env, Limits(streams=streams))


def scan(box: JiraSandbox, history: Path, streams: int,
         connector: JiraConnector | None = None, recorder: Recorder | None = None
         ) -> tuple[Any, Findings, list[str]]:
    connector = connector or connect(box, streams)
    recorder = recorder or Recorder(connector.reads)
    recorder.reads = connector.reads
    connector.reads = recorder
    rules = load_rules([builtin_pack_dir()], load_jira_field_map(), load_settings())
    outcome = Scanner(connector, rules, History(history)).run(
        ScanOptions(now=NOW, waivers=Waivers([], NOW.date())), lambda p: f"ITSM/{p.value}")
    assert outcome.complete, outcome.error
    findings = {(f.rule_id, f.number): (f.status, f.detail)
                for f in History(history).findings(outcome.scan_id)}
    return outcome, findings, recorder.queries


def ranged(queries: list[str]) -> list[str]:
    return [q for q in queries if "issuekey" in q]


def test_parallel_ranges_and_one_chain_find_the_same(tmp_path: Path) -> None:
    with JiraSandbox(records=3000, seed=3) as box:
        one, one_found, one_queries = scan(box, tmp_path / "a.sqlite", 1)
        many, many_found, many_queries = scan(box, tmp_path / "b.sqlite", 4)
    assert not ranged(one_queries)
    assert len([q for q in ranged(many_queries) if "Incident" in q]) >= 3  # really in ranges
    assert many.records == one.records
    assert {r: vars(c) for r, c in many.counts.items()} == {
        r: vars(c) for r, c in one.counts.items()}
    assert many_found == one_found and one_found
    assert many.lookups < one.lookups  # links answered from the scan's own passes


def test_a_parallel_scan_of_trimmed_fields_finds_what_one_chain_of_every_field_finds(
        tmp_path: Path) -> None:
    """The searches ask only for the fields the rules, metrics and strata read (no `*all`, not
    the field map's every field), in key ranges; one page chain asking `*all` everywhere finds
    the same, result for result."""
    with JiraSandbox(records=3000, seed=3) as box:
        whole, whole_found, _ = scan(box, tmp_path / "all.sqlite", 1,
                                     every_field(connect(box, 1)))
        recorder, ranging = Recorder(None), connect(box, 4)
        ranging.page_size = 100  # in ranges whatever page size the field count brings
        trimmed, trimmed_found, queries = scan(box, tmp_path / "trimmed.sqlite", 4, ranging,
                                               recorder)
    incident = next(f for q, f in recorder.fields.items() if "Incident" in q and "issuekey" in q)
    mapped = load_jira_field_map().processes["incident"].fields
    assert not any(f.startswith("*") for f in incident) and "issuekey" in " ".join(queries)
    assert "description" not in incident and len(incident) < len(mapped)  # no rule reads it
    assert trimmed.records == whole.records
    assert {r: vars(c) for r, c in trimmed.counts.items()} == {
        r: vars(c) for r, c in whole.counts.items()}
    assert trimmed_found == whole_found and whole_found


def _new_incident(box: JiraSandbox, like: Issue, n: int) -> Issue:
    """An incident created in Jira during the scan: the next id and key."""
    store = box.store
    with store.lock:
        number = max(int(k.partition("-")[2]) for k in store.by_key) + 1
        assert like.record is not None
        issue = replace(like, id=store.next_id(), key=f"ITSM-{number}", links=[], labels=[],
                        record=replace(like.record, id=f"new{n}", number=f"NEW{n}"),
                        updated=datetime.now(timezone.utc))
        store._add(issue)  # noqa: SLF001 - the sandbox has no API for process issues
        store.touch()
    return issue


def test_parallel_scan_while_issues_are_updated_and_created(tmp_path: Path) -> None:
    """Every issue is read once; an issue nobody touched has the findings of a one-chain scan;
    a touched one those of before or after the change."""
    with JiraSandbox(records=3000, seed=3, faults="latency=15ms") as box:
        _, before, _ = scan(box, tmp_path / "before.sqlite", 1)
        incidents = [i for i in box.store.issues.values()
                     if i.record is not None and i.process == "incident"]
        touched: set[str] = set()
        done = threading.Event()

        def write() -> None:
            for n, issue in enumerate(incidents[::61]):
                if done.is_set():
                    return
                assert issue.record is not None
                with box.store.lock:  # the incident loses its group: a finding of its own
                    issue.record = replace(issue.record, values={
                        **issue.record.values, "assignment_group": None})
                    issue.updated = datetime.now(timezone.utc)
                    box.store.touch()
                touched.update((issue.key, _new_incident(box, issue, n).key))
                done.wait(0.05)

        writer = threading.Thread(target=write)
        writer.start()
        during, found, queries = scan(box, tmp_path / "during.sqlite", 4)
        done.set()
        writer.join()
        _, after, _ = scan(box, tmp_path / "after.sqlite", 1)
    assert ranged(queries) and touched  # writes landed while the ranges were read
    assert during.records["incident"] >= len(incidents)  # none lost (new ones may be read)
    for key, value in found.items():
        if key[1] in touched:
            assert value in (before.get(key), after.get(key)), key
        else:
            assert before.get(key) == value == after.get(key), key
    untouched = {k for k in before if k[1] not in touched}
    assert untouched <= set(found)


def test_429_and_503_lower_the_streams_and_change_no_finding(tmp_path: Path) -> None:
    """fault: 429 and 503 answers during a parallel Jira scan; outcome: fewer streams from then
    on (ServiceNow's gate), the same findings."""
    with JiraSandbox(records=3000, seed=3) as box:
        _, clean, _ = scan(box, tmp_path / "a.sqlite", 4)
        box.faults = "429:0.08@search,503:0.05@search,retry-after=0,seed=4"
        connector = connect(box, 4)
        _, pushed_back, _ = scan(box, tmp_path / "b.sqlite", 4, connector)
    assert 1 <= connector.gate.limit < 4
    assert pushed_back == clean


def test_bounds_are_keys_that_exist() -> None:
    """Cloud answers a range bounded by a key no issue has with no issues: every bound is a
    candidate an issue has, increasing; a bound with none near it is dropped."""
    tried = ranges.candidates(100, 1000, 4)
    assert [t[0] for t in tried] == [326, 551, 776] and all(len(t) == 33 for t in tried)
    present = {330, 776, 777}
    assert ranges.chosen(tried, present.__contains__) == [330, 776]
    assert ranges.chosen(tried, lambda n: False) == []
