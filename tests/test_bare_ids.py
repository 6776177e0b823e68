"""No view names an owner, a person or a service only by an id (issue 19, point 2), on either
platform: the findings (table, JSON, CSV), the write-back plan (lines and JSON), `tasks list`
(table and JSON, stored and live), `sample`, `report metrics`, `trace` and the evidence pack. Owner
groups given by id (`owner_groups`, `fallback_owner`) that no scanned record carries are named
too. A 32-hex id (a sys_id; on the JSM sandbox also groupIds and accountIds) of a group,
person, service or CI may appear only beside its name (on its line, in its JSON object); any
other id (a record's, a task's, a dangling link's) only where a record or task number is beside.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from sms_conformance.cli import cli
from sms_conformance.sandbox.jira import JiraSandbox
from sms_conformance.sandbox.logical import LogicalView, logical_view
from sms_conformance.sandbox.servicenow import Sandbox

AS_OF = "2026-11-01"
PASSWORD = "bare-ids-token"
# Not inside a URL, a digest or an identity key ("servicenow:<instance id>").
AN_ID = re.compile(r"(?<![0-9a-zA-Z/=?&%.:-])[0-9a-f]{32}(?![0-9a-zA-Z])")
A_URL = re.compile(r"https?://\S+")
A_NUMBER = re.compile(r"\b(?:[A-Z]{2,}[0-9]{5,}|ITSM-[0-9]+)\b")
UNUSED = ("Problem Management", "Change Advisory Board")  # no scanned record carries them


class Site:
    """A sandbox of either platform, the CLI arguments and environment that reach it, and the
    names of what its records reference."""

    def __init__(self, platform: str, box: Any, view: LogicalView, env: dict[str, str]) -> None:
        self.platform, self.box, self.view, self.env = platform, box, view, env
        self.source = ("--source", platform, "--instance", box.url)
        self.names: dict[str, str] = {**view.groups, **view.services, **view.configuration_items,
                                      **{i: p.name for i, p in view.users.items()}}

    def run(self, *args: str) -> Result:
        return CliRunner(env=self.env).invoke(cli, list(args))


@pytest.fixture(params=["servicenow", "jira"])
def site(request: pytest.FixtureRequest) -> Iterator[Site]:
    if request.param == "servicenow":
        with Sandbox(records=200, seed=4) as box:
            yield Site("servicenow", box, logical_view(box.dataset),
                       {"SERVICENOW_USERNAME": "admin", "SERVICENOW_PASSWORD": box.password})
    else:
        with JiraSandbox(records=200, seed=4, password=PASSWORD) as jira:
            yield Site("jira", jira, jira.store.view,
                       {"JIRA_EMAIL": "admin@example.com", "JIRA_API_TOKEN": PASSWORD})


def shown_with(found: str, beside: str, names: Mapping[str, str], numbered: bool) -> bool:
    """An id is shown right: a named thing's beside its name, any other beside a number."""
    name = names.get(found)
    return name in beside if name else numbered


def bare_in_text(text: str, names: Mapping[str, str]) -> list[str]:
    """Lines with an id shown without its name (or without a record or task number)."""
    bare = []
    for line in text.splitlines():
        plain = A_URL.sub(" ", re.sub(r"<[^>]+>", " ", line))
        numbered = bool(A_NUMBER.search(plain))
        bare += [line.strip()[:300] for found in AN_ID.findall(plain)
                 if not shown_with(found, plain, names, numbered)]
    return bare


def bare_in_json(doc: Any, names: Mapping[str, str], numbered: bool = False) -> list[str]:
    """Objects holding an id without its name among their values (or, for an id of a record
    or task, without a number in the object or one that holds it)."""
    bare: list[str] = []
    if isinstance(doc, list):
        for item in doc:
            bare += bare_in_json(item, names, numbered)
    elif isinstance(doc, dict):
        values = [v for v in doc.values() if isinstance(v, str)]
        numbered = numbered or any(A_NUMBER.fullmatch(v) for v in values)
        beside = "\n".join(values)
        bare += [json.dumps(doc)[:300] for v in values
                 if AN_ID.fullmatch(v) and not shown_with(v, beside, names, numbered)]
        for value in doc.values():
            if isinstance(value, (dict, list)):
                bare += bare_in_json(value, names, numbered)
    return bare


