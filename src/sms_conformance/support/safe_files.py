"""Files this tool writes (reports, the plan, the evidence pack, the lock's holder note), written
so that a planted file cannot redirect them.

A path that is a symbolic link is refused, naming it: writing through it would put the tool's
output (or truncate a file) wherever the link points. A file is written whole to a temporary
name made with mkstemp (O_EXCL, unpredictable: no one can plant it beforehand) in the same
directory, then renamed over the path, so it is never seen half-written either.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import IO

from sms_conformance.model.errors import ConfigError


def refuse_symlink(path: Path, what: str = "write") -> None:
    """ConfigError when `path` is a symbolic link (dangling or not)."""
    if path.is_symlink():
        raise ConfigError(f"{path}: is a symbolic link; refusing to {what} through it (to "
                          f"{os.readlink(path)!r}): remove it or choose another path")


def temp_beside(path: Path, what: str = "") -> tuple[int, str]:
    """An open descriptor and the name of a new, unpredictably named file beside `path`."""
    refuse_symlink(path)
    try:
        return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write{what}: {exc.strerror or exc}") from None


def write_whole(path: Path, write: Callable[[IO[str]], object], *, mode: int = 0o666,
                what: str = "") -> None:
    """`write(handle)` to a temporary file beside `path`, renamed over it once complete; the
    file gets `mode` less the umask, as a file created by open() would. `what` names the file
    in errors ("the plan")."""
    what = f" {what}" if what else ""
    handle, temp = temp_beside(path, what)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            write(out)
        os.chmod(temp, mode & ~_umask())
        os.replace(temp, path)  # replaces a link planted meanwhile, never writes through it
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write{what}: {exc.strerror or exc}") from None
    finally:
        with suppress(FileNotFoundError):
            os.unlink(temp)


def write_text(path: Path, text: str, *, mode: int = 0o666, what: str = "") -> None:
    write_whole(path, lambda out: out.write(text), mode=mode, what=what)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
