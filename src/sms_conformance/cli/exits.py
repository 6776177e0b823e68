"""Exit codes, and the root group's handling that makes every error one line and its code.

0 clean, 1 findings at or above --fail-on, 2 usage or configuration error,
3 source or API failure (scan incomplete), 4 another run holds the write-back lock
(nothing was read or written), 5 internal error (a defect of the tool: never read as findings),
6 write-back stopped at the new-task cap (nothing written).
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import click

from sms_conformance.model.errors import ConformanceError
from sms_conformance.support.printable import one_line
from sms_conformance.support.redaction import scrub

EXIT_OK, EXIT_FINDINGS, EXIT_CONFIG, EXIT_SOURCE, EXIT_LOCKED, EXIT_INTERNAL, EXIT_CAP = 0, 1, 2, 3, 4, 5, 6


class Cli(click.Group):
    """Turns our errors into one line on stderr and the matching exit code; anything else
    (a defect) into one line and EXIT_INTERNAL, so cron never reads a crash as findings (1)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConformanceError as exc:
            if logging.getLogger().isEnabledFor(logging.DEBUG):
                logging.getLogger(__name__).exception("failed")
            # Messages quote what sites and records said: printed without escape sequences.
            click.secho(f"error: {one_line(scrub(str(exc)))}", err=True, fg="red")
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            verbose = logging.getLogger().isEnabledFor(logging.DEBUG)
            if verbose:
                logging.getLogger(__name__).exception("internal error")
            where = traceback.extract_tb(exc.__traceback__)[-1:]
            at = f" at {where[0].filename}:{where[0].lineno}" if where else ""
            click.secho(f"internal error: {type(exc).__name__}: {one_line(scrub(str(exc)))[:300]}{at}"
                        + ("" if verbose else " (rerun with -v for the traceback)"),
                        err=True, fg="red")
            ctx.exit(EXIT_INTERNAL)


EXIT_CODES_HELP = ("Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or configuration "
                   "error, 3 source or API failure (scan incomplete), 4 another run holds the lock, "
                   "5 internal error (a defect of the tool), 6 write-back stopped at the new-task "
                   "cap (nothing written).")