def test_no_view_names_an_owner_or_service_only_by_id(site: Site, tmp_path: Path) -> None:
    groups = {name: gid for gid, name in site.view.groups.items()}
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.yaml").write_text(yaml.safe_dump({"write_back": {
        "owner_groups": dict.fromkeys(("incident", "problem", "change"), groups[UNUSED[0]]),
        "fallback_owner": groups[UNUSED[1]]}}))
    history = str(tmp_path / "h.sqlite")
    common = ("--history", history, "--config", str(config))
    scanned = site.run("scan", *site.source, *common, "--as-of", AS_OF, "--full",
                       "--write-back", "--max-new-tasks", "5000", "--format", "table",
                       "--plan", str(tmp_path / "plan.json"))
    assert scanned.exit_code == 0, scanned.output
    plan = json.loads((tmp_path / "plan.json").read_text())
    owners = {t["owner"] for t in plan["tasks"]}
    assert UNUSED[0] in owners  # the owner groups given by id are named
    assert plan["fallback_owner"]["name"] == UNUSED[1]

    texts = {"scan": scanned.stdout + scanned.stderr}
    docs: dict[str, Any] = {"plan": plan}
    for fmt in ("json", "csv"):
        shown = site.run("report", "show", "--format", fmt, "--history", history)
        assert shown.exit_code == 0, shown.output
        if fmt == "json":
            docs["report json"] = json.loads(shown.stdout)
        else:
            texts["report csv"] = shown.stdout
    where = "--instance" if site.platform == "servicenow" else "--site"
    for listing in (("--stored",), (where, site.box.url)):
        for fmt in ("table", "json"):
            listed = site.run("tasks", "list", "--source", site.platform, *common, "--format",
                              fmt, *listing)
            assert listed.exit_code == 0, listed.output
            key = f"tasks list {listing[0]} {fmt}"
            if fmt == "json":
                docs[key] = json.loads(listed.stdout)
            else:
                texts[key] = listed.stdout
    sampled = site.run("sample", "--size", "30", "--seed", "2", "--by", "service", "--history",
                       history, "--format", "json")
    assert sampled.exit_code == 0, sampled.output
    docs["sample"] = json.loads(sampled.stdout)
    metrics = site.run("report", "metrics", "--history", history, *("--format", "json"))
    assert metrics.exit_code == 0, metrics.output
    docs["metrics"] = json.loads(metrics.stdout)
    numbers = {f["number"] for f in docs["report json"]["findings"]
               if f["process"] == "incident"}
    for number in sorted(numbers)[:3]:  # an incident's problem, change and CI, named
        traced = site.run("trace", number, *site.source, "--as-of", AS_OF)
        assert traced.exit_code == 0, traced.output
        texts[f"trace {number}"] = traced.stdout
    pack = site.run("report", "evidence", "--history", history, "--output",
                    str(tmp_path / "pack"))
    assert pack.exit_code == 0, pack.output
    texts["evidence pack"] = (tmp_path / "pack" / "index.html").read_text()

    bare = {view: found for view, found in (
        *((v, bare_in_text(t, site.names)) for v, t in texts.items()),
        *((v, bare_in_json(d, site.names)) for v, d in docs.items())) if found}
    assert not bare, json.dumps(bare, indent=1)[:4000]
    assert all(text for text in texts.values())  # every view had something to show


def test_the_scan_for_bare_ids_finds_them() -> None:
    """The checks above can fail: an owner shown by its id alone is found, text and JSON."""
    group = "0123456789abcdef0123456789abcdef"
    names = {group: "Service Desk"}
    assert bare_in_json({"owner": group, "owner_id": group}, names)
    assert not bare_in_json({"owner": "Service Desk", "owner_id": group}, names)
    assert bare_in_json({"number": "INC0010001", "owner_id": group}, names)  # a number is no name
    assert bare_in_text(f"  INC0010001  [{group}]", names)
    assert not bare_in_text(f"  Service Desk ({group})", names)
    assert not bare_in_text(f"http://x/nav_to.do?sys_id={group}", names)
