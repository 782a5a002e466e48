"""Atomic file writes: write a temporary file beside the target, then `os.replace` it into place.

Every file epochal writes for a user (models, weights, checkpoints, backups, figures, reports) goes
through `atomic_write`, so a process killed at any instant leaves either the old complete file or the
new complete file, never a half-written one.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Callable


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(temporary_path)`, then move the finished file onto `path` in one step.

    The temporary file sits in the target's folder (so the final rename never crosses file systems)
    and is removed if `write` fails. Temporaries left behind by a process that was killed mid-write
    are removed by the next write to the same target.

    Raises:
        OSError: the file could not be written; the message names `path`, not the temporary file.

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
        >>> atomic_write(target, lambda temporary: temporary.write_text("done"))
        >>> target.read_text()
        'done'
    """
    path = Path(path)
    remove_orphaned_temporaries(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}.tmp")
    try:
        # Opening with "x" (not mkstemp) gives the file the user's usual permissions (umask), not 0600.
        open(temporary, "xb").close()
        write(temporary)
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        if error.filename is not None and os.fspath(error.filename) == os.fspath(temporary):
            # Name the file the user asked for, not the temporary one the OS complained about.
            renamed = type(error)(f"Cannot write '{path}': {error.strerror or error}")
            renamed.errno = error.errno
            raise renamed from error
        raise
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def remove_orphaned_temporaries(path: Path) -> list[Path]:
    """Delete the temporaries of `path` whose writing process no longer exists; returns them.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / ".model.h5.999999999-abc.tmp").write_bytes(b"half")
        >>> [p.name for p in remove_orphaned_temporaries(folder / "model.h5")]
        ['.model.h5.999999999-abc.tmp']
    """
    removed = []
    for candidate in path.parent.glob(f".{_glob_escape(path.name)}.*-*.tmp"):
        writer = candidate.name[len(path.name) + 2:].split("-", 1)[0]
        if writer.isdigit() and not _process_exists(int(writer)):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError) as error:
        return isinstance(error, PermissionError)  # alive, but someone else's
    return True
