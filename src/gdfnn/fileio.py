"""Small file helpers shared by every writer: nothing is half-written on error, a killed
writer leaves no temporary file for long, and one run owns a folder at a time; and the one
YAML reader whose syntax errors are one line naming the file."""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import yaml

#: Temporary files are named ``.<target name>.<host>-<pid>.<random>.tmp``: a writer that finds
#: one of its host whose process is gone knows it was left by a killed run.
TEMPORARY_SUFFIX = ".tmp"


def _umask() -> int:
    """The process's umask, read without changing it where Linux tells it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temporary_prefix(target: Path) -> str:
    return f".{target.name}.{socket.gethostname()}-{os.getpid()}."


def remove_stale_temporaries(folder: Path, name: str = "*") -> list[Path]:
    """Remove the temporary files of writers of this host that no longer run (killed), for
    targets called ``name`` in ``folder``; returns them."""
    host, removed = socket.gethostname(), []
    for tmp in Path(folder).glob(f".{name}.{host}-*{TEMPORARY_SUFFIX}"):
        try:
            pid = int(tmp.name.rsplit(f".{host}-", 1)[1].split(".", 1)[0])
            os.kill(pid, 0)
        except ProcessLookupError:  # its writer is gone
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
        except (ValueError, IndexError, PermissionError):  # not ours, or another user's
            continue
    return removed


def temporary_path(path: str | os.PathLike) -> Path:
    """A fresh temporary name beside ``path`` (for writers that need a path, not a file
    handle), after removing what killed writers of ``path`` left."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target.parent, target.name)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=_temporary_prefix(target),
                               suffix=TEMPORARY_SUFFIX)
    os.fchmod(fd, 0o666 & ~_umask())  # what open() would have given (mkstemp gives 0600)
    os.close(fd)
    return Path(tmp)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", newline: str | None = None
                 ) -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it onto ``path`` only on success.

    If the body raises, the temporary file is removed and ``path`` is untouched; if the
    process is killed, the next writer of ``path`` removes it.
    """
    target = Path(path)
    tmp = temporary_path(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)
    try:
        with os.fdopen(fd, mode, newline=newline) as handle:
            yield handle
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_save(obj: object, path: str | os.PathLike) -> Path:
    """``torch.save(obj, path)`` through :func:`atomic_write`: ``path`` is whole or untouched."""
    import torch

    with atomic_write(path, "wb") as handle:
        torch.save(obj, handle)
    return Path(path)


#: The lock file of a folder a run writes into.
LOCK_FILE = ".gdfnn.lock"
#: Folders this process holds: resolved path -> [open lock file, depth of nesting].
_held: dict[Path, list] = {}


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold an exclusive lock on ``folder`` (created if missing) while the body runs.

    The lock is the operating system's (``flock`` on ``folder/.gdfnn.lock``), so it vanishes
    with the process: a killed run leaves none behind. A second process asking for the same
    folder stops at once with an :class:`~gdfnn.errors.InputError` naming the holder (its
    pid and command line); the same process may nest locks on one folder. On taking the
    lock, temporary files that killed runs left there are removed; a folder the lock created
    is removed again when the run wrote nothing into it.
    """
    import fcntl
    import sys

    from gdfnn.errors import InputError

    path = Path(folder).resolve()
    created = not path.exists()
    if path in _held:
        _held[path][1] += 1
        try:
            yield path
        finally:
            _held[path][1] -= 1
        return
    path.mkdir(parents=True, exist_ok=True)
    handle = open(path / LOCK_FILE, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise InputError(f"{path} is in use by another gdfnn run ({holder}); wait for it to "
                         "end or give this run another output folder") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}: {' '.join(sys.argv) or 'python'}\n")
    handle.flush()
    remove_stale_temporaries(path)
    _held[path] = [handle, 1]
    try:
        yield path
    finally:
        del _held[path]
        if created and [p.name for p in path.iterdir()] == [LOCK_FILE]:  # a run that wrote
            (path / LOCK_FILE).unlink()                                 # nothing leaves
            path.rmdir()                                                # nothing
        handle.close()  # closing the file releases the lock


def read_yaml(path: Path, error: type[Exception]) -> object:
    """The YAML document of ``path`` (None when empty); a syntax error raises ``error`` with
    one line naming the file."""
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
