"""Issue 25, point 7: outputs are never written through a planted symbolic link, and temporary
files have unpredictable names."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sms_conformance.cli import cli
from sms_conformance.sandbox.dataset import generate
from sms_conformance.sandbox.servicenow.export import export
from sms_conformance.store.lock import holder_path, lock_path, writer_lock

SECRET = "do not overwrite\n"


@pytest.fixture
def source(tmp_path: Path) -> Iterator[str]:
    export(generate(20, 3), tmp_path / "export")
    yield f"file:{tmp_path / 'export'}"


def plant(link: Path, tmp_path: Path) -> Path:
    """A symbolic link at `link` to a file someone else owns; returns the target."""
    target = tmp_path / "victim.txt"
    target.write_text(SECRET)
    link.symlink_to(target)
    return target


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_a_report_output_that_is_a_symlink_is_refused(source: str, tmp_path: Path) -> None:
    """fault: --output names a symbolic link planted to another file; outcome: exit 2 naming
    the path, before the scan; the target unchanged."""
    link = tmp_path / "report.json"
    target = plant(link, tmp_path)
    code, output = run("scan", "--source", source, "--history", str(tmp_path / "h.sqlite"),
                       "--format", "json", "--output", str(link))
    assert code == 2, output
    assert f"{link}: is a symbolic link" in output
    assert target.read_text() == SECRET


def test_a_plan_path_that_is_a_symlink_is_refused(sandbox: object, tmp_path: Path) -> None:
    """fault: --plan names a planted symbolic link; outcome: exit 2 naming it, target unchanged."""
    link = tmp_path / "plan.json"
    target = plant(link, tmp_path)
    code, output = run("scan", "--source", "servicenow", "--instance", sandbox.url,  # type: ignore[attr-defined]
                       "--history", str(tmp_path / "h.sqlite"), "--as-of", "2026-11-01",
                       "--dry-run", "--plan", str(link))
    assert code == 2, output
    assert f"{link}: is a symbolic link" in output
    assert target.read_text() == SECRET


def test_an_evidence_page_that_is_a_symlink_is_refused(source: str, tmp_path: Path) -> None:
    """fault: the evidence pack's index.html is a planted symbolic link; outcome: exit 2
    naming it, the target unchanged."""
    history = tmp_path / "h.sqlite"
    code, output = run("scan", "--source", source, "--history", str(history))
    assert code in (0, 1), output
    pack = tmp_path / "pack"
    pack.mkdir()
    target = plant(pack / "index.html", tmp_path)
    code, output = run("report", "evidence", "--history", str(history), "--output", str(pack))
    assert code == 2, output
    assert "index.html: is a symbolic link" in output
    assert target.read_text() == SECRET


@pytest.mark.parametrize("which", ["lock", "holder"])
def test_a_lock_or_holder_note_that_is_a_symlink_is_refused(which: str, tmp_path: Path) -> None:
    """fault: the lock file (opened with O_TRUNC) or its holder note is a planted symbolic
    link; outcome: ConfigError naming it, the target not truncated."""
    history = tmp_path / "h.sqlite"
    lock = lock_path(history, "https://x.example")
    target = plant(lock if which == "lock" else holder_path(lock), tmp_path)
    with pytest.raises(Exception, match="is a symbolic link"), \
            writer_lock(history, "https://x.example", 0):
        pass
    assert target.read_text() == SECRET


def test_the_holder_note_is_not_written_through_a_predictable_temporary_name(
    tmp_path: Path,
) -> None:
    """fault: a symbolic link planted at the holder note's old temporary name
    (`<holder>.<pid>.tmp`); outcome: not followed: the target unchanged, the note written."""
    history = tmp_path / "h.sqlite"
    lock = lock_path(history, "https://x.example")
    holder = holder_path(lock)
    target = plant(holder.with_name(f"{holder.name}.{os.getpid()}.tmp"), tmp_path)
    with writer_lock(history, "https://x.example", 0):
        assert '"pid"' in holder.read_text()
    assert target.read_text() == SECRET
