"""One study at a time in a results directory: an exclusive lock on ``<out>/.lock``.

The lock is ``fcntl.flock`` on an open file, which the kernel releases when its process ends,
however it ends: a lock file left by a killed study does not block the next one. The file
holds the owner's pid and start time, for the message that another study sees. It is removed
when the study ends, so a results directory keeps only the study's files.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from bootstrap_rl.study.errors import StudyError

LOCK_NAME = ".lock"


@contextlib.contextmanager
def study_lock(out: Path) -> Iterator[None]:
    """Hold ``out``'s lock for the ``with`` block, or raise :class:`StudyError` if another
    live process holds it. Creates ``out`` if needed (and removes it again, if it is left empty,
    when the block fails)."""
    if out.exists() and not out.is_dir():
        raise StudyError(f"{out} is a file, not a results directory; choose another --out")
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StudyError(f"{out}: cannot create the results directory ({error.strerror})") from None
    path = out / LOCK_NAME
    handle = _acquire(path)
    failed = True
    try:
        yield
        failed = False
    finally:
        path.unlink(missing_ok=True)  # before the release: a waiting process then finds no stale file
        handle.close()
        if failed and created:
            with contextlib.suppress(OSError):
                out.rmdir()  # only if empty: a failed check leaves no directory behind


def _acquire(path: Path):
    """The open, locked lock file. A file unlinked by its releasing owner between our open and
    our lock is not the lock any more: open the path again."""
    while True:
        handle = open(path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            raise StudyError(f"{path.parent}: another study is running there ({owner}); wait for it to end, "
                             "or choose another --out") from None
        try:
            same = os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            handle.truncate(0)
            handle.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}")
            handle.flush()
            return handle
        handle.close()
