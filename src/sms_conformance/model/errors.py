"""The error family the CLI turns into exit codes: configuration (2), source (3), lock (4),
new-task cap (6)."""

from __future__ import annotations

from pathlib import Path


class ConformanceError(Exception):
    """Base of every error the tool reports to its user as one line."""

    exit_code = 2


class ConfigError(ConformanceError):
    """Bad input: configuration, command-line values, files that cannot be read."""


class ConfigFileError(ConfigError):
    """A configuration file that does not load: `file:line: key: problem`."""

    def __init__(
        self, problem: str, *, path: Path | str | None = None, line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.problem = problem
        self.path = path
        self.line = line
        self.key = key
        where = ":".join(str(p) for p in (path, line) if p is not None)
        prefix = ": ".join(p for p in (where, key) if p)
        super().__init__(f"{prefix}: {problem}" if prefix else problem)


class RuleError(ConfigFileError):
    """A rule file that does not load; names file, line and rule id where known."""

    def __init__(
        self, problem: str, *, path: Path | str | None = None, line: int | None = None,
        rule_id: str | None = None,
    ) -> None:
        super().__init__(problem, path=path, line=line, key=rule_id)
        self.rule_id = rule_id


class SourceError(ConformanceError):
    """The platform could not be read completely: the scan is incomplete."""

    exit_code = 3


class AuthError(SourceError):
    """The platform refused the credentials."""


class LockHeld(ConformanceError):
    """Another run holds the write-back lock of this instance and history store."""

    exit_code = 4


class CapReached(ConformanceError):
    """Write-back would create more new tasks than the cap allows: nothing was written."""

    exit_code = 6
