"""Remediation tasks on Jira (interfaces.md B): created once, found again with one query per
batch of fingerprints, read back exactly as written, closed through a done transition, and
never anything else edited."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest

from sms_conformance.connectors.base import TaskDraft, TaskNotWritten, TaskRef
from sms_conformance.connectors.jira.connector import JiraConnector
from sms_conformance.connectors.jira.tasks import JiraTasks
from sms_conformance.model.errors import ConfigError, SourceError
from tests.connectors.jira.fake import FakeJira
from tests.connectors.snow_fakes import Resp, StubServer

Site = tuple[FakeJira, StubServer, dict[str, dict[str, Any]]]
DUE = datetime(2026, 11, 15, 23, 30, tzinfo=timezone.utc)


def fp(seed: str) -> str:
    return hashlib.sha1(seed.encode()).hexdigest()


def draft(seed: str, parent: str = "", **kw: Any) -> TaskDraft:
    values: dict[str, Any] = {
        "fingerprint": fp(seed), "process": "incident", "kind": "record",
        "title": f"Fix {seed}", "body": f"Rule x failed on {seed}.\n\nSee the report.",
        "priority": 2, "due": DUE, "parent_id": parent, **kw}
    return TaskDraft(**values)


def test_create_then_find_then_close(site: Site, make_jira: Callable[..., JiraConnector]) -> None:
    fake, server, issues = site
    tasks = JiraTasks(make_jira(server.url))
    record = issues["i1"]
    [task] = tasks.create_tasks([draft("a", record["id"])])
    assert (task.fingerprint, task.where, task.open, task.parent) == (fp("a"), "ITSM", True,
                                                                     record["id"])
    assert (task.title, task.body, task.priority) == ("Fix a", draft("a").body, 2)
    assert len(task.created) == 19 and task.number.startswith("ITSM-")
    created = fake.issues[task.id]["fields"]
    assert created["labels"] == ["sms-conformance", "smsc-p-incident", f"smsc-fp-{fp('a')}"]
    assert created["issuetype"]["name"] == "Task" and created["duedate"] == "2026-11-15"
    # "<task> relates to <record>": the task is the link's inwardIssue
    link = [x for x in created["issuelinks"] if x["type"]["name"] == "Relates"]
    assert link and link[0]["outwardIssue"]["id"] == record["id"]

    tasks = JiraTasks(make_jira(server.url))  # a new run: found by search, not from memory
    found = tasks.find_tasks("incident", [fp("a"), fp("absent")])
    assert [(t.id, t.open, t.title, t.body, t.priority) for t in found] == [
        (task.id, True, task.title, task.body, 2)]
    assert [t.id for t in tasks.open_tasks("incident")] == [task.id]
    assert tasks.open_tasks("problem") == []

    tasks.close_task(found[0], "Conforms now.")
    assert fake.issues[task.id]["fields"]["status"]["statusCategory"]["key"] == "done"
    assert fake.issues[task.id]["comments"][-1]["content"][0]["content"][0]["text"] == \
        "Conforms now."
    assert tasks.open_tasks("incident") == []
    assert [t.open for t in tasks.find_tasks("incident", [fp("a")])] == [False]
    assert record["fields"]["labels"] == []  # the record itself was never edited


def test_many_fingerprints_take_one_query_per_batch(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    fake, server, _ = site
    tasks = JiraTasks(make_jira(server.url), max_workers=4)
    drafts = [draft(str(n)) for n in range(60)]
    created = tasks.create_tasks(drafts)
    assert [t.fingerprint for t in created] == [d.fingerprint for d in drafts]  # input order
    searches = len(fake.searches)
    found = JiraTasks(make_jira(server.url)).find_tasks("incident", [d.fingerprint for d in drafts])
    assert len(found) == 60 and len(fake.searches) - searches == 2  # 50 labels a query
    assert 'labels in ("smsc-fp-' in fake.searches[-1]


def test_a_task_just_created_is_found_though_search_lags(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    fake, server, _ = site
    tasks = JiraTasks(make_jira(server.url))
    [task] = tasks.create_tasks([draft("lag")])
    empty = Resp(200, {"issues": [], "isLast": True})
    fake.faults.append(("/rest/api/3/search/jql", empty))  # the index has not caught up
    assert [t.id for t in tasks.find_tasks("incident", [fp("lag")])] == [task.id]


def test_update_writes_the_draft_and_reads_back_the_same(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    fake, server, _ = site
    tasks = JiraTasks(make_jira(server.url))
    [task] = tasks.create_tasks([draft("u")])
    changed = draft("u", title="Fix u now", body="line one\nline two", priority=1)
    updated = tasks.update_task(task, changed, "Still failing.")
    assert (updated.title, updated.body, updated.priority) == ("Fix u now", "line one\nline two", 1)
    assert len(fake.issues[task.id]["comments"]) == 1


def test_sub_tasks_hang_under_the_record(site: Site, make_jira: Callable[..., JiraConnector]
                                         ) -> None:
    fake, server, issues = site
    tasks = JiraTasks(make_jira(server.url), as_subtask=True)
    [task] = tasks.create_tasks([draft("s", issues["i2"]["id"])])
    assert fake.issues[task.id]["fields"]["issuetype"]["name"] == "Sub-task"
    assert task.parent == issues["i2"]["id"] and fake.issues[task.id]["fields"]["issuelinks"] == []
    # a corrective task has no record: a plain Task
    [corrective] = tasks.create_tasks([draft("c", kind="corrective")])
    assert fake.issues[corrective.id]["fields"]["issuetype"]["name"] == "Task"


def test_a_record_is_never_edited_as_a_task(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    """bad input: a TaskRef pointing at a scanned incident (or a task of another tool);
    outcome: ConfigError, nothing written."""
    fake, server, issues = site
    tasks = JiraTasks(make_jira(server.url))
    record = issues["i1"]
    forged = TaskRef(fingerprint=fp("x"), where="ITSM", id=record["id"], number=record["key"],
                     open=True)
    before = len(server.requests)
    with pytest.raises(ConfigError, match=f"refusing to edit {record['key']}"):
        tasks.update_task(forged, draft("x"), "note")
    with pytest.raises(ConfigError, match="refusing to edit"):
        tasks.close_task(forged, "note")
    writes = [r for r in server.requests[before:] if r.method != "GET"]
    assert writes == [] and record["fields"]["status"]["name"] == "Closed"
    # a real task of this tool, but named with another fingerprint: left alone, reported
    [task] = tasks.create_tasks([draft("real")])
    with pytest.raises(TaskNotWritten, match="no longer carries the labels"):
        tasks.close_task(TaskRef(fp("other"), "ITSM", task.id, task.number, True), "note")


def test_no_done_transition_is_a_source_error(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    fake, server, _ = site
    tasks = JiraTasks(make_jira(server.url))
    [task] = tasks.create_tasks([draft("t")])
    fake.faults.append((f"/rest/api/3/issue/{task.id}/transitions",
                        Resp(200, {"transitions": [{"id": "21", "name": "Start",
                                                     "to": {"statusCategory": {"key": "indeterminate"}}}]})))
    with pytest.raises(SourceError, match="no transition to a done status"):
        tasks.close_task(task, "note")
    assert "comments" not in fake.issues[task.id]


def test_a_lost_create_answer_is_looked_up_before_resending(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    """fault: the create request reaches Jira but the answer is lost (connection reset);
    outcome: the task is looked up by fingerprint and found, not created twice."""
    fake, server, issues = site
    tasks = JiraTasks(make_jira(server.url))
    original = fake.handle

    def lose_first_create(req: Any) -> Resp:
        answer = original(req)
        if req.method == "POST" and req.path == "/rest/api/3/issue" and not lose_first_create.done:
            lose_first_create.done = True  # type: ignore[attr-defined]
            return Resp(action="reset")
        return answer

    lose_first_create.done = False  # type: ignore[attr-defined]
    server.handler = lose_first_create
    [task] = tasks.create_tasks([draft("lost", issues["i3"]["id"],
                                       attachment=("findings.csv", b"a,b\n"))])
    assert task.parent == issues["i3"]["id"]  # linked all the same
    assert len(fake.issues[task.id]["attachments"]) == 1
    labelled = [i for i in fake.issues.values() if f"smsc-fp-{fp('lost')}" in i["fields"]["labels"]]
    assert [i["id"] for i in labelled] == [task.id]


def test_data_center_writes_plain_text(dc_site: Site, make_jira: Callable[..., JiraConnector],
                                       dc_auth: Any) -> None:
    fake, server, _ = dc_site
    tasks = JiraTasks(make_jira(server.url, dc_auth))
    [task] = tasks.create_tasks([draft("dc")])
    assert fake.issues[task.id]["fields"]["description"] == draft("dc").body
    assert task.body == draft("dc").body


def _transitions(server: StubServer, task_id: str) -> list[str]:
    return [r.method for r in server.requests if r.path.endswith(f"/{task_id}/transitions")]


def test_a_close_comments_once_after_the_transition(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    """fault: the transition of a close answers 500, twice; outcome: TaskNotWritten after two
    tries (no long retry), no comment; the next close goes through with exactly one comment."""
    fake, server, _ = site
    tasks = JiraTasks(make_jira(server.url))
    [task] = tasks.create_tasks([draft("c")])
    path = f"/rest/api/3/issue/{task.id}/transitions"
    fake.faults += [(path, Resp(200, {"transitions": [
        {"id": "31", "name": "Done", "to": {"statusCategory": {"key": "done"}}}]})),
        (path, Resp(500, {"errorMessages": ["boom"]})), (path, Resp(500, {"errorMessages": ["boom"]}))]
    with pytest.raises(TaskNotWritten, match="did not go through"):
        tasks.close_task(task, "Conforms now.")
    assert _transitions(server, task.id).count("POST") == 2
    assert "comments" not in fake.issues[task.id]
    tasks.close_task(task, "Conforms now.")
    assert fake.issues[task.id]["fields"]["status"]["statusCategory"]["key"] == "done"
    assert len(fake.issues[task.id]["comments"]) == 1


def test_closing_a_task_another_run_closed_is_success(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    """fault: two hosts overlap; the other closed the duplicate between this run's search and
    its close; outcome: the close succeeds without a transition or a comment."""
    fake, server, _ = site
    tasks = JiraTasks(make_jira(server.url))
    [task] = tasks.create_tasks([draft("d")])
    tasks.close_task(task, "closed by the other host")
    comments = len(fake.issues[task.id]["comments"])
    tasks.close_task(task, "closed by this host")  # `task` still says open
    assert len(fake.issues[task.id]["comments"]) == comments
    assert _transitions(server, task.id).count("POST") == 1


def test_a_refused_transition_is_tried_once(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    """fault: the workflow refuses the transition (400); outcome: TaskNotWritten after one
    try, no comment."""
    fake, server, _ = site
    tasks = JiraTasks(make_jira(server.url))
    [task] = tasks.create_tasks([draft("r")])
    path = f"/rest/api/3/issue/{task.id}/transitions"
    fake.faults += [(path, Resp(200, {"transitions": [
        {"id": "31", "name": "Done", "to": {"statusCategory": {"key": "done"}}}]})),
        (path, Resp(400, {"errorMessages": ["condition not met"]}))]
    with pytest.raises(TaskNotWritten, match="condition not met"):
        tasks.close_task(task, "note")
    assert _transitions(server, task.id).count("POST") == 1
    assert "comments" not in fake.issues[task.id]


def test_a_retyped_task_is_left_alone_not_a_configuration_error(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    """fault: a person changed a task's issue type to Incident; outcome: TaskNotWritten marked
    left alone (reported), not ConfigError (exit 2 every night); nothing written."""
    fake, server, _ = site
    tasks = JiraTasks(make_jira(server.url))
    [task] = tasks.create_tasks([draft("t2")])
    fake.issues[task.id]["fields"]["issuetype"] = {"id": "10001", "name": "Incident"}
    before = len(server.requests)
    with pytest.raises(TaskNotWritten, match="retyped") as caught:
        tasks.close_task(task, "note")
    assert caught.value.left_alone
    assert [r for r in server.requests[before:] if r.method != "GET"] == []
