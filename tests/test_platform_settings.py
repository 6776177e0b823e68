"""Settings and profiles in platform-neutral terms: a profile connects to the source it names,
in that source's terms; settings load without any platform, each platform's part of
`write_back` checked by its own package when a run writes there."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from sms_conformance.app.settings import load_settings
from sms_conformance.cli import EXIT_CONFIG, cli
from sms_conformance.model.errors import ConfigFileError
from sms_conformance.sandbox.jira import JiraSandbox

TOKEN = "profile-e2e-token"


@pytest.fixture(scope="module")
def jsm() -> Iterator[JiraSandbox]:
    with JiraSandbox(records=40, seed=3, password=TOKEN) as box:
        yield box


def config_dir(tmp_path: Path, files: dict[str, object]) -> Path:
    config = tmp_path / "config"
    config.mkdir()
    for name, content in files.items():
        (config / name).write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return config


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner(env=env or {}).invoke(cli, list(args))


def test_a_jira_profile_connects_with_its_own_variables(jsm: JiraSandbox, tmp_path: Path) -> None:
    config = config_dir(tmp_path, {"profiles.yaml": {"profiles": {"jsm": {
        "source": "jira", "site": jsm.url, "email_env": "ACME_JIRA_EMAIL",
        "api_token_env": "ACME_JIRA_TOKEN"}}}})
    result = run("scan", "--profile", "jsm", "--config", str(config), "--full",
                 "--history", str(tmp_path / "h.sqlite"), "--format", "json",
                 "--output", str(tmp_path / "report.json"),
                 env={"ACME_JIRA_EMAIL": "admin@example.com", "ACME_JIRA_TOKEN": TOKEN,
                      "JIRA_EMAIL": "", "JIRA_API_TOKEN": ""})
    assert result.exit_code in (0, 1), result.output  # 1: findings
    assert jsm.url in (tmp_path / "report.json").read_text()


def test_a_jira_profile_missing_its_variables_names_them(jsm: JiraSandbox, tmp_path: Path) -> None:
    config = config_dir(tmp_path, {"profiles.yaml": {"profiles": {"jsm": {
        "source": "jira", "site": jsm.url, "pat_env": "ACME_PAT", "email_env": "ACME_EMAIL",
        "api_token_env": "ACME_TOKEN"}}}})
    result = run("scan", "--profile", "jsm", "--config", str(config),
                 "--history", str(tmp_path / "h.sqlite"))
    assert result.exit_code == EXIT_CONFIG, result.output
    assert "set ACME_EMAIL and ACME_TOKEN (Cloud) or ACME_PAT (Data Center)" in result.output


@pytest.mark.parametrize(("profile", "line", "says"), [
    ({"source": "jira", "instance": "dev1"}, 3, "profiles.jsm.instance: unknown key"),
    ({"source": "jira", "site": "https://x.example", "api_token": "hunter2"}, 2,
     "secrets come from the environment"),
    ({"source": "sandbox"}, None, "a profile connects to servicenow, jira, not 'sandbox'"),
], ids=["servicenow-key-in-a-jira-profile", "jira-secret", "source-without-profiles"])
def test_a_profile_is_checked_in_its_sources_terms(
        tmp_path: Path, profile: dict[str, str], line: int | None, says: str) -> None:
    """bad input: a Jira profile with a ServiceNow key, a literal secret, or naming a source
    that takes no profile; outcome: exit 2 pointing into profiles.yaml, no secret echoed."""
    config = config_dir(tmp_path, {"profiles.yaml": {"profiles": {"jsm": profile}}})
    history = tmp_path / "state" / "h.sqlite"
    result = run("scan", "--profile", "jsm", "--config", str(config), "--history", str(history))
    assert result.exit_code == EXIT_CONFIG, result.output
    assert says in result.output
    if line is not None:
        assert f"profiles.yaml:{line}:" in result.output
    assert "hunter2" not in result.output
    assert not history.parent.exists()


def test_settings_load_without_any_platform() -> None:
    code = ("import sys; from sms_conformance.app.settings import load_settings; load_settings(); "
            "print(sorted(m for m in sys.modules if m.startswith('sms_conformance.connectors.') "
            "and m.count('.') > 2))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "[]"


def test_a_platforms_write_back_keys_are_its_own_to_check(tmp_path: Path) -> None:
    """ServiceNow's targets are not checked when settings load (its task port checks them on a
    ServiceNow write-back); a key no platform owns is refused at its line."""
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump({"write_back": {"targets": {"incident": "nonsense"}}}))
    assert load_settings(path)["write_back"]["targets"]["incident"] == "nonsense"
    path.write_text("write_back:\n  tagets: {}\n")
    with pytest.raises(ConfigFileError, match="settings.yaml:2: write_back.tagets: unknown key"):
        load_settings(path)


def test_a_jira_write_back_ignores_servicenow_targets(jsm: JiraSandbox, tmp_path: Path) -> None:
    config = config_dir(tmp_path, {"settings.yaml": {"write_back": {
        "targets": {"incident": {"table": "sys_user", "parent_field": "manager"}}}}})
    result = run("scan", "--source", "jira", "--site", jsm.url, "--config", str(config),
                 "--full", "--dry-run", "--history", str(tmp_path / "h.sqlite"),
                 env={"JIRA_EMAIL": "admin@example.com", "JIRA_API_TOKEN": TOKEN})
    assert result.exit_code in (0, 1), result.output
    assert "write-back plan" in result.output


@pytest.mark.parametrize(("source", "says"), [
    ("jira", "give --site, --profile or JIRA_SITE for their live state"),
    ("servicenow", "give --instance, --profile or SERVICENOW_INSTANCE for their live state"),
])
def test_tasks_list_says_how_to_reach_its_platform(tmp_path: Path, source: str, says: str) -> None:
    result = run("tasks", "list", "--source", source, "--history", str(tmp_path / "h.sqlite"),
                 env={"JIRA_SITE": "", "SERVICENOW_INSTANCE": ""})
    assert result.exit_code == 0, result.output
    assert says in result.output
